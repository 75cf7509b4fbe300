//! Flag-serving benchmark: OFREP evaluation throughput against a bare axum handler, and
//! how fast the kill switch reaches a subscriber of the OFREP event stream.
//!
//!     cargo leptos build --release --split  # the server binary it measures
//!     cargo run --release -p runway --example bench
//!
//! Settings (environment): RUNWAY_BIN (default target/release/runway), BENCH_SECONDS (5),
//! BENCH_CONCURRENCY (32), BENCH_KILLS (200), BENCH_SERVER_LOG (the server's RUST_LOG;
//! default its own default, "info,sqlx=warn", which logs every request as production does).
//!
//! The server runs on a fresh temporary SQLite database with 50 flags on in production, 10 of
//! them with a targeting rule of 3 conditions; each request has its own targeting key and one
//! of 36 contexts (plan, region, app version), so rules match some requests and not others.
use axum::body::Bytes;
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;

const FLAGS: usize = 50;
/// Every `RULED_EVERY`th flag has a rule.
const RULED_EVERY: usize = 5;
const PLANS: [&str; 3] = ["enterprise", "team", "free"];
const REGIONS: [&str; 4] = ["eu-west-1", "EU-central-1", "us-east-1", "ap-south-1"];
const VERSIONS: [&str; 3] = ["2.4.1", "2.0.0", "2.1.0-beta.2"];
const PASSWORD: &str = "bench password, not secret";
/// Ignored by the figures: lets connections open and caches fill before measuring.
const WARM_UP: Duration = Duration::from_secs(1);

type Result<T, E = String> = std::result::Result<T, E>;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // On Ctrl-C the benchmark future is dropped, and with it the server and its database.
    let outcome = tokio::select! {
        r = bench() => r,
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

struct Settings {
    bin: PathBuf,
    seconds: u64,
    concurrency: usize,
    kills: usize,
    server_log: String,
    cores: usize,
}

impl Settings {
    fn from_env() -> Result<Settings> {
        fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
            match std::env::var(name) {
                Ok(v) => v.trim().parse().map_err(|_| format!("{name}={v:?} is not a positive whole number")),
                Err(_) => Ok(default),
            }
        }
        let bin = std::env::var_os("RUNWAY_BIN").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/release/runway"));
        let s = Settings {
            bin,
            seconds: number("BENCH_SECONDS", 5)?,
            concurrency: number("BENCH_CONCURRENCY", 32)?,
            kills: number("BENCH_KILLS", 200)?,
            server_log: std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()),
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        };
        if s.seconds == 0 || s.concurrency == 0 || s.kills == 0 {
            return Err("BENCH_SECONDS, BENCH_CONCURRENCY and BENCH_KILLS must be at least 1".into());
        }
        Ok(s)
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("server/ sits in the workspace").to_path_buf()
}

