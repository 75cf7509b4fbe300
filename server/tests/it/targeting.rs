//! Targeting rules and segments over real HTTP: what services get through OFREP for a
//! context, what a bad rule gets back, and a stage that sets rules and its rollback.
use crate::flags::{bulk, create_flag, evaluate, flag_of, reader, set, state_in, version_of};
use crate::stage_flags::{approved_plan, go, state};
use crate::support;

use serde_json::{json, Value};
use support::{error_of, TestApp};

on_both_databases!(
    rules_are_tried_in_order_after_the_lists_and_the_answer_names_the_rule_that_matched,
    an_attribute_missing_or_of_the_wrong_type_makes_a_rule_not_match_and_is_never_an_error,
    a_segment_shared_by_two_flags_changes_what_both_serve_when_it_changes,
    a_segment_in_use_cannot_be_deleted_and_the_refusal_names_its_flags,
    a_bad_rule_is_refused_naming_its_place_and_writes_nothing,
    a_stage_sets_rules_at_its_go_and_its_rollback_puts_the_rules_before_back_exactly,
);

/// Codex for internal and enterprise workspaces in the EU: the issue's own example.
fn eu_rules() -> Value {
    json!([
        {"name": "free tier stays on Claude", "conditions": [{"contextName": "plan", "operator": "IN", "values": ["free"]}], "serve": "off"},
        {"name": "EU internal and enterprise", "conditions": [
            {"contextName": "region", "operator": "IN", "values": ["eu"]},
            {"contextName": "plan", "operator": "IN", "values": ["internal", "enterprise"]}
        ], "serve": "on"}
    ])
}

async fn segment(app: &TestApp, name: &str, conditions: Value) -> Value {
    let (status, s) = app.send("POST", "/api/v1/segments", json!({"name": name, "conditions": conditions})).await;
    assert_eq!(status, 201, "{s}");
    s
}

async fn value_for(client: &TestApp, key: &str, context: Value) -> Value {
    let (status, body) = evaluate(client, key, context.clone()).await;
    assert_eq!(status, 200, "{key} for {context}: {body}");
    body
}

async fn rules_are_tried_in_order_after_the_lists_and_the_answer_names_the_rule_that_matched(app: TestApp) {
    create_flag(&app, "ENABLE_CODEX_PROVIDER").await;
    set(&app, "ENABLE_CODEX_PROVIDER", "production", json!({"enabled": true, "percentage": 0, "deny": ["ws-banned"], "allow": ["ws-vip"], "rules": eu_rules()})).await;
    let service = reader(&app, "production").await;

    let eu = value_for(&service, "ENABLE_CODEX_PROVIDER", json!({"targetingKey": "ws-1", "region": "eu", "plan": "enterprise"})).await;
    assert_eq!((eu["value"].clone(), eu["reason"].clone()), (json!(true), json!("TARGETING_MATCH")), "{eu}");
    assert_eq!(eu["metadata"], json!({"rule": "EU internal and enterprise", "ruleIndex": 1}));
    // The first rule that holds decides, even when a later one would hold too.
    let free = value_for(&service, "ENABLE_CODEX_PROVIDER", json!({"targetingKey": "ws-2", "region": "eu", "plan": "free"})).await;
    assert_eq!((free["value"].clone(), free["metadata"]["ruleIndex"].clone()), (json!(false), json!(0)), "{free}");
    // The lists come before the rules; the environment's default after them.
    let banned = value_for(&service, "ENABLE_CODEX_PROVIDER", json!({"targetingKey": "ws-banned", "region": "eu", "plan": "enterprise"})).await;
    assert_eq!((banned["value"].clone(), banned.get("metadata")), (json!(false), None), "{banned}");
    let vip = value_for(&service, "ENABLE_CODEX_PROVIDER", json!({"targetingKey": "ws-vip", "plan": "free"})).await;
    assert_eq!(vip["value"], json!(true), "{vip}");
    let us = value_for(&service, "ENABLE_CODEX_PROVIDER", json!({"targetingKey": "ws-3", "region": "us", "plan": "enterprise"})).await;
    assert_eq!((us["value"].clone(), us["reason"].clone(), us.get("metadata")), (json!(false), json!("STATIC"), None), "{us}");

    // The bulk answer evaluates the same rules for the same context.
    let (status, _, text) = bulk(&service, &json!({"context": {"targetingKey": "ws-1", "region": "eu", "plan": "internal"}}), None).await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&text).unwrap();
    let item = body["flags"].as_array().unwrap().iter().find(|f| f["key"] == "ENABLE_CODEX_PROVIDER").unwrap();
    assert_eq!((item["value"].clone(), item["metadata"]["ruleIndex"].clone()), (json!(true), json!(1)), "{item}");
    // The flag's page and API show the rules as they are evaluated, in order.
    let flag = flag_of(&app, "ENABLE_CODEX_PROVIDER").await;
    let names: Vec<&str> = state_in(&flag, "production")["rules"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["free tier stays on Claude", "EU internal and enterprise"]);
    assert_eq!(state_in(&flag, "staging")["rules"], json!([]), "staging keeps its own (no) rules");
}

