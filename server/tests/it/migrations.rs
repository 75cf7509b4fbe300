//! Migrations go up and down on both databases, and replicas may start together.
use crate::support;

use runway::db::{self, Kind};
use sqlx::any::AnyPoolOptions;
use support::{Store, TestDb};

async fn insert_and_count(url: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new().max_connections(1).connect(url).await.unwrap();
    sqlx::query("INSERT INTO plans (title, created_at, updated_at) VALUES ('p', 'now', 'now')")
        .execute(&pool)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM plans").fetch_one(&pool).await.unwrap();
    pool.close().await;
    n
}

async fn migrate_up_insert_down_and_up_again(store: Store) {
    let test_db = TestDb::new(store).await;
    let url = test_db.url.clone();
    db::migrate(&url).await.unwrap();
    assert_eq!(insert_and_count(&url).await, 1);

    let migrator = Kind::of(&url).unwrap().migrator();
    match store {
        Store::Sqlite => {
            let pool = sqlx::SqlitePool::connect_with(db::sqlite_options(&url).unwrap()).await.unwrap();
            migrator.undo(&pool, 0).await.unwrap();
            let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'plans'")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(left, 0, "down removes the tables");
            pool.close().await;
        }
        Store::Postgres => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            migrator.undo(&pool, 0).await.unwrap();
            let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'plans'")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(left, 0, "down removes the tables");
            pool.close().await;
        }
    }
    db::migrate(&url).await.unwrap();
    assert_eq!(insert_and_count(&url).await, 1, "up again gives a fresh, usable schema");
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again_on_sqlite() {
    migrate_up_insert_down_and_up_again(Store::Sqlite).await;
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again_on_postgres() {
    migrate_up_insert_down_and_up_again(Store::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_on_postgres_do_not_race_to_migrate() {
    let test_db = TestDb::new(Store::Postgres).await;
    let starts = (0..4).map(|_| db::Db::open(&test_db.url));
    for result in futures::future::join_all(starts).await {
        result.expect("every replica starts");
    }
    let pool = sqlx::PgPool::connect(&test_db.url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&pool).await.unwrap();
    let ups = Kind::Postgres.migrator().iter().filter(|m| !m.migration_type.is_down_migration()).count();
    assert_eq!(applied as usize, ups);
    pool.close().await;
}

#[tokio::test]
async fn the_sqlite_file_and_its_folder_are_created_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/nested/data/runway.db", dir.path().display());
    db::Db::open(&url).await.unwrap();
    let file = dir.path().join("nested/data/runway.db");
    assert!(file.exists());
    let pool = sqlx::SqlitePool::connect_with(db::sqlite_options(&url).unwrap()).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&pool).await.unwrap();
    assert_eq!(mode, "wal");
}
