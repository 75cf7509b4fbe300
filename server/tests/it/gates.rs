//! Go/no-go gates and rollback requests: who may ask, who may decide, what each
//! decision does, and that every stage action from every stage state is allowed or
//! refused as the lifecycle says.
use crate::support;

use serde_json::{json, Value};
use support::{error_of, TestApp};

on_both_databases!(
    every_stage_action_from_every_stage_state_is_allowed_or_refused_as_the_lifecycle_says,
    a_stage_gate_opens_only_after_the_previous_stage_passed,
    a_stage_passes_only_after_its_minimum_soak_and_the_last_one_completes_the_plan,
    a_gate_is_refused_to_voters_without_the_role_to_the_requester_and_to_a_second_vote,
    a_gate_cannot_be_asked_for_or_approved_while_a_required_check_is_not_at_pass,
    a_gate_needing_two_approvals_waits_for_the_second_and_one_no_go_rejects_it,
    two_authorities_deciding_the_same_gate_at_once_leave_exactly_one_decision,
    a_rollback_is_asked_for_by_on_call_and_decided_only_by_another_rollback_authority,
    two_authorities_deciding_the_same_rollback_at_once_leave_exactly_one_decision,
    the_inbox_lists_what_waits_for_each_person_oldest_first,
    the_rollback_target_is_editable_per_plan_and_kept_with_each_rollback,
);

/// The people every test here uses, created once (passwords are slow to hash).
struct Crew {
    lead: TestApp,
    oncall: TestApp,
    authority: TestApp,
    authority2: TestApp,
    stakeholder: TestApp,
    member: TestApp,
}

async fn crew(app: &TestApp) -> Crew {
    for name in ["lee", "oli", "ari", "bea", "sam", "mo"] {
        app.add_person(name, false).await;
    }
    Crew {
        lead: app.signed_in("lee").await,
        oncall: app.signed_in("oli").await,
        authority: app.signed_in("ari").await,
        authority2: app.signed_in("bea").await,
        stakeholder: app.signed_in("sam").await,
        member: app.signed_in("mo").await,
    }
}

/// An approved plan led by lee with `stages`, oli on call, ari and bea rollback
/// authorities, sam its stakeholder. Returns the plan.
async fn approved(app: &TestApp, c: &Crew, stages: Value) -> Value {
    let plan = app.plan(json!({"title": "Provider rollout", "stages": stages})).await;
    let id = plan["id"].as_i64().unwrap();
    for (who, role) in [("lee", "migration_lead"), ("oli", "on_call"), ("ari", "rollback_authority"), ("bea", "rollback_authority"), ("sam", "stakeholder")] {
        let (status, body) = app.send("POST", &format!("/api/v1/plans/{id}/roles"), json!({"username": who, "role": role})).await;
        assert_eq!(status, 201, "{body}");
    }
    let p = get(app, id).await;
    let (status, p) = c.lead.send("POST", &format!("/api/v1/plans/{id}/review"), json!({"version": p["version"]})).await;
    assert_eq!(status, 200, "{p}");
    let (_, p) = c.stakeholder.send("POST", &format!("/api/v1/plans/{id}/signoffs"), json!({"version": p["version"], "decision": "approved"})).await;
    assert_eq!(p["status"], "approved", "{p}");
    p
}

async fn get(app: &TestApp, id: i64) -> Value {
    let (status, p) = app.get(&format!("/api/v1/plans/{id}")).await;
    assert_eq!(status, 200, "{p}");
    p
}

fn stage_id(plan: &Value, i: usize) -> i64 {
    plan["stages"][i]["id"].as_i64().unwrap()
}

/// The latest gate or rollback of a stage (0 when there is none: the request gets 404).
fn latest(plan: &Value, stage: i64, list: &str) -> i64 {
    let s = plan["stages"].as_array().unwrap().iter().find(|s| s["id"] == stage).unwrap();
    s[list].as_array().unwrap().last().map(|g| g["id"].as_i64().unwrap()).unwrap_or(0)
}

