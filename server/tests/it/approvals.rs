//! Approvals that hold: what runs is what was signed off. Each test is the sequence of
//! requests an insider (a lead or member of the same organisation) would send to get
//! around a rule, on both databases.
use crate::support;

use runway::action::Action;
use serde_json::{json, Value};
use support::{error_of, TestApp};

on_both_databases!(
    changing_a_stage_after_go_was_asked_for_withdraws_the_request_so_no_vote_applies_the_change,
    removing_the_stakeholder_who_asked_for_changes_does_not_approve_the_plan,
    nobody_grants_themselves_a_plan_role_and_a_lead_is_never_a_stakeholder,
    removing_a_roll_back_guard_from_an_approved_plan_voids_its_sign_offs,
    a_running_plan_freezes_its_started_stages_and_a_change_to_the_next_waits_for_a_new_sign_off,
    a_vote_is_refused_when_the_stage_changed_since_go_was_asked_for_or_the_plan_is_not_approved,
    an_archived_plan_refuses_every_change_until_it_is_restored,
    a_sign_off_racing_an_edit_never_leaves_the_edited_plan_approved,
    every_action_voids_sign_offs_exactly_when_it_declares_so,
);

const FLAG: &str = "queue.v2";

/// The people of these tests, signed in; the admin (`app`) creates the plans and so leads them.
struct People {
    lead: TestApp,
    authority: TestApp,
    oncall: TestApp,
    sam: TestApp,
    kim: TestApp,
}

async fn people(app: &TestApp) -> People {
    for who in ["lee", "ari", "olly", "sam", "kim"] {
        app.add_person(who, false).await;
    }
    let (status, f) = app.send("POST", "/api/v1/flags", json!({"key": FLAG})).await;
    assert_eq!(status, 201, "{f}");
    People {
        lead: app.signed_in("lee").await,
        authority: app.signed_in("ari").await,
        oncall: app.signed_in("olly").await,
        sam: app.signed_in("sam").await,
        kim: app.signed_in("kim").await,
    }
}

async fn get(app: &TestApp, id: i64) -> Value {
    let (status, p) = app.get(&format!("/api/v1/plans/{id}")).await;
    assert_eq!(status, 200, "{p}");
    p
}

fn stage_id(plan: &Value, i: usize) -> i64 {
    plan["stages"][i]["id"].as_i64().unwrap()
}

fn version(plan: &Value) -> i64 {
    plan["version"].as_i64().unwrap()
}

async fn give(app: &TestApp, id: i64, username: &str, role: &str) -> Value {
    let (status, p) = app.send("POST", &format!("/api/v1/plans/{id}/roles"), json!({"username": username, "role": role})).await;
    assert_eq!(status, 201, "{username} as {role}: {p}");
    p
}

/// A draft of three stages: the first flips the flag on in production, has a checklist,
/// a pause guard and runbooks. Lee leads it, Ari is rollback authority, Olly on-call, Sam
/// (and Kim, when `two`) stakeholders.
async fn draft(app: &TestApp, two: bool) -> i64 {
    let plan = app
        .plan(json!({"title": "Queue migration", "summary": "To the new queue.", "stages": [
            {"name": "Shadow writes", "forward_runbook": "1. Turn on shadow writes\n2. Watch the dashboards",
             "rollback_runbook": "1. Turn shadow writes off",
             "checklist": [{"text": "Backups verified", "required": false}],
             "flag_changes": [{"flag": FLAG, "environment": "production", "enabled": true, "percentage": 100}]},
            {"name": "Cut over"},
            {"name": "Clean up"}
        ], "risks": [{"risk": "Duplicate messages", "likelihood": "low", "impact": "medium", "mitigation": "Idempotent consumers"}]}))
        .await;
    let id = plan["id"].as_i64().unwrap();
    for (who, role) in [("lee", "migration_lead"), ("ari", "rollback_authority"), ("olly", "on_call"), ("sam", "stakeholder")] {
        give(app, id, who, role).await;
    }
    if two {
        give(app, id, "kim", "stakeholder").await;
    }
    let p = get(app, id).await;
    let body = json!({"version": version(&p), "metric": "errors", "comparison": ">", "threshold": 5, "min_samples": 1, "action": "pause"});
    let (status, p) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{}/guards", stage_id(&p, 0)), body).await;
    assert_eq!(status, 201, "{p}");
    id
}

