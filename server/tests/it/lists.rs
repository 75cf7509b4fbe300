//! The plan, workspace and audit lists over real HTTP, on SQLite and on PostgreSQL: pages by
//! key that show each item once, searches that find the characters typed (wildcards, quotes,
//! search-syntax words, very long strings), an index that follows renames, and counts that
//! stop at 10,000.
use crate::support;

use serde_json::{json, Value};
use crate::workspaces::import;
use support::{error_of, TestApp};

on_both_databases!(
    a_search_finds_the_characters_typed_and_nothing_else,
    the_search_index_follows_renames,
    every_workspace_appears_once_across_its_pages_and_counts_stop_at_ten_thousand,
    plan_and_audit_pages_follow_one_another_and_past_the_end_is_empty,
    a_time_window_of_the_audit_log_lists_by_time_each_entry_once_across_pages,
    a_kind_of_action_lists_newest_first_each_entry_once_however_its_actions_lie_in_the_log,
);

fn titles(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap().to_string()).collect()
}

fn workspace_ids(page: &Value) -> Vec<String> {
    page["workspaces"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap().to_string()).collect()
}

fn query(q: &str) -> String {
    form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

async fn a_search_finds_the_characters_typed_and_nothing_else(app: TestApp) {
    let names = [
        "Move 100% of traffic",
        "snake_case rename",
        "Quote \"the\" queue",
        "Drop title:column",
        "Cut over NEAR the edge",
        "Ramp to 5* stars",
        "Plain queue move",
    ];
    for name in names {
        app.plan(json!({"title": name})).await;
    }
    let mut csv = String::from("id,name,agent_provider\n");
    for (i, name) in names.iter().enumerate() {
        csv.push_str(&format!("w{i},\"{}\",claude\n", name.replace('"', "\"\"")));
    }
    import(&app, &csv).await;

    let cases: [(&str, &[&str]); 12] = [
        ("%", &["Move 100% of traffic"]),
        ("0%", &["Move 100% of traffic"]),
        ("_", &["snake_case rename"]),
        ("e_c", &["snake_case rename"]),
        ("\"the\"", &["Quote \"the\" queue"]),
        ("\"", &["Quote \"the\" queue"]),
        ("title:", &["Drop title:column"]),
        ("NEAR(", &[]),
        ("5*", &["Ramp to 5* stars"]),
        ("queue OR edge", &[]),
        ("QUEUE", &["Quote \"the\" queue", "Plain queue move"]),
        ("ve", &["Move 100% of traffic", "Cut over NEAR the edge", "Plain queue move"]),
    ];
    for (q, expected) in cases {
        let (status, page) = app.get(&format!("/api/v1/plans?q={}", query(q))).await;
        assert_eq!(status, 200, "{q:?}: {page}");
        let mut found = titles(&page);
        found.sort();
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(found, want, "plans matching {q:?}");
        assert_eq!(page["total"], expected.len(), "{q:?}");

        let (status, page) = app.get(&format!("/api/v1/workspaces?q={}", query(q))).await;
        assert_eq!(status, 200, "{q:?}: {page}");
        let found: Vec<&str> = page["workspaces"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
        let mut found: Vec<String> = found.into_iter().map(String::from).collect();
        found.sort();
        assert_eq!(found, want, "workspaces matching {q:?}");
    }

    let long = "queue ".repeat(1_667);
    assert!(long.len() >= 10_000);
    for path in ["/api/v1/plans", "/api/v1/workspaces"] {
        let (status, page) = app.get(&format!("{path}?q={}", query(&long))).await;
        assert_eq!((status, &page["total"]), (200, &json!(0)), "a 10,000-character search finds nothing, without an error");
    }
    let (status, html) = app.get_text(&format!("/plans?q={}", query("%\"_ OR *"))).await;
    assert_eq!(status, 200);
    assert!(html.contains("No plan matches this search."));
}

async fn the_search_index_follows_renames(app: TestApp) {
    import(&app, "id,name,agent_provider\nws-blue,Bluebird Logistics,claude\n").await;
    let (status, _) = app.send("PATCH", "/api/v1/workspaces/ws-blue", json!({"name": "Kestrel Freight"})).await;
    assert_eq!(status, 200);
    let (_, old) = app.get("/api/v1/workspaces?q=bluebird").await;
    assert_eq!(old["total"], 0, "the old name is no longer found");
    let (_, new) = app.get("/api/v1/workspaces?q=kestrel").await;
    assert_eq!(workspace_ids(&new), ["ws-blue"]);
    // A CSV import that renames goes through the same index.
    import(&app, "id,name,agent_provider\nws-blue,Osprey Haulage,claude\n").await;
    let (_, renamed) = app.get("/api/v1/workspaces?q=osprey").await;
    assert_eq!(workspace_ids(&renamed), ["ws-blue"]);

    let plan = app.plan(json!({"title": "Retire the blue cluster", "owner": "Ada Lovelace"})).await;
    let path = format!("/api/v1/plans/{}", plan["id"]);
    let (status, _) = app.send("PATCH", &path, json!({"version": plan["version"], "title": "Retire the green cluster"})).await;
    assert_eq!(status, 200);
    let (_, blue) = app.get("/api/v1/plans?q=blue%20cluster").await;
    assert_eq!(blue["total"], 0);
    let (_, green) = app.get("/api/v1/plans?q=green%20cluster").await;
    assert_eq!(titles(&green), ["Retire the green cluster"]);
    let (_, owner) = app.get("/api/v1/plans?q=lovelace").await;
    assert_eq!(titles(&owner), ["Retire the green cluster"], "the owner is searched too");
}

async fn every_workspace_appears_once_across_its_pages_and_counts_stop_at_ten_thousand(app: TestApp) {
    // 10,001 workspaces: "customer" is in every name (a search with many hits), "customer 42"
    // in a few; one in ten is on codex.
    let mut csv = String::from("id,name,agent_provider\n");
    for i in 0..10_001 {
        csv.push_str(&format!("ws-{i:05},Customer {i},{}\n", if i % 10 == 0 { "codex" } else { "claude" }));
    }
    import(&app, &csv).await;

    let (_, all) = app.get("/api/v1/workspaces?limit=1").await;
    assert_eq!((&all["total"], &all["total_capped"]), (&json!(10_001), &json!(false)), "the whole table is counted exactly");
    let (_, claude) = app.get("/api/v1/workspaces?provider=claude&limit=1").await;
    assert_eq!((&claude["total"], &claude["total_capped"]), (&json!(9_000), &json!(false)), "under 10,000: counted exactly");
    let (_, many) = app.get("/api/v1/workspaces?q=customer&limit=1").await;
    assert_eq!((&many["total"], &many["total_capped"]), (&json!(10_000), &json!(true)), "10,001 match: counted up to 10,000");
    let (_, short) = app.get("/api/v1/workspaces?q=er&limit=1").await;
    assert_eq!((&short["total"], &short["total_capped"]), (&json!(1_000), &json!(true)), "a two-character search, which no index serves, counts up to 1,000");
    assert_eq!(workspace_ids(&short), ["ws-00000"]);

    let (_, few) = app.get("/api/v1/workspaces?q=customer%2042").await;
    let expected: Vec<String> = std::iter::once(42).chain(420..430).chain(4200..4300).map(|i| format!("ws-{i:05}")).collect();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(few["total"], 111);
    assert_eq!(workspace_ids(&few), sorted[..50], "by id, 50 to a page");

    // Walking a search with many hits, and one on codex, page by page.
    for (filter, expected_count) in [("q=customer", 10_001), ("q=customer&provider=codex", 1_001)] {
        let mut seen = vec![];
        let mut after = String::new();
        loop {
            let (status, page) = app.get(&format!("/api/v1/workspaces?{filter}&limit=500&after={after}")).await;
            assert_eq!(status, 200, "{page}");
            seen.extend(workspace_ids(&page));
            match page["next"].as_str() {
                Some(next) => after = next.to_string(),
                None => break,
            }
        }
        assert_eq!(seen.len(), expected_count, "{filter}");
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "each once, in order: {filter}");
    }
    let (status, past) = app.get("/api/v1/workspaces?q=customer&after=ws-99999").await;
    assert_eq!((status, workspace_ids(&past).len(), past.get("next")), (200, 0, None), "past the end is an empty page");

    let (_, html) = app.get_text("/workspaces?q=customer").await;
    assert!(html.contains("10,000+ workspaces in all"), "the page says the count stopped");
}

async fn plan_and_audit_pages_follow_one_another_and_past_the_end_is_empty(app: TestApp) {
    for i in 0..5 {
        app.plan(json!({"title": format!("Plan {i}")})).await;
    }
    let mut seen = vec![];
    let mut path = "/api/v1/plans?limit=2".to_string();
    loop {
        let (status, page) = app.get(&path).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total"], 5);
        seen.extend(titles(&page));
        let Some(next) = page["next"].as_str() else { break };
        path = format!("/api/v1/plans?limit=2&after={}", query(next));
    }
    assert_eq!(seen, ["Plan 4", "Plan 3", "Plan 2", "Plan 1", "Plan 0"], "most recently changed first, each once");
    let (status, past) = app.get(&format!("/api/v1/plans?after={}", query("2000-01-01T00:00:00.000Z~1"))).await;
    assert_eq!((status, titles(&past).len()), (200, 0), "past the end is an empty page");
    let (status, body) = app.get("/api/v1/plans?after=first").await;
    assert_eq!((status, error_of(&body).1), (422, Some("after")));

    let mut actions = vec![];
    let mut path = "/api/v1/audit?limit=2&action=plan.".to_string();
    loop {
        let (status, page) = app.get(&path).await;
        assert_eq!(status, 200, "{page}");
        actions.extend(page["items"].as_array().unwrap().iter().map(|e| e["target"].as_str().unwrap().to_string()));
        let Some(next) = page["next"].as_i64() else { break };
        path = format!("/api/v1/audit?limit=2&action=plan.&before={next}");
    }
    assert_eq!(actions.len(), 5, "{actions:?}");
    let (status, past) = app.get("/api/v1/audit?before=1").await;
    assert_eq!((status, past["items"].as_array().unwrap().len()), (200, 0));
    let (_, html) = app.get_text("/audit?action=plan.create").await;
    assert!(html.contains("5 on this page · 5 entries in all"), "the audit page counts");
}

async fn a_time_window_of_the_audit_log_lists_by_time_each_entry_once_across_pages(app: TestApp) {
    // Five changes committed close together: ids in commit order, times not quite (each took
    // its time before its write's turn came).
    let times = ["10:00:03", "10:00:01", "10:00:02", "10:00:05", "10:00:04"];
    for (i, t) in times.iter().enumerate() {
        sqlx::query("INSERT INTO audit_log (at, actor, action, target) VALUES ($1, 'tester', 'plan.update', $2)")
            .bind(format!("2026-11-30T{t}.000Z"))
            .bind(format!("change-{i}"))
            .execute(&app.service.db.pool)
            .await
            .unwrap();
    }
    let window = "since=2026-11-30T10:00:00Z&until=2026-11-30T10:01:00Z";
    let mut seen = vec![];
    let mut path = format!("/api/v1/audit?limit=2&{window}");
    loop {
        let (status, page) = app.get(&path).await;
        assert_eq!((status, &page["total"]), (200, &json!(5)), "{page}");
        seen.extend(page["items"].as_array().unwrap().iter().map(|e| e["target"].as_str().unwrap().to_string()));
        let Some(next) = page["next"].as_i64() else { break };
        path = format!("/api/v1/audit?limit=2&{window}&before={next}");
    }
    assert_eq!(seen, ["change-3", "change-4", "change-0", "change-2", "change-1"], "newest first by time, each once");
    let (_, all) = app.get("/api/v1/audit?limit=5&actor=tester").await;
    let by_id: Vec<&str> = all["items"].as_array().unwrap().iter().map(|e| e["target"].as_str().unwrap()).collect();
    assert_eq!(by_id, ["change-4", "change-3", "change-2", "change-1", "change-0"], "without a window, by id");
}

async fn a_kind_of_action_lists_newest_first_each_entry_once_however_its_actions_lie_in_the_log(app: TestApp) {
    // In runs, as a script's or a busy hour's changes come: stage changes, then a long run of
    // sign-ins, then more stage changes; and one action whose name only starts like the kind.
    let runs = [("stage.create", 12), ("stage.pass", 9), ("session.sign_in", 40), ("stage.abort", 5), ("stage.update", 6), ("stagex.other", 3)];
    for (action, n) in runs {
        for i in 0..n {
            sqlx::query("INSERT INTO audit_log (at, actor, action, target) VALUES ($1, 'tester', $2, $3)")
                .bind(format!("2026-11-30T11:{:02}:00.000Z", i % 60))
                .bind(action)
                .bind(format!("{action}-{i}"))
                .execute(&app.service.db.pool)
                .await
                .unwrap();
        }
    }
    let (_, all) = app.get("/api/v1/audit?actor=tester&limit=200").await;
    let expected: Vec<i64> = all["items"].as_array().unwrap().iter().filter(|e| e["action"].as_str().unwrap().starts_with("stage.")).map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(expected.len(), 32);
    let mut seen = vec![];
    let mut path = "/api/v1/audit?action=stage.&limit=7".to_string();
    loop {
        let (status, page) = app.get(&path).await;
        assert_eq!((status, &page["total"]), (200, &json!(32)), "{page}");
        seen.extend(page["items"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()));
        let Some(next) = page["next"].as_i64() else { break };
        path = format!("/api/v1/audit?action=stage.&limit=7&before={next}");
    }
    assert_eq!(seen, expected, "newest first, each once, no other kind");
}