/// One stage action as a user would take it; returns the status code.
async fn act(app: &TestApp, c: &Crew, id: i64, stage: i64, action: &str) -> u16 {
    let p = get(app, id).await;
    let version = p["version"].clone();
    let base = format!("/api/v1/plans/{id}");
    let (status, body) = match action {
        "gate" => c.lead.send("POST", &format!("{base}/stages/{stage}/gate"), json!({"version": version, "rationale": "checks pass"})).await,
        "go" | "no_go" => {
            let gate = latest(&p, stage, "gates");
            let vote = json!({"vote": action, "rationale": "as the dashboards say"});
            c.authority.send("POST", &format!("{base}/gates/{gate}/votes"), vote).await
        }
        "pass" => c.lead.send("POST", &format!("{base}/stages/{stage}/pass"), json!({"version": version})).await,
        "abort" => c.lead.send("POST", &format!("{base}/stages/{stage}/abort"), json!({"version": version, "reason": "not today"})).await,
        "rollback" => c.oncall.send("POST", &format!("{base}/stages/{stage}/rollback"), json!({"reason": "error rate 6%"})).await,
        "approve" => {
            let rollback = latest(&p, stage, "rollbacks");
            c.authority.send("POST", &format!("{base}/rollbacks/{rollback}/decision"), json!({"decision": "approve"})).await
        }
        other => panic!("no action {other}"),
    };
    if status >= 400 {
        error_of(&body);
    }
    status
}

const ACTIONS: [&str; 7] = ["gate", "go", "no_go", "pass", "abort", "rollback", "approve"];

async fn every_stage_action_from_every_stage_state_is_allowed_or_refused_as_the_lifecycle_says(app: TestApp) {
    let c = crew(&app).await;
    // (steps that bring the first stage to a state, its status, then the answer to each of ACTIONS)
    let table: [(&[&str], &str, [u16; 7]); 8] = [
        (&[], "pending", [200, 404, 404, 409, 200, 409, 404]),
        (&["gate"], "awaiting_decision", [409, 200, 200, 409, 200, 409, 404]),
        (&["gate", "no_go"], "pending", [200, 409, 409, 409, 200, 409, 404]),
        (&["gate", "go"], "active", [409, 409, 409, 200, 409, 200, 404]),
        (&["gate", "go", "rollback"], "active", [409, 409, 409, 409, 409, 409, 200]),
        (&["gate", "go", "pass"], "passed", [409, 409, 409, 409, 409, 200, 404]),
        (&["gate", "go", "rollback", "approve"], "rolled_back", [409, 409, 409, 409, 409, 409, 409]),
        (&["abort"], "aborted", [409, 404, 404, 409, 409, 409, 404]),
    ];
    for (steps, status, expected) in table {
        for (action, want) in ACTIONS.into_iter().zip(expected) {
            let plan = approved(&app, &c, json!([{"name": "One"}, {"name": "Two"}])).await;
            let (id, first) = (plan["id"].as_i64().unwrap(), stage_id(&plan, 0));
            for step in steps {
                assert_eq!(act(&app, &c, id, first, step).await, 200, "getting to {status} with {step}");
            }
            let before = get(&app, id).await;
            assert_eq!(before["stages"][0]["status"], status, "after {steps:?}");
            let got = act(&app, &c, id, first, action).await;
            assert_eq!(got, want, "{action} after {steps:?}");
            if got != 200 {
                assert_eq!(get(&app, id).await, before, "a refused {action} after {steps:?} changes nothing");
            }
        }
    }
    // Statuses are never set by hand.
    let plan = approved(&app, &c, json!([{"name": "One"}])).await;
    let id = plan["id"].as_i64().unwrap();
    let body = json!({"version": plan["version"], "status": "passed"});
    let (status, body) = app.send("PATCH", &format!("/api/v1/plans/{id}/stages/{}", stage_id(&plan, 0)), body).await;
    assert_eq!((status, error_of(&body).1), (422, Some("status")));
    let (status, body) = app.send("PATCH", &format!("/api/v1/plans/{id}"), json!({"version": plan["version"], "status": "completed"})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("status")));
}

