//! A replica whose PostgreSQL becomes unreachable keeps serving flags from its last snapshot,
//! over OFREP and its event stream, restarts from the snapshot it wrote to disk, and catches
//! up when the database returns. The database server itself stays up for the other tests:
//! the replica reaches it through a TCP proxy the test cuts, which the replica sees as a
//! stopped server (connections reset, new ones refused).
use crate::replicas::{add_admin, next_event, sign_in_admin, start, start_with_snapshot};
use crate::support::{self, Store, TestDb};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// Forwards connections from its own port to PostgreSQL's until cut.
struct Proxy {
    addr: std::net::SocketAddr,
    target: String,
    accepting: Option<JoinHandle<()>>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut proxy = Proxy { addr, target: target.to_string(), accepting: None, links: Default::default() };
        proxy.accept(listener);
        proxy
    }

    fn accept(&mut self, listener: TcpListener) {
        let (target, links) = (self.target.clone(), self.links.clone());
        self.accepting = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                links.lock().unwrap().push(link);
            }
        }));
    }

    /// The database "stops": open connections are dropped and new ones refused.
    fn cut(&mut self) {
        if let Some(accepting) = self.accepting.take() {
            accepting.abort();
        }
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// The database is back on the same address.
    async fn restore(&mut self) {
        // The aborted accept task drops its listener on its next poll; bind once it has.
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            let socket = TcpSocket::new_v4().unwrap();
            socket.set_reuseaddr(true).unwrap();
            match socket.bind(self.addr).and_then(|_| socket.listen(128)) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::task::yield_now().await;
                }
                Err(e) => panic!("cannot listen on {} again: {e}", self.addr),
            }
        };
        self.accept(listener);
    }

    /// `url` with its host and port replaced by the proxy's.
    fn url_for(&self, url: &str) -> String {
        let at = url.rfind('@').unwrap();
        let slash = at + url[at..].find('/').unwrap();
        format!("{}@{}{}", &url[..at], self.addr, &url[slash..])
    }
}