/// The draft sent for review.
async fn in_review(app: &TestApp, two: bool) -> i64 {
    let id = draft(app, two).await;
    let p = get(app, id).await;
    let (status, p) = app.send("POST", &format!("/api/v1/plans/{id}/review"), json!({"version": version(&p)})).await;
    assert_eq!((status, p["status"].as_str()), (200, Some("in_review")), "{p}");
    id
}

async fn sign(who: &TestApp, id: i64, decision: &str) -> (u16, Value) {
    let p = get(who, id).await;
    let body = json!({"version": version(&p), "decision": decision, "comment": "Read it through."});
    who.send("POST", &format!("/api/v1/plans/{id}/signoffs"), body).await
}

/// Signed off by Sam: approved.
async fn approved(app: &TestApp, people: &People) -> i64 {
    let id = in_review(app, false).await;
    let (status, p) = sign(&people.sam, id, "approved").await;
    assert_eq!((status, p["status"].as_str()), (200, Some("approved")), "{p}");
    id
}

/// Lee asks for go on stage `i`; returns the gate's id.
async fn ask_go(people: &People, id: i64, i: usize) -> i64 {
    let p = get(&people.lead, id).await;
    let (status, p) = people.lead.send("POST", &format!("/api/v1/plans/{id}/stages/{}/gate", stage_id(&p, i)), json!({"version": version(&p)})).await;
    assert_eq!(status, 200, "{p}");
    p["stages"][i]["gates"].as_array().unwrap().last().unwrap()["id"].as_i64().unwrap()
}

/// Approved, and stage 0 active: Lee asked for go, Ari said go.
async fn running(app: &TestApp, people: &People) -> i64 {
    let id = approved(app, people).await;
    let gate = ask_go(people, id, 0).await;
    let (status, p) = people.authority.send("POST", &format!("/api/v1/plans/{id}/gates/{gate}/votes"), json!({"vote": "go"})).await;
    assert_eq!((status, p["stages"][0]["status"].as_str()), (200, Some("active")), "{p}");
    id
}

async fn production_state(app: &TestApp) -> Value {
    let (status, f) = app.get(&format!("/api/v1/flags/{FLAG}")).await;
    assert_eq!(status, 200, "{f}");
    f["environments"].as_array().unwrap().iter().find(|e| e["environment"] == "production").unwrap().clone()
}

async fn audit_count(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM audit_log").await
}

async fn changing_a_stage_after_go_was_asked_for_withdraws_the_request_so_no_vote_applies_the_change(app: TestApp) {
    let people = people(&app).await;
    let id = approved(&app, &people).await;
    let gate = ask_go(&people, id, 0).await;
    // The lead changes what the stage will do once the request is open.
    let p = get(&people.lead, id).await;
    let changes = json!({"version": version(&p), "changes": [{"flag": FLAG, "environment": "production", "enabled": true, "percentage": 5}]});
    let (status, p) = people.lead.send("PUT", &format!("/api/v1/plans/{id}/stages/{}/flags", stage_id(&p, 0)), changes).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["status"], "in_review", "{p}");
    let withdrawn = &p["stages"][0]["gates"][0];
    assert_eq!(withdrawn["status"], "withdrawn", "{p}");
    assert!(withdrawn["decision_rationale"].as_str().unwrap().contains("changed the flags stage “Shadow writes” flips"), "{withdrawn}");
    assert_eq!(p["stages"][0]["status"], "pending");
    // The vote that would have applied the new values finds nothing to decide.
    let flag_before = production_state(&app).await;
    let (status, err) = people.authority.send("POST", &format!("/api/v1/plans/{id}/gates/{gate}/votes"), json!({"vote": "go"})).await;
    assert_eq!((status, error_of(&err).0), (409, "gate_decided"), "{err}");
    assert_eq!(production_state(&app).await, flag_before);
    assert_eq!(production_state(&app).await["enabled"], false);
    // Nor can a new request open before the stakeholders sign the new values off.
    let p = get(&people.lead, id).await;
    let (status, err) = people.lead.send("POST", &format!("/api/v1/plans/{id}/stages/{}/gate", stage_id(&p, 0)), json!({"version": version(&p)})).await;
    assert_eq!((status, error_of(&err).0), (409, "not_approved"), "{err}");
}

