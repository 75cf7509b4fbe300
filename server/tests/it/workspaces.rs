//! Workspaces and the agent provider over real HTTP, on SQLite and on PostgreSQL: the
//! switch and its history, availability by flag, the sealed API key, the resume rule,
//! and CSV import and export.
use crate::support;

use serde_json::{json, Value};
use support::{error_of, TestApp};

on_both_databases!(
    a_member_switches_to_codex_with_a_key_and_the_history_marks_the_switch,
    a_provider_is_offered_only_where_its_flag_is_on_for_the_workspace,
    availability_follows_the_flags_percentage_and_only_grows_with_it,
    the_previous_session_may_be_resumed_only_if_no_switch_happened_since,
    the_api_key_is_sealed_and_no_response_log_or_database_row_holds_it,
    a_wrong_secret_key_refuses_to_start_and_leaves_the_stored_keys_alone,
    a_csv_import_takes_the_good_lines_and_names_the_bad_ones,
    a_file_that_cannot_be_read_is_refused_whole_and_writes_nothing,
    an_export_imports_back_unchanged_and_the_command_line_imports_too,
    workspaces_are_found_by_part_of_the_name_a_page_at_a_time,
    adoption_counts_each_providers_workspaces_over_time,
);

const KEY: &str = "sk-test-PLAINTEXT-4f9a2c7e1b3d5a8f0c6e";

/// The availability flag of Codex, in production, at `percentage`, with an allow list.
async fn codex_flag(app: &TestApp, percentage: i64, allow: &[&str]) {
    let (status, _) = app.get("/api/v1/flags/ENABLE_CODEX_PROVIDER").await;
    if status == 404 {
        let (status, body) = app.send("POST", "/api/v1/flags", json!({"key": "ENABLE_CODEX_PROVIDER"})).await;
        assert_eq!(status, 201, "{body}");
    }
    let (_, flag) = app.get("/api/v1/flags/ENABLE_CODEX_PROVIDER").await;
    let body = json!({"version": flag["version"], "enabled": true, "percentage": percentage, "allow": allow});
    let (status, body) = app.send("PUT", "/api/v1/flags/ENABLE_CODEX_PROVIDER/environments/production", body).await;
    assert_eq!(status, 200, "{body}");
}

async fn workspace(app: &TestApp, id: &str, members: &[&str]) -> Value {
    let (status, body) = app.send("POST", "/api/v1/workspaces", json!({"id": id, "name": format!("Workspace {id}"), "members": members})).await;
    assert_eq!(status, 201, "{body}");
    body
}

fn kinds(history: &Value) -> Vec<String> {
    history.as_array().unwrap().iter().map(|h| h["kind"].as_str().unwrap().to_string()).collect()
}

