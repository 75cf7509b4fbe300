//! Stage checklists: go/no-go criteria and pre-flight checks, recorded Pass, Fail or
//! Not tested, with who, when, a comment and evidence.
use crate::support;

use serde_json::{json, Value};
use support::{error_of, TestApp};

on_both_databases!(
    a_lead_builds_a_checklist_and_the_people_running_the_plan_record_results,
    a_failed_check_needs_a_comment_and_evidence_must_be_a_web_link,
    a_checklist_is_copied_from_another_plans_stage_with_results_cleared,
    changing_an_approved_plans_checklist_sends_it_back_to_review,
);

fn checklist(plan: &Value, stage: usize) -> Vec<Value> {
    plan["stages"][stage]["checklist"].as_array().unwrap().clone()
}

async fn plan_with_stage(app: &TestApp, title: &str) -> (i64, i64) {
    let plan = app.plan(json!({"title": title, "stages": [{"name": "Stage 0: DB migration"}]})).await;
    (plan["id"].as_i64().unwrap(), plan["stages"][0]["id"].as_i64().unwrap())
}

async fn a_lead_builds_a_checklist_and_the_people_running_the_plan_record_results(app: TestApp) {
    let (id, stage) = plan_with_stage(&app, "Provider columns").await;
    let path = format!("/api/v1/plans/{id}/stages/{stage}/checklist");
    let (status, p) = app.send("POST", &path, json!({"version": 1, "text": "Backups verified"})).await;
    assert_eq!(status, 201, "{p}");
    let (_, p) = app.send("POST", &path, json!({"version": 2, "text": "Dashboard bookmarked", "required": false})).await;
    let items = checklist(&p, 0);
    assert_eq!(items.iter().map(|i| (i["text"].as_str().unwrap(), i["required"].as_bool().unwrap())).collect::<Vec<_>>(),
        [("Backups verified", true), ("Dashboard bookmarked", false)]);
    assert!(items.iter().all(|i| i["status"] == "not_tested"));

    let on_call = app.holding("oli", id, "on_call").await;
    let first = items[0]["id"].as_i64().unwrap();
    let result = json!({"status": "pass", "comment": "Restored last night's backup to staging", "evidence_url": "https://grafana.example.com/d/backups"});
    let (status, p) = on_call.send("PUT", &format!("{path}/{first}/result"), result).await;
    assert_eq!(status, 200, "{p}");
    let item = &checklist(&p, 0)[0];
    assert_eq!((item["status"].as_str(), item["checked_by"].as_str()), (Some("pass"), Some("oli")));
    assert!(item["checked_at"].is_string() && item["evidence_url"].as_str().unwrap().starts_with("https://"));
    assert_eq!(p["version"], 3, "recording a result changes no plan version");

    let stakeholder = app.holding("sam", id, "stakeholder").await;
    let (status, _) = stakeholder.send("PUT", &format!("{path}/{first}/result"), json!({"status": "fail", "comment": "no"})).await;
    assert_eq!(status, 403, "stakeholders review; they do not run checks");
    let (status, _) = on_call.send("POST", &path, json!({"version": 3, "text": "Sneaky"})).await;
    assert_eq!(status, 403, "on-call records results but does not edit the checklist");

    let second = items[1]["id"].as_i64().unwrap();
    let (status, p) = app.delete(&format!("{path}/{second}?version=3")).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(checklist(&p, 0).len(), 1);
    let (status, body) = app.delete(&format!("{path}/{second}?version=4")).await;
    assert_eq!((status, error_of(&body).0), (404, "not_found"));
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'checklist.%'").await, 4);
}

async fn a_failed_check_needs_a_comment_and_evidence_must_be_a_web_link(app: TestApp) {
    let (id, stage) = plan_with_stage(&app, "Checks").await;
    let path = format!("/api/v1/plans/{id}/stages/{stage}/checklist");
    let (_, p) = app.send("POST", &path, json!({"version": 1, "text": "Error rate under 1%"})).await;
    let item = checklist(&p, 0)[0]["id"].as_i64().unwrap();
    let (status, body) = app.send("PUT", &format!("{path}/{item}/result"), json!({"status": "fail"})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("comment")));
    let bad_link = json!({"status": "pass", "evidence_url": "javascript:alert(1)"});
    let (status, body) = app.send("PUT", &format!("{path}/{item}/result"), bad_link).await;
    assert_eq!((status, error_of(&body).1), (422, Some("evidence_url")));
    let (status, body) = app.send("POST", &path, json!({"version": 2, "text": "  "})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("text")));
    let (_, now) = app.get(&format!("/api/v1/plans/{id}")).await;
    assert_eq!(checklist(&now, 0)[0]["status"], "not_tested", "nothing changed");
}

async fn a_checklist_is_copied_from_another_plans_stage_with_results_cleared(app: TestApp) {
    let (source, from) = plan_with_stage(&app, "Last quarter's migration").await;
    let path = format!("/api/v1/plans/{source}/stages/{from}/checklist");
    app.send("POST", &path, json!({"version": 1, "text": "Backups verified"})).await;
    let (_, p) = app.send("POST", &path, json!({"version": 2, "text": "On-call paged in", "required": false})).await;
    let item = checklist(&p, 0)[0]["id"].as_i64().unwrap();
    app.send("PUT", &format!("{path}/{item}/result"), json!({"status": "pass"})).await;

    let (id, stage) = plan_with_stage(&app, "This quarter's migration").await;
    let copy = format!("/api/v1/plans/{id}/stages/{stage}/checklist/copy");
    let (status, p) = app.send("POST", &copy, json!({"version": 1, "from_stage_id": from})).await;
    assert_eq!(status, 200, "{p}");
    let items = checklist(&p, 0);
    assert_eq!(items.iter().map(|i| i["text"].as_str().unwrap()).collect::<Vec<_>>(), ["Backups verified", "On-call paged in"]);
    assert_eq!(items[1]["required"], false);
    assert!(items.iter().all(|i| i["status"] == "not_tested" && i.get("checked_by").is_none()), "results are not copied");

    let (status, body) = app.send("POST", &copy, json!({"version": 2, "from_stage_id": 999999})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("from_stage_id")));
}

async fn changing_an_approved_plans_checklist_sends_it_back_to_review(app: TestApp) {
    let (id, stage) = plan_with_stage(&app, "Approved").await;
    let stakeholder = app.holding("sam", id, "stakeholder").await;
    let (_, p) = app.get(&format!("/api/v1/plans/{id}")).await;
    let (_, p) = app.send("POST", &format!("/api/v1/plans/{id}/review"), json!({"version": p["version"]})).await;
    let (_, p) = stakeholder.send("POST", &format!("/api/v1/plans/{id}/signoffs"), json!({"version": p["version"], "decision": "approved"})).await;
    assert_eq!(p["status"], "approved");
    let (status, p) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{stage}/checklist"), json!({"version": p["version"], "text": "New check"})).await;
    assert_eq!(status, 201);
    assert_eq!(p["status"], "in_review");
    assert!(p["review_note"].as_str().unwrap().contains("checklist"), "{p}");
}
