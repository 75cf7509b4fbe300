//! Markdown plans in and out, and runbooks in run mode: the example plans import with the
//! stages, checks and risks a reader counts in them; an export imports back to the same
//! plan; bad files get a clear answer and write nothing; runs record who did each step.
use crate::support;

use serde_json::{json, Value};
use support::{error_of, run_cli, TestApp};

on_both_databases!(
    each_example_plan_imports_with_the_stages_checks_and_risks_counted_by_hand,
    the_demo_plan_and_both_examples_export_and_import_back_to_the_same_plan,
    bad_files_get_a_clear_answer_and_nothing_is_written,
    the_command_line_imports_and_exports_plans,
    a_forward_run_records_who_did_each_step_and_ends_read_only,
    a_rollback_runbook_run_ends_the_rollback_timer,
    two_people_recording_the_last_two_steps_at_once_finish_the_run,
);

fn example(name: &str) -> Vec<u8> {
    let path = format!("{}/../examples/plans/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn import(app: &TestApp, bytes: &[u8], dry_run: bool) -> (u16, Value) {
    let path = format!("/api/v1/plans/import?name=plan.md&dry_run={dry_run}");
    app.send_raw("POST", &path, "text/markdown", bytes).await
}

fn checks(plan: &Value) -> Vec<(String, bool)> {
    plan["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["checklist"].as_array().unwrap().iter())
        .map(|c| (c["text"].as_str().unwrap().to_string(), c["status"] == "pass"))
        .collect()
}

async fn each_example_plan_imports_with_the_stages_checks_and_risks_counted_by_hand(app: TestApp) {
    // queue-system-migration.md: "### Phase 1" to "### Phase 4" under "## Migration Phases",
    // three "- [ ]" under each phase's Verification, a 4-row Risk | Probability | Impact table.
    let (status, preview) = import(&app, &example("queue-system-migration.md"), true).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(app.count("SELECT COUNT(*) FROM plans").await, 0, "a preview saves nothing");
    assert_eq!(preview["plan"]["stages"].as_array().unwrap().len(), 4);
    let (status, body) = import(&app, &example("queue-system-migration.md"), false).await;
    assert_eq!(status, 201, "{body}");
    let plan = &body["plan"];
    assert_eq!(plan["title"], "07 - Appendix: Migration Plan");
    assert_eq!(support::names(plan), ["Phase 1: Parallel Implementation (Non-Breaking)", "Phase 2: Feature Flag Integration", "Phase 3: Gradual Rollout", "Phase 4: Legacy Removal"]);
    let items = checks(plan);
    assert_eq!(items.len(), 12);
    assert!(items.iter().all(|(_, done)| !done));
    assert_eq!(items[3].0, "Feature flag correctly switches systems");
    let risks: Vec<(&str, &str, &str)> = plan["risks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["risk"].as_str().unwrap(), r["likelihood"].as_str().unwrap(), r["impact"].as_str().unwrap()))
        .collect();
    assert_eq!(
        risks,
        [
            ("Data loss during migration", "low", "high"),
            ("Performance regression", "medium", "medium"),
            ("State inconsistency", "medium", "high"),
            ("Rollback needed", "medium", "low")
        ]
    );
    for s in plan["stages"].as_array().unwrap() {
        assert!(s["rollback_runbook"].as_str().unwrap().contains("Set `useNewQueueSystem: false` in config"));
    }
    assert!(plan["description"].as_str().unwrap().contains("| Error rate | > 1% | Pause rollout |"), "thresholds stay where they were");
    assert!(body["described"].as_array().unwrap().contains(&json!("Monitoring During Migration")));

    // workspace-provider-migration.md: "### Phase 1" to "### Phase 5" under MCP Server Migration,
    // no checklists, no risk table, one "### Rollback:" with SQL under Database Migration.
    let (status, body) = import(&app, &example("workspace-provider-migration.md"), false).await;
    assert_eq!(status, 201, "{body}");
    let plan = &body["plan"];
    assert_eq!(plan["stages"].as_array().unwrap().len(), 5);
    assert_eq!(plan["stages"][3]["name"], "Phase 4: Enable in production");
    assert!(checks(plan).is_empty());
    assert_eq!(plan["risks"].as_array().unwrap().len(), 0);
    assert!(plan["stages"][4]["rollback_runbook"].as_str().unwrap().contains("```sql\nALTER TABLE workspaces DROP CONSTRAINT IF EXISTS valid_provider;"));
    assert!(plan["description"].as_str().unwrap().contains("ADD COLUMN IF NOT EXISTS agent_provider TEXT NOT NULL DEFAULT 'claude';"), "code blocks are kept");

    // "- [x]" comes in passed, by whoever imported it.
    let (status, body) = import(&app, b"# Cutover\n\n## Week 1: prepare\n\n- [x] Backups taken\n- [ ] (optional) Tell support\n", false).await;
    assert_eq!(status, 201, "{body}");
    let item = &body["plan"]["stages"][0]["checklist"][0];
    assert_eq!((item["status"].as_str(), item["checked_by"].as_str()), (Some("pass"), Some("admin")));
    assert_eq!(body["plan"]["stages"][0]["checklist"][1]["required"], false);
}

/// What a plan holds that its Markdown carries, without ids, times and run state.
fn content(plan: &Value) -> Value {
    let stages: Vec<Value> = plan["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            json!({
                "name": s["name"], "goal": s["goal"], "description": s["description"],
                "forward_runbook": s["forward_runbook"], "rollback_runbook": s["rollback_runbook"],
                "planned_start": s["planned_start"], "planned_duration_minutes": s["planned_duration_minutes"],
                "min_soak_minutes": s["min_soak_minutes"], "gate_roles": s["gate_roles"], "gate_approvals": s["gate_approvals"],
                "flag_changes": s["flag_changes"].as_array().unwrap().iter()
                    .map(|c| json!([c["flag"], c["environment"], c["enabled"], c["percentage"]])).collect::<Vec<_>>(),
                "checklist": s["checklist"].as_array().unwrap().iter()
                    .map(|c| json!([c["text"], c["required"], c["status"] == "pass"])).collect::<Vec<_>>(),
            })
        })
        .collect();
    let risks: Vec<Value> = plan["risks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!([r["risk"], r["likelihood"], r["impact"], r["mitigation"]]))
        .collect();
    json!({ "title": plan["title"], "summary": plan["summary"], "owner": plan["owner"], "description": plan["description"], "stages": stages, "risks": risks })
}

async fn round_trip(app: &TestApp, plan: &Value) {
    let id = plan["id"].as_i64().unwrap();
    let (status, md) = app.get_text(&format!("/api/v1/plans/{id}/export.md")).await;
    assert_eq!(status, 200, "{md}");
    let (status, body) = import(app, md.as_bytes(), false).await;
    assert_eq!(status, 201, "{body}");
    let (_, original) = app.get(&format!("/api/v1/plans/{id}")).await;
    assert_eq!(content(&body["plan"]), content(&original), "the export of plan {id} imports as another plan:\n{md}");
}

async fn the_demo_plan_and_both_examples_export_and_import_back_to_the_same_plan(app: TestApp) {
    let demo = runway::demo::load_if_empty(&app.service).await.unwrap().expect("an empty database gets the demo");
    let (_, plan) = app.get(&format!("/api/v1/plans/{demo}")).await;
    assert!(plan["stages"].as_array().unwrap().iter().any(|s| !s["flag_changes"].as_array().unwrap().is_empty()), "the demo flips flags");
    round_trip(&app, &plan).await;
    for name in ["queue-system-migration.md", "workspace-provider-migration.md"] {
        let (status, body) = import(&app, &example(name), false).await;
        assert_eq!(status, 201, "{body}");
        round_trip(&app, &body["plan"]).await;
    }
}

async fn bad_files_get_a_clear_answer_and_nothing_is_written(app: TestApp) {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";
    let utf16: Vec<u8> = "\u{feff}# Plan".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    let big = vec![b'a'; 5 * 1024 * 1024 + 1];
    for (what, bytes, status, code) in [
        ("empty", &b""[..], 422, "empty_file"),
        ("blank", &b"\n \n"[..], 422, "empty_file"),
        ("binary", &png[..], 422, "binary_file"),
        ("UTF-16", &utf16[..], 422, "not_utf8"),
        ("over 5 MB", &big[..], 413, "file_too_large"),
    ] {
        let (got, body) = import(&app, bytes, false).await;
        assert_eq!((got, error_of(&body)), (status, (code, Some("file"))), "{what}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().len() > 10, "{what}: {body}");
    }
    // Deep nesting and a huge table: an answer (not a hang, not a 500), and a plan that keeps the text.
    let mut deep = String::from("# Deep\n\n## Phase 1: nest\n\n");
    for i in 0..300 {
        deep.push_str(&format!("{}- level {i}\n", "  ".repeat(i)));
    }
    let (status, body) = import(&app, deep.as_bytes(), false).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["plan"]["stages"][0]["forward_runbook"].as_str().unwrap().contains("level 299"));
    let mut table = String::from("# Table\n\n| a | b | c |\n|---|---|---|\n");
    while table.len() < 4 * 1024 * 1024 {
        table.push_str("| x | y | z |\n");
    }
    let (status, body) = import(&app, table.as_bytes(), false).await;
    assert_eq!((status, error_of(&body).0), (422, "too_large_to_import"), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("Description"), "{body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM plans").await, 1, "only the nested plan was created");
    // Latin-1 is read as Windows-1252, with a note.
    let (status, body) = import(&app, b"# Migration caf\xe9\n", false).await;
    assert_eq!((status, body["plan"]["title"].as_str()), (201, Some("Migration café")), "{body}");
    assert!(body["notes"][0].as_str().unwrap().contains("not UTF-8"));
    // A token that may only read plans may not import them.
    let reader = app.with_token(&["plans:read"]).await;
    assert_eq!(import(&reader, &example("queue-system-migration.md"), true).await.0, 403);
}

