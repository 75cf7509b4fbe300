//! People over real HTTP: sessions, CSRF, sign-in limits, API tokens, plan roles,
//! review and sign-off, comments, the demo people and the command line, each test on
//! SQLite and on PostgreSQL.
use crate::support;

use serde_json::{json, Value};
use support::{error_of, ids, Auth, TestApp, PASSWORD};

on_both_databases!(
    signing_in_answers_with_the_person_a_csrf_token_and_an_http_only_lax_cookie,
    the_session_cookie_is_secure_when_the_console_is_reached_over_https,
    a_wrong_password_is_401_and_writes_no_session_and_no_audit_entry,
    signing_out_ends_the_session_so_its_cookie_no_longer_works,
    an_expired_session_is_refused_with_session_expired,
    a_cookie_write_without_the_right_csrf_token_is_refused_and_changes_nothing,
    after_three_wrong_passwords_the_username_must_wait_even_with_the_right_one,
    a_token_secret_is_shown_once_and_never_listed,
    a_token_records_when_it_was_last_used,
    a_read_only_token_cannot_create_a_plan,
    a_revoked_or_unknown_token_is_401,
    a_plan_created_by_a_token_is_audited_under_the_token_name,
    a_token_cannot_read_the_audit_log,
    the_person_who_creates_a_plan_becomes_its_migration_lead,
    the_lead_gives_and_takes_plan_roles_and_the_plan_lists_them_with_contacts,
    assigning_an_unknown_person_or_the_same_role_twice_is_refused_and_changes_nothing,
    a_stakeholder_cannot_give_plan_roles,
    a_draft_without_stakeholders_cannot_go_to_review,
    a_plan_is_approved_once_every_stakeholder_signs_off_its_current_version,
    only_stakeholders_sign_off_and_bad_sign_offs_leave_no_trace,
    editing_an_approved_plan_sends_it_back_to_review_saying_who_changed_what,
    the_status_cannot_be_set_to_in_review_or_approved_by_hand,
    stakeholders_comment_on_the_plan_and_its_stages_and_replies_stay_in_their_thread,
    only_people_with_a_role_on_the_plan_may_comment,
    a_comment_without_a_body_or_with_an_unknown_parent_is_refused,
    each_comment_leaves_exactly_one_audit_entry,
    the_demo_people_hold_their_roles_on_the_demo_plan,
    the_command_line_adds_a_person_who_can_then_sign_in,
    a_token_made_on_the_command_line_works_against_the_api,
);

// ---- helpers ----

/// A sign-in carrying no credentials of its own.
async fn sign_in(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/session"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn read(r: reqwest::Response) -> (u16, String) {
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The `Set-Cookie` header's attributes, after the `name=value` pair.
fn set_cookie(r: &reqwest::Response) -> (String, Vec<String>) {
    let header = r.headers().get("set-cookie").expect("a Set-Cookie header").to_str().unwrap();
    let mut parts = header.split(';').map(|p| p.trim().to_string());
    (parts.next().unwrap(), parts.collect())
}

fn session_of(app: &TestApp) -> (String, String) {
    match &app.auth {
        Auth::Session { cookie, csrf } => (cookie.clone(), csrf.clone()),
        other => panic!("not a session: {other:?}"),
    }
}

/// The session row's key for a `runway_session=...` cookie.
fn session_key(cookie: &str) -> String {
    runway::session::digest(cookie.strip_prefix("runway_session=").unwrap())
}

async fn audit_entries(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM audit_log").await
}

fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

/// `(username, role)` for each role on the plan, sorted.
fn holders(roles: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = roles
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["person"]["username"].as_str().unwrap().to_string(), a["role"].as_str().unwrap().to_string()))
        .collect();
    out.sort();
    out
}

async fn plan_of(app: &TestApp, id: i64) -> Value {
    let (status, plan) = app.get(&format!("/api/v1/plans/{id}")).await;
    assert_eq!(status, 200, "{plan}");
    plan
}

async fn create_token(app: &TestApp, name: &str, scopes: &[&str]) -> (i64, String) {
    let (status, made) = app.send("POST", "/api/v1/tokens", json!({ "name": name, "scopes": scopes })).await;
    assert_eq!(status, 201, "{made}");
    (made["token"]["id"].as_i64().unwrap(), made["secret"].as_str().unwrap().to_string())
}

