//! Workspace benchmark: importing 100,000 workspaces from CSV, then listing and searching
//! them, on SQLite and on PostgreSQL. Prints figures; asserts nothing about speed.
//!
//!     cargo run --release -p runway --example import_bench
//!
//! Settings (environment): BENCH_WORKSPACES (100000), BENCH_POSTGRES_URL (default
//! postgres://postgres@127.0.0.1:5432/postgres; a fresh database is made there and
//! dropped; set it to "skip" to measure SQLite only).
mod support;
use app::workspace::WorkspaceQuery;
use runway::db::Db;
use runway::service::{Ctx, Service};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    support::exit("import_bench", run().await)
}

fn csv(n: usize) -> String {
    let mut out = String::with_capacity(n * 40);
    out.push_str("id,name,agent_provider\n");
    for i in 0..n {
        let provider = if i % 10 == 0 { "codex" } else { "claude" };
        out.push_str(&format!("ws-{i:07},\"Customer {i}, Inc.\",{provider}\n"));
    }
    out
}

async fn run() -> Result<(), String> {
    let n: usize = std::env::var("BENCH_WORKSPACES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let file = csv(n);
    println!("{n} workspaces, {:.1} MB of CSV, {} cores", file.len() as f64 / 1e6, std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1));
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    measure("SQLite", &format!("sqlite://{}/bench.db", dir.path().display()), &file).await?;
    support::on_postgres(async |url| measure("PostgreSQL", url, &file).await).await
}

async fn measure(label: &str, url: &str, file: &str) -> Result<(), String> {
    let service = Service::new(Db::open(url).await?);
    let ctx = Ctx::cli();
    let start = Instant::now();
    let mut batches = 0;
    let report = service.import_now(&ctx, file.as_bytes(), |_| batches += 1).await.map_err(|e| e.into_api().message)?;
    let took = start.elapsed();
    println!(
        "{label}: imported {} workspaces in {:.2} s ({:.0} rows/s, {batches} batches), {} refused",
        report.created,
        took.as_secs_f64(),
        report.created as f64 / took.as_secs_f64(),
        report.rejected_count
    );
    let again = Instant::now();
    let report = service.import_now(&ctx, file.as_bytes(), |_| {}).await.map_err(|e| e.into_api().message)?;
    println!("{label}: the same file again (all unchanged: {}) in {:.2} s", report.unchanged, again.elapsed().as_secs_f64());

    let queries = [
        ("first page", WorkspaceQuery::default()),
        ("a page deep in the list", WorkspaceQuery { after: "ws-0090000".into(), ..Default::default() }),
        ("search \"customer 4242\"", WorkspaceQuery { q: "customer 4242".into(), ..Default::default() }),
        ("search with no match", WorkspaceQuery { q: "zzz".into(), ..Default::default() }),
        ("codex only", WorkspaceQuery { provider: "codex".into(), ..Default::default() }),
    ];
    for (what, q) in queries {
        let mut times = vec![];
        let mut total = 0;
        for _ in 0..20 {
            let t = Instant::now();
            total = service.list_workspaces(&ctx, &q).await.map_err(|e| e.into_api().message)?.total;
            times.push(t.elapsed());
        }
        times.sort();
        println!("{label}: list {what}: {total} match, median {} (slowest of 20: {})", ms(times[10]), ms(times[19]));
    }
    let t = Instant::now();
    service.adoption(&ctx).await.map_err(|e| e.into_api().message)?;
    println!("{label}: adoption counts in {}", ms(t.elapsed()));
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
