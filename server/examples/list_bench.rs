//! List benchmark: 100,000 workspaces, 1,000,000 audit entries and 500 plans, then the
//! list, filter and search pages (server-rendered HTML, signed in as an admin) and their
//! JSON answers over real HTTP, on SQLite and on PostgreSQL. Prints p50 and p95 of each
//! beside the target (p95 under 50 ms); asserts nothing about speed.
//!
//!     cargo run --release -p runway --example list_bench
//!
//! Settings (environment): BENCH_WORKSPACES (100000), BENCH_AUDIT (1000000), BENCH_RUNS (40
//! requests per line), BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres;
//! a fresh database is made there and dropped; "skip" measures SQLite only).
mod support;
use app::person::NewPerson;
use app::plan::NewPlan;
use runway::db::{Db, Kind};
use runway::service::{Ctx, Service};
use runway::AppState;
use std::time::{Duration, Instant};

const TARGET_P95_MS: f64 = 50.0;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    support::exit("list_bench", run().await)
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn run() -> Result<(), String> {
    let cores = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1);
    println!(
        "{} workspaces, {} audit entries, 500 plans; {} requests per line; {cores} cores; target p95 < {TARGET_P95_MS} ms",
        setting("BENCH_WORKSPACES", 100_000),
        setting("BENCH_AUDIT", 1_000_000),
        setting("BENCH_RUNS", 40)
    );
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    measure("SQLite", &format!("sqlite://{}/bench.db", dir.path().display())).await?;
    support::on_postgres(async |url| measure("PostgreSQL", url).await).await
}

fn fail(e: runway::error::Error) -> String {
    e.into_api().message
}