// ---- sessions ----

async fn signing_in_answers_with_the_person_a_csrf_token_and_an_http_only_lax_cookie(app: TestApp) {
    app.add_person("ada", false).await;
    let r = sign_in(&app, "ada", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let (pair, attrs) = set_cookie(&r);
    let secret = pair.strip_prefix("runway_session=").expect("the session cookie");
    assert!(secret.len() >= 32, "a long random secret: {pair}");
    for wanted in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attrs.iter().any(|a| a == wanted), "{wanted} missing from {attrs:?}");
    }
    assert!(!attrs.iter().any(|a| a.eq_ignore_ascii_case("secure")), "no Secure over plain http, or the browser drops it: {attrs:?}");
    let viewer: Value = r.json().await.unwrap();
    assert_eq!(viewer["person"]["username"], "ada");
    assert_eq!(viewer["person"]["role"], "member");
    assert!(viewer["person"].get("password_hash").is_none());
    let csrf = viewer["csrf_token"].as_str().unwrap().to_string();
    assert!(csrf.len() >= 32);

    let ada = app.with(Auth::Session { cookie: pair.clone(), csrf: csrf.clone() });
    let (status, me) = ada.get("/api/v1/session").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!((me["person"]["username"].as_str(), me["csrf_token"].as_str()), (Some("ada"), Some(csrf.as_str())));
}