async fn a_stage_gate_opens_only_after_the_previous_stage_passed(app: TestApp) {
    let c = crew(&app).await;
    for (steps, want) in [(&[][..], 409), (&["gate"][..], 409), (&["gate", "go"][..], 409), (&["gate", "go", "pass"][..], 200)] {
        let plan = approved(&app, &c, json!([{"name": "One"}, {"name": "Two"}])).await;
        let id = plan["id"].as_i64().unwrap();
        for step in steps {
            assert_eq!(act(&app, &c, id, stage_id(&plan, 0), step).await, 200);
        }
        assert_eq!(act(&app, &c, id, stage_id(&plan, 1), "gate").await, want, "second stage's gate after {steps:?}");
    }
}

async fn a_stage_passes_only_after_its_minimum_soak_and_the_last_one_completes_the_plan(app: TestApp) {
    let c = crew(&app).await;
    let plan = approved(&app, &c, json!([{"name": "One", "min_soak_minutes": 30}, {"name": "Two"}])).await;
    let (id, first) = (plan["id"].as_i64().unwrap(), stage_id(&plan, 0));
    for step in ["gate", "go"] {
        assert_eq!(act(&app, &c, id, first, step).await, 200);
    }
    let p = get(&app, id).await;
    let (status, refused) = c.lead.send("POST", &format!("/api/v1/plans/{id}/stages/{first}/pass"), json!({"version": p["version"]})).await;
    assert_eq!((status, error_of(&refused).0), (409, "soaking"));
    assert!(refused["error"]["message"].as_str().unwrap().contains("30 more minute"), "{refused}");
    let second = stage_id(&plan, 1);
    assert_eq!(act(&app, &c, id, second, "gate").await, 409, "the next gate stays shut while the stage soaks");

    let plan = approved(&app, &c, json!([{"name": "One"}, {"name": "Two"}])).await;
    let id = plan["id"].as_i64().unwrap();
    for (i, step) in [(0, "gate"), (0, "go"), (0, "pass"), (1, "gate"), (1, "go"), (1, "pass")] {
        assert_eq!(act(&app, &c, id, stage_id(&plan, i), step).await, 200, "{step} on stage {i}");
    }
    let p = get(&app, id).await;
    assert_eq!(p["status"], "completed");
    assert!(p["stages"][1]["passed_at"].is_string() && p["stages"][1]["started_at"].is_string());
}

async fn a_gate_is_refused_to_voters_without_the_role_to_the_requester_and_to_a_second_vote(app: TestApp) {
    let c = crew(&app).await;
    let plan = approved(&app, &c, json!([{"name": "One", "gate_approvals": 2}])).await;
    let (id, stage) = (plan["id"].as_i64().unwrap(), stage_id(&plan, 0));
    let (status, body) = c.oncall.send("POST", &format!("/api/v1/plans/{id}/stages/{stage}/gate"), json!({"version": plan["version"]})).await;
    assert_eq!(status, 403, "on-call may not ask for go: {body}");
    assert_eq!(act(&app, &c, id, stage, "gate").await, 200);
    let p = get(&app, id).await;
    let votes = format!("/api/v1/plans/{id}/gates/{}/votes", latest(&p, stage, "gates"));
    let go = json!({"vote": "go"});
    for (who, code) in [(&c.stakeholder, "forbidden"), (&c.oncall, "forbidden"), (&c.member, "forbidden"), (&c.lead, "own_request")] {
        let (status, body) = who.send("POST", &votes, go.clone()).await;
        assert_eq!((status, error_of(&body).0), (403, code), "{body}");
    }
    let (status, body) = c.authority.send("POST", &votes, json!({"vote": "no_go", "rationale": ""})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("rationale")), "a no-go says why");
    let (status, body) = c.authority.send("POST", &votes, json!({"vote": "maybe"})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("vote")));
    assert_eq!(get(&app, id).await, p, "refused votes change nothing");

    assert_eq!(c.authority.send("POST", &votes, go.clone()).await.0, 200);
    let (status, body) = c.authority.send("POST", &votes, go.clone()).await;
    assert_eq!((status, error_of(&body).0), (409, "already_voted"));
    assert_eq!(app.count("SELECT COUNT(*) FROM gate_votes").await, 1);
    let anonymous = app.anonymous().send("POST", &votes, go).await;
    assert_eq!(anonymous.0, 401);
}