async fn bench() -> Result<()> {
    let settings = Settings::from_env()?;
    check_binary(&settings.bin)?;
    let server = Server::start(&settings).await?;
    // One client for everything, with enough idle connections kept alive for every task.
    let http = Client::builder()
        .pool_max_idle_per_host(settings.concurrency * 2)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let admin = Admin::sign_in(http.clone(), &server.base).await?;
    let mut versions = Vec::with_capacity(FLAGS);
    for i in 0..FLAGS {
        let key = flag_key(i);
        let made = admin.send(Method::POST, "/api/v1/flags", json!({ "key": key })).await?;
        // Spread the rollouts over 0..=100 % so evaluation takes every branch.
        let percentage = i * 100 / (FLAGS - 1);
        let mut on = json!({ "version": made["version"], "enabled": true, "percentage": percentage });
        if i % RULED_EVERY == 0 {
            on["rules"] = json!([{
                "name": "EU paying customers on new apps",
                "conditions": [
                    { "contextName": "plan", "operator": "IN", "values": ["enterprise", "team"] },
                    { "contextName": "region", "operator": "STR_STARTS_WITH", "values": ["eu-"], "caseInsensitive": true },
                    { "contextName": "appVersion", "operator": "SEMVER_GT", "value": "2.0.0" }
                ],
                "serve": "on"
            }]);
        }
        let set = admin.send(Method::PUT, &format!("/api/v1/flags/{key}/environments/production"), on).await?;
        versions.push(flag_version(&set)?);
    }

    let ofrep = Ofrep { http: http.clone(), base: server.base.clone(), token: server.token.clone() };
    // The bare handler answers with a real evaluation's body, so both send the same bytes.
    let sample = ofrep.single(&flag_key(0), 0).send().await.map_err(|e| format!("sample evaluation: {e}"))?;
    if sample.status() != StatusCode::OK {
        return Err(format!("sample evaluation answered {}: {}", sample.status(), sample.text().await.unwrap_or_default()));
    }
    let sample = sample.bytes().await.map_err(|e| format!("sample evaluation: {e}"))?;
    let bulk_sample = ofrep.bulk(0).send().await.map_err(|e| format!("sample bulk evaluation: {e}"))?;
    if bulk_sample.status() != StatusCode::OK {
        return Err(format!("sample bulk evaluation answered {}", bulk_sample.status()));
    }
    let bulk_sample = bulk_sample.bytes().await.map_err(|e| format!("sample bulk evaluation: {e}"))?;
    let bare = Bare::start(settings.cores, sample, bulk_sample.clone())?;
    let bare_ofrep = Ofrep { base: bare.base.clone(), ..ofrep.clone() };

    let duration = Duration::from_secs(settings.seconds);
    let measure_until = |o: &Ofrep, bulk: bool, duration: Duration, stop: Arc<AtomicBool>| {
        let o = o.clone();
        load(settings.concurrency, duration, stop, move |n| if bulk { o.bulk(n) } else { o.single(&flag_key(n as usize % FLAGS), n) })
    };
    let measure = |o: &Ofrep, bulk: bool| measure_until(o, bulk, duration, Arc::default());
    let bare_load = measure(&bare_ofrep, false).await;
    let single = measure(&ofrep, false).await;
    let bare_bulk = measure(&bare_ofrep, true).await;
    let bulk = measure(&ofrep, true).await;
    drop(bare);

    let kills = kill_latencies(&admin, &ofrep, &flag_key(0), &mut versions[0], settings.kills).await?;
    // Again while bulk evaluations keep the server busy: the load runs until the kills end.
    let stop = Arc::new(AtomicBool::new(false));
    let busy = tokio::spawn(measure_until(&ofrep, true, Duration::from_secs(3600), stop.clone()));
    tokio::time::sleep(WARM_UP).await;
    let kills_under_load = kill_latencies(&admin, &ofrep, &flag_key(0), &mut versions[0], settings.kills).await;
    stop.store(true, Ordering::Relaxed);
    let busy = busy.await.map_err(|e| format!("bulk load: {e}"))?;
    let kills_under_load = kills_under_load?;

    println!(
        "Runway flag benchmark: {} cores; {} s per run after {} s warm-up; {} concurrent requests; server log {:?}",
        settings.cores,
        settings.seconds,
        WARM_UP.as_secs(),
        settings.concurrency,
        settings.server_log
    );
    println!(
        "Server: {} on SQLite, {FLAGS} flags on in production, {} with a 3-condition rule; client and servers share this machine",
        settings.bin.display(),
        FLAGS / RULED_EVERY
    );
    let share = 100.0 * single.rps() / bare_load.rps().max(f64::MIN_POSITIVE);
    println!(
        "OFREP single:  {:.0} req/s ({share:.0}% of a bare axum handler: {:.0} req/s; target at least 80%: {})",
        single.rps(),
        bare_load.rps(),
        if share >= 80.0 { "met" } else { "missed" }
    );
    let share = 100.0 * bulk.rps() / bare_bulk.rps().max(f64::MIN_POSITIVE);
    println!(
        "OFREP bulk ({FLAGS} flags, {} ruled): {:.0} req/s ({share:.0}% of a bare axum handler answering the same {} bytes: {:.0} req/s; target at least 80%: {})",
        FLAGS / RULED_EVERY,
        bulk.rps(),
        bulk_sample.len(),
        bare_bulk.rps(),
        if share >= 80.0 { "met" } else { "missed" }
    );
    for (what, kills) in [("idle server", &kills), ("during bulk load", &kills_under_load)] {
        let (p50, p99) = (percentile(kills, 50.0), percentile(kills, 99.0));
        println!(
            "Kill switch to SSE subscriber, {what}: p50 {:.1} ms, p99 {:.1} ms ({} kills; target p99 under 10 ms: {})",
            ms(p50),
            ms(p99),
            kills.len(),
            if p99 < Duration::from_millis(10) { "met" } else { "missed" }
        );
    }
    println!("Bulk load meanwhile: {:.0} req/s", busy.rps());
    println!(
        "Errors (non-200 answers / failed requests): single {}, bulk {}, bulk during kills {}, bare {}, bare bulk {}",
        single.errors(),
        bulk.errors(),
        busy.errors(),
        bare_load.errors(),
        bare_bulk.errors()
    );
    Ok(())
}

