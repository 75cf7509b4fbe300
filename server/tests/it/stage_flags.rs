//! The flags a stage flips: applied together when its gate says go, put back exactly
//! when its rollback is approved.
use crate::support;

use serde_json::{json, Value};
use support::{error_of, TestApp};

on_both_databases!(
    starting_a_stage_applies_its_flag_changes_and_rolling_back_restores_them_exactly,
    a_stage_only_starts_on_an_approved_plan_and_one_at_a_time,
    a_stage_cannot_name_an_unknown_flag_or_environment,
    a_plan_using_a_killed_flag_shows_a_banner_until_the_flag_is_on_again,
);

/// A state without its timestamp, for comparing what services see.
pub(crate) fn state(flag: &Value, env: &str) -> Value {
    let mut s = flag["environments"].as_array().unwrap().iter().find(|s| s["environment"] == env).unwrap().clone();
    s.as_object_mut().unwrap().remove("updated_at");
    s
}

async fn flag(app: &TestApp, key: &str) -> Value {
    let (status, f) = app.get(&format!("/api/v1/flags/{key}")).await;
    assert_eq!(status, 200, "{f}");
    f
}

/// A plan with two stages, its stakeholder and rollback authority, and the plan approved.
pub(crate) async fn approved_plan(app: &TestApp, changes: Value) -> (Value, TestApp) {
    let plan = app.plan(json!({"title": "Codex rollout", "stages": [{"name": "Enable Codex"}, {"name": "Widen"}]})).await;
    let id = plan["id"].as_i64().unwrap();
    let stage = plan["stages"][0]["id"].as_i64().unwrap();
    let (status, p) = app.send("PUT", &format!("/api/v1/plans/{id}/stages/{stage}/flags"), json!({"version": 1, "changes": changes})).await;
    assert_eq!(status, 200, "{p}");
    let authority = app.holding("ari", id, "rollback_authority").await;
    let stakeholder = app.holding("sam", id, "stakeholder").await;
    let (_, p) = app.get(&format!("/api/v1/plans/{id}")).await;
    let (_, p) = app.send("POST", &format!("/api/v1/plans/{id}/review"), json!({"version": p["version"]})).await;
    let (status, p) = stakeholder.send("POST", &format!("/api/v1/plans/{id}/signoffs"), json!({"version": p["version"], "decision": "approved"})).await;
    assert_eq!((status, p["status"].as_str()), (200, Some("approved")), "{p}");
    (p, authority)
}

/// The lead (here an admin) asks for go; the rollback authority says go.
pub(crate) async fn go(app: &TestApp, authority: &TestApp, id: i64, stage: i64) -> (u16, Value) {
    let (_, p) = app.get(&format!("/api/v1/plans/{id}")).await;
    let (status, p) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{stage}/gate"), json!({"version": p["version"]})).await;
    if status != 200 {
        return (status, p);
    }
    let gate = open_gate(&p, stage);
    authority.send("POST", &format!("/api/v1/plans/{id}/gates/{gate}/votes"), json!({"vote": "go", "rationale": "dashboards green"})).await
}

fn open_gate(plan: &Value, stage: i64) -> i64 {
    let s = plan["stages"].as_array().unwrap().iter().find(|s| s["id"] == stage).unwrap();
    s["gates"].as_array().unwrap().last().unwrap()["id"].as_i64().unwrap()
}

