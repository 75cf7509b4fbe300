//! The JSON API and pages over real HTTP, each test on SQLite and on PostgreSQL.
use crate::support;

use serde_json::{json, Value};
use support::{error_of, ids, names, TestApp};

fn two_stage_plan(title: &str) -> Value {
    json!({
        "title": title,
        "summary": "Move the queue",
        "owner": "Ada",
        "stages": [
            {"name": "Shadow traffic", "min_soak_minutes": 60, "forward_runbook": "```sql\nSELECT 1;\n```"},
            {"name": "10% of traffic"}
        ],
        "risks": [{"risk": "Data loss", "likelihood": "low", "impact": "high", "mitigation": "Backups"}]
    })
}

on_both_databases!(
    health_answers_ok_once_the_database_is_migrated,
    a_plan_is_created_with_its_stages_and_risks_in_order,
    an_empty_or_overlong_title_is_rejected_and_nothing_is_written,
    malformed_json_wrong_types_and_unknown_fields_get_clear_errors,
    unknown_ids_are_404_with_the_error_body,
    a_stale_edit_gets_409_with_the_current_version_and_changes_nothing,
    of_two_simultaneous_edits_from_the_same_version_exactly_one_wins,
    reordering_stages_persists_the_new_order,
    a_reorder_with_a_duplicate_or_missing_stage_is_rejected_and_changes_nothing,
    a_stage_can_be_inserted_edited_and_removed_keeping_positions_contiguous,
    stage_times_are_stored_as_utc_and_bad_ones_are_rejected,
    risks_are_added_edited_and_removed,
    archiving_hides_a_plan_and_makes_it_read_only_until_restored,
    the_plan_list_searches_filters_and_pages,
    every_change_appends_one_audit_entry_and_a_failed_one_none,
    the_openapi_document_describes_every_endpoint,
    unknown_endpoints_and_methods_answer_in_json,
    pages_render_fully_on_the_server,
    a_plan_page_carries_its_rendered_markdown_once_not_again_in_its_hydration_data,
    the_demo_plan_loads_once_into_an_empty_database,
    each_committed_change_is_published_as_a_server_sent_event,
    pages_and_api_answers_are_compressed_for_clients_that_take_it,
    the_audit_log_filters_by_plan_actor_action_and_time_newest_first,
    the_audit_log_exports_csv_and_json_lines_with_the_same_filters,
    the_audit_log_cannot_be_changed_over_http,
    server_functions_answer_bad_arguments_with_4xx,
    a_plan_loads_in_the_same_few_statements_however_many_stages_it_has,
);