async fn removing_the_stakeholder_who_asked_for_changes_does_not_approve_the_plan(app: TestApp) {
    let people = people(&app).await;
    let id = in_review(&app, true).await;
    let (status, p) = sign(&people.sam, id, "approved").await;
    assert_eq!((status, p["status"].as_str()), (200, Some("in_review")), "{p}");
    let (status, p) = sign(&people.kim, id, "changes_requested").await;
    assert_eq!((status, p["status"].as_str()), (200, Some("in_review")), "{p}");
    // The lead takes Kim off the plan.
    let kim = p["roles"].as_array().unwrap().iter().find(|a| a["person"]["username"] == "kim").unwrap()["id"].as_i64().unwrap();
    let (status, p) = people.lead.delete(&format!("/api/v1/plans/{id}/roles/{kim}")).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["status"], "in_review", "a plan is approved by a sign-off, never by who is left: {p}");
    let (status, err) = people.lead.send("POST", &format!("/api/v1/plans/{id}/stages/{}/gate", stage_id(&p, 0)), json!({"version": version(&p)})).await;
    assert_eq!((status, error_of(&err).0), (409, "not_approved"));
    // Sam signing off what is there now approves it.
    let (status, p) = sign(&people.sam, id, "approved").await;
    assert_eq!((status, p["status"].as_str()), (200, Some("approved")), "{p}");
}

async fn nobody_grants_themselves_a_plan_role_and_a_lead_is_never_a_stakeholder(app: TestApp) {
    let people = people(&app).await;
    let id = in_review(&app, false).await;
    let before = get(&app, id).await;
    let audit = audit_count(&app).await;
    let url = format!("/api/v1/plans/{id}/roles");
    // The lead names themselves stakeholder, to sign off their own plan.
    let (status, err) = people.lead.send("POST", &url, json!({"username": "lee", "role": "stakeholder"})).await;
    assert_eq!((status, error_of(&err)), (403, ("self_grant", Some("username"))), "{err}");
    // An admin is no exception.
    let (status, err) = app.send("POST", &url, json!({"username": "admin", "role": "on_call"})).await;
    assert_eq!((status, error_of(&err).0), (403, "self_grant"), "{err}");
    // Another admin or lead may not make a lead a stakeholder, nor a stakeholder a lead.
    let (status, err) = app.send("POST", &url, json!({"username": "lee", "role": "stakeholder"})).await;
    assert_eq!((status, error_of(&err)), (409, ("conflicting_roles", Some("role"))), "{err}");
    let (status, err) = app.send("POST", &url, json!({"username": "sam", "role": "migration_lead"})).await;
    assert_eq!((status, error_of(&err).0), (409, "conflicting_roles"), "{err}");
    // Nothing changed.
    let after = get(&app, id).await;
    assert_eq!((after["version"].clone(), after["roles"].clone()), (before["version"].clone(), before["roles"].clone()));
    assert_eq!(audit_count(&app).await, audit);
    // The lead signs off nothing: only stakeholders do.
    let (status, err) = sign(&people.lead, id, "approved").await;
    assert_eq!((status, error_of(&err).0), (403, "forbidden"), "{err}");
    // Granting someone else a role works.
    let (status, _) = people.lead.send("POST", &url, json!({"username": "kim", "role": "stakeholder"})).await;
    assert_eq!(status, 201);
}