async fn the_command_line_imports_and_exports_plans(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("queue.md");
    std::fs::write(&file, example("queue-system-migration.md")).unwrap();
    let (ok, out, err) = run_cli(&app, &["import", file.to_str().unwrap(), "--dry-run"], "", &[]).await;
    assert!(ok, "{err}");
    assert!(out.contains("stage 4: Phase 4: Legacy Removal (3 checks, 4 steps, 3 rollback steps)"), "{out}");
    assert_eq!(app.count("SELECT COUNT(*) FROM plans").await, 0);
    let (ok, out, err) = run_cli(&app, &["import", file.to_str().unwrap()], "", &[]).await;
    assert!(ok, "{err}");
    let id: i64 = out.lines().last().unwrap().trim_start_matches("created plan ").parse().unwrap();
    let (ok, md, err) = run_cli(&app, &["export", &id.to_string()], "", &[]).await;
    assert!(ok, "{err}");
    let (_, api) = app.get_text(&format!("/api/v1/plans/{id}/export.md")).await;
    assert_eq!(md, api);
    assert!(md.starts_with("# 07 - Appendix: Migration Plan\n"));
    let (ok, _, err) = run_cli(&app, &["export", "999999"], "", &[]).await;
    assert!(!ok && err.contains("Plan"), "{err}");
}