fn flag_key(i: usize) -> String {
    format!("bench.flag_{i}")
}

fn flag_version(flag: &Value) -> Result<i64> {
    flag["version"].as_i64().ok_or_else(|| format!("no version in {flag}"))
}

/// Refuses a missing binary; warns when it predates the sources, since it then
/// measures older code than the checkout holds.
fn check_binary(bin: &Path) -> Result<()> {
    let built = std::fs::metadata(bin)
        .and_then(|m| m.modified())
        .map_err(|_| format!("no server binary at {}: build it with cargo leptos build --release --split (or set RUNWAY_BIN)", bin.display()))?;
    let root = workspace();
    let newest = [root.join("server/src"), root.join("app/src")].iter().filter_map(|d| newest_file(d)).max();
    if newest.is_some_and(|t| t > built) {
        eprintln!("bench: warning: {} is older than the sources; rebuild it with cargo leptos build --release --split", bin.display());
    }
    Ok(())
}

fn newest_file(dir: &Path) -> Option<SystemTime> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            if meta.is_dir() {
                newest_file(&e.path())
            } else {
                meta.modified().ok()
            }
        })
        .max()
}

/// The `runway` server under test, with its database in a temporary folder. Dropping it
/// stops the server, then removes the folder.
struct Server {
    child: Child,
    base: String,
    token: String,
    /// Removed when dropped, after `drop` has stopped the server.
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start(settings: &Settings) -> Result<Server> {
        let dir = tempfile::Builder::new().prefix("runway-bench").tempdir().map_err(|e| format!("temporary folder: {e}"))?;
        let db = format!("sqlite://{}", dir.path().join("runway.db").display());
        let cli = |args: &[&str]| {
            let mut c = Command::new(&settings.bin);
            c.args(args).args(["--database-url", &db]).env("RUST_LOG", "warn").env("NO_COLOR", "1");
            c
        };
        run(cli(&["user", "add", "admin", "--admin"]), Some(PASSWORD))?;
        let made = run(cli(&["token", "create", "bench", "--scopes", "flags:read", "--environment", "production"]), None)?;
        let token = made.lines().last().unwrap_or_default().trim().to_string();

        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| format!("free port: {e}"))?.port();
        // The log goes to a file rather than a pipe: nothing in the benchmark has to spend
        // CPU draining it, and it is there to show when the server fails.
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).map_err(|e| format!("server log: {e}"))?;
        let site = workspace().join("target/site");
        let child = cli(&["--addr", &format!("127.0.0.1:{port}"), "--no-demo", "--site-root", &site.display().to_string()])
            // Whatever the filter, keep the line that says the server listens.
            .env("RUST_LOG", format!("{},runway::cli=info", settings.server_log))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", settings.bin.display()))?;
        let mut server = Server { child, base: format!("http://127.0.0.1:{port}"), token, _dir: dir };

        // The server says when it listens (it has migrated and loaded the flags by then).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            if text.contains("Runway is listening") {
                return Ok(server);
            }
            let exited = server.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let tail: Vec<&str> = text.lines().rev().take(10).collect();
                let why = if exited.is_some() { "exited" } else { "did not listen within 30 s" };
                let log = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
                return Err(format!("the server {why}; its log ends:\n{log}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Runs a `runway` command to its end, with `stdin` piped in; its stdout, or why it failed.
fn run(mut command: Command, stdin: Option<&str>) -> Result<String> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {command:?}: {e}"))?;
    let mut input = child.stdin.take().expect("stdin is piped");
    if let Some(text) = stdin {
        input.write_all(format!("{text}\n").as_bytes()).map_err(|e| format!("writing to {command:?}: {e}"))?;
    }
    drop(input);
    let out = child.wait_with_output().map_err(|e| format!("running {command:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A signed-in admin session for the console API: the cookie, and the CSRF token on writes.
struct Admin {
    http: Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Admin {
    async fn sign_in(http: Client, base: &str) -> Result<Admin> {
        let r = http
            .post(format!("{base}/api/v1/session"))
            .json(&json!({ "username": "admin", "password": PASSWORD }))
            .send()
            .await
            .map_err(|e| format!("signing in: {e}"))?;
        if !r.status().is_success() {
            return Err(format!("signing in answered {}", r.status()));
        }
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .ok_or("signing in set no cookie")?
            .to_string();
        let body: Value = r.json().await.map_err(|e| format!("signing in: {e}"))?;
        let csrf = body["csrf_token"].as_str().ok_or("signing in gave no csrf_token")?.to_string();
        Ok(Admin { http, base: base.to_string(), cookie, csrf })
    }

    /// Sends a write and returns the answer's JSON; any non-2xx answer is an error.
    async fn send(&self, method: Method, path: &str, body: Value) -> Result<Value> {
        let what = format!("{method} {path}");
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let status = r.status();
        let text = r.text().await.map_err(|e| format!("{what}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{what} answered {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{what}: {e}: {text}"))
    }
}

/// OFREP requests, to Runway or to the bare handler (same paths, headers and body sizes).
#[derive(Clone)]
struct Ofrep {
    http: Client,
    base: String,
    token: String,
}

impl Ofrep {
    /// Request `n` evaluates for its own targeting key, padded so every body is the same size.
    fn request(&self, path: &str, n: u64) -> RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"context":{{"targetingKey":"user-{n:012}","plan":"{}","region":"{}","appVersion":"{}"}}}}"#,
                PLANS[n as usize % 3],
                REGIONS[(n as usize / 3) % 4],
                VERSIONS[(n as usize / 12) % 3]
            ))
    }

    fn single(&self, key: &str, n: u64) -> RequestBuilder {
        self.request(&format!("/ofrep/v1/evaluate/flags/{key}"), n)
    }

    fn bulk(&self, n: u64) -> RequestBuilder {
        self.request("/ofrep/v1/evaluate/flags", n)
    }
}

