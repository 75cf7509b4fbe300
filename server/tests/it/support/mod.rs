//! A running Runway per test: its own database (a fresh SQLite file, or a fresh
//! PostgreSQL database created on RUNWAY_TEST_POSTGRES_URL's server), served over real HTTP.
#![allow(dead_code)]
use runway::db::Db;
use runway::service::Service;
use runway::AppState;
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing::{span, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

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

/// The credentials a `TestApp`'s requests carry.
#[derive(Clone, Debug)]
pub enum Auth {
    Nobody,
    /// A signed-in browser: the session cookie and the page's CSRF token.
    Session { cookie: String, csrf: String },
    Bearer(String),
}

pub const PASSWORD: &str = "correct horse battery";

#[derive(Clone)]
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub service: Service,
    pub store: Store,
    pub auth: Auth,
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
    /// Webhook tests post to receivers on 127.0.0.1, so private addresses are allowed.
    pub async fn spawn(store: Store) -> TestApp {
        TestApp::spawn_with(store, true).await
    }

    /// As `runway serve` starts by default: webhooks to private addresses refused.
    pub async fn spawn_strict(store: Store) -> TestApp {
        TestApp::spawn_with(store, false).await
    }

    async fn spawn_with(store: Store, allow_private_webhooks: bool) -> TestApp {
        let db = TestDb::new(store).await;
        let service = Service::new(Db::open(&db.url).await.unwrap())
            .with_secret(runway::secret::SecretKey::generate())
            .with_private_webhooks(allow_private_webhooks);
        service.reload_flags().await.unwrap();
        service.start_webhook_worker();
        let app = runway::http::router(AppState::new(service.clone(), "target/site"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            // As `runway serve`: the peer address limits sign-ins per client.
            axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
        });
        let nobody = TestApp {
            base,
            http: reqwest::Client::new(),
            service,
            store,
            auth: Auth::Nobody,
            inner: Arc::new(Inner { server, db }),
        };
        // Most tests act as an admin; permission tests pick their callers.
        nobody.add_person("admin", true).await;
        nobody.signed_in("admin").await
    }

    /// Adds a person (password `PASSWORD`) straight through the service.
    pub async fn add_person(&self, username: &str, admin: bool) {
        let new = app::person::NewPerson {
            username: username.into(),
            password: PASSWORD.into(),
            display_name: String::new(),
            contact: format!("{username}@example.com"),
            admin,
        };
        self.service.add_person(&runway::service::Ctx::cli(), new).await.unwrap();
    }

    /// This app, making requests as `username` signed in through the API.
    pub async fn signed_in(&self, username: &str) -> TestApp {
        let r = self
            .http
            .post(self.url("/api/v1/session"))
            .json(&serde_json::json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "signing in as {username}");
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap()
            .to_string();
        let viewer: Value = r.json().await.unwrap();
        let csrf = viewer["csrf_token"].as_str().unwrap().to_string();
        self.with(Auth::Session { cookie, csrf })
    }

    /// A person holding `role` on `plan_id` (added and signed in).
    pub async fn holding(&self, username: &str, plan_id: i64, role: &str) -> TestApp {
        self.add_person(username, false).await;
        let (status, body) = self
            .send("POST", &format!("/api/v1/plans/{plan_id}/roles"), serde_json::json!({ "username": username, "role": role }))
            .await;
        assert_eq!(status, 201, "{body}");
        self.signed_in(username).await
    }

    /// This app with an API token holding `scopes`.
    pub async fn with_token(&self, scopes: &[&str]) -> TestApp {
        let (status, body) = self
            .send("POST", "/api/v1/tokens", serde_json::json!({ "name": format!("test-{}", scopes.join("-")), "scopes": scopes }))
            .await;
        assert_eq!(status, 201, "{body}");
        self.with(Auth::Bearer(body["secret"].as_str().unwrap().to_string()))
    }

    pub fn with(&self, auth: Auth) -> TestApp {
        TestApp { auth, ..self.clone() }
    }

    pub fn anonymous(&self) -> TestApp {
        self.with(Auth::Nobody)
    }

    /// A request builder carrying this app's credentials.
    pub fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let b = self.http.request(m, self.url(path));
        match &self.auth {
            Auth::Nobody => b,
            Auth::Session { cookie, csrf } => b.header("cookie", cookie).header("x-csrf-token", csrf),
            Auth::Bearer(token) => b.bearer_auth(token),
        }
    }

    pub fn db_url(&self) -> &str {
        &self.inner.db.url
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        read(self.request("GET", path).send().await.unwrap()).await
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let r = self.request("GET", path).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn send(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        read(self.request(method, path).json(&body).send().await.unwrap()).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        read(self.request("DELETE", path).send().await.unwrap()).await
    }

    /// Sends a raw body with the given content type.
    pub async fn send_raw(&self, method: &str, path: &str, content_type: &str, body: impl AsRef<[u8]>) -> (u16, Value) {
        let r = self
            .request(method, path)
            .header("content-type", content_type)
            .body(body.as_ref().to_vec())
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

/// Waits until `check` gives a value, checking every 50 ms, or fails after 15 s.
pub async fn eventually<T>(what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
    eventually_within(what, 15, check).await
}

/// As `eventually`, for work that takes longer on a busy machine (a large import).
pub async fn eventually_within<T>(what: &str, seconds: u64, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Runs the built `runway` binary against this app's database, feeding `stdin`:
/// (whether it succeeded, stdout, stderr).
pub async fn run_cli(app: &TestApp, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut all = vec!["--database-url".to_string(), app.db_url().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let stdin = stdin.to_string();
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    // Blocking work off the runtime that serves the app.
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_runway"))
            .args(&all)
            .env_remove("RUNWAY_DATABASE_URL")
            .env_remove("RUNWAY_SECRET_KEY")
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
}

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// The key of the counting span of each statement sent inside one.
static STATEMENTS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// The test process's one tracing subscriber, installed by the first test that needs it:
/// everything is logged into `logs`, and sqlx's statements are counted for `statements`.
fn tracing_for_tests() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        struct Capture;
        impl std::io::Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                LOGS.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let _ = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("trace"))
            .with(tracing_subscriber::fmt::layer().with_writer(|| Capture))
            .with(CountStatements)
            .try_init();
    });
}

