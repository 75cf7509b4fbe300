//! Who may call what: every API endpoint and every server function, with each role,
//! with API tokens, and with no credentials, on both databases.
use crate::support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{Auth, TestApp};

/// The callers, in the order of each row's expectations.
const CALLERS: [&str; 9] = ["admin", "lead", "on_call", "authority", "stakeholder", "member", "read_token", "write_token", "nobody"];

/// Expected answers per caller: `2` a 2xx, `3` 403, `1` 401.
const READ: &str = "222222221";
const EDIT: &str = "220000021";
const ADMIN: &str = "200000001";
const PEOPLE: &str = "222222001";
/// Admins (and flags:write tokens, which this table's tokens are not).
const FLAG_WRITE: &str = "200000001";
/// The workspace's members and admins (and workspaces:write tokens, which these are not).
const MEMBER: &str = "200002001";

/// One row per endpoint: method, path, expectations (in `CALLERS` order, with `0` for 403).
const API_TABLE: &[(&str, &str, &str)] = &[
    ("POST", "/session", "222222222"),
    ("GET", "/session", PEOPLE),
    ("GET", "/users", PEOPLE),
    ("POST", "/users", ADMIN),
    ("PUT", "/users/{username}/password", ADMIN),
    ("GET", "/tokens", ADMIN),
    ("POST", "/tokens", ADMIN),
    ("DELETE", "/tokens/{token_id}", ADMIN),
    ("GET", "/webhooks", ADMIN),
    ("POST", "/webhooks", ADMIN),
    ("DELETE", "/webhooks/{webhook_id}", ADMIN),
    ("GET", "/webhooks/deliveries", ADMIN),
    ("GET", "/plans", READ),
    ("POST", "/plans", "222222021"),
    ("GET", "/plans/{id}", READ),
    ("PATCH", "/plans/{id}", EDIT),
    ("DELETE", "/plans/{id}", EDIT),
    ("GET", "/plans/{id}/stages", READ),
    ("POST", "/plans/{id}/stages", EDIT),
    ("PUT", "/plans/{id}/stages/order", EDIT),
    ("GET", "/plans/{id}/stages/{stage_id}", READ),
    ("PATCH", "/plans/{id}/stages/{stage_id}", EDIT),
    ("DELETE", "/plans/{id}/stages/{stage_id}", EDIT),
    ("PUT", "/plans/{id}/stages/{stage_id}/flags", EDIT),
    // People only: the migration leads and admins ask for go.
    ("POST", "/plans/{id}/stages/{stage_id}/gate", "220000001"),
    ("POST", "/plans/{id}/stages/{stage_id}/pass", EDIT),
    ("POST", "/plans/{id}/stages/{stage_id}/abort", EDIT),
    // On-call, migration leads and admins ask for a rollback.
    ("POST", "/plans/{id}/stages/{stage_id}/rollback", "222000001"),
    // The stage's deciders (lead and rollback authority), never the requester (admin here).
    ("POST", "/plans/{id}/gates/{gate_id}/votes", "020200001"),
    ("POST", "/plans/{id}/rollbacks/{rollback_id}/decision", "000200001"),
    ("POST", "/plans/{id}/stages/{stage_id}/checklist", EDIT),
    ("POST", "/plans/{id}/stages/{stage_id}/checklist/copy", EDIT),
    ("DELETE", "/plans/{id}/stages/{stage_id}/checklist/{item_id}", EDIT),
    // The people who run the plan: lead, on-call, rollback authority, admins.
    ("PUT", "/plans/{id}/stages/{stage_id}/checklist/{item_id}/result", "222200001"),
    ("POST", "/plans/import", "222222021"),
    ("GET", "/plans/{id}/export.md", READ),
    ("GET", "/plans/{id}/stages/{stage_id}/runbooks/{kind}", READ),
    ("POST", "/plans/{id}/stages/{stage_id}/runs", "222200001"),
    ("GET", "/plans/{id}/runs/{run_id}", READ),
    ("PUT", "/plans/{id}/runs/{run_id}/steps/{position}", "222200001"),
    ("POST", "/plans/{id}/runs/{run_id}/notes", "222200001"),
    ("POST", "/plans/{id}/stages/{stage_id}/guards", EDIT),
    ("PUT", "/plans/{id}/stages/{stage_id}/guards/{guard_id}", EDIT),
    ("DELETE", "/plans/{id}/stages/{stage_id}/guards/{guard_id}", EDIT),
    ("GET", "/plans/{id}/guards/series", READ),
    ("POST", "/plans/{id}/breaches/{breach_id}/resolve", "222200001"),
    // Services with a metrics:write token only (none of these callers; see tests/guards.rs).
    ("POST", "/metrics", "000000001"),
    ("GET", "/plans/{id}/risks", READ),
    ("POST", "/plans/{id}/risks", EDIT),
    ("GET", "/plans/{id}/risks/{risk_id}", READ),
    ("PATCH", "/plans/{id}/risks/{risk_id}", EDIT),
    ("DELETE", "/plans/{id}/risks/{risk_id}", EDIT),
    ("GET", "/plans/{id}/roles", READ),
    ("POST", "/plans/{id}/roles", EDIT),
    ("DELETE", "/plans/{id}/roles/{role_id}", EDIT),
    ("POST", "/plans/{id}/review", EDIT),
    ("POST", "/plans/{id}/signoffs", "000020001"),
    ("GET", "/plans/{id}/comments", READ),
    ("POST", "/plans/{id}/comments", "222220001"),
    ("GET", "/flags", PEOPLE),
    ("POST", "/flags", FLAG_WRITE),
    ("GET", "/flags/{key}", PEOPLE),
    ("PATCH", "/flags/{key}", FLAG_WRITE),
    ("DELETE", "/flags/{key}", FLAG_WRITE),
    ("PUT", "/flags/{key}/environments/{env}", FLAG_WRITE),
    // Admins only here: the fixture plan's stages do not change the fixture flag, so its
    // on-call and rollback authority answer for no part of it (see tests/flags.rs).
    ("POST", "/flags/{key}/kill", ADMIN),
    ("GET", "/segments", PEOPLE),
    ("POST", "/segments", FLAG_WRITE),
    ("GET", "/segments/{name}", PEOPLE),
    ("PUT", "/segments/{name}", FLAG_WRITE),
    ("DELETE", "/segments/{name}", FLAG_WRITE),
    ("GET", "/environments", PEOPLE),
    ("POST", "/environments", ADMIN),
    ("GET", "/inbox", PEOPLE),
    ("GET", "/workspaces", PEOPLE),
    ("POST", "/workspaces", ADMIN),
    ("GET", "/workspaces/export.csv", PEOPLE),
    ("GET", "/workspaces/adoption", PEOPLE),
    ("POST", "/workspaces/imports", ADMIN),
    ("GET", "/workspaces/imports/{import_id}", ADMIN),
    ("GET", "/workspaces/{workspace_id}", PEOPLE),
    ("PATCH", "/workspaces/{workspace_id}", MEMBER),
    ("PUT", "/workspaces/{workspace_id}/provider", MEMBER),
    ("PUT", "/workspaces/{workspace_id}/api-key", MEMBER),
    ("DELETE", "/workspaces/{workspace_id}/api-key", MEMBER),
    ("PUT", "/workspaces/{workspace_id}/members/{username}", ADMIN),
    ("DELETE", "/workspaces/{workspace_id}/members/{username}", ADMIN),
    ("GET", "/workspaces/{workspace_id}/history", PEOPLE),
    ("GET", "/workspaces/{workspace_id}/agent-provider", PEOPLE),
    ("POST", "/workspaces/{workspace_id}/sessions", MEMBER),
    ("GET", "/providers", PEOPLE),
    ("POST", "/providers", ADMIN),
    ("GET", "/audit", ADMIN),
    ("GET", "/audit/export.csv", ADMIN),
    ("GET", "/audit/export.jsonl", ADMIN),
    ("GET", "/events", READ),
    ("GET", "/openapi.json", "222222222"),
    // Last: it ends the caller's session.
    ("DELETE", "/session", PEOPLE),
];