async fn a_gate_cannot_be_asked_for_or_approved_while_a_required_check_is_not_at_pass(app: TestApp) {
    let c = crew(&app).await;
    let plan = approved(&app, &c, json!([{"name": "One"}])).await;
    let (id, stage) = (plan["id"].as_i64().unwrap(), stage_id(&plan, 0));
    // Adding checks sends the plan back to review; sign it off again.
    let items = format!("/api/v1/plans/{id}/stages/{stage}/checklist");
    let (_, p) = c.lead.send("POST", &items, json!({"version": plan["version"], "text": "Backups restored", "required": true})).await;
    let (_, p) = c.lead.send("POST", &items, json!({"version": p["version"], "text": "Nice to have", "required": false})).await;
    assert_eq!(p["status"], "in_review", "{p}");
    let (_, p) = c.stakeholder.send("POST", &format!("/api/v1/plans/{id}/signoffs"), json!({"version": p["version"], "decision": "approved"})).await;
    assert_eq!(p["status"], "approved", "{p}");
    let required = p["stages"][0]["checklist"][0]["id"].as_i64().unwrap();

    let (status, body) = c.lead.send("POST", &format!("/api/v1/plans/{id}/stages/{stage}/gate"), json!({"version": p["version"]})).await;
    assert_eq!((status, error_of(&body).0, error_of(&body).1), (422, "checklist_incomplete", Some("checklist")));
    assert!(body["error"]["message"].as_str().unwrap().contains("Backups restored"), "{body}");

    let result = format!("{items}/{required}/result");
    assert_eq!(c.oncall.send("PUT", &result, json!({"status": "pass"})).await.0, 200);
    assert_eq!(act(&app, &c, id, stage, "gate").await, 200, "optional items need not pass");
    // The check fails again while the gate waits: "go" is refused, "no-go" is not.
    assert_eq!(c.oncall.send("PUT", &result, json!({"status": "fail", "comment": "restore broke"})).await.0, 200);
    let p = get(&app, id).await;
    let votes = format!("/api/v1/plans/{id}/gates/{}/votes", latest(&p, stage, "gates"));
    let (status, body) = c.authority.send("POST", &votes, json!({"vote": "go"})).await;
    assert_eq!((status, error_of(&body).0), (422, "checklist_incomplete"));
    assert_eq!(get(&app, id).await["stages"][0]["status"], "awaiting_decision");
    assert_eq!(c.authority.send("POST", &votes, json!({"vote": "no_go", "rationale": "restore broke"})).await.0, 200);
}