/// `host:port` of a postgres:// URL.
fn server_of(url: &str) -> String {
    let at = url.rfind('@').unwrap();
    let rest = &url[at + 1..];
    rest[..rest.find('/').unwrap()].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_serves_flags_through_a_database_outage_restarts_from_its_snapshot_and_catches_up() {
    let db = TestDb::new(Store::Postgres).await;
    runway::db::migrate(&db.url).await.unwrap();
    add_admin(&db.url);
    let mut proxy = Proxy::start(&server_of(&db.url)).await;
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("flag-snapshot.json");
    // A reaches the database directly; B through the proxy.
    let a = start(&db.url).await;
    let b = start_with_snapshot(&proxy.url_for(&db.url), &snapshot).await;
    let http = reqwest::Client::new();

    let (cookie, csrf) = sign_in_admin(&http, &a).await;
    let on_a = |method: reqwest::Method, path: &str, body: Value| {
        http.request(method, format!("{}{path}", a.base)).header("cookie", &cookie).header("x-csrf-token", &csrf).json(&body).send()
    };
    let new_token = |name: &'static str| async move {
        let token: Value = on_a(reqwest::Method::POST, "/api/v1/tokens", json!({"name": name, "scopes": ["flags:read"], "environment": "production"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (token["token"]["id"].as_i64().unwrap(), token["secret"].as_str().unwrap().to_string())
    };
    let (_, used) = new_token("used-before").await;
    let (revoked_id, revoked) = new_token("revoked").await;
    // Never used before the outage: B can know it only from its snapshot.
    let (_, never_used) = new_token("never-used-before").await;
    assert_eq!(on_a(reqwest::Method::POST, "/api/v1/flags", json!({"key": "ENABLE_CODEX_PROVIDER"})).await.unwrap().status(), 201);
    let on = on_a(
        reqwest::Method::PUT,
        "/api/v1/flags/ENABLE_CODEX_PROVIDER/environments/production",
        json!({"version": 1, "enabled": true, "percentage": 100}),
    );
    assert_eq!(on.await.unwrap().status(), 200);

    let evaluate = |base: &str, secret: &str| {
        let request = http
            .post(format!("{base}/ofrep/v1/evaluate/flags/ENABLE_CODEX_PROVIDER"))
            .bearer_auth(secret)
            .json(&json!({"context": {"targetingKey": "ws-1"}}))
            .send();
        async move {
            let r = request.await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or_default())
        }
    };
    let health = |base: &str| {
        let request = http.get(format!("{base}/healthz")).send();
        async move {
            let r = request.await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // The flag was turned on after the tokens were made: once B serves it, its snapshot holds them.
    support::eventually("B serves the flag turned on through A", async || {
        let (status, body) = evaluate(&b.base, &used).await;
        (status == 200 && body["value"] == json!(true)).then_some(body)
    })
    .await;

    // Revoked through A while B holds it in its token cache: B refuses it once it hears,
    // well before that cache would have expired it (5 s).
    assert_eq!(evaluate(&b.base, &revoked).await.0, 200);
    let revoked_at = Instant::now();
    assert_eq!(on_a(reqwest::Method::DELETE, &format!("/api/v1/tokens/{revoked_id}"), json!({})).await.unwrap().status(), 200);
    support::eventually("B refuses the revoked token", async || {
        let (status, body) = evaluate(&b.base, &revoked).await;
        (status == 401).then_some(body)
    })
    .await;
    assert!(revoked_at.elapsed() < Duration::from_secs(4), "B went on accepting a revoked token for {:?}", revoked_at.elapsed());

    let mut stream_before = http.get(format!("{}/ofrep/v1/events", b.base)).bearer_auth(&used).send().await.unwrap();
    assert_eq!(stream_before.status(), 200);

    proxy.cut();
    let degraded = support::eventually("B reports itself degraded", async || {
        let (status, body) = health(&b.base).await;
        (status == 200 && body["status"] == "degraded").then_some(body)
    })
    .await;
    assert_eq!(degraded["database"], "unreachable", "{degraded}");
    assert_eq!(degraded["flag_snapshot"]["source"], "database", "{degraded}");
    // Every token valid when the snapshot was built works, cached or not; the revoked one does not.
    for secret in [&used, &never_used] {
        let (status, body) = evaluate(&b.base, secret).await;
        assert_eq!((status, &body["value"]), (200, &json!(true)), "{body}");
    }
    assert_eq!(evaluate(&b.base, &revoked).await.0, 401);
    let bulk = http
        .post(format!("{}/ofrep/v1/evaluate/flags", b.base))
        .bearer_auth(&never_used)
        .json(&json!({"context": {"targetingKey": "ws-2"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bulk.status(), 200);
    assert_eq!(bulk.json::<Value>().await.unwrap()["flags"][0]["value"], json!(true));
    let stream_during = http.get(format!("{}/ofrep/v1/events", b.base)).bearer_auth(&never_used).send().await.unwrap();
    assert_eq!(stream_during.status(), 200, "a provider can subscribe during the outage");

    // A, which still reaches the database, uses the kill switch; B cannot know until it returns.
    let killed: Value = on_a(reqwest::Method::POST, "/api/v1/flags/ENABLE_CODEX_PROVIDER/kill", json!({})).await.unwrap().json().await.unwrap();
    assert_eq!(evaluate(&b.base, &used).await.1["value"], json!(true));
    proxy.restore().await;
    // The stream opened before the outage tells the provider; B serves the kill and is healthy.
    let event = next_event(&mut stream_before, Duration::from_secs(30)).await;
    assert!(event.contains("refetchEvaluation"), "{event}");
    let (status, body) = evaluate(&b.base, &used).await;
    assert_eq!((status, &body["value"], body["reason"].as_str()), (200, &json!(false), Some("DISABLED")), "{body}");
    support::eventually("B reports itself healthy", async || {
        let (status, body) = health(&b.base).await;
        (status == 200 && body["status"] == "ok").then_some(body)
    })
    .await;

    // The database goes again and B restarts meanwhile: it serves the snapshot it wrote.
    proxy.cut();
    drop((b, stream_before, stream_during));
    let b = start_with_snapshot(&proxy.url_for(&db.url), &snapshot).await;
    let (status, body) = health(&b.base).await;
    assert_eq!((status, body["status"].as_str(), body["flag_snapshot"]["source"].as_str()), (200, Some("degraded"), Some("disk")), "{body}");
    let (status, body) = evaluate(&b.base, &used).await;
    assert_eq!((status, &body["value"]), (200, &json!(false)), "{body}");
    assert_eq!(evaluate(&b.base, &revoked).await.0, 401, "a revocation seen before the restart holds after it");
    let mut events_b = http.get(format!("{}/ofrep/v1/events", b.base)).bearer_auth(&used).send().await.unwrap();
    assert_eq!(events_b.status(), 200);

    // Turned on again through A; when the database returns B catches up and says so.
    let on = on_a(
        reqwest::Method::PUT,
        "/api/v1/flags/ENABLE_CODEX_PROVIDER/environments/production",
        json!({"version": killed["version"], "enabled": true, "percentage": 100}),
    );
    assert_eq!(on.await.unwrap().status(), 200);
    proxy.restore().await;
    let event = next_event(&mut events_b, Duration::from_secs(30)).await;
    assert!(event.contains("refetchEvaluation"), "{event}");
    let (status, body) = evaluate(&b.base, &used).await;
    assert_eq!((status, &body["value"]), (200, &json!(true)), "{body}");
    support::eventually("B, started during the outage, reports itself healthy", async || {
        let (status, body) = health(&b.base).await;
        (status == 200 && body["status"] == "ok" && body["flag_snapshot"]["source"] == "database").then_some(body)
    })
    .await;
}