async fn an_attribute_missing_or_of_the_wrong_type_makes_a_rule_not_match_and_is_never_an_error(app: TestApp) {
    create_flag(&app, "seats.gate").await;
    let rules = json!([
        {"conditions": [{"contextName": "seats", "operator": "NUM_GTE", "value": "50"}], "serve": "on"},
        {"conditions": [{"contextName": "appVersion", "operator": "SEMVER_GT", "value": "2.0.0-beta.1"}], "serve": "on"},
        {"conditions": [{"contextName": "signedUpAt", "operator": "DATE_BEFORE", "value": "2026-01-01T00:00:00+01:00"}], "serve": "on"}
    ]);
    set(&app, "seats.gate", "production", json!({"enabled": true, "percentage": 0, "rules": rules})).await;
    let service = reader(&app, "production").await;
    for (context, expected) in [
        (json!({"targetingKey": "a", "seats": 50}), true),
        (json!({"targetingKey": "a", "seats": "120"}), true),
        (json!({"targetingKey": "a", "seats": 49.5}), false),
        (json!({"targetingKey": "a", "seats": "lots"}), false),
        (json!({"targetingKey": "a", "seats": {"n": 80}}), false),
        (json!({"targetingKey": "a", "appVersion": "2.0.0"}), true),
        (json!({"targetingKey": "a", "appVersion": "2.0.0-alpha"}), false),
        (json!({"targetingKey": "a", "appVersion": 3}), false),
        // 23:30 on 31 December in UTC is already 2026 in the rule's zone (+01:00).
        (json!({"targetingKey": "a", "signedUpAt": "2025-12-31T22:59:00Z"}), true),
        (json!({"targetingKey": "a", "signedUpAt": "2025-12-31T23:30:00Z"}), false),
        (json!({"targetingKey": "a", "signedUpAt": "last year"}), false),
        (json!({"targetingKey": "a"}), false),
    ] {
        let body = value_for(&service, "seats.gate", context.clone()).await;
        assert_eq!(body["value"], json!(expected), "{context}: {body}");
    }
}

async fn a_segment_shared_by_two_flags_changes_what_both_serve_when_it_changes(app: TestApp) {
    segment(&app, "internal", json!([{"contextName": "email", "operator": "STR_ENDS_WITH", "values": ["@acme.io"], "caseInsensitive": true}])).await;
    for key in ["USE_STANDALONE_MCP", "ENABLE_CODEX_PROVIDER"] {
        create_flag(&app, key).await;
        set(&app, key, "production", json!({"enabled": true, "percentage": 0, "rules": [{"name": "staff", "segments": ["internal"], "serve": "on"}]})).await;
    }
    let service = reader(&app, "production").await;
    let staff = json!({"targetingKey": "ws-9", "email": "Ann@ACME.io"});
    let outsider = json!({"targetingKey": "ws-9", "email": "bo@example.com"});
    let body = json!({ "context": staff });
    let (_, etag, before) = bulk(&service, &body, None).await;
    for key in ["USE_STANDALONE_MCP", "ENABLE_CODEX_PROVIDER"] {
        assert_eq!(value_for(&service, key, staff.clone()).await["value"], json!(true), "{key}");
        assert_eq!(value_for(&service, key, outsider.clone()).await["value"], json!(false), "{key}");
    }
    let (_, listed) = app.get("/api/v1/segments").await;
    assert_eq!(listed[0]["used_by"], json!(["ENABLE_CODEX_PROVIDER", "USE_STANDALONE_MCP"]), "{listed}");

    // One change to the segment, and both flags follow it at once.
    let (status, changed) = app
        .send("PUT", "/api/v1/segments/internal", json!({"version": 1, "conditions": [{"contextName": "email", "operator": "STR_ENDS_WITH", "values": ["@example.com"]}]}))
        .await;
    assert_eq!((status, changed["version"].clone()), (200, json!(2)), "{changed}");
    for key in ["USE_STANDALONE_MCP", "ENABLE_CODEX_PROVIDER"] {
        assert_eq!(value_for(&service, key, staff.clone()).await["value"], json!(false), "{key}");
        assert_eq!(value_for(&service, key, outsider.clone()).await["value"], json!(true), "{key}");
    }
    // A service holding the old bulk answer is told it changed.
    let (status, _, after) = bulk(&service, &body, etag.as_deref()).await;
    assert_eq!(status, 200, "the segment's change is a new answer, not 304");
    assert_ne!(before, after);
    let (status, stale) = app.send("PUT", "/api/v1/segments/internal", json!({"version": 1, "conditions": []})).await;
    assert_eq!((status, error_of(&stale).0), (422, "validation"), "{stale}");
    let (status, stale) = app
        .send("PUT", "/api/v1/segments/internal", json!({"version": 1, "conditions": [{"contextName": "x", "operator": "IN", "values": ["y"]}]}))
        .await;
    assert_eq!(status, 409, "{stale}");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'segment.%'").await, 2);
}