async fn a_gate_needing_two_approvals_waits_for_the_second_and_one_no_go_rejects_it(app: TestApp) {
    let c = crew(&app).await;
    let plan = approved(&app, &c, json!([{"name": "One", "gate_approvals": 2, "gate_roles": ["rollback_authority", "on_call"]}])).await;
    let (id, stage) = (plan["id"].as_i64().unwrap(), stage_id(&plan, 0));
    assert_eq!(act(&app, &c, id, stage, "gate").await, 200);
    let votes = format!("/api/v1/plans/{id}/gates/{}/votes", latest(&get(&app, id).await, stage, "gates"));
    let (_, p) = c.authority.send("POST", &votes, json!({"vote": "go", "rationale": "error budget fine"})).await;
    assert_eq!((p["stages"][0]["status"].as_str(), p["stages"][0]["gates"][0]["status"].as_str()), (Some("awaiting_decision"), Some("pending")));
    let (_, p) = c.oncall.send("POST", &votes, json!({"vote": "go", "rationale": "pager quiet"})).await;
    assert_eq!((p["stages"][0]["status"].as_str(), p["stages"][0]["gates"][0]["status"].as_str()), (Some("active"), Some("go")));
    let gate = &p["stages"][0]["gates"][0];
    let kept: Vec<(&str, &str, &str)> = gate["votes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["username"].as_str().unwrap(), v["role"].as_str().unwrap(), v["rationale"].as_str().unwrap()))
        .collect();
    assert_eq!(kept, [("ari", "rollback_authority", "error budget fine"), ("oli", "on_call", "pager quiet")]);
    assert_eq!(gate["decision_rationale"], "pager quiet");

    let plan = approved(&app, &c, json!([{"name": "One", "gate_approvals": 2}])).await;
    let (id, stage) = (plan["id"].as_i64().unwrap(), stage_id(&plan, 0));
    assert_eq!(act(&app, &c, id, stage, "gate").await, 200);
    let votes = format!("/api/v1/plans/{id}/gates/{}/votes", latest(&get(&app, id).await, stage, "gates"));
    c.authority.send("POST", &votes, json!({"vote": "go"})).await;
    let (_, p) = c.authority2.send("POST", &votes, json!({"vote": "no_go", "rationale": "p95 doubled in canary"})).await;
    let gate = &p["stages"][0]["gates"][0];
    assert_eq!((gate["status"].as_str(), gate["decision_rationale"].as_str()), (Some("no_go"), Some("p95 doubled in canary")));
    assert_eq!(p["stages"][0]["status"], "pending", "after a no-go the lead may fix things and ask again");
}

async fn two_authorities_deciding_the_same_gate_at_once_leave_exactly_one_decision(app: TestApp) {
    let c = crew(&app).await;
    for round in 0..4 {
        let plan = approved(&app, &c, json!([{"name": "One"}])).await;
        let (id, stage) = (plan["id"].as_i64().unwrap(), stage_id(&plan, 0));
        assert_eq!(act(&app, &c, id, stage, "gate").await, 200);
        let votes = format!("/api/v1/plans/{id}/gates/{}/votes", latest(&get(&app, id).await, stage, "gates"));
        // Both say go in even rounds; one says no-go in odd rounds.
        let second = if round % 2 == 0 { json!({"vote": "go"}) } else { json!({"vote": "no_go", "rationale": "wait"}) };
        let (a, b) = tokio::join!(c.authority.send("POST", &votes, json!({"vote": "go"})), c.authority2.send("POST", &votes, second));
        let mut codes = [a.0, b.0];
        codes.sort();
        assert_eq!(codes, [200, 409], "round {round}: {a:?} {b:?}");
        let loser = if a.0 == 409 { &a.1 } else { &b.1 };
        assert_eq!(error_of(loser).0, "gate_decided");
        let p = get(&app, id).await;
        let gate = &p["stages"][0]["gates"][0];
        assert_eq!(gate["votes"].as_array().unwrap().len(), 1, "round {round}: one vote decided, the other was refused");
        let decided = gate["status"].as_str().unwrap();
        let stage_status = p["stages"][0]["status"].as_str().unwrap();
        assert!(matches!((decided, stage_status), ("go", "active") | ("no_go", "pending")), "round {round}: {decided} {stage_status}");
        let decisions = app.count(&format!("SELECT COUNT(*) FROM audit_log WHERE action = 'gate.vote' AND plan_id = {id}")).await;
        assert_eq!(decisions, 1);
    }
}

async fn a_rollback_is_asked_for_by_on_call_and_decided_only_by_another_rollback_authority(app: TestApp) {
    let c = crew(&app).await;
    let plan = approved(&app, &c, json!([{"name": "One"}, {"name": "Two"}])).await;
    let (id, first, second) = (plan["id"].as_i64().unwrap(), stage_id(&plan, 0), stage_id(&plan, 1));
    let rollback = |stage: i64| format!("/api/v1/plans/{id}/stages/{stage}/rollback");
    let (status, body) = c.oncall.send("POST", &rollback(first), json!({"reason": "errors"})).await;
    assert_eq!((status, error_of(&body).0), (409, "stage_not_started"), "a stage that never ran does not roll back");
    for step in ["gate", "go"] {
        assert_eq!(act(&app, &c, id, first, step).await, 200);
    }
    for who in [&c.stakeholder, &c.member, &c.authority] {
        let (status, _) = who.send("POST", &rollback(first), json!({"reason": "errors"})).await;
        assert_eq!(status, 403);
    }
    let (status, body) = c.oncall.send("POST", &rollback(second), json!({"reason": "errors"})).await;
    assert_eq!((status, error_of(&body).0), (409, "stage_not_started"));
    let (status, p) = c.authority.send("POST", &rollback(first), json!({"reason": "x"})).await;
    assert_eq!(status, 403, "{p}");
    let (status, p) = c.oncall.send("POST", &rollback(first), json!({"reason": "error rate 6% > 5%"})).await;
    assert_eq!(status, 200, "{p}");
    let (status, body) = c.lead.send("POST", &rollback(first), json!({"reason": "again"})).await;
    assert_eq!((status, error_of(&body).0), (409, "rollback_pending"));

    let decision = format!("/api/v1/plans/{id}/rollbacks/{}/decision", latest(&p, first, "rollbacks"));
    for who in [&c.oncall, &c.lead, &c.stakeholder, &app] {
        let (status, _) = who.send("POST", &decision, json!({"decision": "approve"})).await;
        assert_eq!(status, 403, "only rollback authorities decide");
    }
    let (status, body) = c.authority.send("POST", &decision, json!({"decision": "reject"})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("comment")), "a rejection says why");
    assert_eq!(get(&app, id).await["stages"][0]["status"], "active");
    let (status, p) = c.authority.send("POST", &decision, json!({"decision": "reject", "comment": "a blip; errors back under 1%"})).await;
    assert_eq!(status, 200);
    let r = &p["stages"][0]["rollbacks"][0];
    assert_eq!((r["status"].as_str(), r["decision_comment"].as_str()), (Some("rejected"), Some("a blip; errors back under 1%")));
    assert_eq!(p["stages"][0]["status"], "active", "a rejected rollback leaves the stage running");
    let (status, body) = c.authority2.send("POST", &decision, json!({"decision": "approve"})).await;
    assert_eq!((status, error_of(&body).0), (409, "rollback_decided"));

    // The lead passes it; then the last passed stage may still be rolled back, by an authority
    // who did not ask for it.
    assert_eq!(act(&app, &c, id, first, "pass").await, 200);
    let (status, p) = c.lead.send("POST", &rollback(first), json!({"reason": "data drift found"})).await;
    assert_eq!(status, 200, "{p}");
    let decision = format!("/api/v1/plans/{id}/rollbacks/{}/decision", latest(&p, first, "rollbacks"));
    let (status, p) = c.authority2.send("POST", &decision, json!({"decision": "approve", "comment": "agreed"})).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!((p["status"].as_str(), p["stages"][0]["status"].as_str()), (Some("rolled_back"), Some("rolled_back")));
}