/// Server functions (the pages' reads), by name, with their arguments.
const FN_TABLE: &[(&str, &str, &str)] = &[
    ("current_viewer", "", "222222222"),
    ("list_people", "", PEOPLE),
    ("list_tokens", "", ADMIN),
    ("list_webhooks", "", ADMIN),
    ("list_plans", "q=&status=&after=", READ),
    ("get_plan", "id={id}", READ),
    ("get_plan_view", "id={id}", READ),
    ("list_audit", "plan_id=&actor=&action=&since=&until=", ADMIN),
    ("list_flags", "", PEOPLE),
    ("get_flag_view", "key={key}", PEOPLE),
    ("list_inbox", "", PEOPLE),
    ("list_workspaces", "query[q]=", PEOPLE),
    ("get_workspace_view", "id={workspace_id}", PEOPLE),
    ("list_providers", "", PEOPLE),
    ("get_import", "id={import_id}", ADMIN),
];

on_both_databases!(
    every_endpoint_and_server_function_answers_each_caller_as_the_table_says,
    on_an_archived_plan_every_change_is_refused_and_nobody_grants_themselves_a_role,
);

/// What each request works on: a fresh plan (so one row's change never affects another),
/// with the callers' roles on it.
struct Fixture {
    plan: i64,
    version: i64,
    stages: Vec<i64>,
    risk: i64,
    role: i64,
    token: i64,
    webhook: i64,
    flag: String,
    segment: String,
    item: i64,
    gate: i64,
    rollback: i64,
    workspace: String,
    import: i64,
    run: i64,
    guard: i64,
    breach: i64,
}

