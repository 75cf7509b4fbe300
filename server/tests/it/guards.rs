//! Guards: rollback triggers on live metrics sent to `POST /api/v1/metrics`, over HTTP
//! on both databases.
use crate::support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{error_of, Auth, TestApp};

on_both_databases!(
    a_breach_on_an_auto_rollback_guard_rolls_the_stage_back_and_reverts_its_flags_within_a_second_of_the_batch,
    a_roll_back_guard_on_a_stage_without_automatic_rollback_asks_the_rollback_authorities,
    no_breach_is_recorded_before_the_minimum_number_of_samples,
    a_multiple_of_the_baseline_compares_with_the_mean_before_the_stage_started_or_the_entered_number,
    a_pause_guard_keeps_the_next_gate_closed_until_someone_resolves_its_breach,
    bad_points_are_refused_by_their_index_and_the_good_ones_in_the_batch_are_stored,
    samples_past_the_retention_period_are_refused_at_ingest_and_removed_in_the_background,
    guard_settings_are_checked_and_guards_only_go_on_stages_that_have_not_finished,
    a_metrics_token_limited_to_billing_cannot_send_git_errors_nor_trip_a_guard_on_them,
    a_guard_matching_service_git_is_neither_breached_nor_diluted_by_other_services_samples,
    a_relative_guard_measures_its_baseline_from_its_own_service_only,
);

/// An approved plan with two stages; the first flips `flag` on in production when it
/// starts. Returns the plan and its rollback authority.
async fn approved(app: &TestApp, flag: &str, auto_rollback: bool) -> (Value, TestApp) {
    let (status, f) = app.send("POST", "/api/v1/flags", json!({"key": flag})).await;
    assert_eq!(status, 201, "{f}");
    let plan = app
        .plan(json!({"title": "Queue migration", "stages": [
            {"name": "Shadow writes", "auto_rollback": auto_rollback,
             "flag_changes": [{"flag": flag, "environment": "production", "enabled": true, "percentage": 100}]},
            {"name": "Cut over"}
        ]}))
        .await;
    let id = plan["id"].as_i64().unwrap();
    let authority = app.holding("ari", id, "rollback_authority").await;
    let stakeholder = app.holding("sam", id, "stakeholder").await;
    let p = get(app, id).await;
    let (_, p) = app.send("POST", &format!("/api/v1/plans/{id}/review"), json!({"version": p["version"]})).await;
    let (status, p) = stakeholder.send("POST", &format!("/api/v1/plans/{id}/signoffs"), json!({"version": p["version"], "decision": "approved"})).await;
    assert_eq!((status, p["status"].as_str()), (200, Some("approved")), "{p}");
    (p, authority)
}

async fn get(app: &TestApp, id: i64) -> Value {
    let (status, p) = app.get(&format!("/api/v1/plans/{id}")).await;
    assert_eq!(status, 200, "{p}");
    p
}

fn stage(plan: &Value, i: usize) -> &Value {
    &plan["stages"][i]
}

/// Adds a guard to the plan's stage `i` (as the admin, who may edit any plan).
async fn add_guard(app: &TestApp, id: i64, i: usize, settings: Value) -> Value {
    let p = get(app, id).await;
    let stage_id = stage(&p, i)["id"].as_i64().unwrap();
    let mut body = settings;
    body["version"] = p["version"].clone();
    let (status, p) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{stage_id}/guards"), body).await;
    assert_eq!(status, 201, "{p}");
    p
}

/// The admin asks for go on stage `i`; the rollback authority says go. Guards added
/// since the sign-off sent the plan back to review: Sam signs it off again first.
async fn start(app: &TestApp, authority: &TestApp, id: i64, i: usize) {
    let mut p = get(app, id).await;
    if p["status"] == "in_review" {
        let sam = app.signed_in("sam").await;
        let (status, signed) = sam.send("POST", &format!("/api/v1/plans/{id}/signoffs"), json!({"version": p["version"], "decision": "approved"})).await;
        assert_eq!((status, signed["status"].as_str()), (200, Some("approved")), "{signed}");
        p = signed;
    }
    let stage_id = stage(&p, i)["id"].as_i64().unwrap();
    let (status, p) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{stage_id}/gate"), json!({"version": p["version"]})).await;
    assert_eq!(status, 200, "{p}");
    let gate = stage(&p, i)["gates"].as_array().unwrap().last().unwrap()["id"].as_i64().unwrap();
    let (status, p) = authority.send("POST", &format!("/api/v1/plans/{id}/gates/{gate}/votes"), json!({"vote": "go"})).await;
    assert_eq!((status, stage(&p, i)["status"].as_str()), (200, Some("active")), "{p}");
}

/// A service holding a metrics:write token.
async fn metrics_service(app: &TestApp) -> TestApp {
    app.with_token(&["metrics:write"]).await
}