async fn health_answers_ok_once_the_database_is_migrated(app: TestApp) {
    let (status, body) = app.get("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
}

async fn a_plan_is_created_with_its_stages_and_risks_in_order(app: TestApp) {
    let r = app.request("POST", "/api/v1/plans").json(&two_stage_plan("Queue move")).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let created: Value = r.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/plans/{}", created["id"]));
    assert_eq!(created["version"], 1);
    assert_eq!(created["status"], "draft");

    let (status, plan) = app.get(&location).await;
    assert_eq!(status, 200);
    assert_eq!(plan, created);
    assert_eq!(names(&plan), ["Shadow traffic", "10% of traffic"]);
    assert_eq!(plan["stages"][0]["position"], 0);
    assert_eq!(plan["stages"][0]["min_soak_minutes"], 60);
    assert_eq!(plan["stages"][0]["status"], "pending");
    assert_eq!(plan["risks"][0]["impact"], "high");

    let (_, stages) = app.get(&format!("{location}/stages")).await;
    assert_eq!(stages.as_array().unwrap().len(), 2);
    let stage_id = ids(&plan)[1];
    let (status, stage) = app.get(&format!("{location}/stages/{stage_id}")).await;
    assert_eq!((status, stage["name"].as_str()), (200, Some("10% of traffic")));
}

async fn an_empty_or_overlong_title_is_rejected_and_nothing_is_written(app: TestApp) {
    for title in [json!(""), json!("   "), json!("x".repeat(201))] {
        let (status, body) = app.send("POST", "/api/v1/plans", json!({ "title": title })).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(error_of(&body), ("validation", Some("title")));
    }
    // A bad stage inside a good plan rejects the whole plan: nothing half-written.
    let (status, body) = app
        .send("POST", "/api/v1/plans", json!({"title": "ok", "stages": [{"name": "a"}, {"name": ""}]}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(error_of(&body), ("validation", Some("stages[1].name")));
    assert_eq!(app.count("SELECT COUNT(*) FROM plans").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM stages").await, 0);

    let (status, _) = app.send("POST", "/api/v1/plans", json!({ "title": "x".repeat(200) })).await;
    assert_eq!(status, 201, "200 characters is the limit, not over it");
}

async fn malformed_json_wrong_types_and_unknown_fields_get_clear_errors(app: TestApp) {
    let (status, body) = app.send_raw("POST", "/api/v1/plans", "application/json", "{\"title\": ").await;
    assert_eq!((status, error_of(&body).0), (400, "malformed_json"));

    let (status, body) = app.send("POST", "/api/v1/plans", json!({"title": 5})).await;
    assert_eq!(status, 422);
    assert_eq!(error_of(&body), ("invalid_field", Some("title")));

    let (status, body) = app.send("POST", "/api/v1/plans", json!({"title": "t", "stages": [{"name": "s", "min_soak_minutes": "long"}]})).await;
    assert_eq!(status, 422);
    assert_eq!(error_of(&body).1, Some("stages[0].min_soak_minutes"));

    let (status, body) = app.send("POST", "/api/v1/plans", json!({"title": "t", "titel": "typo"})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("titel")));

    let (status, body) = app.send("POST", "/api/v1/plans", json!({"summary": "no title"})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("title")));

    let (status, body) = app.send("POST", "/api/v1/plans", json!({"title": "t", "status": "finished"})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("status")));

    let (status, body) = app.send_raw("POST", "/api/v1/plans", "text/plain", "{\"title\":\"t\"}").await;
    assert_eq!((status, error_of(&body).0), (415, "unsupported_media_type"));

    let (status, body) = app.get("/api/v1/plans?limit=many").await;
    assert_eq!((status, error_of(&body).1), (422, Some("limit")));
    assert_eq!(app.count("SELECT COUNT(*) FROM plans").await, 0);
}

async fn unknown_ids_are_404_with_the_error_body(app: TestApp) {
    let plan = app.plan(two_stage_plan("p")).await;
    let id = plan["id"].as_i64().unwrap();
    for path in [
        "/api/v1/plans/999999".to_string(),
        "/api/v1/plans/abc".to_string(),
        "/api/v1/plans/-1".to_string(),
        format!("/api/v1/plans/{id}/stages/999999"),
        format!("/api/v1/plans/{id}/risks/999999"),
        "/api/v1/plans/999999/stages".to_string(),
    ] {
        let (status, body) = app.get(&path).await;
        assert_eq!((status, error_of(&body).0), (404, "not_found"), "{path}");
    }
    let (status, _) = app.send("PATCH", "/api/v1/plans/999999", json!({"version": 1, "title": "x"})).await;
    assert_eq!(status, 404);
    // A stage of another plan is not found under this one.
    let other = app.plan(two_stage_plan("other")).await;
    let foreign = ids(&other)[0];
    let (status, _) = app.send("PATCH", &format!("/api/v1/plans/{id}/stages/{foreign}"), json!({"version": 1, "name": "x"})).await;
    assert_eq!(status, 404);
    let (_, other_now) = app.get(&format!("/api/v1/plans/{}", other["id"])).await;
    assert_eq!(other_now["stages"][0]["name"], "Shadow traffic");
}

async fn a_stale_edit_gets_409_with_the_current_version_and_changes_nothing(app: TestApp) {
    let plan = app.plan(two_stage_plan("Before")).await;
    let path = format!("/api/v1/plans/{}", plan["id"]);
    let (status, first) = app.send("PATCH", &path, json!({"version": 1, "title": "First edit"})).await;
    assert_eq!((status, first["version"].as_i64()), (200, Some(2)));

    for (method, p, body) in [
        ("PATCH", path.clone(), json!({"version": 1, "title": "Stale edit"})),
        ("POST", format!("{path}/stages"), json!({"version": 1, "name": "Stale stage"})),
        ("PATCH", format!("{path}/stages/{}", ids(&plan)[0]), json!({"version": 1, "name": "Stale"})),
        ("PUT", format!("{path}/stages/order"), json!({"version": 1, "stage_ids": [ids(&plan)[1], ids(&plan)[0]]})),
        ("POST", format!("{path}/risks"), json!({"version": 1, "risk": "r", "likelihood": "low", "impact": "low"})),
    ] {
        let (status, body) = app.send(method, &p, body).await;
        assert_eq!(status, 409, "{method} {p}: {body}");
        assert_eq!(error_of(&body), ("version_conflict", Some("version")));
        assert_eq!(body["error"]["current_version"], 2);
    }
    let (status, body) = app.delete(&format!("{path}/stages/{}?version=1", ids(&plan)[0])).await;
    assert_eq!((status, body["error"]["current_version"].as_i64()), (409, Some(2)));

    let (_, now) = app.get(&path).await;
    assert_eq!(now, first, "no stale change left a trace");
}

async fn of_two_simultaneous_edits_from_the_same_version_exactly_one_wins(app: TestApp) {
    let plan = app.plan(json!({"title": "race"})).await;
    let path = format!("/api/v1/plans/{}", plan["id"]);
    let (a, b) = tokio::join!(
        app.send("PATCH", &path, json!({"version": 1, "title": "A"})),
        app.send("PATCH", &path, json!({"version": 1, "title": "B"})),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    let winner = if a.0 == 200 { "A" } else { "B" };
    let (_, now) = app.get(&path).await;
    assert_eq!((now["title"].as_str(), now["version"].as_i64()), (Some(winner), Some(2)));
}

async fn reordering_stages_persists_the_new_order(app: TestApp) {
    let plan = app.plan(json!({"title": "order", "stages": [{"name": "A"}, {"name": "B"}, {"name": "C"}]})).await;
    let path = format!("/api/v1/plans/{}", plan["id"]);
    let [a, b, c] = ids(&plan)[..] else { panic!() };
    let (status, moved) = app.send("PUT", &format!("{path}/stages/order"), json!({"version": 1, "stage_ids": [c, a, b]})).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(names(&moved), ["C", "A", "B"]);
    assert_eq!(moved["version"], 2);
    let (_, again) = app.get(&path).await;
    assert_eq!(names(&again), ["C", "A", "B"]);
    let positions: Vec<i64> = again["stages"].as_array().unwrap().iter().map(|s| s["position"].as_i64().unwrap()).collect();
    assert_eq!(positions, [0, 1, 2]);
}

async fn a_reorder_with_a_duplicate_or_missing_stage_is_rejected_and_changes_nothing(app: TestApp) {
    let plan = app.plan(json!({"title": "order", "stages": [{"name": "A"}, {"name": "B"}]})).await;
    let path = format!("/api/v1/plans/{}/stages/order", plan["id"]);
    let [a, b] = ids(&plan)[..] else { panic!() };
    let (status, body) = app.send("PUT", &path, json!({"version": 1, "stage_ids": [a, a]})).await;
    assert_eq!((status, error_of(&body)), (422, ("duplicate_stage", Some("stage_ids"))));
    let (status, body) = app.send("PUT", &path, json!({"version": 1, "stage_ids": [b]})).await;
    assert_eq!((status, error_of(&body)), (422, ("validation", Some("stage_ids"))));
    let (status, body) = app.send("PUT", &path, json!({"version": 1, "stage_ids": [b, a, 999999]})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("stage_ids")));
    let (status, body) = app.send("PUT", &path, json!({"stage_ids": [b, a]})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("version")));
    let (_, now) = app.get(&format!("/api/v1/plans/{}", plan["id"])).await;
    assert_eq!((names(&now), now["version"].as_i64()), (vec!["A".to_string(), "B".to_string()], Some(1)));
}