async fn the_session_cookie_is_secure_when_the_console_is_reached_over_https(app: TestApp) {
    let r = app
        .http
        .post(app.url("/api/v1/session"))
        .header("x-forwarded-proto", "https")
        .json(&json!({ "username": "admin", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (pair, attrs) = set_cookie(&r);
    assert!(pair.starts_with("runway_session="));
    assert!(attrs.iter().any(|a| a == "Secure"), "{attrs:?}");
    assert!(attrs.iter().any(|a| a == "HttpOnly"), "{attrs:?}");
}

async fn a_wrong_password_is_401_and_writes_no_session_and_no_audit_entry(app: TestApp) {
    let sessions = app.count("SELECT COUNT(*) FROM sessions").await;
    let audit = audit_entries(&app).await;
    for (username, password) in [("admin", "not the password"), ("nobody-here", PASSWORD)] {
        let r = sign_in(&app, username, password).await;
        assert!(r.headers().get("set-cookie").is_none(), "{username}");
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 401, "{username}: {body}");
        // The same answer for an unknown name, so it does not reveal who has an account.
        assert_eq!(error_of(&body), ("invalid_credentials", None), "{username}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, sessions);
    assert_eq!(audit_entries(&app).await, audit);
}

async fn signing_out_ends_the_session_so_its_cookie_no_longer_works(app: TestApp) {
    let other = app.signed_in("admin").await;
    let session = app.signed_in("admin").await;
    let (cookie, _) = session_of(&session);
    let r = session.request("DELETE", "/api/v1/session").send().await.unwrap();
    assert_eq!(r.status(), 204);
    let (pair, attrs) = set_cookie(&r);
    assert_eq!(pair, "runway_session=", "the browser is told to forget the cookie");
    assert!(attrs.iter().any(|a| a == "Max-Age=0"), "{attrs:?}");

    let (status, body) = session.get("/api/v1/session").await;
    assert_eq!(status, 401, "{body}");
    error_of(&body);
    let (status, _) = session.get("/api/v1/plans").await;
    assert_eq!(status, 401);
    let gone: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE id_hash = $1")
        .bind(session_key(&cookie))
        .fetch_one(&app.service.db.pool)
        .await
        .unwrap();
    assert_eq!(gone, 0);
    // Only that session ended.
    let (status, _) = other.get("/api/v1/session").await;
    assert_eq!(status, 200);
}

async fn an_expired_session_is_refused_with_session_expired(app: TestApp) {
    let session = app.signed_in("admin").await;
    let (cookie, _) = session_of(&session);
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let changed = sqlx::query("UPDATE sessions SET expires_at = $1 WHERE id_hash = $2")
        .bind(&past)
        .bind(session_key(&cookie))
        .execute(&app.service.db.pool)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1);
    for path in ["/api/v1/session", "/api/v1/plans"] {
        let (status, body) = session.get(path).await;
        assert_eq!((status, error_of(&body).0), (401, "session_expired"), "{path}");
    }
    let (status, _) = app.get("/api/v1/session").await;
    assert_eq!(status, 200, "other sessions go on");
}

// ---- CSRF ----

async fn a_cookie_write_without_the_right_csrf_token_is_refused_and_changes_nothing(app: TestApp) {
    let plan = app.plan(json!({"title": "Guarded"})).await;
    let path = format!("/api/v1/plans/{}", id_of(&plan));
    let (cookie, _) = session_of(&app);
    let edit = json!({"version": 1, "title": "Forged"});

    let bare = app.http.patch(app.url(&path)).header("cookie", &cookie).json(&edit).send().await.unwrap();
    let wrong = app.with(Auth::Session { cookie: cookie.clone(), csrf: "0".repeat(64) });
    let forged = wrong.request("PATCH", &path).json(&edit).send().await.unwrap();
    for r in [bare, forged] {
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_eq!((status, error_of(&body).0), (403, "csrf_failed"), "{body}");
    }

    // Reading needs no token.
    let r = app.http.get(app.url(&path)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let now: Value = r.json().await.unwrap();
    assert_eq!((now["title"].as_str(), now["version"].as_i64()), (Some("Guarded"), Some(1)));

    let (status, edited) = app.send("PATCH", &path, edit).await;
    assert_eq!((status, edited["title"].as_str(), edited["version"].as_i64()), (200, Some("Forged"), Some(2)));

    // A bearer token is not sent by browsers on their own, so it needs no CSRF token.
    let bot = app.with_token(&["plans:write"]).await;
    let (status, edited) = bot.send("PATCH", &path, json!({"version": 2, "title": "By token"})).await;
    assert_eq!((status, edited["version"].as_i64()), (200, Some(3)), "{edited}");
}

// ---- sign-in limit ----

async fn after_three_wrong_passwords_the_username_must_wait_even_with_the_right_one(app: TestApp) {
    app.add_person("target", false).await;
    app.add_person("bystander", false).await;
    let wrong = ["wrong-password-one", "wrong-password-two", "wrong-password-three"];
    let mut answers = vec![];
    for password in wrong {
        let (status, text) = read(sign_in(&app, "target", password).await).await;
        assert_eq!(status, 401, "{text}");
        answers.push(text);
    }
    let r = sign_in(&app, "target", PASSWORD).await;
    assert!(r.headers().get("set-cookie").is_none());
    let (status, text) = read(r).await;
    assert_eq!(status, 429, "the fourth attempt waits, right password or not: {text}");
    assert_eq!(error_of(&serde_json::from_str(&text).unwrap()).0, "too_many_attempts");
    answers.push(text);
    for text in &answers {
        for password in wrong.iter().chain([&PASSWORD]) {
            assert!(!text.contains(password), "the password is echoed: {text}");
        }
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'target'").await, 0);

    let (status, text) = read(sign_in(&app, "bystander", PASSWORD).await).await;
    assert_eq!(status, 200, "another username is not held up: {text}");
}

// ---- API tokens ----

async fn a_token_secret_is_shown_once_and_never_listed(app: TestApp) {
    let (status, made) = app.send("POST", "/api/v1/tokens", json!({"name": "deploy-bot", "scopes": ["plans:write"]})).await;
    assert_eq!(status, 201, "{made}");
    let secret = made["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("rwy_") && secret.len() > 20, "{secret}");
    assert_eq!(made["token"]["name"], "deploy-bot");
    assert_eq!(made["token"]["scopes"], json!(["plans:write"]));
    assert!(!made["token"].to_string().contains(&secret));

    let (status, list) = app.get_text("/api/v1/tokens").await;
    assert_eq!(status, 200);
    assert!(list.contains("deploy-bot"), "{list}");
    assert!(!list.contains(&secret), "the secret is listed: {list}");
    assert!(!list.contains(&runway::session::digest(&secret)), "the stored hash is listed: {list}");
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["prefix"].as_str(), Some(&secret[..12]), "the prefix tells tokens apart");
}

async fn a_token_records_when_it_was_last_used(app: TestApp) {
    let (id, secret) = create_token(&app, "reader", &["plans:read"]).await;
    let last_used = || async {
        let (_, list) = app.get("/api/v1/tokens").await;
        list.as_array().unwrap().iter().find(|t| t["id"] == id).unwrap()["last_used_at"].clone()
    };
    assert_eq!(last_used().await, Value::Null);
    let (status, _) = app.with(Auth::Bearer(secret)).get("/api/v1/plans").await;
    assert_eq!(status, 200);
    let used = last_used().await;
    assert!(used.as_str().is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()), "{used}");
}

async fn a_read_only_token_cannot_create_a_plan(app: TestApp) {
    let reader = app.with_token(&["plans:read"]).await;
    let (status, body) = reader.send("POST", "/api/v1/plans", json!({"title": "Sneaky"})).await;
    assert_eq!((status, error_of(&body).0), (403, "missing_scope"), "{body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM plans").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'plan.create'").await, 0);
}

async fn a_revoked_or_unknown_token_is_401(app: TestApp) {
    let (id, secret) = create_token(&app, "short-lived", &["plans:read"]).await;
    let bot = app.with(Auth::Bearer(secret));
    let (status, _) = bot.get("/api/v1/plans").await;
    assert_eq!(status, 200);

    let (status, revoked) = app.delete(&format!("/api/v1/tokens/{id}")).await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revoked_at"].is_string());
    let (status, body) = bot.get("/api/v1/plans").await;
    assert_eq!((status, error_of(&body).0), (401, "invalid_token"), "revoked at once");

    let unknown = app.with(Auth::Bearer(format!("rwy_{}", "0".repeat(64))));
    let (status, body) = unknown.get("/api/v1/plans").await;
    assert_eq!((status, error_of(&body).0), (401, "invalid_token"));
}

async fn a_plan_created_by_a_token_is_audited_under_the_token_name(app: TestApp) {
    let (_, secret) = create_token(&app, "deploy-bot", &["plans:write"]).await;
    let plan = app.with(Auth::Bearer(secret)).plan(json!({"title": "From CI"})).await;
    assert_eq!(plan["roles"], json!([]), "a token is nobody's migration lead");
    let (status, audit) = app.get("/api/v1/audit?action=plan.create").await;
    assert_eq!(status, 200);
    assert_eq!(audit["total"], 1, "{audit}");
    let entry = &audit["items"][0];
    assert_eq!(entry["actor"], "token:deploy-bot");
    assert_eq!(entry["plan_id"], plan["id"]);
}

async fn a_token_cannot_read_the_audit_log(app: TestApp) {
    let bot = app.with_token(&["plans:write"]).await;
    for path in ["/api/v1/audit", "/api/v1/audit/export.csv", "/api/v1/audit/export.jsonl"] {
        let (status, body) = bot.get(path).await;
        assert_eq!(status, 403, "{path}: {body}");
        error_of(&body);
    }
}

// ---- plan roles ----

async fn the_person_who_creates_a_plan_becomes_its_migration_lead(app: TestApp) {
    app.add_person("lena", false).await;
    let lena = app.signed_in("lena").await;
    let plan = lena.plan(json!({"title": "Lena's plan"})).await;
    assert_eq!(holders(&plan["roles"]), [("lena".to_string(), "migration_lead".to_string())]);
    assert_eq!(plan["roles"][0]["person"]["contact"], "lena@example.com");
    let (_, again) = app.get(&format!("/api/v1/plans/{}/roles", id_of(&plan))).await;
    assert_eq!(again, plan["roles"]);
}

async fn the_lead_gives_and_takes_plan_roles_and_the_plan_lists_them_with_contacts(app: TestApp) {
    app.add_person("lena", false).await;
    app.add_person("sam", false).await;
    let lena = app.signed_in("lena").await;
    let id = id_of(&lena.plan(json!({"title": "Roles"})).await);
    let roles = format!("/api/v1/plans/{id}/roles");

    let (status, plan) = lena.send("POST", &roles, json!({"username": "sam", "role": "stakeholder"})).await;
    assert_eq!(status, 201, "{plan}");
    let (status, list) = lena.get(&roles).await;
    assert_eq!(status, 200);
    assert_eq!(list, plan["roles"]);
    let sam = list.as_array().unwrap().iter().find(|a| a["person"]["username"] == "sam").expect("sam is listed");
    assert_eq!((sam["role"].as_str(), sam["person"]["contact"].as_str()), (Some("stakeholder"), Some("sam@example.com")));

    let (status, plan) = lena.delete(&format!("{roles}/{}", id_of(sam))).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(holders(&plan["roles"]), [("lena".to_string(), "migration_lead".to_string())]);
    let (_, list) = lena.get(&roles).await;
    assert_eq!(list, plan["roles"]);
}

async fn assigning_an_unknown_person_or_the_same_role_twice_is_refused_and_changes_nothing(app: TestApp) {
    app.add_person("sam", false).await;
    let id = id_of(&app.plan(json!({"title": "Roles"})).await);
    let roles = format!("/api/v1/plans/{id}/roles");
    let (status, _) = app.send("POST", &roles, json!({"username": "sam", "role": "stakeholder"})).await;
    assert_eq!(status, 201);
    let (_, before) = app.get(&roles).await;
    let audit = audit_entries(&app).await;

    let (status, body) = app.send("POST", &roles, json!({"username": "ghost", "role": "on_call"})).await;
    assert_eq!((status, error_of(&body)), (422, ("unknown_person", Some("username"))));
    let (status, body) = app.send("POST", &roles, json!({"username": "sam", "role": "stakeholder"})).await;
    assert_eq!(status, 409, "{body}");
    error_of(&body);

    let (_, after) = app.get(&roles).await;
    assert_eq!(after, before);
    assert_eq!(audit_entries(&app).await, audit);
    // The same person may hold a second, different role.
    let (status, plan) = app.send("POST", &roles, json!({"username": "sam", "role": "on_call"})).await;
    assert_eq!(status, 201, "{plan}");
}

async fn a_stakeholder_cannot_give_plan_roles(app: TestApp) {
    let id = id_of(&app.plan(json!({"title": "Roles"})).await);
    let sam = app.holding("sam", id, "stakeholder").await;
    app.add_person("mallory", false).await;
    let (_, before) = app.get(&format!("/api/v1/plans/{id}/roles")).await;

    let (status, body) = sam.send("POST", &format!("/api/v1/plans/{id}/roles"), json!({"username": "mallory", "role": "migration_lead"})).await;
    assert_eq!(status, 403, "{body}");
    error_of(&body);
    let lead = before.as_array().unwrap().iter().find(|a| a["role"] == "migration_lead").unwrap();
    let (status, _) = sam.delete(&format!("/api/v1/plans/{id}/roles/{}", id_of(lead))).await;
    assert_eq!(status, 403);

    let (_, after) = app.get(&format!("/api/v1/plans/{id}/roles")).await;
    assert_eq!(after, before);
}

// ---- review and sign-off ----

/// A plan led by `lena` with stakeholders `sam` and `sue`, sent for review.
struct InReview {
    id: i64,
    version: i64,
    stage: i64,
    lead: TestApp,
    sam: TestApp,
    sue: TestApp,
}

async fn in_review(app: &TestApp) -> InReview {
    app.add_person("lena", false).await;
    let lead = app.signed_in("lena").await;
    let plan = lead.plan(json!({"title": "Reviewed", "stages": [{"name": "Shadow traffic"}, {"name": "Cut over"}]})).await;
    let id = id_of(&plan);
    let sam = lead.holding("sam", id, "stakeholder").await;
    let sue = lead.holding("sue", id, "stakeholder").await;
    let version = plan_of(app, id).await["version"].as_i64().unwrap();
    let (status, plan) = lead.send("POST", &format!("/api/v1/plans/{id}/review"), json!({"version": version})).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["status"], "in_review");
    InReview { id, version: plan["version"].as_i64().unwrap(), stage: ids(&plan)[0], lead, sam, sue }
}

async fn sign(who: &TestApp, id: i64, body: Value) -> (u16, Value) {
    who.send("POST", &format!("/api/v1/plans/{id}/signoffs"), body).await
}

async fn a_draft_without_stakeholders_cannot_go_to_review(app: TestApp) {
    let plan = app.plan(json!({"title": "Lonely"})).await;
    let id = id_of(&plan);
    app.holding("olive", id, "on_call").await;
    let (status, body) = app.send("POST", &format!("/api/v1/plans/{id}/review"), json!({"version": 1})).await;
    assert_eq!((status, error_of(&body).0), (422, "no_stakeholders"));
    let now = plan_of(&app, id).await;
    assert_eq!((now["status"].as_str(), now["version"].as_i64()), (Some("draft"), Some(1)));
}

async fn a_plan_is_approved_once_every_stakeholder_signs_off_its_current_version(app: TestApp) {
    let r = in_review(&app).await;
    let (status, plan) = sign(&r.sam, r.id, json!({"version": r.version, "decision": "approved"})).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["status"], "in_review", "one of two stakeholders is not enough");
    assert_eq!(plan["signoffs"].as_array().unwrap().len(), 1);
    assert_eq!(plan["signoffs"][0]["person"]["username"], "sam");
    assert_eq!(plan["version"], r.version, "signing off does not change the version");

    let (status, plan) = sign(&r.sue, r.id, json!({"version": r.version, "decision": "approved", "comment": "Fine by me"})).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["status"], "approved");
    assert_eq!(plan_of(&app, r.id).await["status"], "approved");
}

async fn only_stakeholders_sign_off_and_bad_sign_offs_leave_no_trace(app: TestApp) {
    let r = in_review(&app).await;
    let approve = json!({"version": r.version, "decision": "approved"});
    for (who, caller) in [("the lead", &r.lead), ("an admin", &app)] {
        let (status, body) = sign(caller, r.id, approve.clone()).await;
        assert_eq!(status, 403, "{who}: {body}");
        error_of(&body);
    }
    let (status, body) = sign(&r.sam, r.id, json!({"version": r.version, "decision": "changes_requested"})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("comment")), "asking for changes says which");
    let (status, body) = sign(&r.sam, r.id, json!({"version": r.version, "decision": "changes_requested", "comment": "  "})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("comment")));
    let (status, body) = sign(&r.sam, r.id, json!({"version": r.version - 1, "decision": "approved"})).await;
    assert_eq!((status, error_of(&body).0), (409, "version_conflict"), "a sign-off is for the version reviewed");
    assert_eq!(body["error"]["current_version"], r.version);

    assert_eq!(app.count("SELECT COUNT(*) FROM signoffs").await, 0);
    let plan = plan_of(&app, r.id).await;
    assert_eq!((plan["status"].as_str(), plan["signoffs"].clone()), (Some("in_review"), json!([])));

    let (status, plan) = sign(&r.sam, r.id, json!({"version": r.version, "decision": "changes_requested", "comment": "Add a rollback"})).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!((plan["status"].as_str(), plan["signoffs"][0]["decision"].as_str()), (Some("in_review"), Some("changes_requested")));
}

