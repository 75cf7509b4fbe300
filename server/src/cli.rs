//! The command line: `runway` serves the console; options also come from `RUNWAY_*`.
use crate::db::{redact, Db};
use crate::service::Service;
use crate::{demo, http, AppState};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;

#[derive(Debug, Parser)]
#[command(
    name = "runway",
    version,
    about = "Runway: plans, gates and approved rollbacks for risky migrations, in the browser.",
    after_help = "Logs go to stderr; set RUST_LOG (for example RUST_LOG=runway=debug) to choose how much."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address and port to listen on.
    #[arg(long, env = "RUNWAY_ADDR", default_value = "127.0.0.1:3000", global = true)]
    pub addr: SocketAddr,

    /// Database URL: sqlite://PATH (the file and its folder are created on first start) or
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DB for several replicas.
    #[arg(long, env = "RUNWAY_DATABASE_URL", default_value = "sqlite://data/runway.db", global = true, hide_env_values = true)]
    pub database_url: String,

    /// Do not load the demo plan into an empty database.
    #[arg(long, env = "RUNWAY_NO_DEMO", global = true)]
    pub no_demo: bool,

    /// Folder holding the built browser assets (pkg/runway.js, .wasm, .css), as cargo-leptos writes them.
    #[arg(long, env = "RUNWAY_SITE_ROOT", default_value = "target/site", global = true)]
    pub site_root: String,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Command {
    /// Serve the console and the API (the default).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
}

pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

pub async fn run(cli: Cli) -> Result<(), String> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            crate::db::migrate(&cli.database_url).await?;
            tracing::info!(database = %redact(&cli.database_url), "migrations applied");
            Ok(())
        }
        Command::Serve => serve(cli).await,
    }
}

async fn serve(cli: Cli) -> Result<(), String> {
    let db = Db::open(&cli.database_url).await?;
    tracing::info!(database = %redact(&cli.database_url), "database ready");
    let service = Service::new(db);
    if !cli.no_demo {
        if let Some(id) = demo::load_if_empty(&service).await.map_err(|e| format!("loading the demo plan: {e}"))? {
            tracing::info!(plan = id, "loaded the demo plan");
        }
    }
    let app = http::router(AppState::new(service, &cli.site_root));
    let listener = tokio::net::TcpListener::bind(cli.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cli.addr))?;
    tracing::info!("Runway is listening on http://{}", cli.addr);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| format!("server stopped: {e}"))
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
