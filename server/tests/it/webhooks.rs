//! Webhooks over real HTTP: admins register a URL, Runway POSTs its events there signed
//! with HMAC-SHA256, retries failures with backoff, and logs every delivery; each test
//! on SQLite and on PostgreSQL. The receiver is a real HTTP server inside the test.
use crate::support;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use support::{error_of, eventually, Auth, TestApp};

on_both_databases!(
    a_killed_flag_reaches_the_receiver_signed_and_a_failed_attempt_is_retried,
    a_webhook_for_gate_requests_only_hears_nothing_of_a_kill,
    a_bad_url_or_an_unknown_event_is_422_with_the_field_and_writes_nothing,
    only_admins_may_manage_webhooks_or_read_the_delivery_log,
    the_signing_secret_is_shown_when_the_webhook_is_made_and_never_again,
    a_deleted_webhook_receives_nothing_more,
    replicas_sharing_a_database_send_each_delivery_once,
    the_openapi_document_describes_the_webhook_endpoints,
);

// ---- helpers ----

/// One request the receiver took.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone)]
struct Receiver {
    base: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// A receiver on 127.0.0.1 that answers 500 to its first `failures` requests, 200 after.
    async fn start(failures: usize) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let state = (got.clone(), failures);
        let app = axum::Router::new().fallback(take).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { base, got }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn at(&self, path: &str) -> Vec<Received> {
        self.got.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }
}

