//! Metrics ingest benchmark: batches of points sent to `POST /api/v1/metrics` over real
//! HTTP, with a guard of an active stage watching the metric (so every batch is also
//! evaluated), on SQLite and on PostgreSQL. Prints points per second and batch latencies;
//! asserts nothing about speed.
//!
//!     cargo run --release -p runway --example ingest_bench
//!
//! Settings (environment): BENCH_POINTS (200000 per run), BENCH_POSTGRES_URL (default
//! postgres://postgres@127.0.0.1:5432/postgres; a fresh database is made there and
//! dropped; "skip" measures SQLite only).
mod support;
use app::guard::{Comparison, GuardAction, NewGuard};
use app::plan::NewPlan;
use app::stage::NewStage;
use app::token::{NewToken, Scope};
use runway::db::Db;
use runway::service::{Ctx, Service};
use runway::AppState;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    support::exit("ingest_bench", run().await)
}

async fn run() -> Result<(), String> {
    let total: usize = std::env::var("BENCH_POINTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    println!("{total} points per run, {} cores", std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1));
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    measure("SQLite", &format!("sqlite://{}/bench.db", dir.path().display()), total).await?;
    support::on_postgres(async |url| measure("PostgreSQL", url, total).await).await
}

/// A server on a random port with one active stage guarding `error_rate`; returns its
/// address and a metrics:write token.
async fn serve(url: &str) -> Result<(String, String, Service), String> {
    let service = Service::new(Db::open(url).await?);
    let ctx = Ctx::cli();
    let fail = |e: runway::error::Error| e.into_api().message;
    let plan = service
        .create_plan(&ctx, NewPlan { title: "Ingest benchmark".into(), stages: vec![NewStage { name: "Watched".into(), ..Default::default() }], ..Default::default() })
        .await
        .map_err(fail)?;
    let stage_id = plan.stages[0].id;
    let guard = NewGuard {
        version: plan.version,
        metric: "error_rate".into(),
        comparison: Comparison::Above,
        threshold: 1e9,
        relative: false,
        baseline_value: None,
        baseline_window_minutes: None,
        window_seconds: 60,
        min_samples: 5,
        action: GuardAction::RollBack,
        labels: Default::default(),
    };
    service.add_guard(&ctx, plan.id, stage_id, guard).await.map_err(fail)?;
    // Straight to active: the benchmark is about ingest, not about the gate that starts a stage.
    let mut tx = service.db.write().await.map_err(|e| e.to_string())?;
    sqlx::query("UPDATE stages SET status = 'active', started_at = $1 WHERE id = $2")
        .bind(runway::db::now())
        .bind(stage_id)
        .execute(tx.conn())
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    let token = service
        .create_token(&ctx, NewToken { name: "bench".into(), scopes: vec![Scope::MetricsWrite], environment: None, metrics: vec![] })
        .await
        .map_err(fail)?
        .secret;
    let app = runway::http::router(AppState::new(service.clone(), "target/site"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let base = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((base, token, service))
}

fn batch(n: usize, metric: &str) -> String {
    let points: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"metric":"{metric}","value":{}.{},"labels":{{"host":"web-{}"}}}}"#, i % 5, i % 10, i % 8))
        .collect();
    format!("[{}]", points.join(","))
}

async fn measure(label: &str, url: &str, total: usize) -> Result<(), String> {
    let (base, token, service) = serve(url).await?;
    let client = reqwest::Client::new();
    // A metric no guard watches shows what evaluating the guard costs.
    let runs = [(100, 1, "error_rate"), (100, 1, "queue_depth"), (1_000, 1, "error_rate"), (1_000, 1, "queue_depth"), (1_000, 4, "error_rate"), (10_000, 1, "error_rate"), (10_000, 4, "error_rate")];
    for (size, clients, metric) in runs {
        let batches = (total / size / clients).max(1);
        let body = batch(size, metric);
        let start = Instant::now();
        let mut tasks = vec![];
        for _ in 0..clients {
            let (client, url, token, body) = (client.clone(), format!("{base}/api/v1/metrics"), token.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(batches);
                for _ in 0..batches {
                    latencies.push(post(&client, &url, &token, &body).await?);
                }
                Ok::<_, String>(latencies)
            }));
        }
        let mut latencies = vec![];
        for t in tasks {
            latencies.extend(t.await.map_err(|e| e.to_string())??);
        }
        let took = start.elapsed();
        latencies.sort();
        let points = batches * clients * size;
        println!(
            "{label}: {metric:<11} {clients} client(s) x {batches:>4} batches of {size:>6}: {points:>7} points in {:>6.2} s = {:>8.0} points/s; batch median {}, p99 {}",
            took.as_secs_f64(),
            points as f64 / took.as_secs_f64(),
            ms(latencies[latencies.len() / 2]),
            ms(latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)]),
        );
    }
    // Retention: everything stored so far becomes a month old, then is removed while a
    // client keeps sending; its batch latencies show whether ingest waited.
    let mut tx = service.db.write().await.map_err(|e| e.to_string())?;
    sqlx::query("UPDATE metric_samples SET at_ms = at_ms - $1")
        .bind(30_i64 * 24 * 3600 * 1000)
        .execute(tx.conn())
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    let removal = tokio::spawn({
        let service = service.clone();
        async move {
            let t = Instant::now();
            service.remove_old_samples().await.map(|n| (n, t.elapsed())).map_err(|e| e.into_api().message)
        }
    });
    let body = batch(1_000, "error_rate");
    let mut latencies = vec![];
    while !removal.is_finished() || latencies.is_empty() {
        latencies.push(post(&client, &format!("{base}/api/v1/metrics"), &token, &body).await?);
    }
    let (removed, took) = removal.await.map_err(|e| e.to_string())??;
    latencies.sort();
    println!(
        "{label}: retention removed {removed} old samples in {:.2} s while {} batches of 1,000 arrived (batch median {}, slowest {})",
        took.as_secs_f64(),
        latencies.len(),
        ms(latencies[latencies.len() / 2]),
        ms(*latencies.last().unwrap_or(&Duration::ZERO)),
    );
    Ok(())
}

/// Sends one batch; how long the answer took.
async fn post(client: &reqwest::Client, url: &str, token: &str, body: &str) -> Result<Duration, String> {
    let t = Instant::now();
    let r = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("{}: {}", r.status(), r.text().await.unwrap_or_default()));
    }
    Ok(t.elapsed())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