async fn editing_an_approved_plan_sends_it_back_to_review_saying_who_changed_what(app: TestApp) {
    let r = in_review(&app).await;
    for who in [&r.sam, &r.sue] {
        let (status, body) = sign(who, r.id, json!({"version": r.version, "decision": "approved"})).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(plan_of(&app, r.id).await["status"], "approved");

    let (status, plan) = r
        .lead
        .send("PATCH", &format!("/api/v1/plans/{}/stages/{}", r.id, r.stage), json!({"version": r.version, "goal": "Mirror 5% of reads"}))
        .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["status"], "in_review");
    assert_eq!(plan["signoffs"], json!([]));
    let note = plan["review_note"].as_str().expect("a note says why");
    assert!(note.contains("Shadow traffic"), "names the stage: {note}");
    assert!(note.contains("lena"), "names who edited it: {note}");
    assert_eq!(plan_of(&app, r.id).await, plan);

    // The voided sign-offs do not count towards the new version.
    let (status, plan) = sign(&r.sam, r.id, json!({"version": plan["version"], "decision": "approved"})).await;
    assert_eq!((status, plan["status"].as_str()), (200, Some("in_review")));
}

async fn the_status_cannot_be_set_to_in_review_or_approved_by_hand(app: TestApp) {
    let r = in_review(&app).await;
    let path = format!("/api/v1/plans/{}", r.id);
    let (status, body) = r.lead.send("PATCH", &path, json!({"version": r.version, "status": "approved"})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("status")), "{body}");
    let plan = plan_of(&app, r.id).await;
    assert_eq!((plan["status"].as_str(), plan["version"].as_i64()), (Some("in_review"), Some(r.version)));

    let draft = app.plan(json!({"title": "Draft"})).await;
    let (status, body) = app.send("PATCH", &format!("/api/v1/plans/{}", id_of(&draft)), json!({"version": 1, "status": "in_review"})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("status")));
    assert_eq!(plan_of(&app, id_of(&draft)).await["status"], "draft");
}