async fn a_stage_can_be_inserted_edited_and_removed_keeping_positions_contiguous(app: TestApp) {
    let plan = app.plan(json!({"title": "stages", "stages": [{"name": "A"}, {"name": "C"}]})).await;
    let path = format!("/api/v1/plans/{}", plan["id"]);
    let (status, p) = app.send("POST", &format!("{path}/stages"), json!({"version": 1, "name": "B", "position": 1})).await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(names(&p), ["A", "B", "C"]);
    let (status, p) = app.send("POST", &format!("{path}/stages"), json!({"version": 2, "name": "D"})).await;
    assert_eq!(status, 201);
    assert_eq!(names(&p), ["A", "B", "C", "D"]);

    let b = ids(&p)[1];
    let (status, p) = app
        .send("PATCH", &format!("{path}/stages/{b}"), json!({"version": 3, "goal": "Half the traffic", "rollback_runbook": "1. Flip back"}))
        .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["stages"][1]["name"], "B", "fields left out stay");
    assert_eq!(p["stages"][1]["goal"], "Half the traffic");
    assert_eq!(p["stages"][1]["status"], "pending");

    let (status, body) = app.send("PATCH", &format!("{path}/stages/{b}"), json!({"version": 4, "name": ""})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("name")));

    let (status, p) = app.delete(&format!("{path}/stages/{b}?version=4")).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(names(&p), ["A", "C", "D"]);
    let positions: Vec<i64> = p["stages"].as_array().unwrap().iter().map(|s| s["position"].as_i64().unwrap()).collect();
    assert_eq!(positions, [0, 1, 2]);
    let (status, body) = app.delete(&format!("{path}/stages/{}", ids(&p)[0])).await;
    assert_eq!((status, error_of(&body).1), (422, Some("version")), "a delete must say which version it is based on");
}

async fn stage_times_are_stored_as_utc_and_bad_ones_are_rejected(app: TestApp) {
    let plan = app.plan(json!({"title": "t", "stages": [{"name": "A", "planned_start": "2026-12-01T10:00:00+01:00", "planned_duration_minutes": 90}]})).await;
    assert_eq!(plan["stages"][0]["planned_start"], "2026-12-01T09:00:00Z");
    let path = format!("/api/v1/plans/{}/stages/{}", plan["id"], ids(&plan)[0]);
    for (body, field) in [
        (json!({"version": 1, "planned_start": "tomorrow"}), "planned_start"),
        (json!({"version": 1, "planned_start": "2026-13-01T10:00:00Z"}), "planned_start"),
        (json!({"version": 1, "min_soak_minutes": -5}), "min_soak_minutes"),
        (json!({"version": 1, "planned_duration_minutes": 10_000_000}), "planned_duration_minutes"),
    ] {
        let (status, err) = app.send("PATCH", &path, body).await;
        assert_eq!((status, error_of(&err).1), (422, Some(field)), "{err}");
    }
    let (status, p) = app.send("PATCH", &path, json!({"version": 1, "planned_start": null, "planned_duration_minutes": null})).await;
    assert_eq!(status, 200);
    assert_eq!((p["stages"][0]["planned_start"].clone(), p["stages"][0]["planned_duration_minutes"].clone()), (Value::Null, Value::Null));
}

async fn risks_are_added_edited_and_removed(app: TestApp) {
    let plan = app.plan(json!({"title": "risky"})).await;
    let path = format!("/api/v1/plans/{}/risks", plan["id"]);
    let (status, p) = app.send("POST", &path, json!({"version": 1, "risk": "Lock on a large table", "likelihood": "medium", "impact": "high"})).await;
    assert_eq!(status, 201, "{p}");
    let risk_id = p["risks"][0]["id"].as_i64().unwrap();
    let (status, body) = app.send("POST", &path, json!({"version": 2, "risk": "x", "likelihood": "certain", "impact": "high"})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("likelihood")));
    let (status, p) = app.send("PATCH", &format!("{path}/{risk_id}"), json!({"version": 2, "mitigation": "Constraint added separately"})).await;
    assert_eq!(status, 200);
    assert_eq!((p["risks"][0]["mitigation"].as_str(), p["risks"][0]["likelihood"].as_str()), (Some("Constraint added separately"), Some("medium")));
    let (status, r) = app.get(&format!("{path}/{risk_id}")).await;
    assert_eq!((status, r["risk"].as_str()), (200, Some("Lock on a large table")));
    let (status, p) = app.delete(&format!("{path}/{risk_id}?version=3")).await;
    assert_eq!((status, p["risks"].as_array().unwrap().len()), (200, 0));
}