async fn a_segment_in_use_cannot_be_deleted_and_the_refusal_names_its_flags(app: TestApp) {
    segment(&app, "eu-enterprise", json!([{"contextName": "region", "operator": "IN", "values": ["eu"]}])).await;
    create_flag(&app, "ENABLE_CODEX_PROVIDER").await;
    set(&app, "ENABLE_CODEX_PROVIDER", "staging", json!({"enabled": true, "rules": [{"segments": ["eu-enterprise"], "serve": "on"}]})).await;
    let (status, refused) = app.send("DELETE", "/api/v1/segments/eu-enterprise", json!(null)).await;
    assert_eq!((status, error_of(&refused).0), (409, "segment_in_use"), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("ENABLE_CODEX_PROVIDER"), "{refused}");
    assert_eq!(app.count("SELECT COUNT(*) FROM segments").await, 1);

    set(&app, "ENABLE_CODEX_PROVIDER", "staging", json!({"enabled": true, "rules": []})).await;
    let (status, _) = app.send("DELETE", "/api/v1/segments/eu-enterprise", json!(null)).await;
    assert_eq!(status, 204);
    let (status, gone) = app.get("/api/v1/segments/eu-enterprise").await;
    assert_eq!(status, 404, "{gone}");
    // A rule can no longer name it.
    let flag = flag_of(&app, "ENABLE_CODEX_PROVIDER").await;
    let (status, body) = app
        .send("PUT", "/api/v1/flags/ENABLE_CODEX_PROVIDER/environments/staging", json!({"version": version_of(&flag), "enabled": true, "rules": [{"segments": ["eu-enterprise"], "serve": "on"}]}))
        .await;
    assert_eq!((status, error_of(&body).1), (422, Some("rules[0].segments[0]")), "{body}");
}

async fn a_bad_rule_is_refused_naming_its_place_and_writes_nothing(app: TestApp) {
    create_flag(&app, "provider").await;
    let before = flag_of(&app, "provider").await;
    let audit = app.count("SELECT COUNT(*) FROM audit_log").await;
    let good = json!({"contextName": "region", "operator": "IN", "values": ["eu"]});
    let many_values: Vec<String> = (0..1_001).map(|i| format!("ws-{i}")).collect();
    let many_rules: Vec<Value> = (0..101).map(|_| json!({"conditions": [good.clone()], "serve": "on"})).collect();
    for (rules, field) in [
        (json!([{"conditions": [good.clone()], "serve": "on"}, {"conditions": [good.clone(), {"contextName": "x", "operator": "REGEX", "values": ["a"]}], "serve": "on"}]), "rules[1].conditions[1].operator"),
        (json!([{"conditions": [{"contextName": "x", "operator": "IN", "values": ["a", 2]}], "serve": "on"}]), "rules[0].conditions[0].values[1]"),
        (json!([{"conditions": [{"contextName": "x", "operator": "DATE_AFTER", "value": "2026-02-30T00:00:00Z"}], "serve": "on"}]), "rules[0].conditions[0].value"),
        (json!([{"conditions": [{"contextName": "x", "operator": "SEMVER_LT", "value": "v1"}], "serve": "on"}]), "rules[0].conditions[0].value"),
        (json!([{"conditions": [{"contextName": "x", "operator": "NUM_LT", "value": "ten"}], "serve": "on"}]), "rules[0].conditions[0].value"),
        (json!([{"segments": ["nobody-made-this"], "serve": "on"}]), "rules[0].segments[0]"),
        (json!([{"conditions": [{"contextName": "x", "operator": "IN", "values": many_values}], "serve": "on"}]), "rules[0].conditions[0].values"),
        (Value::Array(many_rules), "rules"),
        (json!([{"conditions": [good.clone()], "serve": "variant", "variant": "codex"}]), "rules[0].variant"),
        (json!({"not": "a list"}), "rules"),
    ] {
        let (status, body) = app
            .send("PUT", "/api/v1/flags/provider/environments/production", json!({"version": version_of(&before), "enabled": true, "rules": rules}))
            .await;
        assert_eq!((status, error_of(&body).1), (422, Some(field)), "{body}");
    }
    assert_eq!(flag_of(&app, "provider").await, before, "nothing was written");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log").await, audit);
    // A segment's conditions are read the same way.
    let (status, body) = app.send("POST", "/api/v1/segments", json!({"name": "bad", "conditions": [good, {"contextName": "y", "operator": "NUM_GT"}]})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("conditions[1].value")), "{body}");
    let (status, body) = app.send("POST", "/api/v1/segments", json!({"name": "no spaces please", "conditions": []})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("name")), "{body}");
}