// ---- comments ----

async fn comment(who: &TestApp, plan: i64, body: Value) -> (u16, Value) {
    who.send("POST", &format!("/api/v1/plans/{plan}/comments"), body).await
}

async fn stakeholders_comment_on_the_plan_and_its_stages_and_replies_stay_in_their_thread(app: TestApp) {
    let plan = app.plan(json!({"title": "Discussed", "stages": [{"name": "A"}, {"name": "B"}]})).await;
    let (id, stage) = (id_of(&plan), ids(&plan)[1]);
    let sam = app.holding("sam", id, "stakeholder").await;
    let olive = app.holding("olive", id, "on_call").await;

    let (status, general) = comment(&sam, id, json!({"body": "Looks sound overall"})).await;
    assert_eq!(status, 201, "{general}");
    assert_eq!((general["stage_id"].clone(), general["parent_id"].clone()), (Value::Null, Value::Null));
    assert_eq!(general["author"]["username"], "sam");
    let (status, on_stage) = comment(&sam, id, json!({"body": "How long does B soak?", "stage_id": stage})).await;
    assert_eq!((status, on_stage["stage_id"].as_i64()), (201, Some(stage)));
    let (status, reply) = comment(&olive, id, json!({"body": "An hour", "parent_id": on_stage["id"]})).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!((reply["parent_id"].clone(), reply["stage_id"].as_i64()), (on_stage["id"].clone(), Some(stage)), "a reply stays on its thread's stage");

    let (status, list) = sam.get(&format!("/api/v1/plans/{id}/comments")).await;
    assert_eq!(status, 200);
    assert_eq!(list, json!([general, on_stage, reply]), "oldest first");
}