fn points(metric: &str, values: &[f64]) -> Value {
    Value::Array(values.iter().map(|v| json!({"metric": metric, "value": v, "labels": {"host": "web-1"}})).collect())
}

/// A point `minutes_ago` minutes before now.
fn point_at(metric: &str, value: f64, minutes_ago: i64) -> Value {
    let t = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
    json!({"metric": metric, "value": value, "time": t.to_rfc3339()})
}

async fn send(service: &TestApp, batch: Value) -> Value {
    let (status, report) = service.send("POST", "/api/v1/metrics", batch).await;
    assert_eq!(status, 200, "{report}");
    report
}

/// A flags:read token for production, as a service evaluating flags would hold.
async fn flag_reader(app: &TestApp) -> TestApp {
    let (status, made) =
        app.send("POST", "/api/v1/tokens", json!({"name": "checkout", "scopes": ["flags:read"], "environment": "production"})).await;
    assert_eq!(status, 201, "{made}");
    app.with(Auth::Bearer(made["secret"].as_str().unwrap().to_string()))
}

async fn served(reader: &TestApp, flag: &str) -> Value {
    let (status, body) = reader.send("POST", &format!("/ofrep/v1/evaluate/flags/{flag}"), json!({"context": {"targetingKey": "user-1"}})).await;
    assert_eq!(status, 200, "{body}");
    body["value"].clone()
}

fn audit_actions(entries: &Value) -> Vec<String> {
    entries["items"].as_array().unwrap().iter().map(|e| format!("{} by {}", e["action"].as_str().unwrap(), e["actor"].as_str().unwrap())).collect()
}

async fn a_breach_on_an_auto_rollback_guard_rolls_the_stage_back_and_reverts_its_flags_within_a_second_of_the_batch(app: TestApp) {
    let (plan, authority) = approved(&app, "queue.v2", true).await;
    let id = plan["id"].as_i64().unwrap();
    add_guard(&app, id, 0, json!({"metric": "error_rate", "comparison": ">", "threshold": 5, "window_seconds": 60, "min_samples": 3, "action": "roll_back"})).await;
    start(&app, &authority, id, 0).await;
    let reader = flag_reader(&app).await;
    assert_eq!(served(&reader, "queue.v2").await, json!(true), "the stage turned the flag on");
    let service = metrics_service(&app).await;

    // Healthy: under the threshold.
    let report = send(&service, points("error_rate", &[1.0, 2.0, 1.5])).await;
    assert_eq!((report["accepted"].as_i64(), report["breaches"].as_array().unwrap().len()), (Some(3), 0), "{report}");

    // The breaching batch lifts the window's mean to (1+2+1.5+12+12+12)/6 = 6.75 > 5.
    let sent = Instant::now();
    let report = send(&service, points("error_rate", &[12.0, 12.0, 12.0])).await;
    let notice = &report["breaches"][0];
    assert_eq!((notice["action"].as_str(), notice["plan_id"].as_i64()), (Some("roll_back"), Some(id)), "{report}");
    // End to end: the flag a service reads is off again.
    assert_eq!(served(&reader, "queue.v2").await, json!(false));
    let took = sent.elapsed();
    println!("from sending the breaching batch to the flag served off: {took:?}");
    assert!(took < Duration::from_secs(1), "the stage rolled back {took:?} after the breaching batch");

    let p = get(&app, id).await;
    let s = stage(&p, 0);
    assert_eq!((s["status"].as_str(), p["status"].as_str()), (Some("rolled_back"), Some("rolled_back")), "{p}");
    let rollback = &s["rollbacks"][0];
    let guard_id = s["guards"][0]["id"].as_i64().unwrap();
    assert_eq!(rollback["automatic"], json!(true), "{rollback}");
    assert_eq!(rollback["status"], "approved");
    assert_eq!(rollback["decided_by"].as_str(), Some(format!("guard:{guard_id}").as_str()));
    assert_eq!(rollback["requested_by"].as_str(), Some(format!("guard:{guard_id}").as_str()));
    assert!(rollback["reason"].as_str().unwrap().contains("error_rate > 5"), "{rollback}");
    assert!(rollback["duration_ms"].as_i64().unwrap() < 1000, "{rollback}");
    assert_eq!(s["flag_changes"][0]["reverted_at"].is_string(), true);
    let breach = &s["guards"][0]["breaches"][0];
    assert_eq!((breach["value"].as_f64(), breach["samples"].as_i64(), breach["threshold"].as_f64()), (Some(6.75), Some(6), Some(5.0)));
    assert_eq!(breach["rollback_id"], rollback["id"]);

    // Audited as the guard's, in order; webhooks queued.
    let (_, log) = app.get(&format!("/api/v1/audit?plan_id={id}")).await;
    let actions = audit_actions(&log);
    for wanted in ["guard.breach by guard", "rollback.approve by guard", "rollback.done by guard"] {
        assert!(actions.iter().any(|a| a == wanted), "{wanted} missing from {actions:?}");
    }
    // The chart's series: the samples, the threshold and the breach.
    let (status, series) = app.get(&format!("/api/v1/plans/{id}/guards/series")).await;
    assert_eq!(status, 200, "{series}");
    let chart = &series[0];
    let samples: i64 = chart["points"].as_array().unwrap().iter().map(|p| p["samples"].as_i64().unwrap()).sum();
    assert_eq!((samples, chart["threshold"].as_f64(), chart["breaches"].as_array().unwrap().len()), (6, Some(5.0), 1), "{chart}");

    // The stage is over: more bad samples change nothing.
    let report = send(&service, points("error_rate", &[50.0, 50.0, 50.0])).await;
    assert_eq!(report["breaches"].as_array().unwrap().len(), 0, "{report}");
}