/// How far along the fixture plan is.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Stage {
    Draft,
    InReview,
    Approved,
    /// Its first stage's gate asked for (by the admin).
    Awaiting,
    Running,
    /// A rollback of the running first stage asked for (by the admin).
    RollbackRequested,
}

fn stage_for(path: &str) -> Stage {
    match path {
        "/plans/{id}/signoffs" => Stage::InReview,
        "/plans/{id}/stages/{stage_id}/gate" => Stage::Approved,
        "/plans/{id}/gates/{gate_id}/votes" => Stage::Awaiting,
        "/plans/{id}/stages/{stage_id}/rollback" | "/plans/{id}/stages/{stage_id}/pass" | "/plans/{id}/stages/{stage_id}/runs" => {
            Stage::Running
        }
        p if p.contains("{run_id}") || p.contains("{breach_id}") => Stage::Running,
        "/plans/{id}/rollbacks/{rollback_id}/decision" => Stage::RollbackRequested,
        _ => Stage::Draft,
    }
}

/// Rows that read an import need one made first.
fn needs_import(path_or_name: &str) -> bool {
    path_or_name.contains("import")
}

async fn fixture(app: &TestApp, stage: Stage, with_import: bool) -> Fixture {
    fixture_with(app, stage, with_import, false).await
}

async fn fixture_with(app: &TestApp, stage: Stage, with_import: bool, with_run: bool) -> Fixture {
    fixture_full(app, stage, with_import, with_run, false).await
}