async fn starting_a_stage_applies_its_flag_changes_and_rolling_back_restores_them_exactly(app: TestApp) {
    app.send("POST", "/api/v1/flags", json!({"key": "ENABLE_CODEX_PROVIDER"})).await;
    let (status, _) = app
        .send(
            "PUT",
            "/api/v1/flags/ENABLE_CODEX_PROVIDER/environments/production",
            json!({"version": 1, "enabled": true, "percentage": 10, "allow": ["ws-vip"], "deny": ["ws-bad"],
                   "variants": [{"name": "claude", "weight": 3}, {"name": "codex", "weight": 1}]}),
        )
        .await;
    assert_eq!(status, 200);
    let before = flag(&app, "ENABLE_CODEX_PROVIDER").await;
    let changes = json!([
        {"flag": "ENABLE_CODEX_PROVIDER", "environment": "production", "enabled": true, "percentage": 50},
        {"flag": "ENABLE_CODEX_PROVIDER", "environment": "staging", "enabled": true, "percentage": 100}
    ]);
    let (plan, authority) = approved_plan(&app, changes).await;
    let (id, stage) = (plan["id"].as_i64().unwrap(), plan["stages"][0]["id"].as_i64().unwrap());

    let (status, started) = go(&app, &authority, id, stage).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!((started["status"].as_str(), started["stages"][0]["status"].as_str()), (Some("executing"), Some("active")));
    assert!(started["stages"][0]["flag_changes"].as_array().unwrap().iter().all(|c| c["applied_at"].is_string()));
    let during = flag(&app, "ENABLE_CODEX_PROVIDER").await;
    let prod = state(&during, "production");
    assert_eq!((prod["enabled"].clone(), prod["percentage"].clone()), (json!(true), json!(50)));
    assert_eq!((prod["allow"].clone(), prod["deny"].clone()), (json!(["ws-vip"]), json!(["ws-bad"])), "lists are kept");
    assert_eq!(state(&during, "staging")["enabled"], json!(true));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'flag.set' AND after_json LIKE '%by_stage%'").await,
        2,
        "each flag the stage changed has its own history entry"
    );

    let rollback = format!("/api/v1/plans/{id}/stages/{stage}/rollback");
    let (status, body) = app.send("POST", &rollback, json!({"reason": " "})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("reason")));
    let (status, requested) = app.send("POST", &rollback, json!({"reason": "Codex errors"})).await;
    assert_eq!(status, 200, "{requested}");
    assert_eq!(requested["stages"][0]["status"], "active", "nothing reverts before a rollback authority approves");
    assert_eq!(state(&flag(&app, "ENABLE_CODEX_PROVIDER").await, "production")["percentage"], json!(50));
    let rollback_id = requested["stages"][0]["rollbacks"][0]["id"].as_i64().unwrap();
    let (status, rolled) = authority
        .send("POST", &format!("/api/v1/plans/{id}/rollbacks/{rollback_id}/decision"), json!({"decision": "approve"}))
        .await;
    assert_eq!(status, 200, "{rolled}");
    assert_eq!((rolled["status"].as_str(), rolled["stages"][0]["status"].as_str()), (Some("rolled_back"), Some("rolled_back")));
    let after = flag(&app, "ENABLE_CODEX_PROVIDER").await;
    for env in ["production", "staging"] {
        assert_eq!(state(&after, env), state(&before, env), "{env} is exactly as before the stage");
    }
    let done = &rolled["stages"][0]["rollbacks"][0];
    assert_eq!((done["status"].as_str(), done["decided_by"].as_str()), (Some("approved"), Some("ari")));
    let ms = done["duration_ms"].as_i64().expect("the rollback time is stored");
    assert!((0..30_000).contains(&ms), "{done}");
    assert_eq!(done["target_seconds"], 30);
    assert!(done["reverted_at"].is_string());
    let (_, history) = app.get(&format!("/api/v1/audit?plan_id={id}&action=rollback.done")).await;
    let entry = &history["items"][0];
    assert_eq!(entry["after"]["rollback"]["duration_ms"], ms, "the plan's history keeps the measured time: {history}");
    assert_eq!(entry["after"]["rollback"]["within_target"], true);
}

async fn a_stage_only_starts_on_an_approved_plan_and_one_at_a_time(app: TestApp) {
    let draft = app.plan(json!({"title": "Draft", "stages": [{"name": "One"}]})).await;
    let (id, stage) = (draft["id"].as_i64().unwrap(), draft["stages"][0]["id"].as_i64().unwrap());
    let (status, body) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{stage}/gate"), json!({"version": 1})).await;
    assert_eq!((status, error_of(&body).0), (409, "not_approved"));

    let (plan, authority) = approved_plan(&app, json!([])).await;
    let (id, first, second) = (plan["id"].as_i64().unwrap(), plan["stages"][0]["id"].as_i64().unwrap(), plan["stages"][1]["id"].as_i64().unwrap());
    let (status, started) = go(&app, &authority, id, first).await;
    assert_eq!(status, 200, "{started}");
    let (status, body) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{second}/gate"), json!({"version": started["version"]})).await;
    assert_eq!((status, error_of(&body).0), (409, "stage_active"));
    let (status, body) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{first}/gate"), json!({"version": started["version"]})).await;
    assert_eq!((status, error_of(&body).0), (409, "stage_not_pending"));
    let (_, now) = app.get(&format!("/api/v1/plans/{id}")).await;
    assert_eq!(now["version"], started["version"], "refused requests change nothing");
}