async fn a_roll_back_guard_on_a_stage_without_automatic_rollback_asks_the_rollback_authorities(app: TestApp) {
    let (status, hook) = app.send("POST", "/api/v1/webhooks", json!({"url": "http://127.0.0.1:9/pager", "events": ["guard.breached"]})).await;
    assert_eq!(status, 201, "{hook}");
    let (plan, authority) = approved(&app, "queue.v2", false).await;
    let id = plan["id"].as_i64().unwrap();
    add_guard(&app, id, 0, json!({"metric": "mismatch_rate", "comparison": ">", "threshold": 0.1, "window_seconds": 60, "min_samples": 2, "action": "roll_back"})).await;
    start(&app, &authority, id, 0).await;
    let service = metrics_service(&app).await;
    let report = send(&service, points("mismatch_rate", &[0.5, 0.4])).await;
    let rollback_id = report["breaches"][0]["rollback_id"].as_i64().expect("a rollback was asked for");

    let p = get(&app, id).await;
    let s = stage(&p, 0);
    assert_eq!(s["status"], "active", "nothing reverts before a person approves");
    assert_eq!((s["rollbacks"][0]["status"].as_str(), s["rollbacks"][0]["automatic"].as_bool()), (Some("pending"), Some(false)));
    // The rollback authority finds it in their inbox and approves it.
    let (_, inbox) = authority.get("/api/v1/inbox").await;
    assert!(inbox.as_array().unwrap().iter().any(|i| i["kind"] == "rollback" && i["id"] == rollback_id), "{inbox}");
    let (status, p) = authority.send("POST", &format!("/api/v1/plans/{id}/rollbacks/{rollback_id}/decision"), json!({"decision": "approve"})).await;
    assert_eq!((status, stage(&p, 0)["status"].as_str()), (200, Some("rolled_back")), "{p}");
    let queued = app.count("SELECT COUNT(*) FROM webhook_deliveries WHERE event = 'guard.breached'").await;
    assert_eq!(queued, 1, "the pager's webhook is sent the breach");
}

async fn no_breach_is_recorded_before_the_minimum_number_of_samples(app: TestApp) {
    let (plan, authority) = approved(&app, "queue.v2", true).await;
    let id = plan["id"].as_i64().unwrap();
    add_guard(&app, id, 0, json!({"metric": "error_rate", "comparison": ">=", "threshold": 5, "window_seconds": 120, "min_samples": 5, "action": "notify"})).await;
    start(&app, &authority, id, 0).await;
    let service = metrics_service(&app).await;
    for n in 1..=4 {
        let report = send(&service, points("error_rate", &[9.0])).await;
        assert!(report["breaches"].as_array().unwrap().is_empty(), "breached after {n} sample(s): {report}");
    }
    assert_eq!(stage(&get(&app, id).await, 0)["guards"][0]["breaches"], json!([]));
    // The fifth sample makes five, all at or above 5; two batches at once record one breach.
    let (a, b) = tokio::join!(send(&service, points("error_rate", &[5.0])), send(&service, points("error_rate", &[5.0])));
    let breaches = a["breaches"].as_array().unwrap().len() + b["breaches"].as_array().unwrap().len();
    assert_eq!(breaches, 1, "{a} {b}");
    let p = get(&app, id).await;
    let s = stage(&p, 0);
    assert_eq!(s["guards"][0]["breaches"].as_array().unwrap().len(), 1);
    assert_eq!(s["status"], "active", "notify only tells people");
    // While the breach is open the guard does not record another for every batch.
    send(&service, points("error_rate", &[20.0, 20.0])).await;
    assert_eq!(stage(&get(&app, id).await, 0)["guards"][0]["breaches"].as_array().unwrap().len(), 1);
}