async fn fixture_full(app: &TestApp, stage: Stage, with_import: bool, with_run: bool, with_breach: bool) -> Fixture {
    let admin = app.with(app.auth.clone());
    let (status, plan) = admin
        .send(
            "POST",
            "/api/v1/plans",
            json!({
                "title": "Fixture",
                "stages": [{"name": "one", "forward_runbook": "1. Deploy\n2. Check"}, {"name": "two"}],
                "risks": [{"risk": "r", "likelihood": "low", "impact": "low"}]
            }),
        )
        .await;
    assert_eq!(status, 201, "{plan}");
    let id = plan["id"].as_i64().unwrap();
    let mut last = plan.clone();
    for (who, role) in [("lead", "migration_lead"), ("on_call", "on_call"), ("authority", "rollback_authority"), ("stakeholder", "stakeholder")] {
        let (status, p) = admin.send("POST", &format!("/api/v1/plans/{id}/roles"), json!({"username": who, "role": role})).await;
        assert_eq!(status, 201, "{p}");
        last = p;
    }
    let (status, with_check) = admin
        .send("POST", &format!("/api/v1/plans/{id}/stages/{}/checklist", plan["stages"][0]["id"]), json!({"version": last["version"], "text": "Error rate under 1%"}))
        .await;
    assert_eq!(status, 201, "{with_check}");
    let item = with_check["stages"][0]["checklist"][0]["id"].as_i64().unwrap();
    last = with_check;
    let guard_body = json!({"version": last["version"], "metric": format!("fixture_{id}"), "comparison": ">", "threshold": 0,
                            "min_samples": 1, "action": "notify"});
    let (status, with_guard) = admin.send("POST", &format!("/api/v1/plans/{id}/stages/{}/guards", plan["stages"][0]["id"]), guard_body).await;
    assert_eq!(status, 201, "{with_guard}");
    let guard = with_guard["stages"][0]["guards"][0]["id"].as_i64().unwrap();
    last = with_guard;
    if stage >= Stage::InReview {
        let (status, p) = admin.send("POST", &format!("/api/v1/plans/{id}/review"), json!({"version": last["version"]})).await;
        assert_eq!(status, 200, "{p}");
        last = p;
    }
    if stage >= Stage::Approved {
        let stakeholder = admin.signed_in("stakeholder").await;
        let body = json!({"version": last["version"], "decision": "approved"});
        let (status, p) = stakeholder.send("POST", &format!("/api/v1/plans/{id}/signoffs"), body).await;
        assert_eq!((status, p["status"].as_str()), (200, Some("approved")), "{p}");
        last = p;
    }
    let first = plan["stages"][0]["id"].as_i64().unwrap();
    if stage >= Stage::Approved {
        let result = format!("/api/v1/plans/{id}/stages/{first}/checklist/{item}/result");
        let (status, p) = admin.send("PUT", &result, json!({"status": "pass"})).await;
        assert_eq!(status, 200, "{p}");
        last = p;
    }
    let (mut gate, mut rollback) = (0, 0);
    if stage >= Stage::Awaiting {
        let (status, p) = admin.send("POST", &format!("/api/v1/plans/{id}/stages/{first}/gate"), json!({"version": last["version"]})).await;
        assert_eq!(status, 200, "{p}");
        gate = p["stages"][0]["gates"][0]["id"].as_i64().unwrap();
        last = p;
    }
    if stage >= Stage::Running {
        let authority = admin.signed_in("authority").await;
        let (status, p) = authority.send("POST", &format!("/api/v1/plans/{id}/gates/{gate}/votes"), json!({"vote": "go"})).await;
        assert_eq!((status, p["stages"][0]["status"].as_str()), (200, Some("active")), "{p}");
        last = p;
    }
    if stage >= Stage::RollbackRequested {
        let (status, p) = admin.send("POST", &format!("/api/v1/plans/{id}/stages/{first}/rollback"), json!({"reason": "errors"})).await;
        assert_eq!(status, 200, "{p}");
        rollback = p["stages"][0]["rollbacks"][0]["id"].as_i64().unwrap();
        last = p;
    }
    let mut breach = 0;
    if with_breach {
        let service = admin.with_token(&["metrics:write"]).await;
        let (status, report) = service.send("POST", "/api/v1/metrics", json!([{"metric": format!("fixture_{id}"), "value": 1}])).await;
        assert_eq!((status, report["breaches"].as_array().map(Vec::len)), (200, Some(1)), "{report}");
        breach = report["breaches"][0]["breach_id"].as_i64().unwrap();
    }
    let mut run = 0;
    if with_run {
        let (status, p) = admin.send("POST", &format!("/api/v1/plans/{id}/stages/{first}/runs"), json!({"kind": "forward"})).await;
        assert_eq!(status, 201, "{p}");
        run = p["stages"][0]["runs"][0]["id"].as_i64().unwrap();
    }
    let (_, token) = admin.send("POST", "/api/v1/tokens", json!({"name": "doomed", "scopes": ["plans:read"]})).await;
    // Subscribed to an event none of these requests causes, so nothing is sent to it.
    let (status, webhook) = admin.send("POST", "/api/v1/webhooks", json!({"url": "http://127.0.0.1:9/fixture", "events": ["rollback.done"]})).await;
    assert_eq!(status, 201, "{webhook}");
    let flag = format!("flag-{id}");
    let (status, body) = admin.send("POST", "/api/v1/flags", json!({"key": flag})).await;
    assert_eq!(status, 201, "{body}");
    let segment = format!("segment-{id}");
    let in_eu = json!([{"contextName": "region", "operator": "IN", "values": ["eu"]}]);
    let (status, body) = admin.send("POST", "/api/v1/segments", json!({"name": segment, "conditions": in_eu})).await;
    assert_eq!(status, 201, "{body}");
    let workspace = format!("ws-{id}");
    let (status, body) = admin.send("POST", "/api/v1/workspaces", json!({"id": workspace, "name": "W", "members": ["member", "target"]})).await;
    assert_eq!(status, 201, "{body}");
    let import = if with_import {
        let (status, body) = admin.send_raw("POST", "/api/v1/workspaces/imports", "text/csv", "id,name,agent_provider\n").await;
        assert_eq!(status, 202, "{body}");
        body["id"].as_i64().unwrap()
    } else {
        0
    };
    Fixture {
        workspace,
        import,
        run,
        guard,
        breach,
        plan: id,
        version: last["version"].as_i64().unwrap(),
        stages: plan["stages"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect(),
        risk: plan["risks"][0]["id"].as_i64().unwrap(),
        role: last["roles"].as_array().unwrap().iter().find(|r| r["role"] == "on_call").unwrap()["id"].as_i64().unwrap(),
        token: token["token"]["id"].as_i64().unwrap(),
        webhook: webhook["webhook"]["id"].as_i64().unwrap(),
        flag,
        segment,
        item,
        gate,
        rollback,
    }
}

fn fill(template: &str, f: &Fixture) -> String {
    template
        .replace("{id}", &f.plan.to_string())
        .replace("{stage_id}", &f.stages[0].to_string())
        .replace("{risk_id}", &f.risk.to_string())
        .replace("{role_id}", &f.role.to_string())
        .replace("{token_id}", &f.token.to_string())
        .replace("{webhook_id}", &f.webhook.to_string())
        .replace("{username}", "target")
        .replace("{key}", &f.flag)
        .replace("{name}", &f.segment)
        .replace("{item_id}", &f.item.to_string())
        .replace("{gate_id}", &f.gate.to_string())
        .replace("{rollback_id}", &f.rollback.to_string())
        .replace("{env}", "production")
        .replace("{workspace_id}", &f.workspace)
        .replace("{import_id}", &f.import.to_string())
        .replace("{run_id}", &f.run.to_string())
        .replace("{guard_id}", &f.guard.to_string())
        .replace("{breach_id}", &f.breach.to_string())
        .replace("{position}", "0")
        .replace("{kind}", "forward")
}

/// A valid body for each writing endpoint, so only permission decides the answer.
fn body(method: &str, path: &str, f: &Fixture, n: usize) -> Option<Value> {
    let v = f.version;
    Some(match (method, path) {
        ("POST", "/session") => json!({"username": "member", "password": support::PASSWORD}),
        ("POST", "/users") => json!({"username": format!("new{n}"), "password": "long enough password"}),
        ("PUT", "/users/{username}/password") => json!({"password": "another long password"}),
        ("POST", "/tokens") => json!({"name": format!("t{n}"), "scopes": ["flags:read"], "environment": "staging"}),
        ("POST", "/webhooks") => json!({"url": format!("http://127.0.0.1:9/hook{n}"), "events": ["rollback.done"]}),
        ("POST", "/plans") => json!({"title": "New"}),
        ("PATCH", "/plans/{id}") => json!({"version": v, "title": "Renamed"}),
        ("POST", "/plans/{id}/stages") => json!({"version": v, "name": "three"}),
        ("PUT", "/plans/{id}/stages/order") => json!({"version": v, "stage_ids": [f.stages[1], f.stages[0]]}),
        ("PATCH", "/plans/{id}/stages/{stage_id}") => json!({"version": v, "goal": "g"}),
        ("POST", "/plans/{id}/risks") => json!({"version": v, "risk": "r2", "likelihood": "low", "impact": "low"}),
        ("PATCH", "/plans/{id}/risks/{risk_id}") => json!({"version": v, "impact": "high"}),
        // "target", so that no caller gains a role from this row.
        ("POST", "/plans/{id}/roles") => json!({"username": "target", "role": "on_call"}),
        ("POST", "/plans/{id}/review") => json!({"version": v}),
        ("POST", "/plans/{id}/signoffs") => json!({"version": v, "decision": "approved"}),
        ("POST", "/plans/{id}/comments") => json!({"body": "Looks right"}),
        ("POST", "/flags") => json!({"key": format!("new.flag_{n}")}),
        ("PATCH", "/flags/{key}") => json!({"version": 1, "description": "d"}),
        ("PUT", "/flags/{key}/environments/{env}") => json!({"version": 1, "enabled": true, "percentage": 10}),
        ("POST", "/environments") => json!({"name": format!("env-{n}")}),
        ("POST", "/segments") => json!({"name": format!("segment.new-{n}"), "conditions": [{"contextName": "plan", "operator": "IN", "values": ["team"]}]}),
        ("PUT", "/segments/{name}") => json!({"version": 1, "conditions": [{"contextName": "plan", "operator": "IN", "values": ["team"]}]}),
        ("PUT", "/plans/{id}/stages/{stage_id}/flags") => {
            json!({"version": v, "changes": [{"flag": f.flag, "environment": "production", "enabled": true, "percentage": 5}]})
        }
        ("POST", "/plans/{id}/stages/{stage_id}/gate") => json!({"version": v}),
        ("POST", "/plans/{id}/stages/{stage_id}/abort") => json!({"version": v, "reason": "not today"}),
        ("POST", "/plans/{id}/gates/{gate_id}/votes") => json!({"vote": "go"}),
        ("POST", "/plans/{id}/rollbacks/{rollback_id}/decision") => json!({"decision": "approve"}),
        ("POST", "/plans/{id}/stages/{stage_id}/pass") => json!({"version": v}),
        ("POST", "/plans/{id}/stages/{stage_id}/checklist") => json!({"version": v, "text": "Backups verified"}),
        ("POST", "/plans/{id}/stages/{stage_id}/checklist/copy") => json!({"version": v, "from_stage_id": f.stages[1]}),
        ("PUT", "/plans/{id}/stages/{stage_id}/checklist/{item_id}/result") => json!({"status": "pass", "comment": "ok"}),
        ("POST", "/plans/{id}/stages/{stage_id}/rollback") => json!({"reason": "error rate up"}),
        ("POST", "/workspaces") => json!({"id": format!("new-ws-{n}"), "name": "New"}),
        ("PATCH", "/workspaces/{workspace_id}") => json!({"name": "Renamed"}),
        ("PUT", "/workspaces/{workspace_id}/provider") => json!({"provider": "claude"}),
        ("PUT", "/workspaces/{workspace_id}/api-key") => json!({"api_key": "sk-test-0123456789abcdefghij"}),
        ("POST", "/workspaces/{workspace_id}/sessions") => json!({"session_id": format!("s-{n}")}),
        ("POST", "/providers") => json!({"id": format!("p{n}"), "display_name": "P"}),
        ("POST", "/plans/{id}/stages/{stage_id}/runs") => json!({"kind": "forward"}),
        ("PUT", "/plans/{id}/runs/{run_id}/steps/{position}") => json!({"status": "done"}),
        ("POST", "/plans/{id}/runs/{run_id}/notes") => json!({"text": "on track"}),
        ("POST", "/plans/{id}/stages/{stage_id}/guards") | ("PUT", "/plans/{id}/stages/{stage_id}/guards/{guard_id}") => {
            json!({"version": v, "metric": "error_rate", "comparison": ">", "threshold": 5, "action": "notify"})
        }
        ("POST", "/plans/{id}/breaches/{breach_id}/resolve") => json!({"note": "looked into it"}),
        ("POST", "/metrics") => json!([{"metric": "error_rate", "value": 0.5}]),
        _ => return None,
    })
}

fn query(method: &str, path: &str, f: &Fixture) -> String {
    match (method, path) {
        ("DELETE", "/plans/{id}") | ("DELETE", "/plans/{id}/stages/{stage_id}") | ("DELETE", "/plans/{id}/risks/{risk_id}") => {
            format!("?version={}", f.version)
        }
        ("DELETE", "/flags/{key}") => "?version=1".to_string(),
        ("DELETE", "/plans/{id}/stages/{stage_id}/checklist/{item_id}") | ("DELETE", "/plans/{id}/stages/{stage_id}/guards/{guard_id}") => {
            format!("?version={}", f.version)
        }
        _ => String::new(),
    }
}

/// `/_fn/list_plans7839993527097244092` is `list_plans`.
fn fn_name(path: &str) -> &str {
    path.trim_start_matches("/_fn/").trim_end_matches(|c: char| c.is_ascii_digit())
}

fn class(status: StatusCode) -> char {
    match status.as_u16() {
        200..=299 => '2',
        401 => '1',
        403 => '0',
        _ => '?',
    }
}

async fn every_endpoint_and_server_function_answers_each_caller_as_the_table_says(admin: TestApp) {
    // Every endpoint has a row, and every row an endpoint.
    let mut served: Vec<String> = runway::api::endpoints().iter().map(|(m, p)| format!("{m} {p}")).collect();
    let mut rows: Vec<String> = API_TABLE.iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    served.sort();
    rows.sort();
    assert_eq!(rows, served, "the permission table and the API's endpoints differ");
    let mut fns: Vec<String> = leptos::server_fn::axum::server_fn_paths().map(|(p, _)| fn_name(p).to_string()).collect();
    let mut fn_rows: Vec<String> = FN_TABLE.iter().map(|(name, _, _)| name.to_string()).collect();
    fns.sort();
    fn_rows.sort();
    assert_eq!(fn_rows, fns, "the server function table and the registered server functions differ");

    for name in ["lead", "on_call", "authority", "stakeholder", "member", "target"] {
        admin.add_person(name, false).await;
    }
    let mut callers = vec![];
    for name in CALLERS {
        callers.push(match name {
            // Its own session: signing it out must not end the one that builds fixtures.
            "admin" => admin.signed_in("admin").await,
            "read_token" => admin.with_token(&["plans:read"]).await,
            "write_token" => admin.with_token(&["plans:write"]).await,
            "nobody" => admin.anonymous(),
            person => admin.signed_in(person).await,
        });
    }

    let mut wrong = vec![];
    let mut n = 0;
    // Server functions first: the API table ends by signing the callers out.
    for (name, args, expected) in FN_TABLE {
        for (i, caller) in callers.iter().enumerate() {
            let f = fixture(&admin, Stage::Draft, needs_import(name)).await;
            let path = leptos::server_fn::axum::server_fn_paths()
                .map(|(p, _)| p)
                .find(|p| fn_name(p) == *name)
                .unwrap();
            let r = caller
                .request("POST", path)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(fill(args, &f))
                .send()
                .await
                .unwrap();
            let got = class(r.status());
            let want = expected.as_bytes()[i] as char;
            if got != want {
                let status = r.status();
                wrong.push(format!("server fn {name} as {}: expected {want}, got {status} {}", CALLERS[i], r.text().await.unwrap_or_default()));
            }
        }
    }
    for (method, path, expected) in API_TABLE {
        for (i, caller) in callers.iter().enumerate() {
            n += 1;
            let f = fixture_full(&admin, stage_for(path), needs_import(path), path.contains("{run_id}"), path.contains("{breach_id}")).await;
            let url = format!("/api/v1{}{}", fill(path, &f), query(method, path, &f));
            let mut req = caller.request(method, &url);
            if let Some(b) = body(method, path, &f, n) {
                req = req.json(&b);
            }
            if (*method, *path) == ("POST", "/plans/import") {
                req = req.header("content-type", "text/markdown").body(format!("# Imported {n}\n\n## Phase 1: go\n"));
            }
            if (*method, *path) == ("POST", "/workspaces/imports") {
                req = req.header("content-type", "text/csv").body(format!("id,name,agent_provider\nimp-{n},I,claude\n"));
            }
            let r = req.send().await.unwrap();
            let got = class(r.status());
            let want = expected.as_bytes()[i] as char;
            if got != want {
                let status = r.status();
                let text = if *path == "/events" { String::new() } else { r.text().await.unwrap_or_default() };
                wrong.push(format!("{method} {path} as {}: expected {want}, got {status} {text}", CALLERS[i]));
            }
        }
    }
    assert!(wrong.is_empty(), "{} answers differ from the table:\n{}", wrong.len(), wrong.join("\n"));
    // Bearer tokens never need the CSRF token; the cookie callers sent it.
    assert!(matches!(callers[6].auth, Auth::Bearer(_)));
}

/// `9` is 409 (the answer for an archived plan).
fn class_archived(status: StatusCode) -> char {
    if status.as_u16() == 409 { '9' } else { class(status) }
}

async fn on_an_archived_plan_every_change_is_refused_and_nobody_grants_themselves_a_role(admin: TestApp) {
    for name in ["lead", "on_call", "authority", "stakeholder", "member", "target"] {
        admin.add_person(name, false).await;
    }
    let mut callers = vec![];
    for name in CALLERS {
        callers.push(match name {
            "admin" => admin.clone(),
            "read_token" => admin.with_token(&["plans:read"]).await,
            "write_token" => admin.with_token(&["plans:write"]).await,
            "nobody" => admin.anonymous(),
            person => admin.signed_in(person).await,
        });
    }
    let mut wrong = vec![];
    // Every change to a plan: those who may make it get 409 `archived`, the others what
    // the live table says. The refusals change nothing, so one plan serves every caller.
    let changes = API_TABLE.iter().filter(|(m, p, _)| *m != "GET" && p.starts_with("/plans/{id}"));
    for (n, (method, path, expected)) in changes.enumerate() {
        let f = fixture_full(&admin, stage_for(path), false, path.contains("{run_id}"), path.contains("{breach_id}")).await;
        let (_, current) = admin.get(&format!("/api/v1/plans/{}", f.plan)).await;
        let (status, p) = admin.delete(&format!("/api/v1/plans/{}?version={}", f.plan, current["version"])).await;
        assert_eq!(status, 200, "{p}");
        let audit = admin.count("SELECT COUNT(*) FROM audit_log").await;
        for (i, caller) in callers.iter().enumerate() {
            let url = format!("/api/v1{}{}", fill(path, &f), query(method, path, &f));
            let mut req = caller.request(method, &url);
            if let Some(b) = body(method, path, &f, n) {
                req = req.json(&b);
            }
            let r = req.send().await.unwrap();
            let got = class_archived(r.status());
            // Who votes is the open gate's to say; an archived plan has none, so every person hears why.
            let votes = *path == "/plans/{id}/gates/{gate_id}/votes" && i < 6;
            let want = match expected.as_bytes()[i] as char {
                '2' => '9',
                _ if votes => '9',
                other => other,
            };
            if got != want {
                let status = r.status();
                wrong.push(format!("archived: {method} {path} as {}: expected {want}, got {status} {}", CALLERS[i], r.text().await.unwrap_or_default()));
            }
        }
        assert_eq!(admin.count("SELECT COUNT(*) FROM audit_log").await, audit, "{method} {path} on an archived plan wrote to the audit log");
    }
    // Each person names themselves on-call; the token names "target" (a token is nobody).
    let f = fixture(&admin, Stage::Draft, false).await;
    for (i, caller) in callers.iter().enumerate() {
        let username = if i < 6 { CALLERS[i] } else { "target" };
        let r = caller.request("POST", &format!("/api/v1/plans/{}/roles", f.plan)).json(&json!({"username": username, "role": "on_call"})).send().await.unwrap();
        let (got, want) = (class(r.status()), "000000021".as_bytes()[i] as char);
        if got != want {
            let status = r.status();
            wrong.push(format!("self-grant as {}: expected {want}, got {status} {}", CALLERS[i], r.text().await.unwrap_or_default()));
        }
    }
    assert!(wrong.is_empty(), "{} answers differ from the table:\n{}", wrong.len(), wrong.join("\n"));
}
