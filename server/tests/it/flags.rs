//! Feature flags over real HTTP: the management API (environments, versions, the audit
//! log, the kill switch) and OFREP evaluation as services see it, each test on SQLite
//! and on PostgreSQL.
use crate::support;

use serde_json::{json, Value};
use support::{error_of, Auth, TestApp};

on_both_databases!(
    // ---- the management API ----
    a_new_flag_is_off_in_every_default_environment,
    a_duplicate_or_malformed_key_is_refused_and_writes_nothing,
    a_bad_percentage_a_duplicate_variant_or_an_unknown_environment_is_refused_and_writes_nothing,
    setting_a_flag_in_production_leaves_staging_as_it_was,
    a_change_made_against_a_stale_version_is_409_and_changes_nothing,
    every_flag_change_leaves_exactly_one_audit_entry_with_before_and_after,
    // ---- OFREP: one flag ----
    ofrep_answers_the_value_reason_and_variant_of_the_production_state,
    the_deny_list_beats_the_allow_list_and_the_allow_list_beats_the_percentage,
    a_partial_rollout_without_a_targeting_key_is_400_targeting_key_missing,
    an_unknown_or_archived_flag_is_404_flag_not_found,
    a_malformed_context_is_400_invalid_context_and_broken_json_is_400_parse_error,
    evaluation_needs_a_live_flags_read_token_that_names_an_environment,
    evaluation_follows_each_change_as_soon_as_the_change_returns,
    changes_made_at_the_same_time_all_reach_evaluation,
    a_staging_token_sees_the_staging_state,
    // ---- OFREP: every flag ----
    bulk_evaluation_lists_every_live_flag_of_the_token_environment,
    bulk_evaluation_answers_304_until_the_flags_or_the_context_change,
    a_single_evaluation_answers_304_until_its_flags_or_its_context_change,
    the_configuration_and_the_bulk_answer_point_providers_at_the_event_stream,
    // ---- the kill switch ----
    the_on_call_person_turns_a_flag_off_everywhere_in_one_change,
    a_rollback_authority_may_use_the_kill_switch_too,
    a_plain_member_cannot_use_the_kill_switch_and_nothing_changes,
    turning_a_killed_flag_on_again_clears_the_kill,
    a_member_who_names_herself_on_call_on_her_own_plan_cannot_kill_other_teams_flags,
    a_responder_kept_on_the_flag_can_kill_that_flag_and_no_other,
    responders_are_set_by_admins_and_must_be_people_with_an_account,
    // ---- variants ----
    a_flag_with_variants_answers_one_of_them_and_the_same_key_always_gets_the_same,
);

// ---- helpers ----

const SINGLE: &str = "/ofrep/v1/evaluate/flags";

pub(crate) async fn create_flag(app: &TestApp, key: &str) -> Value {
    let (status, flag) = app.send("POST", "/api/v1/flags", json!({ "key": key })).await;
    assert_eq!(status, 201, "{flag}");
    flag
}

pub(crate) async fn flag_of(app: &TestApp, key: &str) -> Value {
    let (status, flag) = app.get(&format!("/api/v1/flags/{key}")).await;
    assert_eq!(status, 200, "{flag}");
    flag
}

pub(crate) fn version_of(flag: &Value) -> i64 {
    flag["version"].as_i64().unwrap_or_else(|| panic!("no version: {flag}"))
}

/// The flag's state in one environment.
pub(crate) fn state_in<'a>(flag: &'a Value, environment: &str) -> &'a Value {
    flag["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["environment"] == environment)
        .unwrap_or_else(|| panic!("no {environment} state: {flag}"))
}

/// PUTs the flag's whole state in `environment`, based on its current version.
pub(crate) async fn set(app: &TestApp, key: &str, environment: &str, mut state: Value) -> Value {
    state["version"] = json!(version_of(&flag_of(app, key).await));
    let (status, flag) = app.send("PUT", &format!("/api/v1/flags/{key}/environments/{environment}"), state).await;
    assert_eq!(status, 200, "{flag}");
    flag
}

/// A flag that is on for everyone in production (and off in staging).
async fn on_in_production(app: &TestApp, key: &str) -> Value {
    create_flag(app, key).await;
    set(app, key, "production", json!({ "enabled": true })).await
}

/// An API client holding a `flags:read` token for `environment`.
pub(crate) async fn reader(app: &TestApp, environment: &str) -> TestApp {
    token(app, json!({ "name": format!("service-{environment}"), "scopes": ["flags:read"], "environment": environment })).await.0
}

/// An API client for a new token; also its id.
async fn token(app: &TestApp, body: Value) -> (TestApp, i64) {
    let (status, made) = app.send("POST", "/api/v1/tokens", body).await;
    assert_eq!(status, 201, "{made}");
    (app.with(Auth::Bearer(made["secret"].as_str().unwrap().to_string())), made["token"]["id"].as_i64().unwrap())
}

/// `POST /ofrep/v1/evaluate/flags/{key}` with this context.
pub(crate) async fn evaluate(client: &TestApp, key: &str, context: Value) -> (u16, Value) {
    client.send("POST", &format!("{SINGLE}/{key}"), json!({ "context": context })).await
}

/// Evaluates for `targeting_key`, expecting 200; returns `(value, reason, variant)`.
async fn answer(client: &TestApp, key: &str, targeting_key: &str) -> (Value, Value, Value) {
    let (status, body) = evaluate(client, key, json!({ "targetingKey": targeting_key })).await;
    assert_eq!(status, 200, "{key} for {targeting_key}: {body}");
    assert_eq!(body["key"], key, "{body}");
    triple(&body)
}

fn triple(body: &Value) -> (Value, Value, Value) {
    (body["value"].clone(), body["reason"].clone(), body["variant"].clone())
}

fn on(reason: &str) -> (Value, Value, Value) {
    (json!(true), json!(reason), json!("on"))
}

fn off(reason: &str) -> (Value, Value, Value) {
    (json!(false), json!(reason), json!("off"))
}

/// `POST /ofrep/v1/evaluate/flags`: status, ETag and the body as text (empty on 304).
pub(crate) async fn bulk(client: &TestApp, body: &Value, if_none_match: Option<&str>) -> (u16, Option<String>, String) {
    let mut request = client.request("POST", SINGLE).json(body);
    if let Some(etag) = if_none_match {
        request = request.header("if-none-match", etag);
    }
    let r = request.send().await.unwrap();
    let etag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_string());
    (r.status().as_u16(), etag, r.text().await.unwrap())
}

/// The bulk answer's items by key.
fn items(text: &str) -> std::collections::BTreeMap<String, Value> {
    let body: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    body["flags"]
        .as_array()
        .unwrap_or_else(|| panic!("no flags list: {body}"))
        .iter()
        .map(|f| (f["key"].as_str().unwrap().to_string(), f.clone()))
        .collect()
}