async fn a_multiple_of_the_baseline_compares_with_the_mean_before_the_stage_started_or_the_entered_number(app: TestApp) {
    let (plan, authority) = approved(&app, "queue.v2", false).await;
    let id = plan["id"].as_i64().unwrap();
    // p95 latency > 2x the mean of the 30 minutes before the stage started.
    add_guard(&app, id, 0, json!({"metric": "p95_latency_ms", "comparison": ">", "threshold": 2, "relative": true,
                                 "baseline_window_minutes": 30, "window_seconds": 60, "min_samples": 3, "action": "notify"})).await;
    // Queue depth growth > 1.5x an entered baseline of 10.
    add_guard(&app, id, 0, json!({"metric": "queue_depth_growth", "comparison": ">", "threshold": 1.5, "relative": true,
                                 "baseline_value": 10, "window_seconds": 60, "min_samples": 1, "action": "notify"})).await;
    let service = metrics_service(&app).await;
    // Before the stage: 90 and 110 inside the baseline window, 500 long before it.
    send(&service, json!([point_at("p95_latency_ms", 90.0, 10), point_at("p95_latency_ms", 110.0, 5), point_at("p95_latency_ms", 500.0, 90)])).await;
    start(&app, &authority, id, 0).await;

    // 190 is under 2 x 100; the samples from before the stage are not in the window.
    let report = send(&service, points("p95_latency_ms", &[190.0, 190.0, 190.0])).await;
    assert!(report["breaches"].as_array().unwrap().is_empty(), "{report}");
    let p = get(&app, id).await;
    let g = &stage(&p, 0)["guards"][0];
    assert_eq!((g["baseline_measured"].as_f64(), g["baseline_samples"].as_i64()), (Some(100.0), Some(2)), "{g}");
    // (3 x 190 + 3 x 260) / 6 = 225 > 200.
    let report = send(&service, points("p95_latency_ms", &[260.0, 260.0, 260.0])).await;
    assert_eq!(report["breaches"].as_array().unwrap().len(), 1, "{report}");
    let p = get(&app, id).await;
    let b = &stage(&p, 0)["guards"][0]["breaches"][0];
    assert_eq!((b["value"].as_f64(), b["threshold"].as_f64(), b["baseline"].as_f64()), (Some(225.0), Some(200.0), Some(100.0)), "{b}");

    // The entered baseline: 14 is under 15, 16 is over.
    assert!(send(&service, points("queue_depth_growth", &[14.0])).await["breaches"].as_array().unwrap().is_empty());
    let p = get(&app, id).await;
    let g2 = &stage(&p, 0)["guards"][1];
    assert_eq!(g2["baseline_measured"], Value::Null, "an entered baseline is never measured");
    // The window's mean is now (14 + 17) / 2 = 15.5 > 15.
    let report = send(&service, points("queue_depth_growth", &[17.0])).await;
    assert_eq!(report["breaches"].as_array().unwrap().len(), 1, "{report}");
    let p = get(&app, id).await;
    let b = &stage(&p, 0)["guards"][1]["breaches"][0];
    assert_eq!((b["threshold"].as_f64(), b["baseline"].as_f64()), (Some(15.0), Some(10.0)));
}

async fn a_pause_guard_keeps_the_next_gate_closed_until_someone_resolves_its_breach(app: TestApp) {
    let (plan, authority) = approved(&app, "queue.v2", false).await;
    let id = plan["id"].as_i64().unwrap();
    add_guard(&app, id, 0, json!({"metric": "data_consistency", "comparison": "<", "threshold": 99.99, "window_seconds": 300, "min_samples": 2, "action": "pause"})).await;
    start(&app, &authority, id, 0).await;
    let service = metrics_service(&app).await;
    let report = send(&service, points("data_consistency", &[99.95, 99.97])).await;
    assert_eq!(report["breaches"][0]["action"], "pause", "{report}");

    let p = get(&app, id).await;
    let stage_id = stage(&p, 0)["id"].as_i64().unwrap();
    let (status, body) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{stage_id}/pass"), json!({"version": p["version"]})).await;
    assert_eq!((status, error_of(&body).0), (409, "guard_paused"), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("data_consistency < 99.99"), "{body}");

    // Only people running the plan resolve it, and they say what they did.
    let breach = stage(&p, 0)["guards"][0]["breaches"][0]["id"].as_i64().unwrap();
    let url = format!("/api/v1/plans/{id}/breaches/{breach}/resolve");
    let stakeholder = app.signed_in("sam").await;
    let (status, _) = stakeholder.send("POST", &url, json!({"note": "fine"})).await;
    assert_eq!(status, 403);
    let (status, body) = authority.send("POST", &url, json!({"note": " "})).await;
    assert_eq!((status, error_of(&body)), (422, ("validation", Some("note"))));
    let (status, p) = authority.send("POST", &url, json!({"note": "Replica lag from a backup; consistency is back at 100%."})).await;
    assert_eq!(status, 200, "{p}");
    let b = &stage(&p, 0)["guards"][0]["breaches"][0];
    assert_eq!((b["resolved_by"].as_str(), b["resolution"].as_str()), (Some("ari"), Some("Replica lag from a backup; consistency is back at 100%.")));
    let (status, body) = authority.send("POST", &url, json!({"note": "again"})).await;
    assert_eq!((status, error_of(&body).0), (409, "breach_resolved"));

    let (status, p) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{stage_id}/pass"), json!({"version": p["version"]})).await;
    assert_eq!((status, stage(&p, 0)["status"].as_str()), (200, Some("passed")), "{p}");
    let (_, log) = app.get(&format!("/api/v1/audit?plan_id={id}")).await;
    let actions = audit_actions(&log);
    assert!(actions.contains(&"guard.breach by guard".to_string()) && actions.contains(&"guard.resolve by ari".to_string()), "{actions:?}");
}

