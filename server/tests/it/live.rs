//! Live updates: every change is a server-sent event with an id, and a client that
//! reconnects with `Last-Event-ID` gets exactly what it missed.
use crate::support;

use serde_json::{json, Value};
use std::time::Duration;
use support::TestApp;

on_both_databases!(
    a_client_that_reconnects_gets_the_changes_it_missed_in_order,
    a_client_resuming_from_an_unknown_event_is_told_to_reload,
);

/// One server-sent event: (id, event name, data).
type Sse = (String, String, String);

/// An open event stream and what has arrived on it so far.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(app: &TestApp, last_id: Option<&str>) -> Stream {
        let mut request = app.request("GET", "/api/v1/events");
        if let Some(id) = last_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        Stream { response, buffer: String::new() }
    }

    /// The next event (skipping keep-alive comments), or a panic after 10 s.
    async fn next(&mut self) -> Sse {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block.lines().filter_map(|l| l.strip_prefix(name)).map(|v| v.trim_start().to_string()).collect::<Vec<_>>().join("\n")
                };
                let event = field("event:");
                if event.is_empty() {
                    continue;
                }
                return (field("id:"), event, field("data:"));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .expect("the stream stays open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn new_plan(app: &TestApp, title: &str) -> i64 {
    app.plan(json!({"title": title})).await["id"].as_i64().unwrap()
}

async fn a_client_that_reconnects_gets_the_changes_it_missed_in_order(app: TestApp) {
    let mut stream = Stream::open(&app, None).await;
    let first = new_plan(&app, "Seen live").await;
    let (seen_id, event, data) = stream.next().await;
    let data: Value = serde_json::from_str(&data).unwrap();
    assert_eq!((event.as_str(), data["action"].as_str(), data["plan_id"].as_i64()), ("change", Some("plan.create"), Some(first)));
    assert!(!seen_id.is_empty(), "events carry ids");

    // The connection drops; two changes happen meanwhile.
    drop(stream);
    let missed = [new_plan(&app, "Missed one").await, new_plan(&app, "Missed two").await];

    let mut again = Stream::open(&app, Some(&seen_id)).await;
    let mut got = vec![];
    let mut last_id = seen_id.clone();
    for _ in 0..2 {
        let (id, event, data) = again.next().await;
        assert_eq!(event, "change");
        assert_ne!(id, last_id);
        last_id = id;
        got.push(serde_json::from_str::<Value>(&data).unwrap()["plan_id"].as_i64().unwrap());
    }
    assert_eq!(got, missed, "exactly the missed changes, oldest first");
    // And then it is live again.
    let later = new_plan(&app, "Live again").await;
    let (_, _, data) = again.next().await;
    assert_eq!(serde_json::from_str::<Value>(&data).unwrap()["plan_id"].as_i64(), Some(later));
}

async fn a_client_resuming_from_an_unknown_event_is_told_to_reload(app: TestApp) {
    let mut stream = Stream::open(&app, Some("from-another-server-7")).await;
    let (_, event, _) = stream.next().await;
    assert_eq!(event, "resync");
}