async fn removing_a_roll_back_guard_from_an_approved_plan_voids_its_sign_offs(app: TestApp) {
    let people = people(&app).await;
    let id = approved(&app, &people).await;
    let p = get(&people.lead, id).await;
    assert_eq!(p["signoffs"].as_array().unwrap().len(), 1);
    let guard = p["stages"][0]["guards"][0]["id"].as_i64().unwrap();
    let (status, p) = people.lead.delete(&format!("/api/v1/plans/{id}/stages/{}/guards/{guard}?version={}", stage_id(&p, 0), version(&p))).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["status"], "in_review", "{p}");
    assert_eq!(p["signoffs"].as_array().unwrap().len(), 0, "{p}");
    assert!(p["review_note"].as_str().unwrap().contains("removed a guard from stage “Shadow writes”"), "{p}");
}

async fn a_running_plan_freezes_its_started_stages_and_a_change_to_the_next_waits_for_a_new_sign_off(app: TestApp) {
    let people = people(&app).await;
    let id = running(&app, &people).await;
    let p = get(&people.lead, id).await;
    let (active, next) = (stage_id(&p, 0), stage_id(&p, 1));
    let audit = audit_count(&app).await;
    let v = version(&p);
    let guard = p["stages"][0]["guards"][0]["id"].as_i64().unwrap();
    // Nothing about the active stage changes now: not its text, flags, guards or checklist.
    for (method, path, body) in [
        ("PATCH", format!("/api/v1/plans/{id}/stages/{active}"), json!({"version": v, "auto_rollback": true})),
        ("PUT", format!("/api/v1/plans/{id}/stages/{active}/flags"), json!({"version": v, "changes": []})),
        ("POST", format!("/api/v1/plans/{id}/stages/{active}/guards"),
         json!({"version": v, "metric": "latency", "comparison": ">", "threshold": 1, "action": "notify"})),
        ("DELETE", format!("/api/v1/plans/{id}/stages/{active}/guards/{guard}?version={v}"), Value::Null),
        ("POST", format!("/api/v1/plans/{id}/stages/{active}/checklist"), json!({"version": v, "text": "One more"})),
        ("DELETE", format!("/api/v1/plans/{id}/stages/{active}?version={v}"), Value::Null),
        ("POST", format!("/api/v1/plans/{id}/stages"), json!({"version": v, "name": "Before everything", "position": 0})),
        ("PUT", format!("/api/v1/plans/{id}/stages/order"), json!({"version": v, "stage_ids": [next, active, stage_id(&p, 2)]})),
    ] {
        let (status, err) = if body.is_null() { people.lead.delete(&path).await } else { people.lead.send(method, &path, body).await };
        assert_eq!((status, error_of(&err).0), (409, "stage_frozen"), "{method} {path}: {err}");
    }
    assert_eq!(version(&get(&app, id).await), v, "refusals change nothing");
    assert_eq!(audit_count(&app).await, audit);
    // The next stage may still change, but then waits for the stakeholders.
    let (status, p) = people.lead.send("PATCH", &format!("/api/v1/plans/{id}/stages/{next}"), json!({"version": v, "gate_approvals": 1, "rollback_runbook": "1. Point consumers back"})).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["status"], "executing");
    assert_ne!(p["stages"][1]["revision"], p["stages"][1]["signed_revision"], "{p}");
    assert!(p["stages"][1]["change_note"].as_str().unwrap().contains("lee edited stage “Cut over”"), "{p}");
    let (status, p) = people.lead.send("POST", &format!("/api/v1/plans/{id}/stages/{active}/pass"), json!({"version": version(&p)})).await;
    assert_eq!(status, 200, "{p}");
    let (status, err) = people.lead.send("POST", &format!("/api/v1/plans/{id}/stages/{next}/gate"), json!({"version": version(&p)})).await;
    assert_eq!((status, error_of(&err).0), (409, "sign_off_needed"), "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("sam"), "says whose sign-off it waits for: {err}");
    // Sam finds it in the inbox and signs the change off; then the gate opens.
    let (status, inbox) = people.sam.get("/api/v1/inbox").await;
    assert_eq!(status, 200);
    assert!(inbox.as_array().unwrap().iter().any(|i| i["kind"] == "sign_off" && i["plan_id"] == id), "{inbox}");
    let (status, p) = sign(&people.sam, id, "approved").await;
    assert_eq!((status, p["status"].as_str()), (200, Some("executing")), "{p}");
    assert_eq!(p["stages"][1]["revision"], p["stages"][1]["signed_revision"], "{p}");
    let (status, p) = people.lead.send("POST", &format!("/api/v1/plans/{id}/stages/{next}/gate"), json!({"version": version(&p)})).await;
    assert_eq!(status, 200, "{p}");
}