async fn bad_points_are_refused_by_their_index_and_the_good_ones_in_the_batch_are_stored(app: TestApp) {
    let service = metrics_service(&app).await;
    let future = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    // An hour ago, written in another offset.
    let earlier = (chrono::Utc::now() - chrono::Duration::hours(1)).with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap()).to_rfc3339();
    let body = format!(
        r#"[{{"metric": "never_guarded_yet", "value": 1}},
            {{"metric": "error_rate", "value": "NaN"}},
            {{"metric": "error_rate", "value": 1e400}},
            {{"metric": "error_rate", "value": 2, "time": "{future}"}},
            {{"metric": "error rate", "value": 2}},
            {{"metric": "error_rate"}},
            {{"metric": "error_rate", "value": 3, "time": "yesterday"}},
            {{"metric": "error_rate", "value": 4, "unit": "%"}},
            7,
            {{"metric": "error_rate", "value": 0.5, "time": "{earlier}", "labels": {{"region": "eu"}}}}]"#
    );
    let before = app.count("SELECT COUNT(*) FROM metric_samples").await;
    let (status, report) = service.send_raw("POST", "/api/v1/metrics", "application/json", body).await;
    assert_eq!(status, 200, "{report}");
    let refused: Vec<(i64, &str)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_i64().unwrap(), r["error"]["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        refused,
        vec![(1, "points[1].value"), (2, "points[2].value"), (3, "points[3].time"), (4, "points[4].metric"), (5, "points[5].value"),
             (6, "points[6].time"), (7, "points[7].unit"), (8, "points[8]")],
        "{report}"
    );
    assert_eq!(report["rejected"][2]["error"]["code"], "time_in_future");
    assert_eq!(report["accepted"], 2, "the unknown metric and the last point are kept");
    assert_eq!(app.count("SELECT COUNT(*) FROM metric_samples").await, before + 2);

    // Nothing good: 422 naming the first bad point, nothing stored.
    let (status, body) = service.send("POST", "/api/v1/metrics", json!({"points": [{"metric": "x", "value": "Infinity"}]})).await;
    assert_eq!((status, error_of(&body)), (422, ("invalid_points", Some("points[0].value"))), "{body}");
    // Over 10,000 points: refused whole.
    let big = points("error_rate", &vec![1.0; 10_001]);
    let (status, body) = service.send("POST", "/api/v1/metrics", big).await;
    assert_eq!((status, error_of(&body)), (413, ("batch_too_large", Some("points"))), "{body}");
    let (status, body) = service.send_raw("POST", "/api/v1/metrics", "application/json", "[{\"metric\":").await;
    assert_eq!((status, error_of(&body).0), (400, "malformed_json"));
    let (status, body) = service.send_raw("POST", "/api/v1/metrics", "text/plain", "error_rate 1").await;
    assert_eq!((status, error_of(&body).0), (415, "unsupported_media_type"));
    assert_eq!(app.count("SELECT COUNT(*) FROM metric_samples").await, before + 2);

    // Wrong credentials.
    let ok = json!([{"metric": "error_rate", "value": 1}]);
    let (status, body) = app.with_token(&["plans:write"]).await.send("POST", "/api/v1/metrics", ok.clone()).await;
    assert_eq!((status, error_of(&body).0), (403, "missing_scope"));
    let (status, _) = app.with(Auth::Bearer("rwy_not_a_real_token".into())).send("POST", "/api/v1/metrics", ok.clone()).await;
    assert_eq!(status, 401);
    let (status, _) = app.anonymous().send("POST", "/api/v1/metrics", ok.clone()).await;
    assert_eq!(status, 401);
    let (status, body) = app.send("POST", "/api/v1/metrics", ok).await;
    assert_eq!(status, 403, "people do not send metrics: {body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM metric_samples").await, before + 2);
}