async fn only_people_with_a_role_on_the_plan_may_comment(app: TestApp) {
    let id = id_of(&app.plan(json!({"title": "Private talk"})).await);
    app.add_person("mel", false).await;
    let mel = app.signed_in("mel").await;
    let (status, body) = comment(&mel, id, json!({"body": "Drive-by"})).await;
    assert_eq!(status, 403, "{body}");
    error_of(&body);
    let bot = app.with_token(&["plans:write"]).await;
    let (status, _) = comment(&bot, id, json!({"body": "From a script"})).await;
    assert_eq!(status, 403, "comments are people's");
    assert_eq!(app.count("SELECT COUNT(*) FROM comments").await, 0);

    let (status, _) = comment(&app, id, json!({"body": "Admins may"})).await;
    assert_eq!(status, 201);
}

async fn a_comment_without_a_body_or_with_an_unknown_parent_is_refused(app: TestApp) {
    let id = id_of(&app.plan(json!({"title": "t", "stages": [{"name": "A"}]})).await);
    let other = app.plan(json!({"title": "other"})).await;
    let sam = app.holding("sam", id, "stakeholder").await;
    let (status, foreign) = comment(&app, id_of(&other), json!({"body": "elsewhere"})).await;
    assert_eq!(status, 201);

    for (body, field) in [
        (json!({"body": ""}), "body"),
        (json!({"body": " \n "}), "body"),
        (json!({"body": "reply", "parent_id": 999999}), "parent_id"),
        (json!({"body": "reply", "parent_id": foreign["id"]}), "parent_id"),
        (json!({"body": "on a stage", "stage_id": 999999}), "stage_id"),
    ] {
        let (status, err) = comment(&sam, id, body.clone()).await;
        assert_eq!((status, error_of(&err).1), (422, Some(field)), "{body}: {err}");
    }
    let (_, list) = sam.get(&format!("/api/v1/plans/{id}/comments")).await;
    assert_eq!(list, json!([]));
}