/// An approved plan, its first stage active, with lee its lead, oli on call, ari the
/// rollback authority and sam a stakeholder.
async fn running(app: &TestApp, forward: &str, rollback: &str) -> (Value, [TestApp; 4]) {
    for name in ["lee", "oli", "ari", "sam"] {
        app.add_person(name, false).await;
    }
    let plan = app.plan(json!({"title": "Queue cutover", "stages": [{"name": "Stage 1", "forward_runbook": forward, "rollback_runbook": rollback}]})).await;
    let id = plan["id"].as_i64().unwrap();
    for (who, role) in [("lee", "migration_lead"), ("oli", "on_call"), ("ari", "rollback_authority"), ("sam", "stakeholder")] {
        let (status, body) = app.send("POST", &format!("/api/v1/plans/{id}/roles"), json!({"username": who, "role": role})).await;
        assert_eq!(status, 201, "{body}");
    }
    let [lee, oli, ari, sam] = [app.signed_in("lee").await, app.signed_in("oli").await, app.signed_in("ari").await, app.signed_in("sam").await];
    let (_, p) = app.get(&format!("/api/v1/plans/{id}")).await;
    let (_, p) = lee.send("POST", &format!("/api/v1/plans/{id}/review"), json!({"version": p["version"]})).await;
    let (_, p) = sam.send("POST", &format!("/api/v1/plans/{id}/signoffs"), json!({"version": p["version"], "decision": "approved"})).await;
    let stage = p["stages"][0]["id"].as_i64().unwrap();
    let (status, p) = lee.send("POST", &format!("/api/v1/plans/{id}/stages/{stage}/gate"), json!({"version": p["version"]})).await;
    assert_eq!(status, 200, "{p}");
    let gate = p["stages"][0]["gates"][0]["id"].as_i64().unwrap();
    let (_, p) = ari.send("POST", &format!("/api/v1/plans/{id}/gates/{gate}/votes"), json!({"vote": "go"})).await;
    assert_eq!(p["stages"][0]["status"], "active", "{p}");
    (p, [lee, oli, ari, sam])
}