async fn archiving_hides_a_plan_and_makes_it_read_only_until_restored(app: TestApp) {
    let plan = app.plan(json!({"title": "Old plan"})).await;
    let path = format!("/api/v1/plans/{}", plan["id"]);
    let (status, archived) = app.delete(&format!("{path}?version=1")).await;
    assert_eq!(status, 200);
    assert!(archived["archived_at"].is_string());
    let (_, list) = app.get("/api/v1/plans").await;
    assert_eq!(list["total"], 0);
    let (_, list) = app.get("/api/v1/plans?include_archived=true").await;
    assert_eq!(list["total"], 1);
    let (status, body) = app.send("PATCH", &path, json!({"version": 2, "title": "Edited"})).await;
    assert_eq!((status, error_of(&body).0), (409, "archived"));
    let (status, restored) = app.send("PATCH", &path, json!({"version": 2, "archived": false})).await;
    assert_eq!(status, 200, "{restored}");
    assert!(restored.get("archived_at").is_none());
    let (_, list) = app.get("/api/v1/plans").await;
    assert_eq!(list["total"], 1);
}

async fn the_plan_list_searches_filters_and_pages(app: TestApp) {
    for i in 0..5 {
        app.plan(json!({"title": format!("Queue migration {i}"), "owner": "Ada"})).await;
    }
    app.plan(json!({"title": "Provider rollout", "owner": "Grace", "status": "aborted"})).await;
    app.plan(json!({"title": "100% literal_match"})).await;

    let (_, page) = app.get("/api/v1/plans?q=queue&limit=2").await;
    assert_eq!((page["total"].as_i64(), page["items"].as_array().unwrap().len()), (Some(5), 2));
    let next: String = form_urlencoded::byte_serialize(page["next"].as_str().unwrap().as_bytes()).collect();
    let (_, second) = app.get(&format!("/api/v1/plans?q=QUEUE&limit=2&after={next}")).await;
    let next: String = form_urlencoded::byte_serialize(second["next"].as_str().unwrap().as_bytes()).collect();
    let (_, last) = app.get(&format!("/api/v1/plans?q=QUEUE&limit=2&after={next}")).await;
    assert_eq!((last["items"].as_array().unwrap().len(), last.get("next")), (1, None));
    let (_, by_owner) = app.get("/api/v1/plans?q=grace").await;
    assert_eq!(by_owner["items"][0]["title"], "Provider rollout");
    let (_, aborted) = app.get("/api/v1/plans?status=aborted").await;
    assert_eq!(aborted["total"], 1);
    let (_, literal) = app.get("/api/v1/plans?q=%25").await;
    assert_eq!(literal["total"], 1, "% is searched for, not a wildcard");
    let (_, first) = app.get("/api/v1/plans").await;
    assert_eq!(first["items"][0]["title"], "100% literal_match", "most recently updated first");
}

async fn every_change_appends_one_audit_entry_and_a_failed_one_none(app: TestApp) {
    let audit = || app.count("SELECT COUNT(*) FROM audit_log WHERE plan_id IS NOT NULL");
    let plan = app.plan(two_stage_plan("audited")).await;
    assert_eq!(audit().await, 1);
    let path = format!("/api/v1/plans/{}", plan["id"]);
    let [a, b] = ids(&plan)[..] else { panic!() };
    let risk = plan["risks"][0]["id"].as_i64().unwrap();
    let mut version = 1;
    let mut change = |method: &'static str, p: String, mut body: Value| {
        body["version"] = json!(version);
        version += 1;
        (method, p, body)
    };
    let steps = [
        change("PATCH", path.clone(), json!({"title": "t2"})),
        change("POST", format!("{path}/stages"), json!({"name": "c"})),
        change("PATCH", format!("{path}/stages/{a}"), json!({"goal": "g"})),
        change("PUT", format!("{path}/stages/order"), json!({"stage_ids": [b, a]})),
        change("POST", format!("{path}/risks"), json!({"risk": "r", "likelihood": "low", "impact": "low"})),
        change("PATCH", format!("{path}/risks/{risk}"), json!({"impact": "medium"})),
    ];
    for (i, (method, p, mut body)) in steps.into_iter().enumerate() {
        if method == "PUT" {
            // The order must list the stage added a step earlier too.
            let added = ids(&app.get(&path).await.1)[2];
            body["stage_ids"].as_array_mut().unwrap().push(json!(added));
        }
        let (status, out) = app.send(method, &p, body).await;
        assert!(status < 300, "{method} {p}: {out}");
        assert_eq!(audit().await, 2 + i as i64, "{method} {p}");
    }
    for p in [format!("{path}/risks/{risk}?version=7"), format!("{path}/stages/{a}?version=8"), format!("{path}?version=9")] {
        let before = audit().await;
        let (status, out) = app.delete(&p).await;
        assert_eq!(status, 200, "{p}: {out}");
        assert_eq!(audit().await, before + 1);
    }
    let before = audit().await;
    app.send("PATCH", &path, json!({"version": 1, "title": "stale"})).await;
    app.send("POST", "/api/v1/plans", json!({"title": ""})).await;
    app.send("PUT", &format!("{path}/stages/order"), json!({"version": 10, "stage_ids": [a, a]})).await;
    assert_eq!(audit().await, before, "failed requests leave no entry");
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log WHERE plan_id IS NOT NULL ORDER BY id")
        .fetch_all(&app.service.db.pool)
        .await
        .unwrap();
    assert_eq!(actions.first().map(String::as_str), Some("plan.create"));
    assert_eq!(actions.last().map(String::as_str), Some("plan.archive"));
}