async fn a_vote_is_refused_when_the_stage_changed_since_go_was_asked_for_or_the_plan_is_not_approved(app: TestApp) {
    let people = people(&app).await;
    let id = approved(&app, &people).await;
    let gate = ask_go(&people, id, 0).await;
    let stage = stage_id(&get(&app, id).await, 0);
    let vote = format!("/api/v1/plans/{id}/gates/{gate}/votes");
    // What no API call can do without withdrawing the gate: the stage moved on underneath it.
    sqlx::query("UPDATE stages SET revision = revision + 1, signed_revision = signed_revision + 1 WHERE id = $1")
        .bind(stage)
        .execute(&app.service.db.pool)
        .await
        .unwrap();
    let (status, err) = people.authority.send("POST", &vote, json!({"vote": "go"})).await;
    assert_eq!((status, error_of(&err).0), (409, "gate_stale"), "{err}");
    sqlx::query("UPDATE stages SET revision = revision - 1, signed_revision = signed_revision - 1 WHERE id = $1")
        .bind(stage)
        .execute(&app.service.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE plans SET status = 'in_review' WHERE id = $1").bind(id).execute(&app.service.db.pool).await.unwrap();
    let (status, err) = people.authority.send("POST", &vote, json!({"vote": "go"})).await;
    assert_eq!((status, error_of(&err).0), (409, "not_approved"), "{err}");
    assert_eq!(production_state(&app).await["enabled"], false);
}

async fn an_archived_plan_refuses_every_change_until_it_is_restored(app: TestApp) {
    let people = people(&app).await;
    let id = in_review(&app, false).await;
    let p = get(&app, id).await;
    let (status, p) = app.delete(&format!("/api/v1/plans/{id}?version={}", version(&p))).await;
    assert_eq!(status, 200, "{p}");
    let (s0, item) = (stage_id(&p, 0), p["stages"][0]["checklist"][0]["id"].as_i64().unwrap());
    let audit = audit_count(&app).await;
    let v = version(&p);
    for (who, method, path, body) in [
        (&people.sam, "POST", format!("/api/v1/plans/{id}/comments"), json!({"body": "Still here?"})),
        (&people.sam, "POST", format!("/api/v1/plans/{id}/signoffs"), json!({"version": v, "decision": "approved"})),
        (&people.oncall, "PUT", format!("/api/v1/plans/{id}/stages/{s0}/checklist/{item}/result"), json!({"status": "pass"})),
        (&people.lead, "POST", format!("/api/v1/plans/{id}/roles"), json!({"username": "kim", "role": "stakeholder"})),
        (&people.lead, "PATCH", format!("/api/v1/plans/{id}"), json!({"version": v, "title": "Renamed"})),
        (&people.lead, "POST", format!("/api/v1/plans/{id}/risks"), json!({"version": v, "risk": "r", "likelihood": "low", "impact": "low", "mitigation": "m"})),
    ] {
        let (status, err) = who.send(method, &path, body).await;
        assert_eq!((status, error_of(&err).0), (409, "archived"), "{method} {path}: {err}");
    }
    assert_eq!(audit_count(&app).await, audit);
    assert_eq!(version(&get(&app, id).await), v);
    let (status, p) = people.lead.send("PATCH", &format!("/api/v1/plans/{id}"), json!({"version": v, "archived": false})).await;
    assert_eq!((status, p["archived_at"].is_null()), (200, true), "{p}");
}

async fn a_sign_off_racing_an_edit_never_leaves_the_edited_plan_approved(app: TestApp) {
    let people = people(&app).await;
    for round in 0..4 {
        let id = in_review(&app, false).await;
        let p = get(&app, id).await;
        let v = version(&p);
        let (sign_url, edit_url) = (format!("/api/v1/plans/{id}/signoffs"), format!("/api/v1/plans/{id}"));
        let sign = people.sam.send("POST", &sign_url, json!({"version": v, "decision": "approved"}));
        let edit = people.lead.send("PATCH", &edit_url, json!({"version": v, "summary": format!("Edited {round}")}));
        let ((signed, _), (edited, _)) = tokio::join!(sign, edit);
        assert_eq!(edited, 200, "the edit is made either way");
        let p = get(&app, id).await;
        assert_eq!(p["summary"], format!("Edited {round}"));
        // Signed first: the edit voided it. Edited first: the sign-off was refused as stale.
        assert!(signed == 200 || signed == 409, "{signed}");
        assert_eq!(p["status"], "in_review", "round {round}: {p}");
        assert_eq!(p["signoffs"].as_array().unwrap().len(), 0, "round {round}: {p}");
    }
}

/// Takes `action` through the API on a plan where it can be taken and that has a
/// sign-off; returns the plan afterwards (for `PlanCreate`, the new plan).
async fn take(app: &TestApp, people: &People, action: Action) -> Value {
    let ok = |(status, body): (u16, Value)| {
        assert!((200..300).contains(&status), "{action:?}: {status} {body}");
        body
    };
    let path = |id: i64, rest: &str| format!("/api/v1/plans/{id}{rest}");
    match action {
        Action::PlanCreate => app.plan(json!({"title": "Another plan"})).await,
        Action::PlanUpdate => {
            let id = approved(app, people).await;
            let p = get(app, id).await;
            ok(people.lead.send("PATCH", &path(id, ""), json!({"version": version(&p), "rollback_target_seconds": 10})).await)
        }
        Action::PlanArchive => {
            let id = approved(app, people).await;
            ok(people.lead.delete(&format!("{}?version={}", path(id, ""), version(&get(app, id).await))).await)
        }
        Action::PlanRestore => {
            let id = approved(app, people).await;
            let p = ok(people.lead.delete(&format!("{}?version={}", path(id, ""), version(&get(app, id).await))).await);
            ok(people.lead.send("PATCH", &path(id, ""), json!({"version": version(&p), "archived": false})).await)
        }
        Action::ReviewRequest => {
            let id = in_review(app, false).await;
            ok(sign(&people.sam, id, "changes_requested").await);
            let p = get(app, id).await;
            let p = ok(people.lead.send("PATCH", &path(id, ""), json!({"version": version(&p), "status": "draft"})).await);
            ok(people.lead.send("POST", &path(id, "/review"), json!({"version": version(&p)})).await)
        }
        Action::SignOff | Action::RequestChanges => {
            let id = in_review(app, true).await;
            ok(sign(&people.sam, id, "approved").await);
            let decision = if action == Action::SignOff { "approved" } else { "changes_requested" };
            ok(sign(&people.kim, id, decision).await)
        }
        Action::Comment => {
            let id = approved(app, people).await;
            ok(people.sam.send("POST", &path(id, "/comments"), json!({"body": "Looks good"})).await);
            get(app, id).await
        }
        Action::RoleAssign => {
            let id = approved(app, people).await;
            ok(people.lead.send("POST", &path(id, "/roles"), json!({"username": "kim", "role": "on_call"})).await)
        }
        Action::RoleRemove => {
            let id = approved(app, people).await;
            let p = get(app, id).await;
            let olly = p["roles"].as_array().unwrap().iter().find(|a| a["person"]["username"] == "olly").unwrap()["id"].clone();
            ok(people.lead.delete(&path(id, &format!("/roles/{olly}"))).await)
        }
        Action::StageCreate => {
            let id = approved(app, people).await;
            ok(people.lead.send("POST", &path(id, "/stages"), json!({"version": version(&get(app, id).await), "name": "Verify"})).await)
        }
        Action::StageUpdate => {
            let id = approved(app, people).await;
            let p = get(app, id).await;
            ok(people.lead.send("PATCH", &path(id, &format!("/stages/{}", stage_id(&p, 0))), json!({"version": version(&p), "auto_rollback": true})).await)
        }
        Action::StageDelete => {
            let id = approved(app, people).await;
            let p = get(app, id).await;
            ok(people.lead.delete(&format!("{}?version={}", path(id, &format!("/stages/{}", stage_id(&p, 2))), version(&p))).await)
        }
        Action::StageReorder => {
            let id = approved(app, people).await;
            let p = get(app, id).await;
            let order = json!({"version": version(&p), "stage_ids": [stage_id(&p, 0), stage_id(&p, 2), stage_id(&p, 1)]});
            ok(people.lead.send("PUT", &path(id, "/stages/order"), order).await)
        }
        Action::StageFlags => {
            let id = approved(app, people).await;
            let p = get(app, id).await;
            ok(people.lead.send("PUT", &path(id, &format!("/stages/{}/flags", stage_id(&p, 1))), json!({"version": version(&p), "changes": [
                {"flag": FLAG, "environment": "staging", "enabled": true, "percentage": 100}]})).await)
        }
        Action::ChecklistCreate => {
            let id = approved(app, people).await;
            let p = get(app, id).await;
            ok(people.lead.send("POST", &path(id, &format!("/stages/{}/checklist", stage_id(&p, 1))), json!({"version": version(&p), "text": "Consumers drained"})).await)
        }
        Action::ChecklistDelete => {
            let id = approved(app, people).await;
            let p = get(app, id).await;
            let item = p["stages"][0]["checklist"][0]["id"].clone();
            ok(people.lead.delete(&format!("{}?version={}", path(id, &format!("/stages/{}/checklist/{item}", stage_id(&p, 0))), version(&p))).await)
        }
        Action::ChecklistCopy => {
            let id = approved(app, people).await;
            let p = get(app, id).await;
            let copy = json!({"version": version(&p), "from_stage_id": stage_id(&p, 0)});
            ok(people.lead.send("POST", &path(id, &format!("/stages/{}/checklist/copy", stage_id(&p, 1))), copy).await)
        }
        Action::CheckResult => {
            let id = approved(app, people).await;
            let p = get(app, id).await;
            let item = p["stages"][0]["checklist"][0]["id"].clone();
            let result = json!({"status": "pass", "comment": "Restored one yesterday", "evidence_url": "https://example.com/restore"});
            ok(people.oncall.send("PUT", &path(id, &format!("/stages/{}/checklist/{item}/result", stage_id(&p, 0))), result).await)
        }
        Action::RiskCreate => {
            let id = approved(app, people).await;
            let body = json!({"version": version(&get(app, id).await), "risk": "Lag", "likelihood": "high", "impact": "low", "mitigation": "Scale"});
            ok(people.lead.send("POST", &path(id, "/risks"), body).await)
        }
        Action::RiskUpdate | Action::RiskDelete => {
            let id = approved(app, people).await;
            let p = get(app, id).await;
            let risk = p["risks"][0]["id"].clone();
            if action == Action::RiskUpdate {
                ok(people.lead.send("PATCH", &path(id, &format!("/risks/{risk}")), json!({"version": version(&p), "impact": "high"})).await)
            } else {
                ok(people.lead.delete(&format!("{}?version={}", path(id, &format!("/risks/{risk}")), version(&p))).await)
            }
        }
        Action::GuardCreate => {
            let id = approved(app, people).await;
            let p = get(app, id).await;
            let body = json!({"version": version(&p), "metric": "latency", "comparison": ">", "threshold": 900, "action": "roll_back"});
            ok(people.lead.send("POST", &path(id, &format!("/stages/{}/guards", stage_id(&p, 1))), body).await)
        }
        Action::GuardUpdate => {
            let id = approved(app, people).await;
            let p = get(app, id).await;
            let guard = p["stages"][0]["guards"][0]["id"].clone();
            let body = json!({"version": version(&p), "metric": "errors", "comparison": ">", "threshold": 50, "action": "notify"});
            ok(people.lead.send("PUT", &path(id, &format!("/stages/{}/guards/{guard}", stage_id(&p, 0))), body).await)
        }
        Action::GuardDelete => {
            let id = approved(app, people).await;
            let p = get(app, id).await;
            let guard = p["stages"][0]["guards"][0]["id"].clone();
            ok(people.lead.delete(&format!("{}?version={}", path(id, &format!("/stages/{}/guards/{guard}", stage_id(&p, 0))), version(&p))).await)
        }
        Action::GuardBreach | Action::GuardResolve => {
            let id = running(app, people).await;
            let service = app.with_token(&["metrics:write"]).await;
            let report = ok(service.send("POST", "/api/v1/metrics", json!([{"metric": "errors", "value": 50}])).await);
            assert_eq!(report["breaches"].as_array().unwrap().len(), 1, "{report}");
            if action == Action::GuardResolve {
                let breach = report["breaches"][0]["breach_id"].clone();
                ok(people.oncall.send("POST", &path(id, &format!("/breaches/{breach}/resolve")), json!({"note": "Bad deploy reverted"})).await);
            }
            get(app, id).await
        }
        Action::GateRequest => {
            let id = approved(app, people).await;
            ask_go(people, id, 0).await;
            get(app, id).await
        }
        Action::GateVote => {
            let id = running(app, people).await;
            get(app, id).await
        }
        Action::StagePass => {
            let id = running(app, people).await;
            let p = get(app, id).await;
            ok(people.lead.send("POST", &path(id, &format!("/stages/{}/pass", stage_id(&p, 0))), json!({"version": version(&p)})).await)
        }
        Action::StageAbort => {
            let id = approved(app, people).await;
            let p = get(app, id).await;
            ok(people.lead.send("POST", &path(id, &format!("/stages/{}/abort", stage_id(&p, 0))), json!({"version": version(&p), "reason": "Not this week"})).await)
        }
        Action::RollbackRequest | Action::RollbackApprove | Action::RollbackReject | Action::RollbackDone => {
            let id = running(app, people).await;
            let p = get(app, id).await;
            let p = ok(people.oncall.send("POST", &path(id, &format!("/stages/{}/rollback", stage_id(&p, 0))), json!({"reason": "Errors up"})).await);
            if action != Action::RollbackRequest {
                let rollback = p["stages"][0]["rollbacks"][0]["id"].clone();
                let decision = if action == Action::RollbackReject { "reject" } else { "approve" };
                ok(people.authority.send("POST", &path(id, &format!("/rollbacks/{rollback}/decision")), json!({"decision": decision, "comment": "Errors were a bad canary"})).await);
            }
            get(app, id).await
        }
        Action::RunbookStart | Action::RunbookStep | Action::RunbookNote => {
            let id = running(app, people).await;
            let p = get(app, id).await;
            let p = ok(people.oncall.send("POST", &path(id, &format!("/stages/{}/runs", stage_id(&p, 0))), json!({"kind": "forward"})).await);
            let run = p["stages"][0]["runs"][0]["id"].clone();
            if action == Action::RunbookStep {
                ok(people.oncall.send("PUT", &path(id, &format!("/runs/{run}/steps/0")), json!({"status": "done"})).await);
            }
            if action == Action::RunbookNote {
                ok(people.oncall.send("POST", &path(id, &format!("/runs/{run}/notes")), json!({"text": "Dashboards green"})).await);
            }
            get(app, id).await
        }
    }
}

async fn every_action_voids_sign_offs_exactly_when_it_declares_so(app: TestApp) {
    let people = people(&app).await;
    for &action in Action::ALL {
        let audit_before: i64 = app.count(&format!("SELECT COUNT(*) FROM audit_log WHERE action = '{}'", action.audit())).await;
        let plan = take(&app, &people, action).await;
        let audit_after: i64 = app.count(&format!("SELECT COUNT(*) FROM audit_log WHERE action = '{}'", action.audit())).await;
        assert!(audit_after > audit_before, "{action:?} is audited as {}", action.audit());
        let signoffs = plan["signoffs"].as_array().unwrap().len();
        if action == Action::PlanCreate {
            assert_eq!((plan["status"].as_str(), signoffs), (Some("draft"), 0));
        } else if action.voids_sign_offs() {
            assert_eq!(signoffs, 0, "{action:?} changes what will run, so it voids the sign-offs: {plan}");
            assert_eq!(plan["status"], "in_review", "{action:?}: {plan}");
        } else {
            assert!(signoffs > 0, "{action:?} keeps what was signed off: {plan}");
        }
    }
}