#[derive(Default)]
struct Load {
    ok: u64,
    /// Answers other than 200.
    refused: u64,
    /// Requests that got no answer (connection or body errors).
    failed: u64,
    elapsed: Duration,
}

impl Load {
    fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn errors(&self) -> String {
        format!("{}/{}", self.refused, self.failed)
    }

    fn add(&mut self, other: &Load) {
        self.ok += other.ok;
        self.refused += other.refused;
        self.failed += other.failed;
    }
}

/// `concurrency` tasks send requests back to back: first for the warm-up, then counted
/// for `duration` or until `stop`. Each request gets the next number, hence its own targeting key.
async fn load(
    concurrency: usize,
    duration: Duration,
    stop: Arc<AtomicBool>,
    request: impl Fn(u64) -> RequestBuilder + Send + Sync + 'static,
) -> Load {
    let request = Arc::new(request);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let (counted_from, until) = (started + WARM_UP, started + WARM_UP + duration);
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (request, next, stop) = (request.clone(), next.clone(), stop.clone());
            tokio::spawn(async move {
                let mut load = Load::default();
                loop {
                    let sent = Instant::now();
                    if sent >= until || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let r = request(next.fetch_add(1, Ordering::Relaxed)).send().await;
                    // Read the whole body: a request is done when the client has its answer.
                    let outcome = match r {
                        Ok(r) => {
                            let status = r.status();
                            r.bytes().await.map(|_| status)
                        }
                        Err(e) => Err(e),
                    };
                    if sent < counted_from {
                        continue;
                    }
                    match outcome {
                        Ok(StatusCode::OK) => load.ok += 1,
                        Ok(_) => load.refused += 1,
                        Err(_) => load.failed += 1,
                    }
                }
                load
            })
        })
        .collect();
    let mut total = Load::default();
    for t in tasks {
        if let Ok(l) = t.await {
            total.add(&l);
        }
    }
    // The last requests end a little after `until`; they count, so the time does too.
    total.elapsed = Instant::now().saturating_duration_since(counted_from);
    total
}

