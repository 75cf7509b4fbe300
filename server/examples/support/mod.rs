//! What the benchmarks share: an exit that prints the error, and a fresh PostgreSQL
//! database made for a run and dropped after it.
use sqlx::postgres::PgPoolOptions;

pub fn exit(name: &str, outcome: Result<(), String>) -> std::process::ExitCode {
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs `f` with the URL of a new database on BENCH_POSTGRES_URL's server (default the
/// local one), then drops it; nothing when BENCH_POSTGRES_URL is "skip".
pub async fn on_postgres(f: impl AsyncFnOnce(&str) -> Result<(), String>) -> Result<(), String> {
    let pg = std::env::var("BENCH_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    if pg == "skip" {
        return Ok(());
    }
    let name = format!("runway_bench_{}", std::process::id());
    let admin = PgPoolOptions::new().max_connections(1).connect(&pg).await.map_err(|e| format!("PostgreSQL at {pg}: {e}"))?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&admin).await.map_err(|e| e.to_string())?;
    let url = format!("{}/{name}", &pg[..pg.rfind('/').unwrap_or(pg.len())]);
    let outcome = f(&url).await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&admin).await;
    outcome
}