async fn two_authorities_deciding_the_same_rollback_at_once_leave_exactly_one_decision(app: TestApp) {
    let c = crew(&app).await;
    for round in 0..3 {
        let plan = approved(&app, &c, json!([{"name": "One"}])).await;
        let (id, stage) = (plan["id"].as_i64().unwrap(), stage_id(&plan, 0));
        for step in ["gate", "go", "rollback"] {
            assert_eq!(act(&app, &c, id, stage, step).await, 200);
        }
        let decision = format!("/api/v1/plans/{id}/rollbacks/{}/decision", latest(&get(&app, id).await, stage, "rollbacks"));
        let (a, b) = tokio::join!(
            c.authority.send("POST", &decision, json!({"decision": "approve"})),
            c.authority2.send("POST", &decision, json!({"decision": "reject", "comment": "no"}))
        );
        let mut codes = [a.0, b.0];
        codes.sort();
        assert_eq!(codes, [200, 409], "round {round}: {a:?} {b:?}");
        let p = get(&app, id).await;
        let r = &p["stages"][0]["rollbacks"][0];
        let decided = if a.0 == 200 { "approved" } else { "rejected" };
        assert_eq!(r["status"], decided, "round {round}");
        let stage_status = if decided == "approved" { "rolled_back" } else { "active" };
        assert_eq!(p["stages"][0]["status"], stage_status);
    }
}