async fn a_member_switches_to_codex_with_a_key_and_the_history_marks_the_switch(admin: TestApp) {
    codex_flag(&admin, 100, &[]).await;
    admin.add_person("wendy", false).await;
    admin.add_person("nora", false).await;
    workspace(&admin, "ws-1", &["wendy"]).await;
    let wendy = admin.signed_in("wendy").await;
    let nora = admin.signed_in("nora").await;

    let url = "/api/v1/workspaces/ws-1/provider";
    let (status, body) = wendy.send("PUT", url, json!({"provider": "codex"})).await;
    assert_eq!((status, error_of(&body)), (422, ("key_required", Some("api_key"))));
    let (status, body) = wendy.send("PUT", url, json!({"provider": "codex", "api_key": "not a key"})).await;
    assert_eq!((status, error_of(&body)), (422, ("key_malformed", Some("api_key"))));
    let (status, body) = wendy.send("PUT", url, json!({"provider": "gpt"})).await;
    assert_eq!((status, error_of(&body)), (422, ("unknown_provider", Some("provider"))));
    let (status, body) = nora.send("PUT", url, json!({"provider": "codex", "api_key": KEY})).await;
    assert_eq!((status, error_of(&body).0), (403, "forbidden"), "a person who is not a member");
    assert_eq!(admin.get("/api/v1/workspaces/ws-1").await.1["agent_provider"], "claude", "refused switches change nothing");

    let (status, ws) = wendy.send("PUT", url, json!({"provider": "codex", "api_key": KEY})).await;
    assert_eq!(status, 200, "{ws}");
    assert_eq!((ws["agent_provider"].as_str(), ws["key_ends_with"].as_str()), (Some("codex"), Some("0c6e")));
    assert!(ws["last_switch_at"].is_string());
    let (_, history) = wendy.get("/api/v1/workspaces/ws-1/history").await;
    assert_eq!(kinds(&history), ["created", "key_set", "switch"]);
    let switch = &history[2];
    assert_eq!((switch["from_provider"].as_str(), switch["provider"].as_str(), switch["actor"].as_str()), (Some("claude"), Some("codex"), Some("wendy")));

    // The page a member sees: Codex current, the key only by its last four characters.
    let (status, page) = wendy.get_text("/workspaces/ws-1").await;
    assert_eq!(status, 200);
    assert!(page.contains("Switched to Codex"), "the divider is on the page");
    assert!(!page.contains(KEY));

    let reader = admin.with_token(&["workspaces:read"]).await;
    let (status, answer) = reader.get("/api/v1/workspaces/ws-1/agent-provider").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!((answer["provider"].as_str(), answer["key_configured"].as_bool()), (Some("codex"), Some(true)));
    assert_eq!(answer["last_switch_at"], ws["last_switch_at"]);
    let (status, body) = reader.send("PUT", url, json!({"provider": "claude"})).await;
    assert_eq!((status, error_of(&body).0), (403, "missing_scope"), "a read token changes nothing");

    // Back to Claude needs no key; the key stays until removed.
    let (status, ws) = wendy.send("PUT", url, json!({"provider": "claude"})).await;
    assert_eq!((status, ws["agent_provider"].as_str()), (200, Some("claude")));
    let (status, again) = wendy.send("PUT", url, json!({"provider": "claude"})).await;
    assert_eq!((status, &again), (200, &ws), "choosing the current provider again changes nothing");
    let (status, ws) = wendy.delete("/api/v1/workspaces/ws-1/api-key").await;
    assert_eq!((status, ws.get("key_ends_with")), (200, None));
    assert_eq!(kinds(&wendy.get("/api/v1/workspaces/ws-1/history").await.1), ["created", "key_set", "switch", "switch", "key_removed"]);
}