async fn a_stage_sets_rules_at_its_go_and_its_rollback_puts_the_rules_before_back_exactly(app: TestApp) {
    segment(&app, "internal", json!([{"contextName": "email", "operator": "STR_ENDS_WITH", "values": ["@acme.io"]}])).await;
    create_flag(&app, "ENABLE_CODEX_PROVIDER").await;
    let staff_only = json!([{"name": "staff", "segments": ["internal"], "serve": "on"}]);
    set(&app, "ENABLE_CODEX_PROVIDER", "production", json!({"enabled": true, "percentage": 0, "rules": staff_only})).await;
    let before = flag_of(&app, "ENABLE_CODEX_PROVIDER").await;

    // A bad rule in a stage's change is refused by its place in the list of changes.
    let plan = app.plan(json!({"title": "Probe", "stages": [{"name": "One"}]})).await;
    let (pid, sid) = (plan["id"].as_i64().unwrap(), plan["stages"][0]["id"].as_i64().unwrap());
    let bad = json!({"version": 1, "changes": [{"flag": "ENABLE_CODEX_PROVIDER", "environment": "production", "enabled": true, "rules": [{"conditions": [{"contextName": "x", "operator": "LIKE", "values": ["a"]}], "serve": "on"}]}]});
    let (status, body) = app.send("PUT", &format!("/api/v1/plans/{pid}/stages/{sid}/flags"), bad).await;
    assert_eq!((status, error_of(&body).1), (422, Some("changes[0].rules[0].conditions[0].operator")), "{body}");

    let widened = json!([
        {"name": "staff", "segments": ["internal"], "serve": "on"},
        {"name": "EU enterprise", "conditions": [{"contextName": "region", "operator": "IN", "values": ["eu"]}, {"contextName": "plan", "operator": "IN", "values": ["enterprise"]}], "serve": "on"}
    ]);
    let changes = json!([{"flag": "ENABLE_CODEX_PROVIDER", "environment": "production", "enabled": true, "percentage": 0, "rules": widened}]);
    let (plan, authority) = approved_plan(&app, changes).await;
    let (id, stage) = (plan["id"].as_i64().unwrap(), plan["stages"][0]["id"].as_i64().unwrap());
    assert_eq!(plan["stages"][0]["flag_changes"][0]["rules"][1]["name"], "EU enterprise", "the plan shows what the stage will set");
    let service = reader(&app, "production").await;
    let eu = json!({"targetingKey": "ws-1", "region": "eu", "plan": "enterprise"});
    assert_eq!(value_for(&service, "ENABLE_CODEX_PROVIDER", eu.clone()).await["value"], json!(false), "nothing before the go");

    let (status, started) = go(&app, &authority, id, stage).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(value_for(&service, "ENABLE_CODEX_PROVIDER", eu.clone()).await["metadata"]["rule"], json!("EU enterprise"));

    let (status, requested) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{stage}/rollback"), json!({"reason": "Codex errors in the EU"})).await;
    assert_eq!(status, 200, "{requested}");
    let rollback_id = requested["stages"][0]["rollbacks"][0]["id"].as_i64().unwrap();
    let (status, rolled) = authority.send("POST", &format!("/api/v1/plans/{id}/rollbacks/{rollback_id}/decision"), json!({"decision": "approve"})).await;
    assert_eq!(status, 200, "{rolled}");
    let after = flag_of(&app, "ENABLE_CODEX_PROVIDER").await;
    assert_eq!(state(&after, "production"), state(&before, "production"), "the rules are exactly those before the stage");
    assert_eq!(value_for(&service, "ENABLE_CODEX_PROVIDER", eu).await["value"], json!(false));
    let staff = value_for(&service, "ENABLE_CODEX_PROVIDER", json!({"targetingKey": "ws-2", "email": "ann@acme.io"})).await;
    assert_eq!((staff["value"].clone(), staff["metadata"]["rule"].clone()), (json!(true), json!("staff")));
}