async fn the_inbox_lists_what_waits_for_each_person_oldest_first(app: TestApp) {
    let c = crew(&app).await;
    let kinds = |items: &Value| -> Vec<(String, String)> {
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["kind"].as_str().unwrap().to_string(), i["stage_name"].as_str().unwrap_or("").to_string()))
            .collect()
    };
    // A plan in review waits for its stakeholder.
    let review = app.plan(json!({"title": "In review", "stages": [{"name": "R"}]})).await;
    let rid = review["id"].as_i64().unwrap();
    app.send("POST", &format!("/api/v1/plans/{rid}/roles"), json!({"username": "sam", "role": "stakeholder"})).await;
    let p = get(&app, rid).await;
    app.send("POST", &format!("/api/v1/plans/{rid}/review"), json!({"version": p["version"]})).await;
    let (status, items) = c.stakeholder.get("/api/v1/inbox").await;
    assert_eq!(status, 200);
    assert_eq!(kinds(&items), [("sign_off".to_string(), String::new())]);

    let plan = approved(&app, &c, json!([{"name": "First"}, {"name": "Second"}])).await;
    let (id, first) = (plan["id"].as_i64().unwrap(), stage_id(&plan, 0));
    assert_eq!(act(&app, &c, id, first, "gate").await, 200);
    let (_, items) = c.authority.get("/api/v1/inbox").await;
    assert_eq!(kinds(&items), [("gate".to_string(), "First".to_string())]);
    assert_eq!(items[0]["requested_by"], "lee");
    let (_, mine) = c.lead.get("/api/v1/inbox").await;
    assert_eq!(kinds(&mine), [], "the requester does not see their own request");
    let (_, none) = c.member.get("/api/v1/inbox").await;
    assert_eq!(kinds(&none), []);
    act(&app, &c, id, first, "go").await;
    act(&app, &c, id, first, "rollback").await;
    let (_, items) = c.authority2.get("/api/v1/inbox").await;
    assert_eq!(kinds(&items), [("rollback".to_string(), "First".to_string())], "ari's vote decided the gate");
    let (_, items) = c.stakeholder.get("/api/v1/inbox").await;
    assert_eq!(kinds(&items).len(), 1, "signed-off plans leave the stakeholder's inbox");
    let token = app.with_token(&["plans:read"]).await;
    assert_eq!(token.get("/api/v1/inbox").await.0, 403, "an inbox belongs to a person");
    assert_eq!(app.anonymous().get("/api/v1/inbox").await.0, 401);
}

async fn the_rollback_target_is_editable_per_plan_and_kept_with_each_rollback(app: TestApp) {
    let c = crew(&app).await;
    let plan = approved(&app, &c, json!([{"name": "One"}])).await;
    let (id, stage) = (plan["id"].as_i64().unwrap(), stage_id(&plan, 0));
    assert_eq!(plan["rollback_target_seconds"], 30, "the default target");
    let (status, body) = c.lead.send("PATCH", &format!("/api/v1/plans/{id}"), json!({"version": plan["version"], "rollback_target_seconds": 0})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("rollback_target_seconds")));
    let (status, p) = c.lead.send("PATCH", &format!("/api/v1/plans/{id}"), json!({"version": plan["version"], "rollback_target_seconds": 5})).await;
    assert_eq!((status, p["rollback_target_seconds"].as_i64()), (200, Some(5)), "{p}");
    // The target is part of what was signed off: the edit sent the plan back to review.
    assert_eq!(p["status"], "in_review", "{p}");
    let (status, p) = c.stakeholder.send("POST", &format!("/api/v1/plans/{id}/signoffs"), json!({"version": p["version"], "decision": "approved"})).await;
    assert_eq!((status, p["status"].as_str()), (200, Some("approved")), "{p}");
    for step in ["gate", "go", "rollback", "approve"] {
        assert_eq!(act(&app, &c, id, stage, step).await, 200, "{step}");
    }
    let r = &get(&app, id).await["stages"][0]["rollbacks"][0];
    assert_eq!(r["target_seconds"], 5);
    assert!(r["duration_ms"].as_i64().is_some_and(|ms| ms >= 0), "{r}");
}
