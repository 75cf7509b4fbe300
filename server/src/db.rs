//! The database: an embedded SQLite file by default, PostgreSQL for several replicas.
//! Queries go through sqlx's `Any` driver so one set of SQL serves both.
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

pub static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
pub static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

impl Kind {
    pub fn of(url: &str) -> Result<Kind, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Kind::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Kind::Sqlite)
        } else {
            Err(format!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://...",
                redact(url)
            ))
        }
    }

    pub fn migrator(self) -> &'static Migrator {
        match self {
            Kind::Sqlite => &SQLITE_MIGRATIONS,
            Kind::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub kind: Kind,
    /// As given (with its password): for the PostgreSQL change listener. Never logged.
    pub url: String,
    /// SQLite allows one writer; taking turns here avoids "database is locked"
    /// when a transaction that read first later wants to write.
    write_turn: Option<Arc<Mutex<()>>>,
}

/// A write transaction, holding SQLite's write turn until it ends.
pub struct WriteTx {
    pub tx: Transaction<'static, Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl Db {
    /// Connects, creating the SQLite file (and its folder) on first start, and
    /// applies pending migrations.
    pub async fn open(url: &str) -> Result<Db, String> {
        migrate(url).await?;
        let db = Db::lazy(url)?;
        // A first connection now, so a wrong URL or password stops the start.
        db.ping().await.map_err(|e| format!("cannot open the database {}: {e}", redact(&db.url)))?;
        Ok(db)
    }

    /// The pool without connecting yet, and without migrating: for a replica that starts
    /// while PostgreSQL is unreachable and serves its last flag snapshot until it returns.
    pub fn lazy(url: &str) -> Result<Db, String> {
        let kind = Kind::of(url)?;
        sqlx::any::install_default_drivers();
        let url = normalize(url);
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let options = match kind {
            Kind::Sqlite => options.max_connections(8).after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    Ok(())
                })
            }),
            Kind::Postgres => options.max_connections(16),
        };
        let pool = options.connect_lazy(&url).map_err(|e| format!("cannot open the database {}: {e}", redact(&url)))?;
        let write_turn = (kind == Kind::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Db { pool, kind, write_turn, url })
    }

    pub async fn write(&self) -> Result<WriteTx, sqlx::Error> {
        let turn = match &self.write_turn {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        };
        Ok(WriteTx { tx: self.pool.begin().await?, _turn: turn })
    }

    pub async fn read(&self) -> Result<PoolConnection<Any>, sqlx::Error> {
        self.pool.acquire().await
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        conn.ping().await
    }
}

/// The database cannot be reached at all (refused, reset, timed out, shutting down), as
/// opposed to refusing a statement: flag evaluation then serves its last snapshot.
pub fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Protocol(_) => true,
        // SQLSTATE class 08 (connection exception) and 57P0x (shutdown, cannot connect now).
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// `sqlite://data/runway.db` gets `mode=rwc` so the file is created on first start.
fn normalize(url: &str) -> String {
    if url.starts_with("sqlite:") && !url.contains("mode=") && !url.contains(":memory:") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode=rwc")
    } else {
        url.to_string()
    }
}

/// Applies pending migrations. On PostgreSQL sqlx holds an advisory lock while it
/// migrates, so replicas starting together take turns instead of racing.
pub async fn migrate(url: &str) -> Result<(), String> {
    let kind = Kind::of(url)?;
    let url = normalize(url);
    let fail = |e: &dyn std::fmt::Display| format!("cannot migrate the database {}: {e}", redact(&url));
    match kind {
        Kind::Sqlite => {
            let opts = sqlite_options(&url).map_err(|e| fail(&e))?;
            let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await.map_err(|e| fail(&e))?;
            SQLITE_MIGRATIONS.run(&pool).await.map_err(|e| fail(&e))?;
            pool.close().await;
        }
        Kind::Postgres => {
            let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.map_err(|e| fail(&e))?;
            POSTGRES_MIGRATIONS.run(&pool).await.map_err(|e| fail(&e))?;
            pool.close().await;
        }
    }
    Ok(())
}

pub fn sqlite_options(url: &str) -> Result<SqliteConnectOptions, sqlx::Error> {
    let opts = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    if let Some(dir) = opts.get_filename().parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
    }
    Ok(opts)
}

/// Database URLs can carry passwords; logs and messages show them without.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}{}{}", &url[..s], user, if userinfo.contains(':') { ":***" } else { "" }, &url[at..])
        }
        _ => url.to_string(),
    }
}

/// `"id, name"` as `"s.id, s.name"`: a table's column list for a query that joins it.
pub fn prefixed(columns: &str, alias: &str) -> String {
    columns.split(',').map(|c| format!("{alias}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

/// A value for a query built at run time, whose placeholders are numbered as the values
/// are added.
#[derive(Debug, Clone)]
pub enum Param {
    Text(String),
    Int(i64),
}

/// Binds `params` to `query` in order.
pub fn bind_params<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    params: &'q [Param],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for p in params {
        query = match p {
            Param::Text(t) => query.bind(t.as_str()),
            Param::Int(i) => query.bind(*i),
        };
    }
    query
}

/// The rows of a parent-to-children LEFT JOIN, ordered by the parent's `id`, as parents each
/// holding their children: a new `id` starts a parent, and a row whose child part is NULL adds
/// no child. One statement for a plan's stages, gates, guards or runs, however many there are.
pub fn group_joined<P, C>(
    rows: &[sqlx::any::AnyRow],
    parent: impl Fn(&sqlx::any::AnyRow) -> Result<P, sqlx::Error>,
    child: impl Fn(&sqlx::any::AnyRow) -> Result<Option<C>, sqlx::Error>,
    children: impl Fn(&mut P) -> &mut Vec<C>,
) -> Result<Vec<P>, sqlx::Error> {
    use sqlx::Row;
    let mut parents: Vec<(i64, P)> = vec![];
    for r in rows {
        let id: i64 = r.try_get("id")?;
        if parents.last().is_none_or(|(last, _)| *last != id) {
            parents.push((id, parent(r)?));
        }
        if let (Some(c), Some((_, p))) = (child(r)?, parents.last_mut()) {
            children(p).push(c);
        }
    }
    Ok(parents.into_iter().map(|(_, p)| p).collect())
}

/// Now, as the fixed-width RFC 3339 text stored in every time column.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_database_urls_are_hidden() {
        assert_eq!(redact("postgres://runway:s3cret@db:5432/runway"), "postgres://runway:***@db:5432/runway");
        assert_eq!(redact("sqlite://data/runway.db"), "sqlite://data/runway.db");
    }

    #[test]
    fn column_lists_take_the_alias_of_their_table() {
        assert_eq!(prefixed("id, plan_id,\n    name", "s"), "s.id, s.plan_id, s.name");
    }

    #[test]
    fn only_sqlite_and_postgres_urls_are_accepted() {
        assert_eq!(Kind::of("sqlite://x.db").unwrap(), Kind::Sqlite);
        assert_eq!(Kind::of("postgresql://h/db").unwrap(), Kind::Postgres);
        assert!(Kind::of("mysql://h/db").is_err());
    }
}