async fn a_stage_cannot_name_an_unknown_flag_or_environment(app: TestApp) {
    app.send("POST", "/api/v1/flags", json!({"key": "USE_STANDALONE_MCP"})).await;
    let plan = app.plan(json!({"title": "p", "stages": [{"name": "One"}]})).await;
    let (id, stage) = (plan["id"].as_i64().unwrap(), plan["stages"][0]["id"].as_i64().unwrap());
    let path = format!("/api/v1/plans/{id}/stages/{stage}/flags");
    let unknown_flag = json!({"version": 1, "changes": [{"flag": "NOPE", "environment": "production", "enabled": true}]});
    let (status, body) = app.send("PUT", &path, unknown_flag).await;
    assert_eq!((status, error_of(&body).1), (422, Some("changes[0].flag")));
    let unknown_env = json!({"version": 1, "changes": [{"flag": "USE_STANDALONE_MCP", "environment": "moon", "enabled": true}]});
    let (status, body) = app.send("PUT", &path, unknown_env).await;
    assert_eq!((status, error_of(&body).1), (422, Some("changes[0].environment")));
    let twice = json!({"version": 1, "changes": [
        {"flag": "USE_STANDALONE_MCP", "environment": "production", "enabled": true},
        {"flag": "USE_STANDALONE_MCP", "environment": "production", "enabled": false}]});
    let (status, _) = app.send("PUT", &path, twice).await;
    assert_eq!(status, 422);
    assert_eq!(app.count("SELECT COUNT(*) FROM stage_flag_changes").await, 0, "nothing was written");
}

async fn a_plan_using_a_killed_flag_shows_a_banner_until_the_flag_is_on_again(app: TestApp) {
    app.send("POST", "/api/v1/flags", json!({"key": "USE_STANDALONE_MCP"})).await;
    app.send("POST", "/api/v1/flags", json!({"key": "UNRELATED"})).await;
    let plan = app.plan(json!({"title": "MCP", "stages": [{"name": "One"}]})).await;
    let (id, stage) = (plan["id"].as_i64().unwrap(), plan["stages"][0]["id"].as_i64().unwrap());
    let changes = json!({"version": 1, "changes": [{"flag": "USE_STANDALONE_MCP", "environment": "production", "enabled": true}]});
    assert_eq!(app.send("PUT", &format!("/api/v1/plans/{id}/stages/{stage}/flags"), changes).await.0, 200);
    let banner = "Flag USE_STANDALONE_MCP was killed";

    let (_, html) = app.get_text(&format!("/plans/{id}")).await;
    assert!(!html.contains(banner));
    assert_eq!(app.send("POST", "/api/v1/flags/UNRELATED/kill", json!({})).await.0, 200);
    let (_, html) = app.get_text(&format!("/plans/{id}")).await;
    assert!(!html.contains("was killed"), "a flag the plan does not use shows no banner");

    assert_eq!(app.send("POST", "/api/v1/flags/USE_STANDALONE_MCP/kill", json!({})).await.0, 200);
    let (_, html) = app.get_text(&format!("/plans/{id}")).await;
    assert!(html.contains(banner), "the plan page warns about its killed flag");

    let (_, f) = app.get("/api/v1/flags/USE_STANDALONE_MCP").await;
    let on = json!({"version": f["version"], "enabled": true, "percentage": 100});
    assert_eq!(app.send("PUT", "/api/v1/flags/USE_STANDALONE_MCP/environments/staging", on).await.0, 200);
    let (_, html) = app.get_text(&format!("/plans/{id}")).await;
    assert!(!html.contains(banner), "turned on again: the banner goes");
}

