//! The flags a stage flips: applied together when it starts, put back exactly when it
//! is rolled back.
mod support;

use serde_json::{json, Value};
use support::{error_of, TestApp};

on_both_databases!(
    starting_a_stage_applies_its_flag_changes_and_rolling_back_restores_them_exactly,
    a_stage_only_starts_on_an_approved_plan_and_one_at_a_time,
    a_stage_cannot_name_an_unknown_flag_or_environment,
    a_plan_using_a_killed_flag_shows_a_banner_until_the_flag_is_on_again,
    every_stage_action_from_every_stage_state_is_allowed_or_refused_as_the_lifecycle_says,
    a_stage_passes_only_after_its_minimum_soak_and_the_last_one_completes_the_plan,
);

/// A state without its timestamp, for comparing what services see.
fn state(flag: &Value, env: &str) -> Value {
    let mut s = flag["environments"].as_array().unwrap().iter().find(|s| s["environment"] == env).unwrap().clone();
    s.as_object_mut().unwrap().remove("updated_at");
    s
}

async fn flag(app: &TestApp, key: &str) -> Value {
    let (status, f) = app.get(&format!("/api/v1/flags/{key}")).await;
    assert_eq!(status, 200, "{f}");
    f
}

/// A plan with two stages, its stakeholder, and the plan approved.
async fn approved_plan(app: &TestApp, changes: Value) -> Value {
    let plan = app.plan(json!({"title": "Codex rollout", "stages": [{"name": "Enable Codex"}, {"name": "Widen"}]})).await;
    let id = plan["id"].as_i64().unwrap();
    let stage = plan["stages"][0]["id"].as_i64().unwrap();
    let (status, p) = app.send("PUT", &format!("/api/v1/plans/{id}/stages/{stage}/flags"), json!({"version": 1, "changes": changes})).await;
    assert_eq!(status, 200, "{p}");
    let stakeholder = app.holding("sam", id, "stakeholder").await;
    let (_, p) = app.send("POST", &format!("/api/v1/plans/{id}/review"), json!({"version": p["version"]})).await;
    let (status, p) = stakeholder.send("POST", &format!("/api/v1/plans/{id}/signoffs"), json!({"version": p["version"], "decision": "approved"})).await;
    assert_eq!((status, p["status"].as_str()), (200, Some("approved")), "{p}");
    p
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
    let plan = approved_plan(&app, changes).await;
    let (id, stage) = (plan["id"].as_i64().unwrap(), plan["stages"][0]["id"].as_i64().unwrap());

    let (status, started) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{stage}/start"), json!({"version": plan["version"]})).await;
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

    let (status, body) = app
        .send("POST", &format!("/api/v1/plans/{id}/stages/{stage}/rollback"), json!({"version": started["version"], "reason": " "}))
        .await;
    assert_eq!((status, error_of(&body).1), (422, Some("reason")));
    let (status, rolled) = app
        .send("POST", &format!("/api/v1/plans/{id}/stages/{stage}/rollback"), json!({"version": started["version"], "reason": "Codex errors"}))
        .await;
    assert_eq!(status, 200, "{rolled}");
    assert_eq!(rolled["stages"][0]["status"], "rolled_back");
    let after = flag(&app, "ENABLE_CODEX_PROVIDER").await;
    for env in ["production", "staging"] {
        assert_eq!(state(&after, env), state(&before, env), "{env} is exactly as before the stage");
    }
}