/// The yardstick: an axum server with one handler that reads the body and answers a fixed
/// JSON, on its own runtime with as many workers as Runway's `#[tokio::main]` (one per core).
struct Bare {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Bare {
    fn start(workers: usize, answer: Bytes, bulk: Bytes) -> Result<Bare> {
        use axum::routing::post;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bare handler: {e}"))?;
        let base = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .map_err(|e| format!("bare handler runtime: {e}"))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let handler = move |_body: Bytes| {
                    let answer = answer.clone();
                    async move { ([("content-type", "application/json")], answer) }
                };
                let bulk_handler = move |_body: Bytes| {
                    let bulk = bulk.clone();
                    async move { ([("content-type", "application/json")], bulk) }
                };
                let app = axum::Router::new()
                    .route("/ofrep/v1/evaluate/flags/{key}", post(handler))
                    .route("/ofrep/v1/evaluate/flags", post(bulk_handler));
                let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                // Ends on `stop`; dropping the runtime then closes the kept-alive connections.
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stopped => {}
                }
            });
        });
        Ok(Bare { base, stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Subscribes to the OFREP event stream, then `kills` times turns `key` on, waits for that
/// change's event, and times from sending the kill until its event reaches the subscriber.
async fn kill_latencies(admin: &Admin, ofrep: &Ofrep, key: &str, version: &mut i64, kills: usize) -> Result<Vec<Duration>> {
    let mut events = subscribe(ofrep).await?;
    let state_path = format!("/api/v1/flags/{key}/environments/production");
    let mut latencies = Vec::with_capacity(kills);
    for _ in 0..kills {
        let on = json!({ "version": *version, "enabled": true, "percentage": 100 });
        admin.send(Method::PUT, &state_path, on).await?;
        next_event(&mut events).await.map_err(|e| format!("after turning {key} on: {e}"))?;
        // Anything already queued belongs to earlier changes, not to this kill.
        while events.try_recv().is_ok() {}
        let sent = Instant::now();
        // The kill's answer holds the version the next turn-on is based on.
        *version = flag_version(&admin.send(Method::POST, &format!("/api/v1/flags/{key}/kill"), json!({})).await?)?;
        let arrived = next_event(&mut events).await.map_err(|e| format!("after the kill: {e}"))?;
        latencies.push(arrived.saturating_duration_since(sent));
    }
    latencies.sort();
    Ok(latencies)
}

/// Opens `GET /ofrep/v1/events`; a task reads it and sends the arrival time of each
/// `refetchEvaluation` event, stamped as soon as its bytes are read.
async fn subscribe(ofrep: &Ofrep) -> Result<mpsc::UnboundedReceiver<Instant>> {
    let mut stream = ofrep
        .http
        .get(format!("{}/ofrep/v1/events", ofrep.base))
        .bearer_auth(&ofrep.token)
        .send()
        .await
        .map_err(|e| format!("subscribing to /ofrep/v1/events: {e}"))?;
    if stream.status() != StatusCode::OK {
        return Err(format!(
            "/ofrep/v1/events answered {} (a binary built before the event stream existed? rebuild it with cargo leptos build --release --split)",
            stream.status()
        ));
    }
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut text = String::new();
        while let Ok(Some(chunk)) = stream.chunk().await {
            let arrived = Instant::now();
            text.push_str(&String::from_utf8_lossy(&chunk));
            // Events end with a blank line; keep-alive comments carry no event.
            while let Some(end) = text.find("\n\n") {
                let event: String = text.drain(..end + 2).collect();
                if event.contains("refetchEvaluation") && tx.send(arrived).is_err() {
                    return;
                }
            }
        }
    });
    Ok(rx)
}

async fn next_event(events: &mut mpsc::UnboundedReceiver<Instant>) -> Result<Instant> {
    match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
        Ok(Some(at)) => Ok(at),
        Ok(None) => Err("the event stream ended".into()),
        Err(_) => Err("no event within 5 s".into()),
    }
}

/// Nearest-rank percentile of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