async fn samples_past_the_retention_period_are_refused_at_ingest_and_removed_in_the_background(app: TestApp) {
    let service = metrics_service(&app).await;
    // Fourteen days by default: 15 days old is refused, 13 days old is kept.
    let report = send(&service, json!([point_at("queue_depth", 1.0, 15 * 24 * 60), point_at("queue_depth", 2.0, 13 * 24 * 60)])).await;
    assert_eq!((report["accepted"].as_i64(), report["rejected"][0]["error"]["code"].as_str()), (Some(1), Some("time_too_old")), "{report}");
    // Samples stored when the retention was longer, as a replica with other settings would leave them.
    let old = chrono::Utc::now().timestamp_millis() - 20 * 24 * 3600 * 1000;
    let mut tx = app.service.db.write().await.unwrap();
    for i in 0..6_000i64 {
        sqlx::query("INSERT INTO metric_samples (metric, value, at_ms, labels) VALUES ($1, $2, $3, '{}')")
            .bind("queue_depth")
            .bind(i as f64)
            .bind(old + i)
            .execute(tx.conn())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM metric_samples").await, 6_001);
    let removed = app.service.remove_old_samples().await.unwrap();
    assert_eq!(removed, 6_000);
    assert_eq!(app.count("SELECT COUNT(*) FROM metric_samples").await, 1, "the 13-day-old sample stays");
    // A shorter retention removes it too.
    let shorter = app.service.clone().with_metrics_retention(Duration::from_secs(7 * 24 * 3600));
    assert_eq!(shorter.remove_old_samples().await.unwrap(), 1);
}

async fn guard_settings_are_checked_and_guards_only_go_on_stages_that_have_not_finished(app: TestApp) {
    let (plan, authority) = approved(&app, "queue.v2", false).await;
    let id = plan["id"].as_i64().unwrap();
    let stage_id = stage(&plan, 0)["id"].as_i64().unwrap();
    let url = format!("/api/v1/plans/{id}/stages/{stage_id}/guards");
    let base = json!({"version": plan["version"], "metric": "error_rate", "comparison": ">", "threshold": 5, "action": "roll_back"});
    for (change, field) in [
        (json!({"comparison": "=>"}), "comparison"),
        (json!({"threshold": "5%"}), "threshold"),
        (json!({"metric": ""}), "metric"),
        (json!({"window_seconds": 0}), "window_seconds"),
        (json!({"min_samples": -1}), "min_samples"),
        (json!({"relative": true, "threshold": -2}), "threshold"),
        (json!({"baseline_value": 3}), "baseline_value"),
        (json!({"action": "page"}), "action"),
        (json!({"labels": {"service": ""}}), "labels"),
    ] {
        let mut body = base.clone();
        body.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
        let (status, err) = app.send("POST", &url, body).await;
        assert_eq!((status, error_of(&err).1), (422, Some(field)), "{err}");
    }
    let p = add_guard(&app, id, 0, json!({"metric": "error_rate", "comparison": ">", "threshold": 5, "action": "roll_back"})).await;
    let g = &stage(&p, 0)["guards"][0];
    assert_eq!((g["window_seconds"].as_i64(), g["min_samples"].as_i64()), (Some(300), Some(5)), "defaults: {g}");
    // Edited, then removed.
    let guard_id = g["id"].as_i64().unwrap();
    let one = format!("{url}/{guard_id}");
    let (status, p) = app.send("PUT", &one, json!({"version": p["version"], "metric": "error_rate", "comparison": ">=", "threshold": 2, "action": "pause"})).await;
    assert_eq!((status, stage(&p, 0)["guards"][0]["action"].as_str()), (200, Some("pause")), "{p}");
    let (status, p) = app.delete(&format!("{one}?version={}", p["version"])).await;
    assert_eq!((status, stage(&p, 0)["guards"].as_array().unwrap().len()), (200, 0), "{p}");
    // Once the stage has started, no guard is added to it: it runs as it was signed off.
    start(&app, &authority, id, 0).await;
    let p = get(&app, id).await;
    let (status, p) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{stage_id}/pass"), json!({"version": p["version"]})).await;
    assert_eq!(status, 200, "{p}");
    let mut body = base.clone();
    body["version"] = p["version"].clone();
    let (status, err) = app.send("POST", &url, body).await;
    assert_eq!((status, error_of(&err).0), (409, "stage_frozen"));
}

/// Points of `metric` carrying `labels`.
fn labelled(metric: &str, labels: Value, values: &[f64]) -> Vec<Value> {
    values.iter().map(|v| json!({"metric": metric, "value": v, "labels": labels})).collect()
}

async fn a_metrics_token_limited_to_billing_cannot_send_git_errors_nor_trip_a_guard_on_them(app: TestApp) {
    let (plan, authority) = approved(&app, "git.gc.v2", false).await;
    let id = plan["id"].as_i64().unwrap();
    add_guard(&app, id, 0, json!({"metric": "git.errors", "comparison": ">", "threshold": 5, "window_seconds": 60, "min_samples": 1, "action": "pause"})).await;
    start(&app, &authority, id, 0).await;

    // The billing team's token, made on the command line.
    let (ok, out, err) = support::run_cli(&app, &["token", "create", "billing", "--scopes", "metrics:write", "--metrics", "billing."], "", &[]).await;
    assert!(ok, "{out}{err}");
    let billing = app.with(Auth::Bearer(out.lines().last().unwrap().trim().to_string()));
    let (_, tokens) = app.get("/api/v1/tokens").await;
    let listed = tokens.as_array().unwrap().iter().find(|t| t["name"] == "billing").unwrap().clone();
    assert_eq!(listed["metrics"], json!(["billing."]), "{listed}");

    // Its own metric is stored; git's is refused by its index, and the guard does not move.
    let samples = app.count("SELECT COUNT(*) FROM metric_samples").await;
    let audit = app.count("SELECT COUNT(*) FROM audit_log").await;
    let batch = json!([{"metric": "billing.errors", "value": 1}, {"metric": "git.errors", "value": 50}, {"metric": "billing", "value": 50}]);
    let report = send(&billing, batch).await;
    assert_eq!(report["accepted"], 1, "{report}");
    let refused: Vec<(i64, &str, &str)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_i64().unwrap(), r["error"]["code"].as_str().unwrap(), r["error"]["field"].as_str().unwrap()))
        .collect();
    assert_eq!(refused, [(1, "metric_not_allowed", "points[1].metric"), (2, "metric_not_allowed", "points[2].metric")], "{report}");
    assert_eq!(report["breaches"], json!([]), "{report}");
    // Nothing but git's metric: 422, nothing stored.
    let (status, body) = billing.send("POST", "/api/v1/metrics", json!([{"metric": "git.errors", "value": 99}])).await;
    assert_eq!((status, error_of(&body)), (422, ("invalid_points", Some("points[0].metric"))), "{body}");
    assert_eq!(body["rejected"][0]["error"]["code"], "metric_not_allowed", "{body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM metric_samples").await, samples + 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM metric_samples WHERE metric = 'git.errors'").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log").await, audit, "no breach, no audit entry");
    let p = get(&app, id).await;
    assert_eq!((stage(&p, 0)["status"].as_str(), stage(&p, 0)["guards"][0]["breaches"].clone()), (Some("active"), json!([])), "{p}");

    // Git's own token can: the guard was watching all along.
    let (status, made) = app.send("POST", "/api/v1/tokens", json!({"name": "git", "scopes": ["metrics:write"], "metrics": ["git.errors"]})).await;
    assert_eq!(status, 201, "{made}");
    let git = app.with(Auth::Bearer(made["secret"].as_str().unwrap().to_string()));
    let report = send(&git, json!([{"metric": "git.errors", "value": 50}])).await;
    assert_eq!(report["breaches"][0]["action"], "pause", "{report}");

    // A list is only for metrics:write tokens, and holds metric names or prefixes.
    let tokens = app.count("SELECT COUNT(*) FROM api_tokens").await;
    let audit = app.count("SELECT COUNT(*) FROM audit_log").await;
    for (body, field) in [
        (json!({"name": "x", "scopes": ["plans:read"], "metrics": ["billing."]}), "metrics"),
        (json!({"name": "x", "scopes": ["metrics:write"], "metrics": ["billing.", "git errors"]}), "metrics[1]"),
        (json!({"name": "x", "scopes": ["metrics:write"], "metrics": [""]}), "metrics[0]"),
    ] {
        let (status, error) = app.send("POST", "/api/v1/tokens", body).await;
        assert_eq!((status, error_of(&error).1), (422, Some(field)), "{error}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM api_tokens").await, tokens);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log").await, audit);
}