async fn a_provider_is_offered_only_where_its_flag_is_on_for_the_workspace(admin: TestApp) {
    workspace(&admin, "ws-early", &[]).await;
    workspace(&admin, "ws-late", &[]).await;
    let choose = |id: &str| format!("/api/v1/workspaces/{id}/provider");
    // No flag at all: Codex is nowhere.
    let (status, body) = admin.send("PUT", &choose("ws-early"), json!({"provider": "codex", "api_key": KEY})).await;
    assert_eq!((status, error_of(&body)), (403, ("provider_unavailable", Some("provider"))));
    // Off for everyone but the allow list.
    codex_flag(&admin, 0, &["ws-early"]).await;
    let (status, _) = admin.send("PUT", &choose("ws-late"), json!({"provider": "codex", "api_key": KEY})).await;
    assert_eq!(status, 403);
    let (status, body) = admin.send("PUT", &choose("ws-early"), json!({"provider": "codex", "api_key": KEY})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin.get("/api/v1/workspaces/ws-late/history").await;
    assert_eq!((status, kinds(&body)), (200, vec!["created".to_string()]), "a refused switch leaves no trace, not even the key");

    // A provider an admin adds, behind its own flag.
    let (status, body) = admin
        .send("POST", "/api/v1/providers", json!({"id": "gemini", "display_name": "Gemini", "description": "d", "flag": "ENABLE_GEMINI"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = admin.send("POST", "/api/v1/providers", json!({"id": "gemini", "display_name": "Again"})).await;
    assert_eq!((status, error_of(&body).0), (409, "provider_exists"));
    let (_, providers) = admin.get("/api/v1/providers").await;
    let ids: Vec<&str> = providers.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["claude", "codex", "gemini"]);
    let (status, _) = admin.send("PUT", &choose("ws-late"), json!({"provider": "gemini"})).await;
    assert_eq!(status, 403, "its flag does not exist yet");
}

async fn availability_follows_the_flags_percentage_and_only_grows_with_it(admin: TestApp) {
    let ids: Vec<String> = (0..300).map(|i| format!("acct-{i:04}")).collect();
    let csv = format!("id,name,agent_provider\n{}", ids.iter().map(|id| format!("{id},{id},claude\n")).collect::<String>());
    import(&admin, &csv).await;
    let mut switched = std::collections::HashSet::new();
    for percentage in [30, 60] {
        codex_flag(&admin, percentage, &[]).await;
        for id in &ids {
            if switched.contains(id) {
                continue;
            }
            let url = format!("/api/v1/workspaces/{id}/provider");
            let (status, body) = admin.send("PUT", &url, json!({"provider": "codex", "api_key": KEY})).await;
            let expected = i64::from(app::flag::bucket("ENABLE_CODEX_PROVIDER", id)) <= percentage;
            assert_eq!(status == 200, expected, "{id} at {percentage}%: {status} {body}");
            if status == 200 {
                switched.insert(id.clone());
            }
        }
        let share = switched.len() as f64 / ids.len() as f64 * 100.0;
        assert!((share - percentage as f64).abs() < 8.0, "{share}% of workspaces may use Codex at {percentage}%");
    }
}

async fn the_previous_session_may_be_resumed_only_if_no_switch_happened_since(admin: TestApp) {
    codex_flag(&admin, 100, &[]).await;
    workspace(&admin, "ws-r", &[]).await;
    let platform = admin.with_token(&["workspaces:write"]).await;
    let ask = async || platform.get("/api/v1/workspaces/ws-r/agent-provider").await.1;
    let start = async |session: &str| {
        let (status, body) = platform.send("POST", "/api/v1/workspaces/ws-r/sessions", json!({"session_id": session})).await;
        assert_eq!(status, 201, "{body}");
        body
    };
    let switch = async |provider: &str| {
        let (status, body) = platform.send("PUT", "/api/v1/workspaces/ws-r/provider", json!({"provider": provider, "api_key": KEY})).await;
        assert_eq!(status, 200, "{body}");
    };
    let none = ask().await;
    assert_eq!((none["resumable"].as_bool(), none.get("last_session_id")), (Some(false), None), "no session yet");

    let first = start("claude-1").await;
    assert_eq!((first["resumable"].as_bool(), first["last_session_id"].as_str()), (Some(true), Some("claude-1")));
    switch("codex").await;
    let after = ask().await;
    assert_eq!((after["provider"].as_str(), after["resumable"].as_bool()), (Some("codex"), Some(false)), "the session was on Claude");
    assert_eq!(start("codex-1").await["resumable"], true);
    // Away and back again: the Claude session that was open before is not resumable either.
    switch("claude").await;
    switch("codex").await;
    assert_eq!(ask().await["resumable"], false);
    let (_, history) = admin.get("/api/v1/workspaces/ws-r/history").await;
    assert_eq!(kinds(&history), ["created", "session", "key_set", "switch", "session", "key_set", "switch", "key_set", "switch"]);
    let (status, body) = platform.send("POST", "/api/v1/workspaces/ws-r/sessions", json!({"session_id": " "})).await;
    assert_eq!((status, error_of(&body).1), (422, Some("session_id")));
    let (status, _) = platform.send("POST", "/api/v1/workspaces/nope/sessions", json!({"session_id": "s"})).await;
    assert_eq!(status, 404);
}

/// Every row of every table, as text.
async fn every_row(app: &TestApp) -> String {
    use sqlx::Row;
    let pool = &app.service.db.pool;
    let tables: Vec<String> = match app.store {
        support::Store::Sqlite => sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(pool).await.unwrap(),
        support::Store::Postgres => sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'")
            .fetch_all(pool)
            .await
            .unwrap(),
    };
    let mut all = String::new();
    // sqlx's own bookkeeping holds types the Any driver cannot read; it holds no data of ours.
    for t in tables.into_iter().filter(|t| !t.starts_with("_sqlx")) {
        let sql = match app.store {
            support::Store::Sqlite => format!("SELECT * FROM \"{t}\""),
            support::Store::Postgres => format!("SELECT CAST(t AS TEXT) AS row_text FROM \"{t}\" t"),
        };
        for row in sqlx::query(&sql).fetch_all(pool).await.unwrap() {
            for i in 0..row.len() {
                if let Ok(Some(v)) = row.try_get::<Option<String>, _>(i) {
                    all.push_str(&v);
                    all.push('\n');
                }
            }
        }
    }
    all
}

async fn the_api_key_is_sealed_and_no_response_log_or_database_row_holds_it(admin: TestApp) {
    support::logs();
    codex_flag(&admin, 100, &[]).await;
    workspace(&admin, "ws-k", &[]).await;
    let mut seen = String::new();
    for (method, url, body) in [
        ("PUT", "/api/v1/workspaces/ws-k/provider", json!({"provider": "codex", "api_key": KEY})),
        ("PUT", "/api/v1/workspaces/ws-k/api-key", json!({"api_key": KEY})),
    ] {
        let (status, answer) = admin.send(method, url, body).await;
        assert_eq!(status, 200, "{answer}");
        seen.push_str(&answer.to_string());
    }
    // The round trip: the server can open what it sealed, for this workspace only.
    assert_eq!(admin.service.open_api_key("ws-k").await.unwrap().as_deref(), Some(KEY));
    for url in [
        "/api/v1/workspaces/ws-k",
        "/api/v1/workspaces",
        "/api/v1/workspaces/ws-k/history",
        "/api/v1/workspaces/ws-k/agent-provider",
        "/api/v1/workspaces/export.csv",
        "/api/v1/audit",
        "/api/v1/audit/export.csv",
        "/api/v1/audit/export.jsonl",
        "/workspaces/ws-k",
        "/workspaces",
    ] {
        let (status, text) = admin.get_text(url).await;
        assert_eq!(status, 200, "{url}: {text}");
        seen.push_str(&text);
    }
    assert!(seen.contains("0c6e"), "the answers show the key's end");
    assert!(!seen.contains(KEY) && !seen.contains("PLAINTEXT"), "an answer holds the key");
    assert!(!every_row(&admin).await.contains("PLAINTEXT"), "a database row holds the key");
    if admin.store == support::Store::Sqlite {
        let path = admin.db_url().trim_start_matches("sqlite://").to_string();
        for file in [path.clone(), format!("{path}-wal")] {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(!bytes.windows(9).any(|w| w == b"PLAINTEXT"), "{file} holds the key");
        }
    }
    let logged = String::from_utf8_lossy(&support::logs().lock().unwrap()).to_string();
    assert!(logged.contains("/api/v1/workspaces/ws-k/api-key"), "the log capture works");
    assert!(!logged.contains("PLAINTEXT"), "the log holds the key");
}

async fn a_wrong_secret_key_refuses_to_start_and_leaves_the_stored_keys_alone(admin: TestApp) {
    use runway::secret::{verify, SecretKey};
    let right = "1f".repeat(32);
    let key = SecretKey::parse(&right).unwrap();
    verify(&admin.service.db, &key).await.unwrap();
    let service = runway::service::Service::new(admin.service.db.clone()).with_secret(key.clone());
    let ctx = runway::service::Ctx::cli();
    service.create_workspace(&ctx, app::workspace::NewWorkspace { id: "ws-s".into(), name: "S".into(), ..Default::default() }).await.unwrap();
    service.set_api_key(&ctx, "ws-s", app::workspace::ApiKeyInput { api_key: KEY.into() }).await.unwrap();
    let sealed = || async {
        sqlx::query_scalar::<_, String>("SELECT api_key_sealed FROM workspaces WHERE id = 'ws-s'")
            .fetch_one(&admin.service.db.pool)
            .await
            .unwrap()
    };
    let before = sealed().await;

    let wrong = "2e".repeat(32);
    let env = [("RUNWAY_SECRET_KEY", wrong.as_str())];
    let run = support::run_cli(&admin, &["serve", "--no-demo", "--addr", "127.0.0.1:0"], "", &env);
    let (ok, _, stderr) = tokio::time::timeout(std::time::Duration::from_secs(60), run).await.expect("a wrong key must stop the start");
    assert!(!ok);
    assert!(stderr.contains("is not the one this database's API keys were sealed with"), "{stderr}");
    assert!(!stderr.contains(&wrong), "the message does not echo the key");
    let (ok, _, stderr) = support::run_cli(&admin, &["serve", "--no-demo"], "", &[("RUNWAY_SECRET_KEY", "not-a-key")]).await;
    assert!(!ok && stderr.contains("RUNWAY_SECRET_KEY is not a usable key"), "{stderr}");

    assert_eq!(sealed().await, before, "nothing was overwritten");
    assert!(verify(&admin.service.db, &key).await.is_ok(), "the right key still starts");
    assert_eq!(service.open_api_key("ws-s").await.unwrap().as_deref(), Some(KEY));
}

/// Imports `csv` over HTTP and waits for the summary.
pub(crate) async fn import(app: &TestApp, csv: impl AsRef<[u8]>) -> Value {
    let (status, started) = app.send_raw("POST", "/api/v1/workspaces/imports", "text/csv", csv).await;
    assert_eq!(status, 202, "{started}");
    let url = format!("/api/v1/workspaces/imports/{}", started["id"]);
    // Imports run in the background; 10,000 lines on PostgreSQL take seconds.
    support::eventually_within("the import to finish", 120, async || {
        let (_, report) = app.get(&url).await;
        (report["status"] != "running").then_some(report)
    })
    .await
}

fn rejected_lines(report: &Value) -> Vec<u64> {
    report["rejected"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect()
}

async fn a_csv_import_takes_the_good_lines_and_names_the_bad_ones(admin: TestApp) {
    let mut csv = b"id,name,agent_provider\r\nws-a,Alpha,claude\r\nws-b,Beta,gpt\r\nws-c,\"Gamma, Inc.\",codex\r\nws-a,Again,codex\r\nws-d,Delta\r\n,NoId,claude\r\nws-e,Caf".to_vec();
    csv.push(0xE9);
    csv.extend_from_slice(b",claude\r\nws-f,Foxtrot,\r\n");
    let report = import(&admin, csv).await;
    assert_eq!(report["status"], "done", "{report}");
    assert_eq!((report["total"].as_i64(), report["created"].as_i64(), report["rejected_count"].as_i64()), (Some(8), Some(3), Some(5)));
    assert_eq!(rejected_lines(&report), [3, 5, 6, 7, 8], "{report}");
    let (_, page) = admin.get("/api/v1/workspaces").await;
    let got: Vec<(&str, &str, &str)> = page["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["id"].as_str().unwrap(), w["name"].as_str().unwrap(), w["agent_provider"].as_str().unwrap()))
        .collect();
    assert_eq!(got, [("ws-a", "Alpha", "claude"), ("ws-c", "Gamma, Inc.", "codex"), ("ws-f", "Foxtrot", "claude")]);

    // Again, changed: renames and switches are updates, recorded in each history.
    let report = import(&admin, "id,name,agent_provider\nws-a,Alpha,codex\nws-c,Gamma Ltd,\nws-f,Foxtrot,claude\nws-g,Golf,\n").await;
    assert_eq!(
        (report["created"].as_i64(), report["updated"].as_i64(), report["unchanged"].as_i64()),
        (Some(1), Some(2), Some(1)),
        "{report}"
    );
    assert_eq!(kinds(&admin.get("/api/v1/workspaces/ws-a/history").await.1), ["created", "switch"]);
    assert_eq!(kinds(&admin.get("/api/v1/workspaces/ws-c/history").await.1), ["created", "renamed"]);
    assert_eq!(admin.get("/api/v1/workspaces/ws-c").await.1["agent_provider"], "codex", "an empty provider keeps the current one");
    let (_, audit) = admin.get("/api/v1/audit?action=workspace.import").await;
    assert!(audit["total"].as_i64().unwrap() >= 4, "each import and batch is in the audit log: {audit}");
}

async fn a_file_that_cannot_be_read_is_refused_whole_and_writes_nothing(admin: TestApp) {
    for (csv, says) in [("", "empty"), ("id,name\nws-x,X\n", "agent_provider"), ("name,agent_provider\nX,claude\n", "id")] {
        let (status, body) = admin.send_raw("POST", "/api/v1/workspaces/imports", "text/csv", csv).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(says), "{body}");
    }
    admin.add_person("pat", false).await;
    let pat = admin.signed_in("pat").await;
    let (status, _) = pat.send_raw("POST", "/api/v1/workspaces/imports", "text/csv", "id,name,agent_provider\nws-p,P,claude\n").await;
    assert_eq!(status, 403, "only admins and workspaces:write tokens import");
    assert_eq!(admin.count("SELECT COUNT(*) FROM workspaces").await, 0);
    assert_eq!(admin.count("SELECT COUNT(*) FROM workspace_imports").await, 0);
}

async fn an_export_imports_back_unchanged_and_the_command_line_imports_too(admin: TestApp) {
    let csv = "id,name,agent_provider\nws-1,\"Quote \"\"this\"\"\",claude\nws-2,\"Comma, Co\",codex\nws-3,Ünïcödé 名前,claude\n";
    import(&admin, csv).await;
    let (status, exported) = admin.get_text("/api/v1/workspaces/export.csv").await;
    assert_eq!(status, 200);
    assert_eq!(exported, csv, "the export is the file that was imported");
    let again = import(&admin, &exported).await;
    assert_eq!((again["unchanged"].as_i64(), again["created"].as_i64(), again["updated"].as_i64()), (Some(3), Some(0), Some(0)));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("more.csv");
    std::fs::write(&file, "id,name,agent_provider\nws-4,Four,claude\nws-5,Five,nope\n").unwrap();
    let (ok, out, err) = support::run_cli(&admin, &["workspaces", "import", file.to_str().unwrap()], "", &[]).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("line 3: There is no provider \"nope\""), "{out}");
    assert!(out.contains("2 lines: 1 created, 0 updated, 0 unchanged, 1 refused"), "{out}");
    assert!(err.contains("imported 2 of 2 lines"), "{err}");
    assert_eq!(admin.get("/api/v1/workspaces/ws-4").await.1["name"], "Four");
}

async fn workspaces_are_found_by_part_of_the_name_a_page_at_a_time(admin: TestApp) {
    let mut csv = String::from("id,name,agent_provider\n");
    for i in 0..120 {
        csv.push_str(&format!("w{i:03},{} {i},{}\n", if i % 3 == 0 { "Acme" } else { "Other" }, if i % 2 == 0 { "codex" } else { "claude" }));
    }
    import(&admin, &csv).await;
    let (_, first) = admin.get("/api/v1/workspaces?q=acme&limit=25").await;
    assert_eq!((first["total"].as_i64(), first["workspaces"].as_array().unwrap().len()), (Some(40), 25));
    let next = first["next"].as_str().unwrap();
    let (_, second) = admin.get(&format!("/api/v1/workspaces?q=ACME&limit=25&after={next}")).await;
    assert_eq!((second["workspaces"].as_array().unwrap().len(), second.get("next")), (15, None));
    assert_eq!(second["workspaces"][0]["id"], "w075");
    let (_, codex) = admin.get("/api/v1/workspaces?q=acme&provider=codex").await;
    assert_eq!(codex["total"], 20);
    let (_, percent) = admin.get("/api/v1/workspaces?q=%25").await;
    assert_eq!(percent["total"], 0, "% is a character to find, not a wildcard");
    let (status, body) = admin.get("/api/v1/workspaces?limit=0").await;
    assert_eq!((status, error_of(&body).1), (422, Some("limit")));
    let (status, body) = admin.get("/api/v1/workspaces?colour=red").await;
    assert_eq!((status, error_of(&body).1), (422, Some("colour")));
}

async fn adoption_counts_each_providers_workspaces_over_time(admin: TestApp) {
    codex_flag(&admin, 100, &[]).await;
    import(&admin, "id,name,agent_provider\na,A,claude\nb,B,claude\nc,C,codex\n").await;
    let (status, adoption) = admin.get("/api/v1/workspaces/adoption").await;
    assert_eq!(status, 200, "{adoption}");
    assert_eq!(adoption["current"], json!([["claude", "Claude", 2], ["codex", "Codex", 1]]));
    let (status, _) = admin.send("PUT", "/api/v1/workspaces/a/provider", json!({"provider": "codex", "api_key": KEY})).await;
    assert_eq!(status, 200);
    let (_, adoption) = admin.get("/api/v1/workspaces/adoption").await;
    assert_eq!(adoption["current"], json!([["claude", "Claude", 1], ["codex", "Codex", 2]]));
    let series = adoption["series"].as_array().unwrap();
    let codex_now = series.iter().rev().find(|s| s["provider"] == "codex").unwrap();
    assert_eq!(codex_now["workspaces"], 2, "this hour's sample follows the switch");

    // The provider migration plan (its stages flip ENABLE_CODEX_PROVIDER) shows adoption.
    let plan = admin.plan(json!({"title": "Codex rollout", "stages": [{"name": "GA"}]})).await;
    let (id, stage) = (plan["id"].as_i64().unwrap(), plan["stages"][0]["id"].as_i64().unwrap());
    let changes = json!({"version": plan["version"], "changes": [{"flag": "ENABLE_CODEX_PROVIDER", "environment": "production", "enabled": true, "percentage": 100}]});
    let (status, body) = admin.send("PUT", &format!("/api/v1/plans/{id}/stages/{stage}/flags"), changes).await;
    assert_eq!(status, 200, "{body}");
    let (_, page) = admin.get_text(&format!("/plans/{id}")).await;
    assert!(page.contains("Provider adoption"), "the plan page shows adoption");
    let other = admin.plan(json!({"title": "Queue move"})).await;
    let (_, page) = admin.get_text(&format!("/plans/{}", other["id"])).await;
    assert!(!page.contains("Provider adoption"), "other plans do not");
}