/// Workspaces through the CSV import, plans through the service; the audit entries are
/// written straight into the log (a million changes through the service would take an
/// hour), spread over 90 days, 50 actors, 40 actions and the 500 plans.
async fn seed(service: &Service, label: &str) -> Result<(), String> {
    let ctx = Ctx::cli();
    let n = setting("BENCH_WORKSPACES", 100_000);
    let mut csv = String::with_capacity(n * 40);
    csv.push_str("id,name,agent_provider\n");
    for i in 0..n {
        let provider = if i % 10 == 0 { "codex" } else { "claude" };
        csv.push_str(&format!("ws-{i:07},\"Customer {i}, Inc.\",{provider}\n"));
    }
    let t = Instant::now();
    service.import_now(&ctx, csv.as_bytes(), |_| {}).await.map_err(fail)?;
    println!("{label}: seeded {n} workspaces in {:.1} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let topics = ["queue", "provider", "database", "cache", "search index"];
    for i in 0..500 {
        let topic = topics[i % topics.len()];
        let plan = NewPlan {
            title: format!("Move the {topic} of region {i}"),
            summary: format!("Migration {i}: {topic} cut-over with rollback"),
            owner: format!("person-{}", i % 50),
            ..Default::default()
        };
        service.create_plan(&ctx, plan).await.map_err(fail)?;
    }
    println!("{label}: seeded 500 plans in {:.1} s", t.elapsed().as_secs_f64());

    let entries = setting("BENCH_AUDIT", 1_000_000);
    let t = Instant::now();
    let actions = app::audit::ACTION_CHOICES.iter().map(|(a, _)| *a).filter(|a| !a.ends_with('.')).collect::<Vec<_>>();
    let list = actions.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(",");
    let count = actions.len();
    // i runs 1..=entries; every value is a function of it.
    let select = |i: &str, at: &str| {
        format!(
            "SELECT {at}, 'person-' || ({i} % 50), (ARRAY[{list}])[1 + {i} % {count}], 'plan:' || (1 + {i} % 500), 1 + {i} % 500,
                    NULL, '{{\"title\":\"Move the queue\",\"version\":' || {i} || ',\"status\":\"draft\"}}', 'bench-' || {i}"
        )
    };
    let mut tx = service.db.write().await.map_err(|e| e.to_string())?;
    let columns = "INSERT INTO audit_log (at, actor, action, target, plan_id, before_json, after_json, request_id)";
    match service.db.kind {
        Kind::Postgres => {
            let at = format!("to_char(to_timestamp(1788220800 + i * 7776000.0 / {entries}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')");
            let sql = format!("{columns} {} FROM generate_series(1, {entries}) AS i", select("i", &at));
            sqlx::query(&sql).execute(tx.conn()).await.map_err(|e| e.to_string())?;
        }
        Kind::Sqlite => {
            // No arrays: the action is picked from a values table by number.
            let values = actions.iter().enumerate().map(|(k, a)| format!("({k}, '{a}')")).collect::<Vec<_>>().join(",");
            let at = format!("strftime('%Y-%m-%dT%H:%M:%fZ', 1788220800 + i * 7776000.0 / {entries}, 'unixepoch')");
            let sql = format!(
                "{columns} WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {entries}),
                 a(k, action) AS (VALUES {values})
                 SELECT {at}, 'person-' || (i % 50), a.action, 'plan:' || (1 + i % 500), 1 + i % 500, NULL,
                        '{{\"title\":\"Move the queue\",\"version\":' || i || ',\"status\":\"draft\"}}', 'bench-' || i
                 FROM n JOIN a ON a.k = i % {count}"
            );
            sqlx::query(&sql).execute(tx.conn()).await.map_err(|e| e.to_string())?;
        }
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    if service.db.kind == Kind::Postgres {
        sqlx::query("ANALYZE").execute(&service.db.pool).await.map_err(|e| e.to_string())?;
    }
    println!("{label}: seeded {entries} audit entries in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

async fn measure(label: &str, url: &str) -> Result<(), String> {
    let service = Service::new(Db::open(url).await?);
    seed(&service, label).await?;
    let ctx = Ctx::cli();
    let person = NewPerson { username: "bench".into(), password: "bench-password-1".into(), display_name: String::new(), contact: String::new(), admin: true };
    service.add_person(&ctx, person).await.map_err(fail)?;
    let app = runway::http::router(AppState::new(service.clone(), "target/site"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let base = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"username": "bench", "password": "bench-password-1"}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let cookie = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).unwrap_or("").to_string();

    let middle: i64 = sqlx::query_scalar("SELECT MAX(id) / 2 FROM audit_log").fetch_one(&service.db.pool).await.map_err(|e| e.to_string())?;
    let lines: Vec<(&str, String)> = vec![
        ("workspaces: first page", "workspaces?".into()),
        ("workspaces: a page deep in the list", "workspaces?after=ws-0090000".into()),
        ("workspaces: codex only", "workspaces?provider=codex".into()),
        ("workspaces: search \"customer 4242\" (11 match)", "workspaces?q=customer+4242".into()),
        ("workspaces: search \"gamma\" (none match)", "workspaces?q=gamma".into()),
        ("workspaces: search \"inc.\" (all match)", "workspaces?q=inc.".into()),
        ("workspaces: search \"42\" (two characters)", "workspaces?q=42".into()),
        ("workspaces: search \"customer 7\" on codex", "workspaces?q=customer+7&provider=codex".into()),
        ("audit: first page", "audit?".into()),
        ("audit: a page in the middle", format!("audit?before={middle}")),
        ("audit: one actor", "audit?actor=person-7".into()),
        ("audit: one action", "audit?action=stage.pass".into()),
        ("audit: a kind of action (stage.)", "audit?action=stage.".into()),
        ("audit: one plan", "audit?plan_id=17".into()),
        ("audit: one day", "audit?since=2026-10-01T00:00&until=2026-10-02T00:00".into()),
        ("audit: actor, action and plan", "audit?actor=person-7&action=plan.update&plan_id=157".into()),
        ("plans: first page", "plans?".into()),
        ("plans: search \"queue\"", "plans?q=queue".into()),
        ("plans: search \"region 42\"", "plans?q=region+42".into()),
        ("plans: status draft", "plans?status=draft".into()),
    ];
    let runs = setting("BENCH_RUNS", 40);
    println!("{label}: {:<48} {:>22} {:>22}", "", "page (HTML) p50 / p95", "API (JSON) p50 / p95");
    let mut worst: f64 = 0.0;
    for (what, path) in lines {
        let mut figures = vec![];
        for url in [format!("{base}/{path}"), format!("{base}/api/v1/{path}")] {
            let mut times = Vec::with_capacity(runs);
            for _ in 0..=runs {
                let t = Instant::now();
                let r = client.get(&url).header("cookie", &cookie).send().await.map_err(|e| e.to_string())?;
                let status = r.status();
                r.bytes().await.map_err(|e| e.to_string())?;
                if !status.is_success() {
                    return Err(format!("{url}: {status}"));
                }
                times.push(t.elapsed());
            }
            times.remove(0); // the first warms the caches
            times.sort();
            let (p50, p95) = (times[times.len() / 2], times[(times.len() * 95 / 100).min(times.len() - 1)]);
            worst = worst.max(ms(p95));
            figures.push(format!("{:>8.1} / {:>6.1} ms", ms(p50), ms(p95)));
        }
        println!("{label}: {what:<48} {:>22} {:>22}", figures[0], figures[1]);
    }
    let verdict = if worst < TARGET_P95_MS { "met" } else { "NOT met" };
    println!("{label}: slowest p95 {worst:.1} ms against the target of {TARGET_P95_MS} ms: {verdict}");
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