async fn a_guard_matching_service_git_is_neither_breached_nor_diluted_by_other_services_samples(app: TestApp) {
    let (plan, authority) = approved(&app, "git.gc.v2", false).await;
    let id = plan["id"].as_i64().unwrap();
    let stage_id = stage(&plan, 0)["id"].as_i64().unwrap();
    // A matcher with no value is refused and changes nothing.
    let bad = json!({"version": plan["version"], "metric": "errors", "labels": {"service": ""}, "comparison": ">", "threshold": 5, "action": "notify"});
    let (status, err) = app.send("POST", &format!("/api/v1/plans/{id}/stages/{stage_id}/guards"), bad).await;
    assert_eq!((status, error_of(&err).1), (422, Some("labels")), "{err}");
    assert_eq!(get(&app, id).await["version"], plan["version"]);

    add_guard(&app, id, 0, json!({"metric": "errors", "labels": {"service": "git"}, "comparison": ">", "threshold": 5,
                                 "window_seconds": 60, "min_samples": 3, "action": "notify"})).await;
    let p = add_guard(&app, id, 0, json!({"metric": "latency", "labels": {"service": "git"}, "comparison": ">", "threshold": 5,
                                        "window_seconds": 60, "min_samples": 3, "action": "pause"})).await;
    let g = &stage(&p, 0)["guards"][0];
    assert_eq!(g["labels"], json!({"service": "git"}), "{g}");
    start(&app, &authority, id, 0).await;
    let service = metrics_service(&app).await;

    // Other services' latency, however bad, is not git's: nor are look-alike labels.
    let mut batch = labelled("latency", json!({"service": "billing"}), &[50.0, 50.0, 50.0]);
    batch.extend(labelled("latency", json!({"service": "gitlab"}), &[50.0, 50.0, 50.0]));
    batch.extend(labelled("latency", json!({"service": "GIT"}), &[50.0, 50.0, 50.0]));
    batch.extend(labelled("latency", json!({"team": "service", "git": "yes"}), &[50.0, 50.0, 50.0]));
    batch.extend(labelled("latency", json!({"note": "\"service\":\"git\""}), &[50.0, 50.0, 50.0]));
    batch.extend(labelled("latency", json!({"x\"service": "git"}), &[50.0, 50.0, 50.0]));
    batch.extend(labelled("latency", json!({}), &[50.0, 50.0, 50.0]));
    let report = send(&service, Value::Array(batch)).await;
    assert_eq!((report["accepted"].as_i64(), report["breaches"].clone()), (Some(21), json!([])), "{report}");
    let p = get(&app, id).await;
    assert_eq!(stage(&p, 0)["guards"][1]["breaches"], json!([]), "not paused by billing: {p}");

    // Git's errors at 9 breach though billing's healthy samples share the window: over
    // every sample the mean would be 27 / 33, under the threshold.
    let mut batch = labelled("errors", json!({"host": "web-1", "service": "git"}), &[9.0, 9.0, 9.0]);
    batch.extend(labelled("errors", json!({"service": "billing"}), &[0.0; 30]));
    let report = send(&service, Value::Array(batch)).await;
    assert_eq!(report["breaches"].as_array().unwrap().len(), 1, "{report}");
    let p = get(&app, id).await;
    let b = &stage(&p, 0)["guards"][0]["breaches"][0];
    assert_eq!((b["value"].as_f64(), b["samples"].as_i64()), (Some(9.0), Some(3)), "{b}");

    // The chart shows git's samples only.
    let (status, series) = app.get(&format!("/api/v1/plans/{id}/guards/series")).await;
    assert_eq!(status, 200, "{series}");
    let chart = &series[0];
    let samples: i64 = chart["points"].as_array().unwrap().iter().map(|p| p["samples"].as_i64().unwrap()).sum();
    assert_eq!((samples, chart["current"].clone()), (3, json!([9.0, 3])), "{chart}");
}