/// Rows in `flags`, `flag_states` and `audit_log`.
async fn rows(app: &TestApp) -> [i64; 3] {
    [
        app.count("SELECT COUNT(*) FROM flags").await,
        app.count("SELECT COUNT(*) FROM flag_states").await,
        app.count("SELECT COUNT(*) FROM audit_log").await,
    ]
}

/// The newest audit entry: action, target, before and after (parsed).
async fn last_audit(app: &TestApp) -> (String, String, Value, Value) {
    let (action, target, before, after): (String, String, Option<String>, Option<String>) =
        sqlx::query_as("SELECT action, target, before_json, after_json FROM audit_log ORDER BY id DESC LIMIT 1")
            .fetch_one(&app.service.db.pool)
            .await
            .unwrap();
    let parse = |v: Option<String>| v.map(|t| serde_json::from_str(&t).unwrap()).unwrap_or(Value::Null);
    (action, target, parse(before), parse(after))
}

// ---- the management API ----

async fn a_new_flag_is_off_in_every_default_environment(app: TestApp) {
    let (_, environments) = app.get("/api/v1/environments").await;
    let mut names: Vec<&str> = environments.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["production", "staging"]);

    let made = create_flag(&app, "USE_STANDALONE_MCP").await;
    assert_eq!(made["key"], "USE_STANDALONE_MCP");
    assert_eq!(version_of(&made), 1);
    assert!(made.get("killed_at").is_none() && made.get("archived_at").is_none(), "{made}");
    let mut envs: Vec<&str> = made["environments"].as_array().unwrap().iter().map(|s| s["environment"].as_str().unwrap()).collect();
    envs.sort_unstable();
    assert_eq!(envs, ["production", "staging"]);
    for env in ["staging", "production"] {
        let s = state_in(&made, env);
        assert_eq!(s["enabled"], false, "{env}: {s}");
        assert_eq!((&s["allow"], &s["deny"], &s["variants"]), (&json!([]), &json!([]), &json!([])), "{env}: {s}");
    }
    assert_eq!(flag_of(&app, "USE_STANDALONE_MCP").await, made);
    let (_, list) = app.get("/api/v1/flags").await;
    assert_eq!(list, json!([made]));

    // Services in either environment see it off.
    for env in ["staging", "production"] {
        let client = reader(&app, env).await;
        assert_eq!(answer(&client, "USE_STANDALONE_MCP", "ws-1").await, off("DISABLED"), "{env}");
    }
}

async fn a_duplicate_or_malformed_key_is_refused_and_writes_nothing(app: TestApp) {
    create_flag(&app, "git.clone.use_service_layer").await;
    let before = rows(&app).await;

    let (status, body) = app.send("POST", "/api/v1/flags", json!({ "key": "git.clone.use_service_layer" })).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_of(&body).1, Some("key"));

    for key in ["has space", "a/b", "/leading", "", "ümlaut"] {
        let (status, body) = app.send("POST", "/api/v1/flags", json!({ "key": key })).await;
        assert_eq!(status, 422, "{key:?}: {body}");
        assert_eq!(error_of(&body), ("validation", Some("key")), "{key:?}");
    }
    assert_eq!(rows(&app).await, before, "flags, flag_states and audit_log are as they were");
    let (_, list) = app.get("/api/v1/flags").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

async fn a_bad_percentage_a_duplicate_variant_or_an_unknown_environment_is_refused_and_writes_nothing(app: TestApp) {
    let made = create_flag(&app, "ENABLE_CODEX_PROVIDER").await;
    let before = rows(&app).await;
    let put = |env: &str| format!("/api/v1/flags/ENABLE_CODEX_PROVIDER/environments/{env}");

    for percentage in [101, -1] {
        let (status, body) = app.send("PUT", &put("production"), json!({ "version": 1, "enabled": true, "percentage": percentage })).await;
        assert_eq!(status, 422, "{percentage}: {body}");
        assert_eq!(error_of(&body), ("validation", Some("percentage")), "{percentage}");
    }
    let twice = json!({ "version": 1, "enabled": true,
        "variants": [{ "name": "claude", "weight": 1 }, { "name": "claude", "weight": 2 }] });
    let (status, body) = app.send("PUT", &put("production"), twice).await;
    assert_eq!(status, 422, "{body}");
    let (code, field) = error_of(&body);
    assert_eq!(code, "validation");
    assert!(field.is_some_and(|f| f.starts_with("variants")), "{body}");

    let (status, body) = app.send("PUT", &put("nowhere"), json!({ "version": 1, "enabled": true })).await;
    assert_eq!(status, 404, "{body}");
    error_of(&body);

    assert_eq!(rows(&app).await, before, "flags, flag_states and audit_log are as they were");
    assert_eq!(flag_of(&app, "ENABLE_CODEX_PROVIDER").await, made, "still at version 1, off everywhere");
}

async fn setting_a_flag_in_production_leaves_staging_as_it_was(app: TestApp) {
    let made = create_flag(&app, "USE_STANDALONE_MCP").await;
    let state = json!({ "version": 1, "enabled": true, "percentage": 30, "allow": ["ws-1"], "deny": ["ws-2"] });
    let (status, changed) = app.send("PUT", "/api/v1/flags/USE_STANDALONE_MCP/environments/production", state).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(version_of(&changed), 2);

    let production = state_in(&changed, "production");
    assert_eq!(
        (&production["enabled"], &production["percentage"], &production["allow"], &production["deny"]),
        (&json!(true), &json!(30), &json!(["ws-1"]), &json!(["ws-2"]))
    );
    assert_eq!(state_in(&changed, "staging"), state_in(&made, "staging"), "staging untouched, even its updated_at");
    assert_eq!(flag_of(&app, "USE_STANDALONE_MCP").await, changed, "what the PUT answered is what is stored");

    let staging = reader(&app, "staging").await;
    assert_eq!(answer(&staging, "USE_STANDALONE_MCP", "ws-1").await, off("DISABLED"));
    let production = reader(&app, "production").await;
    assert_eq!(answer(&production, "USE_STANDALONE_MCP", "ws-1").await, on("TARGETING_MATCH"));
}