async fn take(State((got, failures)): State<(Arc<Mutex<Vec<Received>>>, usize)>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut got = got.lock().unwrap();
    got.push(Received { path: uri.path().to_string(), headers, body });
    if got.len() <= failures {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// What a receiver should check: the hex HMAC-SHA256 of the raw body under the secret.
fn expected_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header: {:?}", r.headers))
}

/// Registers a webhook; returns its id and secret.
async fn register(app: &TestApp, url: &str, events: &[&str]) -> (i64, String) {
    let (status, made) = app.send("POST", "/api/v1/webhooks", json!({ "url": url, "events": events })).await;
    assert_eq!(status, 201, "{made}");
    (made["webhook"]["id"].as_i64().unwrap(), made["secret"].as_str().unwrap().to_string())
}

/// Creates a flag and pulls its kill switch.
async fn kill(app: &TestApp, key: &str) {
    let (status, body) = app.send("POST", "/api/v1/flags", json!({ "key": key })).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.send("POST", &format!("/api/v1/flags/{key}/kill"), json!({})).await;
    assert_eq!(status, 200, "{body}");
}

async fn deliveries(app: &TestApp) -> Vec<Value> {
    let (status, list) = app.get("/api/v1/webhooks/deliveries").await;
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}


/// The delivery to `webhook_id`, once it is delivered.
async fn delivered_to(app: &TestApp, webhook_id: i64) -> Value {
    eventually("the delivery to be delivered", async || {
        deliveries(app).await.into_iter().find(|d| d["webhook_id"] == webhook_id && d["status"] == "delivered")
    })
    .await
}

// ---- tests ----

async fn a_killed_flag_reaches_the_receiver_signed_and_a_failed_attempt_is_retried(app: TestApp) {
    let receiver = Receiver::start(1).await;
    let (id, secret) = register(&app, &receiver.url("/kills"), &["flag.killed"]).await;
    kill(&app, "checkout.new_flow").await;

    let log = delivered_to(&app, id).await;
    assert_eq!(log["event"], "flag.killed");
    assert_eq!(log["url"], receiver.url("/kills"));
    assert_eq!(log["attempts"], 2, "one 500, then one 200: {log}");
    assert_eq!(log["response_status"], 200, "{log}");
    assert!(log["last_error"].as_str().is_some_and(|e| e.contains("500")), "the failed attempt is recorded: {log}");
    assert!(log["delivered_at"].is_string() && log["last_attempt_at"].is_string(), "{log}");
    assert!(log.get("next_attempt_at").is_none_or(Value::is_null), "nothing more is due: {log}");

    let got = receiver.at("/kills");
    assert_eq!(got.len(), 2, "{got:?}");
    for r in &got {
        assert_eq!(header(r, "content-type"), "application/json");
        assert_eq!(header(r, "x-runway-event"), "flag.killed");
        assert_eq!(header(r, "x-runway-delivery"), log["id"].to_string());
        assert_eq!(header(r, "x-runway-signature"), expected_signature(&secret, &r.body), "signed over the raw body");
        assert_ne!(header(r, "x-runway-signature"), expected_signature("whsec_wrong", &r.body));
    }
    assert_eq!(got[0].body, got[1].body, "a retry sends the same body");
    let event: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(event["event"], "flag.killed");
    assert_eq!(event["data"]["flag"]["key"], "checkout.new_flow");
    assert_eq!(event["data"]["killed_by"], "admin");
    assert!(event["at"].is_string(), "{event}");
    assert!(!String::from_utf8_lossy(&got[1].body).contains(&secret));
}

async fn a_webhook_for_gate_requests_only_hears_nothing_of_a_kill(app: TestApp) {
    let receiver = Receiver::start(0).await;
    let (gates, _) = register(&app, &receiver.url("/gates"), &["gate.requested"]).await;
    // Every event, so there is something to wait for.
    let (all, _) = register(&app, &receiver.url("/all"), &[]).await;
    kill(&app, "search.ranking").await;

    delivered_to(&app, all).await;
    assert_eq!(receiver.at("/all").len(), 1);
    assert!(receiver.at("/gates").is_empty(), "{:?}", receiver.at("/gates"));
    assert!(deliveries(&app).await.iter().all(|d| d["webhook_id"] != gates), "nothing is queued for it either");
    let (_, list) = app.get("/api/v1/webhooks").await;
    let gates_hook = list.as_array().unwrap().iter().find(|w| w["id"] == gates).unwrap().clone();
    assert_eq!(gates_hook["events"], json!(["gate.requested"]));
    let all_hook = list.as_array().unwrap().iter().find(|w| w["id"] == all).unwrap().clone();
    assert_eq!(all_hook["events"], json!(["*"]), "no events means all of them");
}

async fn a_bad_url_or_an_unknown_event_is_422_with_the_field_and_writes_nothing(app: TestApp) {
    let audit_before = app.count("SELECT COUNT(*) FROM audit_log").await;
    for (body, field) in [
        (json!({ "url": "ftp://hooks.example.com/x" }), "url"),
        (json!({ "url": "hooks.example.com/x" }), "url"),
        (json!({ "url": "" }), "url"),
        (json!({ "url": "https://hooks.example.com/x", "events": ["flag.killed", "stage.exploded"] }), "events[1]"),
        (json!({ "url": "https://hooks.example.com/x", "secret": "mine" }), "secret"),
    ] {
        let (status, answer) = app.send("POST", "/api/v1/webhooks", body.clone()).await;
        assert_eq!(status, 422, "{body} → {answer}");
        assert_eq!(error_of(&answer).1, Some(field), "{body} → {answer}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM webhooks").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log").await, audit_before);
    let (status, list) = app.get("/api/v1/webhooks").await;
    assert_eq!((status, list), (200, json!([])));
}

async fn only_admins_may_manage_webhooks_or_read_the_delivery_log(app: TestApp) {
    // Never sent anything: no flag is killed here.
    let (id, _) = register(&app, "http://127.0.0.1:9/runway", &["flag.killed"]).await;
    app.add_person("member", false).await;
    let member = app.signed_in("member").await;
    let token = app.with_token(&["plans:write"]).await;
    let nobody = app.anonymous();
    let new = json!({ "url": "http://127.0.0.1:9/other" });
    for (caller, want) in [(&member, 403), (&token, 403), (&nobody, 401)] {
        let delete = format!("/api/v1/webhooks/{id}");
        for (method, path) in [("GET", "/api/v1/webhooks"), ("GET", "/api/v1/webhooks/deliveries"), ("POST", "/api/v1/webhooks"), ("DELETE", delete.as_str())] {
            let (status, body) = caller.send(method, path, new.clone()).await;
            assert_eq!(status, want, "{method} {path} as {:?}: {body}", caller.auth);
            error_of(&body);
        }
    }
    let (status, page) = member.get_text("/webhooks").await;
    assert_eq!(status, 403, "the page shows members nothing: {page}");
    assert!(!page.contains("127.0.0.1:9/runway"));
    assert!(matches!(token.auth, Auth::Bearer(_)));
    assert_eq!(app.count("SELECT COUNT(*) FROM webhooks WHERE deleted_at IS NULL").await, 1, "nothing was added or deleted");
}

async fn the_signing_secret_is_shown_when_the_webhook_is_made_and_never_again(app: TestApp) {
    let receiver = Receiver::start(0).await;
    let url = receiver.url("/runway");
    let (status, made) = app.send("POST", "/api/v1/webhooks", json!({ "url": url, "description": "On-call chat" })).await;
    assert_eq!(status, 201, "{made}");
    let secret = made["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() == 6 + 64, "{secret}");
    assert!(secret[6..].chars().all(|c| c.is_ascii_hexdigit()), "{secret}");
    assert!(!made["webhook"].to_string().contains(&secret));
    assert_eq!(made["webhook"]["description"], "On-call chat");
    assert_eq!(made["webhook"]["created_by"], "admin");
    kill(&app, "ops.panic").await;
    delivered_to(&app, made["webhook"]["id"].as_i64().unwrap()).await;

    for path in ["/api/v1/webhooks", "/api/v1/webhooks/deliveries", "/api/v1/audit", "/webhooks"] {
        let (status, text) = app.get_text(path).await;
        assert_eq!(status, 200, "{path}: {text}");
        assert!(text.contains(&url), "{path} shows the webhook: {text}");
        assert!(!text.contains(&secret), "{path} shows the secret");
        assert!(!text.contains(&secret[6..]), "{path} shows the secret");
    }
    let (_, audit) = app.get("/api/v1/audit?action=webhook.create").await;
    assert_eq!(audit["total"], 1, "{audit}");
    assert_eq!(audit["items"][0]["target"], format!("webhook:{}", made["webhook"]["id"]));
    let (_, html) = app.get_text("/webhooks").await;
    assert!(html.contains("<caption"), "the tables are labelled");
    assert!(html.contains("Delivery log") && html.contains("flag.killed"), "the log is on the page");
}

async fn a_deleted_webhook_receives_nothing_more(app: TestApp) {
    let receiver = Receiver::start(0).await;
    let (gone, _) = register(&app, &receiver.url("/gone"), &[]).await;
    let (kept, _) = register(&app, &receiver.url("/kept"), &[]).await;
    let (status, deleted) = app.delete(&format!("/api/v1/webhooks/{gone}")).await;
    assert_eq!((status, deleted["id"].as_i64()), (200, Some(gone)), "{deleted}");
    let (status, again) = app.delete(&format!("/api/v1/webhooks/{gone}")).await;
    assert_eq!((status, error_of(&again).0), (404, "not_found"));
    kill(&app, "billing.v2").await;

    delivered_to(&app, kept).await;
    assert!(receiver.at("/gone").is_empty());
    let (_, list) = app.get("/api/v1/webhooks").await;
    let ids: Vec<i64> = list.as_array().unwrap().iter().map(|w| w["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [kept]);
    let (_, audit) = app.get("/api/v1/audit?action=webhook.delete").await;
    assert_eq!(audit["total"], 1, "{audit}");
}

async fn replicas_sharing_a_database_send_each_delivery_once(app: TestApp) {
    let receiver = Receiver::start(0).await;
    let (id, _) = register(&app, &receiver.url("/all"), &["flag.killed"]).await;
    // Queued at once, without waking anyone: the replicas below start together and
    // all race for the same deliveries from their first look.
    let mut tx = app.service.db.write().await.unwrap();
    for n in 0..20 {
        runway::webhook::enqueue(tx.conn(), "flag.killed", json!({ "flag": { "key": format!("f{n}") } })).await.unwrap();
    }
    tx.commit().await.unwrap();
    for _ in 0..4 {
        let replica = runway::service::Service::new(runway::db::Db::open(app.db_url()).await.unwrap()).with_private_webhooks(true);
        replica.start_webhook_worker();
    }
    eventually("every event to be delivered", async || {
        let log = deliveries(&app).await;
        (log.len() == 20 && log.iter().all(|d| d["webhook_id"] == id && d["status"] == "delivered")).then_some(())
    })
    .await;
    let mut sent: Vec<String> = receiver.at("/all").iter().map(|r| header(r, "x-runway-delivery").to_string()).collect();
    sent.sort();
    let sent_count = sent.len();
    sent.dedup();
    assert_eq!((sent_count, sent.len()), (20, 20), "each delivery sent once");
    assert!(deliveries(&app).await.iter().all(|d| d["attempts"] == 1));
}

async fn the_openapi_document_describes_the_webhook_endpoints(app: TestApp) {
    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    for (path, method) in [
        ("/api/v1/webhooks", "get"),
        ("/api/v1/webhooks", "post"),
        ("/api/v1/webhooks/{webhook_id}", "delete"),
        ("/api/v1/webhooks/deliveries", "get"),
    ] {
        let op = &doc["paths"][path][method];
        assert_eq!(op["tags"], json!(["webhooks"]), "{method} {path}: {op}");
    }
    for schema in ["Webhook", "NewWebhook", "CreatedWebhook", "Delivery", "DeliveryStatus"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema} is described");
    }
}