async fn each_comment_leaves_exactly_one_audit_entry(app: TestApp) {
    let id = id_of(&app.plan(json!({"title": "Audited talk"})).await);
    let sam = app.holding("sam", id, "stakeholder").await;
    let mut made = vec![];
    for body in [json!({"body": "first"}), json!({"body": "second"})] {
        let (status, c) = comment(&sam, id, body).await;
        assert_eq!(status, 201);
        made.push(id_of(&c));
    }
    let (status, c) = comment(&app, id, json!({"body": "reply", "parent_id": made[0]})).await;
    assert_eq!(status, 201);
    made.push(id_of(&c));
    comment(&sam, id, json!({"body": ""})).await;

    let (_, audit) = app.get(&format!("/api/v1/audit?action=comment.create&plan_id={id}")).await;
    assert_eq!(audit["total"], 3, "{audit}");
    let mut targets: Vec<String> = audit["items"].as_array().unwrap().iter().map(|e| e["target"].as_str().unwrap().to_string()).collect();
    targets.sort();
    let mut expected: Vec<String> = made.iter().map(|c| format!("plan:{id}/comment:{c}")).collect();
    expected.sort();
    assert_eq!(targets, expected);
    let actors: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["actor"].as_str().unwrap()).collect();
    assert_eq!(actors, ["admin", "sam", "sam"]);
}