async fn a_change_made_against_a_stale_version_is_409_and_changes_nothing(app: TestApp) {
    create_flag(&app, "ENABLE_CODEX_PROVIDER").await;
    let current = set(&app, "ENABLE_CODEX_PROVIDER", "production", json!({ "enabled": true, "percentage": 25 })).await;
    assert_eq!(version_of(&current), 2);
    let before = rows(&app).await;

    let stale = [
        ("PUT", "/api/v1/flags/ENABLE_CODEX_PROVIDER/environments/production", json!({ "version": 1, "enabled": false })),
        ("PUT", "/api/v1/flags/ENABLE_CODEX_PROVIDER/environments/staging", json!({ "version": 1, "enabled": true })),
        ("PATCH", "/api/v1/flags/ENABLE_CODEX_PROVIDER", json!({ "version": 1, "description": "stale" })),
    ];
    for (method, path, body) in stale {
        let (status, answer) = app.send(method, path, body).await;
        assert_eq!(status, 409, "{method} {path}: {answer}");
        assert_eq!(error_of(&answer), ("version_conflict", Some("version")), "{method} {path}");
        assert_eq!(answer["error"]["current_version"], 2, "{answer}");
    }
    let (status, answer) = app.delete("/api/v1/flags/ENABLE_CODEX_PROVIDER?version=1").await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(error_of(&answer).0, "version_conflict");

    assert_eq!(flag_of(&app, "ENABLE_CODEX_PROVIDER").await, current, "not changed, not archived");
    assert_eq!(rows(&app).await, before, "no audit entry for a refused change");
    let client = reader(&app, "production").await;
    let (status, _) = evaluate(&client, "ENABLE_CODEX_PROVIDER", json!({ "targetingKey": "user-123" })).await;
    assert_eq!(status, 200, "still live and evaluated");
}