/// Everything logged in this test process (its servers included), for scanning.
pub fn logs() -> &'static Mutex<Vec<u8>> {
    tracing_for_tests();
    &LOGS
}

/// Runs `work` and counts the SQL statements it sent. sqlx logs each statement under
/// `sqlx::query` inside the span that sent it (SQLite's worker thread enters that span
/// too), so statements of other tasks are not counted.
pub async fn statements<T>(work: impl std::future::Future<Output = T>) -> (T, usize) {
    use tracing::Instrument;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    tracing_for_tests();
    let key = NEXT.fetch_add(1, Ordering::Relaxed);
    let out = work.instrument(tracing::info_span!("counted_statements", key)).await;
    let mut sent = STATEMENTS.lock().unwrap();
    let n = sent.iter().filter(|k| **k == key).count();
    sent.retain(|k| *k != key);
    (out, n)
}

/// Counts each `sqlx::query` event inside a `counted_statements` span under its key.
struct CountStatements;

/// A `counted_statements` span's key, kept with the span.
struct CountKey(u64);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for CountStatements {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        struct Key(Option<u64>);
        impl Visit for Key {
            fn record_u64(&mut self, field: &Field, value: u64) {
                if field.name() == "key" {
                    self.0 = Some(value);
                }
            }
            fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
        }
        if attrs.metadata().name() != "counted_statements" {
            return;
        }
        let mut key = Key(None);
        attrs.record(&mut key);
        if let (Some(key), Some(span)) = (key.0, ctx.span(id)) {
            span.extensions_mut().insert(CountKey(key));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let key = ctx.event_scope(event).and_then(|mut scope| scope.find_map(|span| span.extensions().get::<CountKey>().map(|k| k.0)));
        if let Some(key) = key {
            STATEMENTS.lock().unwrap().push(key);
        }
    }
}