async fn a_stage_only_starts_on_an_approved_plan_and_one_at_a_time(app: TestApp) {
    let draft = app.plan(json!({"title": "Draft", "stages": [{"name": "One"}]})).await;
    let (id, stage) = (draft["id"].as_i64().unwrap(), draft["stages"][0]["id"].as_i64().unwrap());
    let (status, body) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{stage}/start"), json!({"version": 1})).await;
    assert_eq!((status, error_of(&body).0), (409, "not_approved"));

    let plan = approved_plan(&app, json!([])).await;
    let (id, first, second) = (plan["id"].as_i64().unwrap(), plan["stages"][0]["id"].as_i64().unwrap(), plan["stages"][1]["id"].as_i64().unwrap());
    let (status, started) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{first}/start"), json!({"version": plan["version"]})).await;
    assert_eq!(status, 200);
    let (status, body) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{second}/start"), json!({"version": started["version"]})).await;
    assert_eq!((status, error_of(&body).0), (409, "stage_active"));
    let (status, body) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{first}/start"), json!({"version": started["version"]})).await;
    assert_eq!((status, error_of(&body).0), (409, "stage_not_pending"));
    let (_, now) = app.get(&format!("/api/v1/plans/{id}")).await;
    assert_eq!(now["version"], started["version"], "refused starts change nothing");
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

/// A fresh approved plan with two stages (the first with `soak` minutes of minimum soak).
async fn fresh_approved(app: &TestApp, n: usize, soak: i64) -> (i64, i64, i64, i64) {
    let plan = app.plan(json!({"title": format!("Lifecycle {n}"), "stages": [{"name": "One", "min_soak_minutes": soak}, {"name": "Two"}]})).await;
    let id = plan["id"].as_i64().unwrap();
    let stakeholder = app.holding(&format!("sam{n}"), id, "stakeholder").await;
    let (_, p) = app.get(&format!("/api/v1/plans/{id}")).await;
    let (_, p) = app.send("POST", &format!("/api/v1/plans/{id}/review"), json!({"version": p["version"]})).await;
    let (_, p) = stakeholder.send("POST", &format!("/api/v1/plans/{id}/signoffs"), json!({"version": p["version"], "decision": "approved"})).await;
    assert_eq!(p["status"], "approved", "{p}");
    (id, plan["stages"][0]["id"].as_i64().unwrap(), plan["stages"][1]["id"].as_i64().unwrap(), p["version"].as_i64().unwrap())
}

/// Runs `action` on a stage; returns the status code and the plan's version afterwards.
async fn act(app: &TestApp, id: i64, stage: i64, action: &str, version: i64) -> (u16, i64) {
    let body = json!({"version": version, "reason": "testing the lifecycle"});
    let (status, _) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{stage}/{action}"), body).await;
    let (_, p) = app.get(&format!("/api/v1/plans/{id}")).await;
    (status, p["version"].as_i64().unwrap())
}

async fn every_stage_action_from_every_stage_state_is_allowed_or_refused_as_the_lifecycle_says(app: TestApp) {
    // (steps that bring the first stage to a state, that state, then start / pass / rollback on it)
    let table: [(&[&str], &str, [u16; 3]); 4] = [
        (&[], "pending", [200, 409, 409]),
        (&["start"], "active", [409, 200, 200]),
        (&["start", "pass"], "passed", [409, 409, 200]),
        (&["start", "rollback"], "rolled_back", [409, 409, 409]),
    ];
    let mut n = 0;
    for (steps, state, expected) in table {
        for (action, want) in ["start", "pass", "rollback"].into_iter().zip(expected) {
            n += 1;
            let (id, first, _, mut version) = fresh_approved(&app, n, 0).await;
            for step in steps {
                let (status, v) = act(&app, id, first, step, version).await;
                assert_eq!(status, 200, "getting to {state} with {step}");
                version = v;
            }
            let (_, p) = app.get(&format!("/api/v1/plans/{id}")).await;
            assert_eq!(p["stages"][0]["status"], state);
            let (status, after) = act(&app, id, first, action, version).await;
            assert_eq!(status, want, "{action} from {state}");
            if status != 200 {
                assert_eq!(after, version, "a refused {action} from {state} changes nothing");
            }
        }
    }
    // The second stage waits for the first to pass.
    for (steps, want) in [(&[][..], 409), (&["start"][..], 409), (&["start", "pass"][..], 200)] {
        n += 1;
        let (id, first, second, mut version) = fresh_approved(&app, n, 0).await;
        for step in steps {
            version = act(&app, id, first, step, version).await.1;
        }
        assert_eq!(act(&app, id, second, "start", version).await.0, want, "second stage after {steps:?}");
    }
    // Statuses are never set by hand.
    let (id, first, _, version) = fresh_approved(&app, n + 1, 0).await;
    let (status, body) = app.send("PATCH", &format!("/api/v1/plans/{id}/stages/{first}"), json!({"version": version, "status": "passed"})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("status")));
}

async fn a_stage_passes_only_after_its_minimum_soak_and_the_last_one_completes_the_plan(app: TestApp) {
    let (id, first, _, version) = fresh_approved(&app, 1, 30).await;
    let (status, version) = act(&app, id, first, "start", version).await;
    assert_eq!(status, 200);
    let body = json!({"version": version});
    let (status, refused) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{first}/pass"), body).await;
    assert_eq!((status, error_of(&refused).0), (409, "soaking"));
    assert!(refused["error"]["message"].as_str().unwrap().contains("30 more minute"), "{refused}");

    let (id, first, second, version) = fresh_approved(&app, 2, 0).await;
    let mut v = version;
    for (stage, action) in [(first, "start"), (first, "pass"), (second, "start"), (second, "pass")] {
        let (status, next) = act(&app, id, stage, action, v).await;
        assert_eq!(status, 200, "{action}");
        v = next;
    }
    let (_, p) = app.get(&format!("/api/v1/plans/{id}")).await;
    assert_eq!(p["status"], "completed");
    assert!(p["stages"][1]["passed_at"].is_string() && p["stages"][1]["started_at"].is_string());
}