// ---- demo people ----

async fn the_demo_people_hold_their_roles_on_the_demo_plan(app: TestApp) {
    let id = runway::demo::load_if_empty(&app.service).await.unwrap().expect("loaded into an empty database");
    let (status, roles) = app.get(&format!("/api/v1/plans/{id}/roles")).await;
    assert_eq!(status, 200);
    let expected = [
        ("authority", "rollback_authority"),
        ("lead", "migration_lead"),
        ("oncall", "on_call"),
        ("stakeholder", "stakeholder"),
    ]
    .map(|(u, r)| (u.to_string(), r.to_string()));
    assert_eq!(holders(&roles), expected);
    for a in roles.as_array().unwrap() {
        assert_eq!(a["person"]["role"], "member", "{a}");
        assert!(a["person"]["contact"].as_str().is_some_and(|c| !c.is_empty()), "{a}");
    }
    // The existing admin keeps their account; no second one is made.
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE username = 'admin'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 6);
    let (_, internal) = app.get("/api/v1/workspaces/acme-internal").await;
    assert_eq!(internal["members"], serde_json::json!(["wendy"]), "the demo workspace user is a member of the internal workspace");
    let (status, _) = app.get("/api/v1/session").await;
    assert_eq!(status, 200, "the admin's session goes on");
}

// ---- command line ----

/// Runs the built `runway` binary against this app's database; it must succeed.
async fn cli(app: &TestApp, args: &[&str], stdin: &str) -> (String, String) {
    let (ok, stdout, stderr) = support::run_cli(app, args, stdin, &[]).await;
    assert!(ok, "runway {args:?} failed: {stderr}\n{stdout}");
    (stdout, stderr)
}

async fn the_command_line_adds_a_person_who_can_then_sign_in(app: TestApp) {
    let password = "carol's own long password";
    let (out, _) = cli(&app, &["user", "add", "carol", "--admin"], &format!("{password}\n")).await;
    assert!(out.contains("carol"), "{out}");
    assert!(!out.contains(password));

    let r = sign_in(&app, "carol", password).await;
    assert_eq!(r.status(), 200);
    let viewer: Value = r.json().await.unwrap();
    assert_eq!((viewer["person"]["username"].as_str(), viewer["person"]["role"].as_str()), (Some("carol"), Some("admin")));

    let (out, _) = cli(&app, &["user", "list"], "").await;
    let names: Vec<&str> = out.lines().filter_map(|l| l.split('\t').next()).collect();
    assert!(names.contains(&"carol") && names.contains(&"admin"), "{out}");
    assert!(!out.contains("argon2"), "no password hashes: {out}");
}

async fn a_token_made_on_the_command_line_works_against_the_api(app: TestApp) {
    let (out, _) = cli(&app, &["token", "create", "ci", "--scopes", "plans:read,flags:read", "--environment", "staging"], "").await;
    let secret = out.lines().last().unwrap().trim();
    assert!(secret.starts_with("rwy_") && !secret.contains(' '), "the token alone on the last line: {out}");

    let bot = app.with(Auth::Bearer(secret.to_string()));
    let (status, body) = bot.get("/api/v1/plans").await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = bot.send("POST", "/api/v1/plans", json!({"title": "no"})).await;
    assert_eq!(status, 403, "only the scopes asked for");

    let (_, tokens) = app.get("/api/v1/tokens").await;
    let ci = &tokens[0];
    assert_eq!((ci["name"].as_str(), ci["environment"].as_str(), ci["created_by"].as_str()), (Some("ci"), Some("staging"), Some("runway-cli")));
    assert_eq!(ci["scopes"], json!(["flags:read", "plans:read"]));
}