fn run_of(plan: &Value, kind: &str) -> Value {
    plan["stages"][0]["runs"].as_array().unwrap().iter().rev().find(|r| r["kind"] == kind).cloned().unwrap()
}

async fn a_forward_run_records_who_did_each_step_and_ends_read_only(app: TestApp) {
    let forward = "Before you start, open the dashboard.\n\n1. Stop the workers (on-call, 5 min)\n\n   ```sh\n   systemctl stop queue-worker\n   ```\n\n2. Run the migration @lee (30 min)\n3. Start the workers\n";
    let (plan, [lee, oli, _ari, sam]) = running(&app, forward, "1. Undo").await;
    let (id, stage) = (plan["id"].as_i64().unwrap(), plan["stages"][0]["id"].as_i64().unwrap());
    let runs = format!("/api/v1/plans/{id}/stages/{stage}/runs");
    assert_eq!(sam.send("POST", &runs, json!({"kind": "forward"})).await.0, 403, "stakeholders watch, they do not run");
    let (status, body) = oli.send("POST", &runs, json!({"kind": "rollback"})).await;
    assert_eq!((status, error_of(&body).0), (409, "no_approved_rollback"));
    let (status, p) = oli.send("POST", &runs, json!({"kind": "forward"})).await;
    assert_eq!(status, 201, "{p}");
    let (status, body) = lee.send("POST", &runs, json!({"kind": "forward"})).await;
    assert_eq!((status, error_of(&body).0), (409, "run_in_progress"));
    let run = run_of(&p, "forward");
    assert_eq!(run["preface"], "Before you start, open the dashboard.");
    let steps: Vec<(&str, Option<&str>, Option<&str>, Option<i64>)> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["title"].as_str().unwrap(), s["role"].as_str(), s["person"].as_str(), s["planned_seconds"].as_i64()))
        .collect();
    assert_eq!(
        steps,
        [
            ("Stop the workers (on-call, 5 min)", Some("on_call"), None, Some(300)),
            ("Run the migration @lee (30 min)", None, Some("lee"), Some(1800)),
            ("Start the workers", None, None, None)
        ]
    );
    assert!(run["steps"][0]["body"].as_str().unwrap().contains("systemctl stop queue-worker"));
    let run_id = run["id"].as_i64().unwrap();
    let step = |n: i64| format!("/api/v1/plans/{id}/runs/{run_id}/steps/{n}");
    assert_eq!(oli.send("PUT", &step(0), json!({"status": "done"})).await.0, 200);
    let (status, body) = lee.send("PUT", &step(0), json!({"status": "done"})).await;
    assert_eq!((status, error_of(&body).0), (409, "step_recorded"));
    let (status, body) = lee.send("PUT", &step(1), json!({"status": "skipped"})).await;
    assert_eq!((status, error_of(&body)), (422, ("validation", Some("reason"))));
    assert_eq!(lee.send("PUT", &step(1), json!({"status": "skipped", "reason": "ran it yesterday"})).await.0, 200);
    assert_eq!(lee.send("PUT", &step(7), json!({"status": "done"})).await.0, 404);
    let notes = format!("/api/v1/plans/{id}/runs/{run_id}/notes");
    assert_eq!(sam.send("POST", &notes, json!({"text": "looks fine"})).await.0, 403);
    assert_eq!(oli.send("POST", &notes, json!({"step": 2, "text": "workers slow to start"})).await.0, 201);
    let (status, p) = oli.send("PUT", &step(2), json!({"status": "done"})).await;
    assert_eq!(status, 200, "{p}");
    let run = run_of(&p, "forward");
    assert!(run["finished_at"].is_string(), "the last step finishes the run");
    let record: Vec<(&str, &str, Option<&str>)> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["status"].as_str().unwrap(), s["done_by"].as_str().unwrap(), s["skip_reason"].as_str()))
        .collect();
    assert_eq!(record, [("done", "oli", None), ("skipped", "lee", Some("ran it yesterday")), ("done", "oli", None)]);
    assert!(run["steps"].as_array().unwrap().iter().all(|s| s["done_at"].is_string()));
    assert_eq!((run["notes"][0]["author"].as_str(), run["notes"][0]["step"].as_i64()), (Some("oli"), Some(2)));
    // Finished: kept as it was.
    let (status, body) = oli.send("POST", &notes, json!({"text": "late"})).await;
    assert_eq!((status, error_of(&body).0), (409, "run_finished"));
    let (_, fetched) = sam.get(&format!("/api/v1/plans/{id}/runs/{run_id}")).await;
    assert_eq!(fetched, run, "everyone may read the run");
    let actions = app.count("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'runbook.%'").await;
    assert_eq!(actions, 5, "start, three steps and a note are audited");
}

