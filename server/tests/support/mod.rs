//! A running Runway per test: its own database (a fresh SQLite file, or a fresh
//! PostgreSQL database created on RUNWAY_TEST_POSTGRES_URL's server), served over real HTTP.
#![allow(dead_code)]
use runway::db::Db;
use runway::service::Service;
use runway::AppState;
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Store {
    Sqlite,
    Postgres,
}

pub fn admin_url() -> String {
    std::env::var("RUNWAY_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database that is removed when the last handle goes, even if the test panicked.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn new(store: Store) -> TestDb {
        match store {
            Store::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/runway.db", dir.path().display());
                TestDb { url, _dir: Some(dir), pg_name: None }
            }
            Store::Postgres => {
                let name = format!("runway_test_{}", uuid::Uuid::new_v4().simple());
                let admin = PgPoolOptions::new().max_connections(1).connect(&admin_url()).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL at {} is needed for these tests: {e}", admin_url())
                });
                sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&admin).await.unwrap();
                admin.close().await;
                let base = admin_url();
                let server = &base[..base.rfind('/').unwrap()];
                TestDb { url: format!("{server}/{name}"), _dir: None, pg_name: Some(name) }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async move {
                    if let Ok(pool) = PgPoolOptions::new().max_connections(1).connect(&admin_url()).await {
                        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&pool).await;
                    }
                })
            })
            .join();
        }
    }
}

#[derive(Clone)]
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub service: Service,
    pub store: Store,
    inner: Arc<Inner>,
}

struct Inner {
    server: tokio::task::JoinHandle<()>,
    db: TestDb,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestApp {
    pub async fn spawn(store: Store) -> TestApp {
        let db = TestDb::new(store).await;
        let service = Service::new(Db::open(&db.url).await.unwrap());
        let app = runway::http::router(AppState::new(service.clone(), "target/site"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestApp { base, http: reqwest::Client::new(), service, store, inner: Arc::new(Inner { server, db }) }
    }

    pub fn db_url(&self) -> &str {
        &self.inner.db.url
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        read(self.http.get(self.url(path)).send().await.unwrap()).await
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn send(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        read(self.http.request(m, self.url(path)).json(&body).send().await.unwrap()).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        read(self.http.delete(self.url(path)).send().await.unwrap()).await
    }

    /// Sends a raw body with the given content type.
    pub async fn send_raw(&self, method: &str, path: &str, content_type: &str, body: &str) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = self
            .http
            .request(m, self.url(path))
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        read(r).await
    }

    /// Creates a plan through the API and returns it.
    pub async fn plan(&self, body: Value) -> Value {
        let (status, plan) = self.send("POST", "/api/v1/plans", body).await;
        assert_eq!(status, 201, "{plan}");
        plan
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.service.db.pool).await.unwrap()
    }
}

async fn read(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, body)
}

/// The error body's parts, asserting its shape.
pub fn error_of(body: &Value) -> (&str, Option<&str>) {
    let e = &body["error"];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "error without a message: {body}");
    (e["code"].as_str().unwrap_or_else(|| panic!("error without a code: {body}")), e["field"].as_str())
}

pub fn names(plan: &Value) -> Vec<String> {
    plan["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
}

pub fn ids(plan: &Value) -> Vec<i64> {
    plan["stages"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect()
}

/// Runs each named `async fn(TestApp)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$name($crate::support::TestApp::spawn($crate::support::Store::Sqlite).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                super::$name($crate::support::TestApp::spawn($crate::support::Store::Postgres).await).await
            }
        }
    )*};
}