async fn a_relative_guard_measures_its_baseline_from_its_own_service_only(app: TestApp) {
    let (plan, authority) = approved(&app, "git.gc.v2", false).await;
    let id = plan["id"].as_i64().unwrap();
    add_guard(&app, id, 0, json!({"metric": "p95_latency_ms", "labels": {"service": "git"}, "comparison": ">", "threshold": 2, "relative": true,
                                 "baseline_window_minutes": 30, "window_seconds": 60, "min_samples": 1, "action": "notify"})).await;
    let service = metrics_service(&app).await;
    let at = |service: &str, value: f64, minutes_ago: i64| {
        let mut p = point_at("p95_latency_ms", value, minutes_ago);
        p["labels"] = json!({"service": service});
        p
    };
    send(&service, json!([at("git", 100.0, 10), at("billing", 1000.0, 10), at("billing", 1000.0, 5)])).await;
    start(&app, &authority, id, 0).await;
    // 150 is under 2 x git's 100 (over both services the baseline would be 700).
    let report = send(&service, Value::Array(labelled("p95_latency_ms", json!({"service": "git"}), &[150.0]))).await;
    assert_eq!(report["breaches"], json!([]), "{report}");
    let p = get(&app, id).await;
    let g = &stage(&p, 0)["guards"][0];
    assert_eq!((g["baseline_measured"].as_f64(), g["baseline_samples"].as_i64()), (Some(100.0), Some(1)), "{g}");
    // (150 + 300) / 2 = 225 > 200.
    let report = send(&service, Value::Array(labelled("p95_latency_ms", json!({"service": "git"}), &[300.0]))).await;
    assert_eq!(report["breaches"].as_array().unwrap().len(), 1, "{report}");
}