async fn a_rollback_runbook_run_ends_the_rollback_timer(app: TestApp) {
    let (plan, [_lee, oli, ari, _sam]) = running(&app, "1. Go", "##### Flip the flag back (1 min)\n\n##### Drain the queue\n").await;
    let (id, stage) = (plan["id"].as_i64().unwrap(), plan["stages"][0]["id"].as_i64().unwrap());
    let (_, p) = oli.send("POST", &format!("/api/v1/plans/{id}/stages/{stage}/rollback"), json!({"reason": "error rate 7%"})).await;
    let rollback = p["stages"][0]["rollbacks"][0]["id"].as_i64().unwrap();
    let runs = format!("/api/v1/plans/{id}/stages/{stage}/runs");
    assert_eq!(oli.send("POST", &runs, json!({"kind": "rollback"})).await.0, 409, "not before the rollback is approved");
    let (status, p) = ari.send("POST", &format!("/api/v1/plans/{id}/rollbacks/{rollback}/decision"), json!({"decision": "approve"})).await;
    assert_eq!(status, 200, "{p}");
    assert!(p["stages"][0]["rollbacks"][0]["total_ms"].is_null(), "the rollback is not over until its runbook is");
    let (status, p) = oli.send("POST", &runs, json!({"kind": "rollback"})).await;
    assert_eq!(status, 201, "{p}");
    let run = run_of(&p, "rollback");
    assert_eq!(run["rollback_id"], rollback);
    assert_eq!(run["steps"][0]["planned_seconds"], 60);
    let run_id = run["id"].as_i64().unwrap();
    for n in 0..2 {
        let (status, body) = oli.send("PUT", &format!("/api/v1/plans/{id}/runs/{run_id}/steps/{n}"), json!({"status": "done"})).await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, p) = app.get(&format!("/api/v1/plans/{id}")).await;
    let rb = &p["stages"][0]["rollbacks"][0];
    assert_eq!(rb["runbook_finished_at"], run_of(&p, "rollback")["finished_at"]);
    let total = rb["total_ms"].as_i64().expect("the rollback's total time is stored");
    assert!(total >= rb["duration_ms"].as_i64().unwrap(), "{rb}");
    let (status, body) = oli.send("POST", &runs, json!({"kind": "rollback"})).await;
    assert_eq!((status, error_of(&body).0), (409, "rollback_runbook_run"));
}

async fn two_people_recording_the_last_two_steps_at_once_finish_the_run(app: TestApp) {
    let (plan, [lee, oli, _ari, _sam]) = running(&app, "1. One\n2. Two\n3. Three\n", "1. Undo").await;
    let (id, stage) = (plan["id"].as_i64().unwrap(), plan["stages"][0]["id"].as_i64().unwrap());
    // Three rounds: without the run's turn-taking, PostgreSQL left the run open about half the time.
    for _ in 0..3 {
        let (_, p) = oli.send("POST", &format!("/api/v1/plans/{id}/stages/{stage}/runs"), json!({"kind": "forward"})).await;
        let run_id = run_of(&p, "forward")["id"].as_i64().unwrap();
        let step = |n: i64| format!("/api/v1/plans/{id}/runs/{run_id}/steps/{n}");
        assert_eq!(oli.send("PUT", &step(0), json!({"status": "done"})).await.0, 200);
        let (one, two) = (step(1), step(2));
        let (a, b) = tokio::join!(oli.send("PUT", &one, json!({"status": "done"})), lee.send("PUT", &two, json!({"status": "done"})));
        assert_eq!((a.0, b.0), (200, 200), "{} {}", a.1, b.1);
        let (_, p) = app.get(&format!("/api/v1/plans/{id}")).await;
        assert!(run_of(&p, "forward")["finished_at"].is_string(), "the run is finished: {p}");
    }
}