async fn the_openapi_document_describes_every_endpoint(app: TestApp) {
    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected = [
        ("/api/v1/plans", vec!["get", "post"]),
        ("/api/v1/plans/{id}", vec!["get", "patch", "delete"]),
        ("/api/v1/plans/{id}/stages", vec!["get", "post"]),
        ("/api/v1/plans/{id}/stages/order", vec!["put"]),
        ("/api/v1/plans/{id}/stages/{stage_id}", vec!["get", "patch", "delete"]),
        ("/api/v1/plans/{id}/stages/{stage_id}/flags", vec!["put"]),
        ("/api/v1/plans/{id}/stages/{stage_id}/gate", vec!["post"]),
        ("/api/v1/plans/{id}/stages/{stage_id}/pass", vec!["post"]),
        ("/api/v1/plans/{id}/stages/{stage_id}/abort", vec!["post"]),
        ("/api/v1/plans/{id}/stages/{stage_id}/rollback", vec!["post"]),
        ("/api/v1/plans/{id}/gates/{gate_id}/votes", vec!["post"]),
        ("/api/v1/plans/{id}/rollbacks/{rollback_id}/decision", vec!["post"]),
        ("/api/v1/inbox", vec!["get"]),
        ("/api/v1/plans/import", vec!["post"]),
        ("/api/v1/plans/{id}/export.md", vec!["get"]),
        ("/api/v1/plans/{id}/stages/{stage_id}/runs", vec!["post"]),
        ("/api/v1/plans/{id}/stages/{stage_id}/runbooks/{kind}", vec!["get"]),
        ("/api/v1/plans/{id}/runs/{run_id}", vec!["get"]),
        ("/api/v1/plans/{id}/runs/{run_id}/steps/{position}", vec!["put"]),
        ("/api/v1/plans/{id}/runs/{run_id}/notes", vec!["post"]),
        ("/api/v1/plans/{id}/stages/{stage_id}/guards", vec!["post"]),
        ("/api/v1/plans/{id}/stages/{stage_id}/guards/{guard_id}", vec!["put", "delete"]),
        ("/api/v1/plans/{id}/breaches/{breach_id}/resolve", vec!["post"]),
        ("/api/v1/plans/{id}/guards/series", vec!["get"]),
        ("/api/v1/metrics", vec!["post"]),
        ("/api/v1/plans/{id}/stages/{stage_id}/checklist", vec!["post"]),
        ("/api/v1/plans/{id}/stages/{stage_id}/checklist/copy", vec!["post"]),
        ("/api/v1/plans/{id}/stages/{stage_id}/checklist/{item_id}", vec!["delete"]),
        ("/api/v1/plans/{id}/stages/{stage_id}/checklist/{item_id}/result", vec!["put"]),
        ("/api/v1/plans/{id}/risks", vec!["get", "post"]),
        ("/api/v1/plans/{id}/risks/{risk_id}", vec!["get", "patch", "delete"]),
        ("/api/v1/plans/{id}/roles", vec!["get", "post"]),
        ("/api/v1/plans/{id}/roles/{role_id}", vec!["delete"]),
        ("/api/v1/plans/{id}/review", vec!["post"]),
        ("/api/v1/plans/{id}/signoffs", vec!["post"]),
        ("/api/v1/plans/{id}/comments", vec!["get", "post"]),
        ("/api/v1/session", vec!["get", "post", "delete"]),
        ("/api/v1/users", vec!["get", "post"]),
        ("/api/v1/users/{username}/password", vec!["put"]),
        ("/api/v1/tokens", vec!["get", "post"]),
        ("/api/v1/tokens/{token_id}", vec!["delete"]),
        ("/api/v1/webhooks", vec!["get", "post"]),
        ("/api/v1/webhooks/{webhook_id}", vec!["delete"]),
        ("/api/v1/webhooks/deliveries", vec!["get"]),
        ("/api/v1/flags", vec!["get", "post"]),
        ("/api/v1/flags/{key}", vec!["get", "patch", "delete"]),
        ("/api/v1/flags/{key}/environments/{env}", vec!["put"]),
        ("/api/v1/flags/{key}/kill", vec!["post"]),
        ("/api/v1/environments", vec!["get", "post"]),
        ("/api/v1/segments", vec!["get", "post"]),
        ("/api/v1/segments/{name}", vec!["get", "put", "delete"]),
        ("/api/v1/audit", vec!["get"]),
        ("/api/v1/audit/export.csv", vec!["get"]),
        ("/api/v1/audit/export.jsonl", vec!["get"]),
        ("/api/v1/workspaces", vec!["get", "post"]),
        ("/api/v1/workspaces/export.csv", vec!["get"]),
        ("/api/v1/workspaces/adoption", vec!["get"]),
        ("/api/v1/workspaces/imports", vec!["post"]),
        ("/api/v1/workspaces/imports/{import_id}", vec!["get"]),
        ("/api/v1/workspaces/{workspace_id}", vec!["get", "patch"]),
        ("/api/v1/workspaces/{workspace_id}/provider", vec!["put"]),
        ("/api/v1/workspaces/{workspace_id}/api-key", vec!["put", "delete"]),
        ("/api/v1/workspaces/{workspace_id}/members/{username}", vec!["put", "delete"]),
        ("/api/v1/workspaces/{workspace_id}/history", vec!["get"]),
        ("/api/v1/workspaces/{workspace_id}/agent-provider", vec!["get"]),
        ("/api/v1/workspaces/{workspace_id}/sessions", vec!["post"]),
        ("/api/v1/providers", vec!["get", "post"]),
    ];
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), expected.len(), "{:?}", paths.keys().collect::<Vec<_>>());
    for (path, methods) in expected {
        for m in methods {
            assert!(doc["paths"][path][m].is_object(), "{m} {path} missing from the OpenAPI document");
        }
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

async fn unknown_endpoints_and_methods_answer_in_json(app: TestApp) {
    let (status, body) = app.get("/api/v1/nothing-here").await;
    assert_eq!((status, error_of(&body).0), (404, "not_found"));
    let (status, body) = app.send("PUT", "/api/v1/plans", json!({})).await;
    assert_eq!((status, error_of(&body).0), (405, "method_not_allowed"));
}

async fn pages_render_fully_on_the_server(app: TestApp) {
    let plan = app.plan(json!({
        "title": "Rendered <b>plan</b>",
        "description": "Intro <script>alert(1)</script>\n\n```sql\nALTER TABLE t ADD COLUMN c TEXT;\n```",
        "stages": [{"name": "Stage one"}, {"name": "Stage two", "rollback_runbook": "- [ ] flip the flag back"}],
        "risks": [{"risk": "Table lock", "likelihood": "low", "impact": "high"}]
    }))
    .await;
    let (status, html) = app.get_text(&format!("/plans/{}", plan["id"])).await;
    assert_eq!(status, 200);
    assert!(html.contains("Rendered &lt;b&gt;plan&lt;/b&gt;"), "titles are text, not HTML");
    let one = html.find("Stage one").unwrap();
    let two = html.find("Stage two").unwrap();
    assert!(one < two, "stages in order");
    assert!(html.contains(r#"<code class="language-sql">"#));
    assert!(html.contains("Table lock"));
    assert!(!html.contains("<script>alert(1)"), "HTML in Markdown is sanitised");

    let (status, list) = app.get_text("/plans?q=rendered").await;
    assert_eq!(status, 200);
    assert!(list.contains(&format!("href=\"/plans/{}\"", plan["id"])));
    let (status, edit) = app.get_text(&format!("/plans/{}/edit", plan["id"])).await;
    assert_eq!(status, 200);
    assert!(edit.contains("field-title"));

    let (status, html) = app.get_text("/plans/999999").await;
    assert_eq!(status, 404);
    assert!(html.contains("Plan not found"));
    let (status, _) = app.get_text("/no/such/page").await;
    assert_eq!(status, 404);
}

async fn a_plan_page_carries_its_rendered_markdown_once_not_again_in_its_hydration_data(app: TestApp) {
    let plan = app
        .plan(json!({
            "title": "Markdown once",
            "description": "The **intro-words** of the plan",
            "stages": [{"name": "One", "description": "Stage *stage-words* here", "rollback_runbook": "1. rollback-words first"}]
        }))
        .await;
    let (status, html) = app.get_text(&format!("/plans/{}", plan["id"])).await;
    assert_eq!(status, 200);
    assert!(html.contains("<strong>intro-words</strong>") && html.contains("<em>stage-words</em>"), "{html}");
    for words in ["intro-words", "stage-words", "rollback-words"] {
        assert_eq!(html.matches(words).count(), 1, "{words} once in the page");
    }
}

async fn the_demo_plan_loads_once_into_an_empty_database(app: TestApp) {
    let id = runway::demo::load_if_empty(&app.service).await.unwrap().expect("loaded into an empty database");
    assert_eq!(runway::demo::load_if_empty(&app.service).await.unwrap(), None, "not twice");
    let (_, plan) = app.get(&format!("/api/v1/plans/{id}")).await;
    let stage_names = names(&plan);
    assert_eq!(stage_names.len(), 6);
    for (i, name) in stage_names.iter().enumerate() {
        assert!(name.starts_with(&format!("Stage {i}:")), "{name}");
    }
    assert!(plan["stages"][0]["forward_runbook"].as_str().unwrap().contains("```sql"));
    assert!(!plan["risks"].as_array().unwrap().is_empty());

    // Under way, as the demo people ran it: two stages through their gates, the third soaking.
    assert_eq!(plan["status"], "executing");
    let statuses: Vec<&str> = plan["stages"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["passed", "passed", "active", "pending", "pending", "pending"]);
    let checks: Vec<(&str, &str)> = plan["stages"][1]["checklist"].as_array().unwrap().iter()
        .map(|c| (c["status"].as_str().unwrap(), c["checked_by"].as_str().unwrap_or(""))).collect();
    assert_eq!(checks, [("pass", "oncall"), ("pass", "oncall"), ("fail", "oncall"), ("not_tested", "oncall")]);
    let gate = &plan["stages"][1]["gates"][0];
    assert_eq!((gate["status"].as_str(), gate["requested_by"].as_str()), (Some("go"), Some("lead")), "{gate}");
    assert_eq!(gate["votes"][0]["username"], "authority");

    // The rehearsal was rolled back, timed; the queue migration waits for the stakeholder.
    let (_, list) = app.get("/api/v1/plans").await;
    let find = |title: &str| list["items"].as_array().unwrap().iter().find(|p| p["title"] == title).cloned().unwrap_or_else(|| panic!("no {title}: {list}"));
    let rehearsal = find("Rehearsal: standalone MCP servers on staging");
    let (_, rehearsal) = app.get(&format!("/api/v1/plans/{}", rehearsal["id"])).await;
    let rollback = &rehearsal["stages"][0]["rollbacks"][0];
    assert_eq!((rollback["status"].as_str(), rollback["requested_by"].as_str()), (Some("approved"), Some("oncall")), "{rollback}");
    assert!(rollback["duration_ms"].as_i64().is_some() && rollback["target_seconds"] == 30, "{rollback}");
    let queue = find(runway::demo::QUEUE_TITLE);
    assert_eq!(queue["status"], "in_review");
}

async fn each_committed_change_is_published_as_a_server_sent_event(app: TestApp) {
    // A client that takes brotli still gets the stream as it happens, uncompressed.
    let mut events = app.request("GET", "/api/v1/events").header("accept-encoding", "br, gzip").send().await.unwrap();
    assert_eq!(events.status(), 200);
    assert!(events.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    assert!(events.headers().get("content-encoding").is_none(), "{:?}", events.headers());
    // A failed change publishes nothing; the first event must be the created plan's.
    app.send("POST", "/api/v1/plans", json!({"title": ""})).await;
    // The event names the request that made the change, so a page knows its own.
    let created = app.request("POST", "/api/v1/plans").header("x-request-id", "page-watched-1").json(&json!({"title": "watched"})).send().await.unwrap();
    let plan: Value = created.json().await.unwrap();
    let mut received = String::new();
    let wait = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !received.contains("\n\n") {
            let chunk = events.chunk().await.unwrap().expect("the stream stays open");
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
    });
    wait.await.expect("an event arrives");
    assert!(received.starts_with("event: change"), "{received}");
    let data: Value = serde_json::from_str(received.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
    assert_eq!(data, json!({"action": "plan.create", "plan_id": plan["id"], "version": 1, "request_id": "page-watched-1"}));
}

async fn pages_and_api_answers_are_compressed_for_clients_that_take_it(app: TestApp) {
    app.plan(json!({"title": "Compressed", "summary": "A plan long enough to be worth compressing."})).await;
    for path in ["/plans", "/api/v1/plans"] {
        let r = app.request("GET", path).header("accept-encoding", "br").send().await.unwrap();
        assert_eq!((r.status().as_u16(), r.headers().get("content-encoding").map(|v| v.to_str().unwrap())), (200, Some("br")), "{path}");
        let r = app.request("GET", path).header("accept-encoding", "gzip").send().await.unwrap();
        assert_eq!(r.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"), "{path}");
        let plain = app.request("GET", path).send().await.unwrap();
        assert!(plain.headers().get("content-encoding").is_none(), "{path}");
        assert!(plain.text().await.unwrap().contains("Compressed"), "{path}");
    }
}

async fn the_audit_log_filters_by_plan_actor_action_and_time_newest_first(app: TestApp) {
    let a = app.plan(two_stage_plan("Plan A")).await;
    let b = app.plan(json!({"title": "Plan B"})).await;
    let path = format!("/api/v1/plans/{}", a["id"]);
    app.send("PATCH", &path, json!({"version": 1, "title": "Plan A2"})).await;
    let [s1, s2] = ids(&a)[..] else { panic!() };
    app.send("PUT", &format!("{path}/stages/order"), json!({"version": 2, "stage_ids": [s2, s1]})).await;

    let (status, all) = app.get("/api/v1/audit").await;
    assert_eq!((status, all["total"].as_i64()), (200, Some(6)));
    let actions: Vec<&str> = all["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["stage.reorder", "plan.update", "plan.create", "plan.create", "session.sign_in", "person.create"]);

    let (_, of_a) = app.get(&format!("/api/v1/audit?plan_id={}", a["id"])).await;
    assert_eq!(of_a["total"], 3);
    let (_, of_b) = app.get(&format!("/api/v1/audit?plan_id={}", b["id"])).await;
    assert_eq!((of_b["total"].as_i64(), of_b["items"][0]["target"].as_str()), (Some(1), Some(format!("plan:{}", b["id"]).as_str())));

    let (_, update) = app.get("/api/v1/audit?action=plan.update").await;
    assert_eq!(update["total"], 1);
    assert_eq!(update["items"][0]["before"]["title"], "Plan A");
    assert_eq!(update["items"][0]["after"]["title"], "Plan A2");
    assert_eq!(update["items"][0]["actor"], "admin", "the signed-in person is the actor");
    let (_, plan_kind) = app.get("/api/v1/audit?action=plan.").await;
    assert_eq!(plan_kind["total"], 3, "a trailing dot matches every action of that kind");

    let (_, nobody) = app.get("/api/v1/audit?actor=nobody").await;
    assert_eq!(nobody["total"], 0);
    let (_, future) = app.get("/api/v1/audit?since=2999-01-01T00:00:00Z").await;
    assert_eq!(future["total"], 0);
    let (_, before_future) = app.get("/api/v1/audit?until=2999-01-01T00:00").await;
    assert_eq!(before_future["total"], 6);

    let (_, first) = app.get("/api/v1/audit?limit=1").await;
    let (_, second) = app.get(&format!("/api/v1/audit?limit=1&before={}", first["next"])).await;
    assert_eq!((second["items"].as_array().unwrap().len(), second["items"][0]["action"].as_str()), (1, Some("plan.update")));

    let (status, body) = app.get("/api/v1/audit?since=yesterday").await;
    assert_eq!((status, error_of(&body).1), (422, Some("since")));
    let (status, body) = app.get("/api/v1/audit?plan=1").await;
    assert_eq!((status, error_of(&body).1), (422, Some("plan")));

    let (status, html) = app.get_text(&format!("/audit?plan_id={}&action=plan.update", a["id"])).await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("class=\"audit-row\"").count(), 1, "the page shows the filtered entries");
}

async fn the_audit_log_exports_csv_and_json_lines_with_the_same_filters(app: TestApp) {
    let plan = app.plan(json!({"title": "Comma, \"quoted\" title"})).await;
    app.send("PATCH", &format!("/api/v1/plans/{}", plan["id"]), json!({"version": 1, "owner": "Grace"})).await;

    let r = app.request("GET", "/api/v1/audit/export.csv?action=plan.update").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    let csv = r.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "id,at,actor,action,target,plan_id,request_id,before,after");
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[1].contains(",admin,plan.update,"), "{csv}");
    assert!(rows[1].contains(r#"Comma, \""quoted\"" title"#), "quotes are doubled inside a quoted cell: {csv}");

    let r = app.request("GET", &format!("/api/v1/audit/export.jsonl?plan_id={}", plan["id"])).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[0]["action"].as_str(), lines[1]["action"].as_str()), (Some("plan.update"), Some("plan.create")));

    let (status, body) = app.get("/api/v1/audit/export.csv?until=soon").await;
    assert_eq!((status, error_of(&body).1), (422, Some("until")));
}

async fn the_audit_log_cannot_be_changed_over_http(app: TestApp) {
    app.plan(json!({"title": "p"})).await;
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let (status, _) = app.send(method, "/api/v1/audit", json!({})).await;
        assert_eq!(status, 405, "{method}");
    }
    let (status, _) = app.delete("/api/v1/audit/1").await;
    assert_eq!(status, 404);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE plan_id IS NOT NULL").await, 1);
}

async fn server_functions_answer_bad_arguments_with_4xx(app: TestApp) {
    use leptos::server_fn::ServerFn;
    let path = app::plan::GetPlanView::PATH;
    let call = |body: &'static str| {
        app.request("POST", path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    for (body, status) in [("id=abc", 400), ("", 400), ("id=999999", 404)] {
        let r = call(body).await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{body:?}: {}", r.text().await.unwrap());
    }
    let plan = app.plan(json!({"title": "served"})).await;
    let r = app.request("POST", path).form(&[("id", plan["id"].to_string())]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let view: Value = r.json().await.unwrap();
    assert_eq!(view["plan"]["title"], "served");
}

/// A running plan of `stages` stages, each with two checks, two flag changes and a guard.
/// The first has started: its gate has a vote, its forward run a note, and a rollback of
/// it waits for a decision; the plan has a sign-off.
async fn running_plan(app: &TestApp, stages: usize) -> i64 {
    for key in ["queue.shadow", "queue.cutover"] {
        let (status, body) = app.send("POST", "/api/v1/flags", json!({"key": key})).await;
        assert!(status == 201 || status == 409, "{body}");
    }
    let stage = |i: usize| {
        json!({
            "name": format!("Stage {i}"),
            "forward_runbook": "1. Drain the queue\n2. Switch the readers",
            "checklist": [{"text": "Dashboards green", "required": false}, {"text": "On-call told", "required": false}],
            "flag_changes": [
                {"flag": "queue.shadow", "environment": "production", "enabled": true, "percentage": 10},
                {"flag": "queue.cutover", "environment": "production", "enabled": true}
            ]
        })
    };
    let plan = app.plan(json!({"title": format!("{stages} stages"), "stages": (0..stages).map(stage).collect::<Vec<_>>()})).await;
    let id = plan["id"].as_i64().unwrap();
    let mut p = plan;
    for stage_id in ids(&p) {
        let guard = json!({"version": p["version"], "metric": "queue.errors", "comparison": ">", "threshold": 5, "window_seconds": 60, "min_samples": 3, "action": "notify"});
        let (status, next) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{stage_id}/guards"), guard).await;
        assert_eq!(status, 201, "{next}");
        p = next;
    }
    let authority = app.holding(&format!("ari{stages}"), id, "rollback_authority").await;
    let stakeholder = app.holding(&format!("sam{stages}"), id, "stakeholder").await;
    let (_, p) = app.get(&format!("/api/v1/plans/{id}")).await;
    let (_, p) = app.send("POST", &format!("/api/v1/plans/{id}/review"), json!({"version": p["version"]})).await;
    let (status, p) = stakeholder.send("POST", &format!("/api/v1/plans/{id}/signoffs"), json!({"version": p["version"], "decision": "approved"})).await;
    assert_eq!((status, p["status"].as_str()), (200, Some("approved")), "{p}");
    let first = ids(&p)[0];
    let (status, p) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{first}/gate"), json!({"version": p["version"]})).await;
    assert_eq!(status, 200, "{p}");
    let gate = p["stages"][0]["gates"][0]["id"].as_i64().unwrap();
    let (_, p) = authority.send("POST", &format!("/api/v1/plans/{id}/gates/{gate}/votes"), json!({"vote": "go"})).await;
    assert_eq!(p["stages"][0]["status"], "active", "{p}");
    let (status, p) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{first}/runs"), json!({"kind": "forward"})).await;
    assert_eq!(status, 201, "{p}");
    let run = p["stages"][0]["runs"][0]["id"].as_i64().unwrap();
    let (status, body) = app.send("POST", &format!("/api/v1/plans/{id}/runs/{run}/notes"), json!({"step": 0, "text": "draining"})).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{first}/rollback"), json!({"reason": "errors up"})).await;
    assert_eq!(status, 200, "{body}");
    id
}

async fn a_plan_loads_in_the_same_few_statements_however_many_stages_it_has(app: TestApp) {
    let (one, eight) = (running_plan(&app, 1).await, running_plan(&app, 8).await);
    let mut counted = vec![];
    for id in [one, eight] {
        let mut conn = app.service.db.read().await.unwrap();
        let (plan, n) = support::statements(runway::plan::load_plan(&mut conn, id)).await;
        let plan = plan.unwrap().unwrap();
        let stage = &plan.stages[0];
        let loaded = (stage.checklist.len(), stage.flag_changes.len(), stage.guards.len(), stage.gates[0].votes.len(), stage.runs[0].notes.len(), stage.rollbacks.len(), plan.signoffs.len());
        assert_eq!(loaded, (2, 2, 1, 1, 1, 1, 1), "everything the statements count was loaded");
        assert!(plan.stages.iter().all(|s| s.checklist.len() == 2 && s.flag_changes.len() == 2 && s.guards.len() == 1));
        counted.push((plan.stages.len(), n));
    }
    let n = counted[0].1;
    assert_eq!(counted, [(1, n), (8, n)], "as many statements for eight stages as for one");
    assert!((1..=10).contains(&n), "a plan loads in at most 10 statements, not {n}");
}