async fn every_flag_change_leaves_exactly_one_audit_entry_with_before_and_after(app: TestApp) {
    let audit = || app.count("SELECT COUNT(*) FROM audit_log");
    let start = audit().await;

    create_flag(&app, "USE_STANDALONE_MCP").await;
    assert_eq!(audit().await, start + 1);
    let (action, target, before, after) = last_audit(&app).await;
    assert_eq!((action.as_str(), target.as_str()), ("flag.create", "flag:USE_STANDALONE_MCP"));
    assert_eq!(before, Value::Null, "nothing before a creation");
    assert_eq!((&after["key"], &after["version"]), (&json!("USE_STANDALONE_MCP"), &json!(1)), "{after}");

    set(&app, "USE_STANDALONE_MCP", "production", json!({ "enabled": true, "percentage": 40 })).await;
    assert_eq!(audit().await, start + 2);
    let (action, target, before, after) = last_audit(&app).await;
    assert_eq!(action, "flag.set");
    assert!(target.contains("USE_STANDALONE_MCP") && target.contains("production"), "{target}");
    assert_eq!((&before["enabled"], &after["enabled"]), (&json!(false), &json!(true)), "{before} -> {after}");
    assert_eq!(after["percentage"], 40, "{after}");

    let (status, body) = app.send("PATCH", "/api/v1/flags/USE_STANDALONE_MCP", json!({ "version": 2, "description": "Standalone MCP" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(audit().await, start + 3);
    let (action, target, before, after) = last_audit(&app).await;
    assert_eq!((action.as_str(), target.as_str()), ("flag.update", "flag:USE_STANDALONE_MCP"));
    assert_eq!((&before["description"], &after["description"]), (&json!(""), &json!("Standalone MCP")));

    let (status, body) = app.send("POST", "/api/v1/flags/USE_STANDALONE_MCP/kill", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(audit().await, start + 4, "one entry for every environment switched off");
    let (action, target, before, after) = last_audit(&app).await;
    assert_eq!((action.as_str(), target.as_str()), ("flag.kill", "flag:USE_STANDALONE_MCP"));
    assert!(before.get("killed_at").is_none_or(Value::is_null), "{before}");
    assert!(after["killed_at"].is_string(), "{after}");
    assert_eq!(state_in(&before, "production")["enabled"], true);
    assert_eq!(state_in(&after, "production")["enabled"], false);

    let (status, body) = app.delete("/api/v1/flags/USE_STANDALONE_MCP?version=4").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(audit().await, start + 5);
    let (action, target, before, after) = last_audit(&app).await;
    assert_eq!((action.as_str(), target.as_str()), ("flag.archive", "flag:USE_STANDALONE_MCP"));
    assert!(before.get("archived_at").is_none_or(Value::is_null), "{before}");
    assert!(after["archived_at"].is_string(), "{after}");

    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log WHERE action LIKE 'flag.%' ORDER BY id")
        .fetch_all(&app.service.db.pool)
        .await
        .unwrap();
    assert_eq!(actions, ["flag.create", "flag.set", "flag.update", "flag.kill", "flag.archive"]);
    let actors: Vec<String> = sqlx::query_scalar("SELECT DISTINCT actor FROM audit_log WHERE action LIKE 'flag.%'")
        .fetch_all(&app.service.db.pool)
        .await
        .unwrap();
    assert_eq!(actors, ["admin"]);
}

// ---- OFREP: one flag ----

async fn ofrep_answers_the_value_reason_and_variant_of_the_production_state(app: TestApp) {
    for key in ["full", "zero", "off", "USE_STANDALONE_MCP"] {
        create_flag(&app, key).await;
    }
    set(&app, "full", "production", json!({ "enabled": true, "percentage": 100 })).await;
    set(&app, "zero", "production", json!({ "enabled": true, "percentage": 0 })).await;
    set(&app, "off", "production", json!({ "enabled": false, "percentage": 100 })).await;
    // Buckets (from the unit tests' independent murmur3): ws-1 is 99, workspace-42 is 75.
    set(&app, "USE_STANDALONE_MCP", "production", json!({ "enabled": true, "percentage": 80 })).await;
    let client = reader(&app, "production").await;

    let (status, body) = evaluate(&client, "full", json!({ "targetingKey": "ws-1" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "key": "full", "value": true, "reason": "STATIC", "variant": "on" }));
    assert_eq!(answer(&client, "zero", "ws-1").await, off("STATIC"));
    assert_eq!(answer(&client, "off", "ws-1").await, off("DISABLED"));
    assert_eq!(answer(&client, "USE_STANDALONE_MCP", "workspace-42").await, on("SPLIT"));
    assert_eq!(answer(&client, "USE_STANDALONE_MCP", "ws-1").await, off("SPLIT"));
    // The same key gets the same answer every time.
    for _ in 0..3 {
        assert_eq!(answer(&client, "USE_STANDALONE_MCP", "workspace-42").await, on("SPLIT"));
    }
    // Other context attributes are accepted and do not change the answer.
    let (status, body) = evaluate(&client, "USE_STANDALONE_MCP", json!({ "targetingKey": "ws-1", "email": "a@example.com", "plan": 3 })).await;
    assert_eq!((status, triple(&body)), (200, off("SPLIT")), "{body}");
}

async fn the_deny_list_beats_the_allow_list_and_the_allow_list_beats_the_percentage(app: TestApp) {
    create_flag(&app, "ENABLE_CODEX_PROVIDER").await;
    set(&app, "ENABLE_CODEX_PROVIDER", "production", json!({ "enabled": true, "percentage": 0, "allow": ["ws-1", "ws-2"], "deny": ["ws-2"] })).await;
    create_flag(&app, "everyone_but").await;
    set(&app, "everyone_but", "production", json!({ "enabled": true, "percentage": 100, "deny": ["ws-3"] })).await;
    let client = reader(&app, "production").await;

    assert_eq!(answer(&client, "ENABLE_CODEX_PROVIDER", "ws-1").await, on("TARGETING_MATCH"));
    assert_eq!(answer(&client, "ENABLE_CODEX_PROVIDER", "ws-2").await, off("TARGETING_MATCH"), "deny wins");
    assert_eq!(answer(&client, "ENABLE_CODEX_PROVIDER", "ws-3").await, off("STATIC"));
    assert_eq!(answer(&client, "everyone_but", "ws-3").await, off("TARGETING_MATCH"));
    assert_eq!(answer(&client, "everyone_but", "ws-1").await, on("STATIC"));

    // Off means off, for the allow list too.
    set(&app, "ENABLE_CODEX_PROVIDER", "production", json!({ "enabled": false, "percentage": 0, "allow": ["ws-1"] })).await;
    assert_eq!(answer(&client, "ENABLE_CODEX_PROVIDER", "ws-1").await, off("DISABLED"));
}

async fn a_partial_rollout_without_a_targeting_key_is_400_targeting_key_missing(app: TestApp) {
    create_flag(&app, "partial").await;
    set(&app, "partial", "production", json!({ "enabled": true, "percentage": 30 })).await;
    on_in_production(&app, "full").await;
    let client = reader(&app, "production").await;

    for context in [json!({}), json!({ "email": "a@example.com" }), json!({ "targetingKey": "" })] {
        let (status, body) = evaluate(&client, "partial", context.clone()).await;
        assert_eq!(status, 400, "{context}: {body}");
        assert_eq!((&body["key"], &body["errorCode"]), (&json!("partial"), &json!("TARGETING_KEY_MISSING")), "{context}: {body}");
        assert!(body.get("value").is_none(), "{body}");
    }
    let (status, body) = client.send("POST", &format!("{SINGLE}/partial"), json!({})).await;
    assert_eq!((status, &body["errorCode"]), (400, &json!("TARGETING_KEY_MISSING")), "no context at all: {body}");
    // A flag on for everyone needs no key.
    let (status, body) = evaluate(&client, "full", json!({})).await;
    assert_eq!((status, triple(&body)), (200, on("STATIC")), "{body}");
}

async fn an_unknown_or_archived_flag_is_404_flag_not_found(app: TestApp) {
    let made = on_in_production(&app, "retired").await;
    let client = reader(&app, "production").await;
    assert_eq!(answer(&client, "retired", "ws-1").await, on("STATIC"));

    let (status, body) = app.delete(&format!("/api/v1/flags/retired?version={}", version_of(&made))).await;
    assert_eq!(status, 200, "{body}");
    for key in ["retired", "never-made"] {
        let (status, body) = evaluate(&client, key, json!({ "targetingKey": "ws-1" })).await;
        assert_eq!(status, 404, "{key}: {body}");
        assert_eq!((&body["key"], &body["errorCode"]), (&json!(key), &json!("FLAG_NOT_FOUND")), "{body}");
        assert!(body.get("value").is_none(), "{body}");
    }
}

async fn a_malformed_context_is_400_invalid_context_and_broken_json_is_400_parse_error(app: TestApp) {
    on_in_production(&app, "full").await;
    let client = reader(&app, "production").await;
    let path = format!("{SINGLE}/full");

    let bad = [
        json!({ "context": "ws-1" }),
        json!({ "context": ["ws-1"] }),
        json!({ "context": 7 }),
        json!({ "context": { "targetingKey": 42 } }),
        json!({ "context": { "targetingKey": true } }),
        json!({ "context": { "targetingKey": { "id": "ws-1" } } }),
    ];
    for body in bad {
        let (status, answer) = client.send("POST", &path, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!((&answer["key"], &answer["errorCode"]), (&json!("full"), &json!("INVALID_CONTEXT")), "{body}: {answer}");
        let (status, answer) = client.send("POST", SINGLE, body.clone()).await;
        assert_eq!((status, &answer["errorCode"]), (400, &json!("INVALID_CONTEXT")), "bulk, {body}: {answer}");
    }
    for broken in ["{\"context\": ", "not json", ""] {
        let (status, answer) = client.send_raw("POST", &path, "application/json", broken).await;
        assert_eq!(status, 400, "{broken:?}: {answer}");
        assert_eq!((&answer["key"], &answer["errorCode"]), (&json!("full"), &json!("PARSE_ERROR")), "{broken:?}: {answer}");
        let (status, answer) = client.send_raw("POST", SINGLE, "application/json", broken).await;
        assert_eq!((status, &answer["errorCode"]), (400, &json!("PARSE_ERROR")), "bulk, {broken:?}: {answer}");
    }
}

async fn evaluation_needs_a_live_flags_read_token_that_names_an_environment(app: TestApp) {
    on_in_production(&app, "full").await;
    let body = json!({ "context": { "targetingKey": "ws-1" } });
    let single = format!("{SINGLE}/full");
    let (plans_reader, _) = token(&app, json!({ "name": "plans", "scopes": ["plans:read"] })).await;
    let (nowhere, _) = token(&app, json!({ "name": "nowhere", "scopes": ["flags:read"] })).await;
    let (revoked, revoked_id) = token(&app, json!({ "name": "old", "scopes": ["flags:read"], "environment": "production" })).await;
    // Works before it is revoked (and is then in the token cache).
    assert_eq!(answer(&revoked, "full", "ws-1").await, on("STATIC"));
    let (status, out) = app.delete(&format!("/api/v1/tokens/{revoked_id}")).await;
    assert_eq!(status, 200, "{out}");

    let cases = [
        ("no token", app.anonymous(), 401),
        ("an unknown token", app.with(Auth::Bearer("rwy_0000000000000000000000000000000000000000000000000000000000000000".into())), 401),
        ("a revoked token", revoked, 401),
        ("a plans:read token", plans_reader, 403),
        ("a flags:read token without an environment", nowhere, 403),
        ("a signed-in admin without a token", app.clone(), 403),
    ];
    for (who, client, expected) in cases {
        for path in [single.as_str(), SINGLE] {
            let (status, answer) = client.send("POST", path, body.clone()).await;
            assert_eq!(status, expected, "{who} on {path}: {answer}");
            assert!(answer.get("value").is_none() && answer.get("flags").is_none(), "{who} on {path}: {answer}");
        }
    }
}

async fn evaluation_follows_each_change_as_soon_as_the_change_returns(app: TestApp) {
    create_flag(&app, "USE_STANDALONE_MCP").await;
    let client = reader(&app, "production").await;
    assert_eq!(answer(&client, "USE_STANDALONE_MCP", "ws-1").await, off("DISABLED"));

    let steps = [
        (json!({ "enabled": true }), on("STATIC")),
        (json!({ "enabled": true, "percentage": 0 }), off("STATIC")),
        (json!({ "enabled": true, "percentage": 99 }), on("SPLIT")),
        (json!({ "enabled": true, "percentage": 98 }), off("SPLIT")),
        (json!({ "enabled": true, "percentage": 0, "allow": ["ws-1"] }), on("TARGETING_MATCH")),
        (json!({ "enabled": true, "percentage": 100, "deny": ["ws-1"] }), off("TARGETING_MATCH")),
        (json!({ "enabled": false }), off("DISABLED")),
        (json!({ "enabled": true }), on("STATIC")),
    ];
    let mut version = 1;
    for (state, expected) in steps {
        let mut body = state.clone();
        body["version"] = json!(version);
        let (status, changed) = app.send("PUT", "/api/v1/flags/USE_STANDALONE_MCP/environments/production", body).await;
        assert_eq!(status, 200, "{changed}");
        version += 1;
        assert_eq!(version_of(&changed), version);
        // ws-1 is in bucket 99 for this flag.
        assert_eq!(answer(&client, "USE_STANDALONE_MCP", "ws-1").await, expected, "right after {state}");
    }
    // Metadata changes leave the evaluation alone; archiving ends it.
    let (status, _) = app.send("PATCH", "/api/v1/flags/USE_STANDALONE_MCP", json!({ "version": version, "owner": "mcp-team" })).await;
    assert_eq!(status, 200);
    assert_eq!(answer(&client, "USE_STANDALONE_MCP", "ws-1").await, on("STATIC"));
    let (status, _) = app.delete(&format!("/api/v1/flags/USE_STANDALONE_MCP?version={}", version + 1)).await;
    assert_eq!(status, 200);
    let (status, body) = evaluate(&client, "USE_STANDALONE_MCP", json!({ "targetingKey": "ws-1" })).await;
    assert_eq!((status, &body["errorCode"]), (404, &json!("FLAG_NOT_FOUND")), "{body}");
}

async fn changes_made_at_the_same_time_all_reach_evaluation(app: TestApp) {
    // Many at once, so that rebuilding the evaluation snapshot for one change overlaps
    // with others committing.
    let keys: Vec<String> = (0..120).map(|i| format!("together-{i}")).collect();
    for key in &keys {
        create_flag(&app, key).await;
    }
    let client = reader(&app, "production").await;
    let puts = keys.iter().map(|key| {
        let app = app.clone();
        let path = format!("/api/v1/flags/{key}/environments/production");
        async move { app.send("PUT", &path, json!({ "version": 1, "enabled": true })).await }
    });
    for (status, body) in futures::future::join_all(puts).await {
        assert_eq!(status, 200, "{body}");
    }
    // Every change has returned: every one is evaluated as on.
    let (status, _, text) = bulk(&client, &json!({ "context": { "targetingKey": "ws-1" } }), None).await;
    assert_eq!(status, 200, "{text}");
    let listed = items(&text);
    let stale: Vec<&String> = keys.iter().filter(|k| listed[*k]["value"] != true).collect();
    assert!(stale.is_empty(), "still evaluated as off after their PUTs returned: {stale:?}");
}

async fn a_staging_token_sees_the_staging_state(app: TestApp) {
    create_flag(&app, "ENABLE_CODEX_PROVIDER").await;
    set(&app, "ENABLE_CODEX_PROVIDER", "staging", json!({ "enabled": true })).await;
    set(&app, "ENABLE_CODEX_PROVIDER", "production", json!({ "enabled": true, "percentage": 0 })).await;
    let staging = reader(&app, "staging").await;
    let production = reader(&app, "production").await;
    assert_eq!(answer(&staging, "ENABLE_CODEX_PROVIDER", "user-123").await, on("STATIC"));
    assert_eq!(answer(&production, "ENABLE_CODEX_PROVIDER", "user-123").await, off("STATIC"));

    set(&app, "ENABLE_CODEX_PROVIDER", "staging", json!({ "enabled": false })).await;
    assert_eq!(answer(&staging, "ENABLE_CODEX_PROVIDER", "user-123").await, off("DISABLED"));
    assert_eq!(answer(&production, "ENABLE_CODEX_PROVIDER", "user-123").await, off("STATIC"));
}

// ---- OFREP: every flag ----

async fn bulk_evaluation_lists_every_live_flag_of_the_token_environment(app: TestApp) {
    on_in_production(&app, "full").await;
    create_flag(&app, "partial").await;
    set(&app, "partial", "production", json!({ "enabled": true, "percentage": 30 })).await;
    create_flag(&app, "off").await;
    let retired = on_in_production(&app, "retired").await;
    let (status, _) = app.delete(&format!("/api/v1/flags/retired?version={}", version_of(&retired))).await;
    assert_eq!(status, 200);
    let client = reader(&app, "production").await;

    let (status, etag, text) = bulk(&client, &json!({ "context": {} }), None).await;
    assert_eq!(status, 200, "{text}");
    assert!(etag.as_deref().is_some_and(|e| e.len() > 2), "an ETag header: {etag:?}");
    let listed = items(&text);
    assert_eq!(listed.keys().collect::<Vec<_>>(), ["full", "off", "partial"], "live flags only: {text}");
    assert_eq!(triple(&listed["full"]), on("STATIC"));
    assert_eq!(triple(&listed["off"]), off("DISABLED"));
    // One flag that cannot be evaluated does not fail the others.
    assert_eq!(listed["partial"]["errorCode"], "TARGETING_KEY_MISSING", "{text}");
    assert!(listed["partial"].get("value").is_none(), "{text}");

    let (status, _, text) = bulk(&client, &json!({ "context": { "targetingKey": "ws-1" } }), None).await;
    assert_eq!(status, 200, "{text}");
    let listed = items(&text);
    assert_eq!(listed["partial"]["reason"], "SPLIT", "{text}");
    // The same answers as one at a time.
    for (key, item) in &listed {
        assert_eq!(triple(item), answer(&client, key, "ws-1").await, "{key}");
    }

    // Staging's list has the same flags with staging's states.
    let staging = reader(&app, "staging").await;
    let (status, _, text) = bulk(&staging, &json!({ "context": { "targetingKey": "ws-1" } }), None).await;
    assert_eq!(status, 200, "{text}");
    let listed = items(&text);
    assert_eq!(listed.keys().collect::<Vec<_>>(), ["full", "off", "partial"]);
    assert!(listed.values().all(|f| triple(f) == off("DISABLED")), "{text}");
}

async fn bulk_evaluation_answers_304_until_the_flags_or_the_context_change(app: TestApp) {
    on_in_production(&app, "full").await;
    let client = reader(&app, "production").await;
    let request = json!({ "context": { "targetingKey": "ws-1" } });

    let (status, first, _) = bulk(&client, &request, None).await;
    assert_eq!(status, 200);
    let first = first.expect("an ETag");
    let (status, again, _) = bulk(&client, &request, None).await;
    assert_eq!((status, again.as_deref()), (200, Some(first.as_str())), "the same flags and context, the same ETag");

    let (status, _, text) = bulk(&client, &request, Some(&first)).await;
    assert_eq!(status, 304);
    assert_eq!(text, "", "no body with 304");

    // A change in another environment does not touch this one's answers.
    set(&app, "full", "staging", json!({ "enabled": true })).await;
    let (status, _, _) = bulk(&client, &request, Some(&first)).await;
    assert_eq!(status, 304, "staging changed, production did not");

    // A change here does.
    set(&app, "full", "production", json!({ "enabled": true, "percentage": 0 })).await;
    let (status, second, text) = bulk(&client, &request, Some(&first)).await;
    assert_eq!(status, 200, "{text}");
    let second = second.expect("an ETag");
    assert_ne!(second, first);
    assert_eq!(triple(&items(&text)["full"]), off("STATIC"));
    let (status, _, _) = bulk(&client, &request, Some(&second)).await;
    assert_eq!(status, 304);

    // So does a new flag, and another context.
    create_flag(&app, "newcomer").await;
    let (status, third, text) = bulk(&client, &request, Some(&second)).await;
    assert_eq!(status, 200, "{text}");
    assert!(items(&text).contains_key("newcomer"));
    let third = third.expect("an ETag");
    assert_ne!(third, second);
    let other = json!({ "context": { "targetingKey": "ws-2" } });
    let (status, fourth, _) = bulk(&client, &other, Some(&third)).await;
    assert_eq!(status, 200, "another context is another answer");
    assert_ne!(fourth.expect("an ETag"), third);
}

// ---- the kill switch ----

/// A flag on for everyone in staging and production; returns it.
async fn on_everywhere(app: &TestApp, key: &str) -> Value {
    on_in_production(app, key).await;
    set(app, key, "staging", json!({ "enabled": true })).await
}

/// `username`, holding `role` on an approved plan whose stage turns `flag` on in
/// production, signed in.
async fn holding_a_role(app: &TestApp, username: &str, role: &str, flag: &str) -> TestApp {
    let changes = json!([{ "flag": flag, "environment": "production", "enabled": true, "percentage": 100 }]);
    let plan = app.plan(json!({ "title": format!("{username}'s plan"), "stages": [{ "name": "Flip", "flag_changes": changes }] })).await;
    let id = plan["id"].as_i64().unwrap();
    let person = app.holding(username, id, role).await;
    let stakeholder = match role {
        "stakeholder" => person.clone(),
        _ => app.holding(&format!("{username}-stakeholder"), id, "stakeholder").await,
    };
    let (_, p) = app.get(&format!("/api/v1/plans/{id}")).await;
    let (status, p) = app.send("POST", &format!("/api/v1/plans/{id}/review"), json!({ "version": p["version"] })).await;
    assert_eq!(status, 200, "{p}");
    let (status, p) = stakeholder.send("POST", &format!("/api/v1/plans/{id}/signoffs"), json!({ "version": p["version"], "decision": "approved" })).await;
    assert_eq!((status, p["status"].as_str()), (200, Some("approved")), "{p}");
    person
}

/// Whether the flag's page offers `client` the kill switch.
async fn page_offers_kill(client: &TestApp, key: &str) -> bool {
    let (status, html) = client.get_text(&format!("/flags/{key}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(key), "the page shows the flag: {html}");
    html.contains("Kill switch: turn off everywhere")
}

async fn the_on_call_person_turns_a_flag_off_everywhere_in_one_change(app: TestApp) {
    let before = on_everywhere(&app, "ENABLE_CODEX_PROVIDER").await;
    let oncall = holding_a_role(&app, "olga", "on_call", "ENABLE_CODEX_PROVIDER").await;
    assert!(page_offers_kill(&oncall, "ENABLE_CODEX_PROVIDER").await, "on-call of a plan changing the flag sees the kill switch");
    let production = reader(&app, "production").await;
    let staging = reader(&app, "staging").await;
    assert_eq!(answer(&production, "ENABLE_CODEX_PROVIDER", "ws-1").await, on("STATIC"));
    let (_, etag, _) = bulk(&production, &json!({ "context": { "targetingKey": "ws-1" } }), None).await;
    let audit = app.count("SELECT COUNT(*) FROM audit_log").await;

    let (status, killed) = oncall.send("POST", "/api/v1/flags/ENABLE_CODEX_PROVIDER/kill", json!({})).await;
    assert_eq!(status, 200, "{killed}");
    for env in ["staging", "production"] {
        assert_eq!(state_in(&killed, env)["enabled"], false, "{env}: {killed}");
    }
    assert!(killed["killed_at"].is_string(), "{killed}");
    assert_eq!(killed["killed_by"], "olga");
    assert_eq!(version_of(&killed), version_of(&before) + 1, "one change");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log").await, audit + 1);
    assert_eq!(last_audit(&app).await.0, "flag.kill");
    assert_eq!(flag_of(&app, "ENABLE_CODEX_PROVIDER").await, killed);

    assert_eq!(answer(&production, "ENABLE_CODEX_PROVIDER", "ws-1").await, off("DISABLED"));
    assert_eq!(answer(&staging, "ENABLE_CODEX_PROVIDER", "ws-1").await, off("DISABLED"));
    let (status, _, text) = bulk(&production, &json!({ "context": { "targetingKey": "ws-1" } }), etag.as_deref()).await;
    assert_eq!(status, 200, "the cached answer is out of date: {text}");
    assert_eq!(triple(&items(&text)["ENABLE_CODEX_PROVIDER"]), off("DISABLED"));
}

async fn a_rollback_authority_may_use_the_kill_switch_too(app: TestApp) {
    on_everywhere(&app, "USE_STANDALONE_MCP").await;
    let authority = holding_a_role(&app, "rafa", "rollback_authority", "USE_STANDALONE_MCP").await;
    let (status, killed) = authority.send("POST", "/api/v1/flags/USE_STANDALONE_MCP/kill", json!({})).await;
    assert_eq!(status, 200, "{killed}");
    assert_eq!(killed["killed_by"], "rafa");
    assert!(killed["environments"].as_array().unwrap().iter().all(|s| s["enabled"] == false), "{killed}");
}

async fn a_plain_member_cannot_use_the_kill_switch_and_nothing_changes(app: TestApp) {
    let before = on_everywhere(&app, "ENABLE_CODEX_PROVIDER").await;
    let stakeholder = holding_a_role(&app, "sam", "stakeholder", "ENABLE_CODEX_PROVIDER").await;
    app.add_person("mia", false).await;
    let member = app.signed_in("mia").await;
    let (flag_writer, _) = token(&app, json!({ "name": "ci", "scopes": ["flags:write"], "environment": "production" })).await;
    let audit = app.count("SELECT COUNT(*) FROM audit_log").await;

    for (who, client) in [("a member", member), ("a stakeholder", stakeholder), ("a flags:write token", flag_writer)] {
        let (status, body) = client.send("POST", "/api/v1/flags/ENABLE_CODEX_PROVIDER/kill", json!({})).await;
        assert_eq!(status, 403, "{who}: {body}");
        error_of(&body);
    }
    assert_eq!(flag_of(&app, "ENABLE_CODEX_PROVIDER").await, before);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log").await, audit);
    let production = reader(&app, "production").await;
    assert_eq!(answer(&production, "ENABLE_CODEX_PROVIDER", "ws-1").await, on("STATIC"));
}

async fn turning_a_killed_flag_on_again_clears_the_kill(app: TestApp) {
    on_everywhere(&app, "ENABLE_CODEX_PROVIDER").await;
    let (status, killed) = app.send("POST", "/api/v1/flags/ENABLE_CODEX_PROVIDER/kill", json!({})).await;
    assert_eq!(status, 200, "{killed}");
    assert!(killed["killed_at"].is_string());

    let state = json!({ "version": version_of(&killed), "enabled": true, "percentage": 100 });
    let (status, again) = app.send("PUT", "/api/v1/flags/ENABLE_CODEX_PROVIDER/environments/production", state).await;
    assert_eq!(status, 200, "{again}");
    assert!(again.get("killed_at").is_none_or(Value::is_null), "{again}");
    assert!(again.get("killed_by").is_none_or(Value::is_null), "{again}");
    assert_eq!(state_in(&again, "production")["enabled"], true);
    assert_eq!(state_in(&again, "staging")["enabled"], false, "only where it was turned on");
    assert_eq!(flag_of(&app, "ENABLE_CODEX_PROVIDER").await, again);
    let production = reader(&app, "production").await;
    assert_eq!(answer(&production, "ENABLE_CODEX_PROVIDER", "ws-1").await, on("STATIC"));
}

async fn a_member_who_names_herself_on_call_on_her_own_plan_cannot_kill_other_teams_flags(app: TestApp) {
    // Another team's flag, on everywhere.
    let before = on_everywhere(&app, "billing.checkout_v2").await;
    app.add_person("mia", false).await;
    let mia = app.signed_in("mia").await;
    // She creates a plan of her own (she leads it) and names herself on-call on it.
    let (status, plan) = mia.send("POST", "/api/v1/plans", json!({ "title": "Mia's cache warm-up", "stages": [{ "name": "Warm" }] })).await;
    assert_eq!(status, 201, "{plan}");
    let id = plan["id"].as_i64().unwrap();
    let (status, body) = mia.send("POST", &format!("/api/v1/plans/{id}/roles"), json!({ "username": "mia", "role": "on_call" })).await;
    if status != 201 {
        // Naming oneself may be refused; then an admin makes her on-call on her own plan.
        assert!((400..500).contains(&status), "{body}");
        let (status, body) = app.send("POST", &format!("/api/v1/plans/{id}/roles"), json!({ "username": "mia", "role": "on_call" })).await;
        assert_eq!(status, 201, "{body}");
    }
    let audit = app.count("SELECT COUNT(*) FROM audit_log").await;
    assert!(!page_offers_kill(&mia, "billing.checkout_v2").await, "the page offers her no kill switch");

    let (status, body) = mia.send("POST", "/api/v1/flags/billing.checkout_v2/kill", json!({})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_of(&body).0, "forbidden", "{body}");

    // Adding the flag to her own draft plan does not help: nobody has signed that off.
    let stage_id = plan["stages"][0]["id"].as_i64().unwrap();
    let (_, p) = mia.get(&format!("/api/v1/plans/{id}")).await;
    let changes = json!({ "version": p["version"], "changes": [{ "flag": "billing.checkout_v2", "environment": "production", "enabled": false, "percentage": 0 }] });
    let (status, p) = mia.send("PUT", &format!("/api/v1/plans/{id}/stages/{stage_id}/flags"), changes).await;
    assert_eq!(status, 200, "{p}");
    let audit = audit + 1;
    let (status, body) = mia.send("POST", "/api/v1/flags/billing.checkout_v2/kill", json!({})).await;
    assert_eq!(status, 403, "{body}");
    error_of(&body);

    assert_eq!(flag_of(&app, "billing.checkout_v2").await, before, "the flag is as it was");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log").await, audit, "no audit entry for a refused kill");
    let production = reader(&app, "production").await;
    assert_eq!(answer(&production, "billing.checkout_v2", "ws-1").await, on("STATIC"));

    // An admin still can.
    assert!(page_offers_kill(&app, "billing.checkout_v2").await);
    let (status, killed) = app.send("POST", "/api/v1/flags/billing.checkout_v2/kill", json!({})).await;
    assert_eq!((status, killed["killed_by"].as_str()), (200, Some("admin")), "{killed}");
}

async fn a_responder_kept_on_the_flag_can_kill_that_flag_and_no_other(app: TestApp) {
    let flag = on_everywhere(&app, "search.ranking_v3").await;
    on_everywhere(&app, "billing.invoices").await;
    app.add_person("rita", false).await;
    let rita = app.signed_in("rita").await;
    assert!(!page_offers_kill(&rita, "search.ranking_v3").await);

    let patch = json!({ "version": version_of(&flag), "responders": ["rita"] });
    let (status, flag) = app.send("PATCH", "/api/v1/flags/search.ranking_v3", patch).await;
    assert_eq!(status, 200, "{flag}");
    assert_eq!(flag["responders"], json!(["rita"]));
    let (_, html) = app.get_text("/flags/search.ranking_v3").await;
    assert!(html.contains("Responders") && html.contains("rita"), "the page lists the responders");
    assert!(page_offers_kill(&rita, "search.ranking_v3").await, "her flag's page offers her its kill switch");
    assert!(!page_offers_kill(&rita, "billing.invoices").await, "another flag's page does not");

    let (status, body) = rita.send("POST", "/api/v1/flags/billing.invoices/kill", json!({})).await;
    assert_eq!(status, 403, "{body}");
    error_of(&body);
    assert!(flag_of(&app, "billing.invoices").await["environments"].as_array().unwrap().iter().all(|s| s["enabled"] == true));

    let (status, killed) = rita.send("POST", "/api/v1/flags/search.ranking_v3/kill", json!({})).await;
    assert_eq!(status, 200, "{killed}");
    assert_eq!(killed["killed_by"], "rita");
    assert!(killed["environments"].as_array().unwrap().iter().all(|s| s["enabled"] == false), "{killed}");
}

async fn responders_are_set_by_admins_and_must_be_people_with_an_account(app: TestApp) {
    let flag = create_flag(&app, "git.clone.use_service_layer").await;
    app.add_person("rita", false).await;
    let rita = app.signed_in("rita").await;
    let before = rows(&app).await;

    let v = version_of(&flag);
    for (body, code, field) in [
        (json!({ "version": v, "responders": ["rita", "ghost"] }), "unknown_user", "responders[1]"),
        (json!({ "version": v, "responders": ["rita", "not a name"] }), "validation", "responders[1]"),
        (json!({ "version": v, "responders": [""] }), "validation", "responders[0]"),
    ] {
        let (status, error) = app.send("PATCH", "/api/v1/flags/git.clone.use_service_layer", body).await;
        assert_eq!(status, 422, "{error}");
        assert_eq!(error_of(&error), (code, Some(field)), "{error}");
    }
    // Only admins and flags:write tokens manage flags: she cannot name herself.
    let (status, error) = rita.send("PATCH", "/api/v1/flags/git.clone.use_service_layer", json!({ "version": v, "responders": ["rita"] })).await;
    assert_eq!(status, 403, "{error}");
    error_of(&error);
    assert_eq!(flag_of(&app, "git.clone.use_service_layer").await, flag, "nothing changed, not even the version");
    assert_eq!(rows(&app).await, before, "no audit entry");

    // A flags:write token may set them, like the flag's other fields.
    let (writer, _) = token(&app, json!({ "name": "flag-admin", "scopes": ["flags:write"] })).await;
    let (status, flag) = writer.send("PATCH", "/api/v1/flags/git.clone.use_service_layer", json!({ "version": v, "responders": [" rita ", "rita", "admin"] })).await;
    assert_eq!(status, 200, "{flag}");
    assert_eq!((flag["responders"].clone(), version_of(&flag)), (json!(["rita", "admin"]), v + 1));
    assert_eq!(last_audit(&app).await.0, "flag.update");
    // Left out, they stay; an empty list removes them.
    let (_, flag) = app.send("PATCH", "/api/v1/flags/git.clone.use_service_layer", json!({ "version": v + 1, "description": "d" })).await;
    assert_eq!(flag["responders"], json!(["rita", "admin"]), "{flag}");
    let (_, flag) = app.send("PATCH", "/api/v1/flags/git.clone.use_service_layer", json!({ "version": v + 2, "responders": [] })).await;
    assert_eq!(flag["responders"], json!([]), "{flag}");
}

// ---- variants ----

async fn a_flag_with_variants_answers_one_of_them_and_the_same_key_always_gets_the_same(app: TestApp) {
    create_flag(&app, "provider").await;
    let variants = json!([{ "name": "claude", "weight": 1 }, { "name": "codex", "weight": 1 }]);
    let flag = set(&app, "provider", "production", json!({ "enabled": true, "variants": variants })).await;
    assert_eq!(state_in(&flag, "production")["variants"], variants);
    let client = reader(&app, "production").await;

    let mut seen = std::collections::BTreeSet::new();
    for i in 0..40 {
        let key = format!("ws-{i}");
        let (status, body) = evaluate(&client, "provider", json!({ "targetingKey": key })).await;
        assert_eq!(status, 200, "{body}");
        let value = body["value"].as_str().unwrap_or_else(|| panic!("a string value: {body}")).to_string();
        assert!(value == "claude" || value == "codex", "{body}");
        assert_eq!(body["variant"], value.as_str(), "{body}");
        assert_eq!(body["reason"], "STATIC", "{body}");
        for _ in 0..2 {
            let (_, repeat) = evaluate(&client, "provider", json!({ "targetingKey": key })).await;
            assert_eq!(repeat["value"], value.as_str(), "{key} changed variant");
        }
        let (_, _, text) = bulk(&client, &json!({ "context": { "targetingKey": key } }), None).await;
        assert_eq!(items(&text)["provider"]["value"], value.as_str(), "bulk agrees for {key}");
        seen.insert(value);
    }
    assert_eq!(seen.len(), 2, "both variants are handed out at weights 1:1: {seen:?}");

    // Off: no value, so the service uses its code default.
    let flag = set(&app, "provider", "production", json!({ "enabled": false, "variants": variants })).await;
    assert_eq!(state_in(&flag, "production")["enabled"], false);
    let (status, body) = evaluate(&client, "provider", json!({ "targetingKey": "ws-1" })).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("value").is_none(), "{body}");
    assert_eq!(body["reason"], "DISABLED");
}

/// `POST /ofrep/v1/evaluate/flags/{key}` with `If-None-Match`: status, ETag, body text.
async fn single(client: &TestApp, key: &str, context: Value, if_none_match: Option<&str>) -> (u16, Option<String>, String) {
    let mut request = client.request("POST", &format!("{SINGLE}/{key}")).json(&json!({ "context": context }));
    if let Some(etag) = if_none_match {
        request = request.header("if-none-match", etag);
    }
    let r = request.send().await.unwrap();
    let etag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_string());
    (r.status().as_u16(), etag, r.text().await.unwrap())
}

async fn a_single_evaluation_answers_304_until_its_flags_or_its_context_change(app: TestApp) {
    on_in_production(&app, "full").await;
    let client = reader(&app, "production").await;
    let ws1 = json!({ "targetingKey": "ws-1" });
    let (status, first, _) = single(&client, "full", ws1.clone(), None).await;
    assert_eq!(status, 200);
    let first = first.expect("an ETag");
    let (status, _, text) = single(&client, "full", ws1.clone(), Some(&first)).await;
    assert_eq!((status, text.as_str()), (304, ""));
    // The tag is for this flag and this context only.
    create_flag(&app, "other").await;
    let (status, _, _) = single(&client, "other", ws1.clone(), Some(&first)).await;
    assert_eq!(status, 200, "another flag's answer is not this one");
    let (status, fresh, _) = single(&client, "full", ws1.clone(), Some(&first)).await;
    assert_eq!(status, 200, "a new flag in the environment is a new state of it");
    let fresh = fresh.expect("an ETag");
    let (status, _, _) = single(&client, "full", json!({ "targetingKey": "ws-2" }), Some(&fresh)).await;
    assert_eq!(status, 200, "another context");
    set(&app, "full", "production", json!({ "enabled": false })).await;
    let (status, _, text) = single(&client, "full", ws1, Some(&fresh)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(triple(&serde_json::from_str(&text).unwrap()), off("DISABLED"));
}

async fn the_configuration_and_the_bulk_answer_point_providers_at_the_event_stream(app: TestApp) {
    on_in_production(&app, "full").await;
    let client = reader(&app, "production").await;
    let (status, config) = client.get("/ofrep/v1/configuration").await;
    assert_eq!(status, 200, "{config}");
    let stream = json!([{ "type": "sse", "endpoint": { "requestUri": "/ofrep/v1/events" }, "inactivityDelaySec": 120 }]);
    assert_eq!(config["eventStreams"], stream);
    assert_eq!(config["capabilities"]["caching"]["etag"], true);
    let (_, _, text) = bulk(&client, &json!({ "context": { "targetingKey": "ws-1" } }), None).await;
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["eventStreams"], stream);
    // Read like every OFREP endpoint: with a flags:read token.
    let (status, _) = app.with(support::Auth::Nobody).get("/ofrep/v1/configuration").await;
    assert_eq!(status, 401);
}
