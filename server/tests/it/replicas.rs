//! Several `runway` processes on one PostgreSQL database: a flag change made through
//! one is served by the others (LISTEN/NOTIFY), without a restart.
use crate::support;

use serde_json::{json, Value};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{Store, TestDb};

pub(crate) struct Replica {
    child: Child,
    pub base: String,
    /// Holds the flag snapshot file of a replica started with `start`.
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) async fn start(db: &str) -> Replica {
    let dir = tempfile::tempdir().unwrap();
    let mut replica = start_with_snapshot(db, &dir.path().join("flag-snapshot.json")).await;
    replica._dir = Some(dir);
    replica
}

/// A replica writing its flag snapshot to `snapshot` (kept by the caller across restarts).
pub(crate) async fn start_with_snapshot(db: &str, snapshot: &std::path::Path) -> Replica {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_runway"))
        .args(["--addr", &format!("127.0.0.1:{port}"), "--database-url", db, "--no-demo"])
        .arg("--flag-snapshot-file")
        .arg(snapshot)
        // The replicas share a key, given here so no key file is written into the checkout.
        .env("RUNWAY_SECRET_KEY", "5a".repeat(32))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The server says when it listens; read its log until then (it has migrated and
    // loaded the flags by that point).
    let stderr = child.stderr.take().unwrap();
    let ready = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stderr).lines();
        let found = lines.by_ref().map_while(Result::ok).any(|l| l.contains("Runway is listening"));
        // Keep draining so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        found
    });
    let ready = tokio::time::timeout(Duration::from_secs(30), ready).await.expect("the replica did not start in time").unwrap();
    assert!(ready, "the replica on port {port} exited before listening");
    Replica { child, base: format!("http://127.0.0.1:{port}"), _dir: None }
}

pub(crate) fn add_admin(db: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_runway"))
        .args(["user", "add", "admin", "--admin", "--database-url", db])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{}\n", support::PASSWORD).as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
}

/// Signs the admin in on `replica`: the session cookie and the CSRF token for writes.
pub(crate) async fn sign_in_admin(http: &reqwest::Client, replica: &Replica) -> (String, String) {
    let signed_in = http
        .post(format!("{}/api/v1/session", replica.base))
        .json(&json!({"username": "admin", "password": support::PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let csrf = signed_in.json::<Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_string();
    (cookie, csrf)
}

/// Reads server-sent events until one arrives, or fails after `within`.
pub(crate) async fn next_event(response: &mut reqwest::Response, within: Duration) -> String {
    let mut text = String::new();
    let deadline = Instant::now() + within;
    while !text.contains("\n\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, response.chunk()).await.expect("no event in time").unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_switch_used_on_one_replica_is_served_by_the_other() {
    let db = TestDb::new(Store::Postgres).await;
    runway::db::migrate(&db.url).await.unwrap();
    add_admin(&db.url);
    let (a, b) = (start(&db.url).await, start(&db.url).await);
    let http = reqwest::Client::new();

    let (cookie, csrf) = sign_in_admin(&http, &a).await;
    let on_a = |method: reqwest::Method, path: &str, body: Value| {
        http.request(method, format!("{}{path}", a.base)).header("cookie", &cookie).header("x-csrf-token", &csrf).json(&body).send()
    };
    let token: Value = on_a(reqwest::Method::POST, "/api/v1/tokens", json!({"name": "svc", "scopes": ["flags:read"], "environment": "production"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = token["secret"].as_str().unwrap().to_string();

    // Watch replica B's event stream, then change the flag through replica A.
    let mut events_b = http.get(format!("{}/ofrep/v1/events", b.base)).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(events_b.status(), 200);
    assert_eq!(on_a(reqwest::Method::POST, "/api/v1/flags", json!({"key": "ENABLE_CODEX_PROVIDER"})).await.unwrap().status(), 201);
    let set = on_a(
        reqwest::Method::PUT,
        "/api/v1/flags/ENABLE_CODEX_PROVIDER/environments/production",
        json!({"version": 1, "enabled": true, "percentage": 100}),
    )
    .await
    .unwrap();
    assert_eq!(set.status(), 200);
    let evaluate_on_b = || async {
        let r = http
            .post(format!("{}/ofrep/v1/evaluate/flags/ENABLE_CODEX_PROVIDER", b.base))
            .bearer_auth(&secret)
            .json(&json!({"context": {"targetingKey": "ws-1"}}))
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()
    };
    // Each change reaches B as an event; after the one that turned the flag on, B serves it on.
    loop {
        let event = next_event(&mut events_b, Duration::from_secs(5)).await;
        assert!(event.contains("refetchEvaluation"), "{event}");
        if evaluate_on_b().await["value"] == json!(true) {
            break;
        }
    }

    assert_eq!(on_a(reqwest::Method::POST, "/api/v1/flags/ENABLE_CODEX_PROVIDER/kill", json!({})).await.unwrap().status(), 200);
    // An event for an earlier change may still be queued on the stream: read events until
    // one follows the kill (each must arrive within 5 s, so a lost kill still fails).
    let answer = loop {
        let event = next_event(&mut events_b, Duration::from_secs(5)).await;
        assert!(event.contains("refetchEvaluation"), "{event}");
        let answer = evaluate_on_b().await;
        if answer["value"] == json!(false) {
            break answer;
        }
    };
    assert_eq!(answer["reason"].as_str(), Some("DISABLED"), "{answer}");

    // Browsers watching replica B hear of a plan change made through replica A.
    let mut changes_b = http.get(format!("{}/api/v1/events", b.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(changes_b.status(), 200);
    let created: Value = on_a(reqwest::Method::POST, "/api/v1/plans", json!({"title": "Seen on B"})).await.unwrap().json().await.unwrap();
    let event = loop {
        let event = next_event(&mut changes_b, Duration::from_secs(5)).await;
        if event.contains("plan.create") {
            break event;
        }
    };
    assert!(event.contains(&format!("\"plan_id\":{}", created["id"])), "{event}");
}
