//! The command line: `runway` serves the console; options also come from `RUNWAY_*`.
use crate::db::{redact, Db};
use crate::service::{Ctx, Service};
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

    /// The key that seals workspaces' provider API keys: 64 hex digits or base64 of 32
    /// bytes. Every replica needs the same one. When unset, --secret-key-file is used.
    #[arg(long, env = "RUNWAY_SECRET_KEY", global = true, hide_env_values = true)]
    pub secret_key: Option<String>,

    /// The key file used when RUNWAY_SECRET_KEY is unset; created (mode 0600) on first start.
    #[arg(long, env = "RUNWAY_SECRET_KEY_FILE", default_value = "data/secret.key", global = true)]
    pub secret_key_file: std::path::PathBuf,

    /// How many days raw metric samples are kept before they are removed in the background.
    #[arg(long, env = "RUNWAY_METRICS_RETENTION_DAYS", default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=3650), global = true)]
    pub metrics_retention_days: u32,

    /// Let webhooks go to loopback, private and link-local addresses (127.0.0.1, 10.0.0.0/8,
    /// 192.168.0.0/16, fc00::/7, ...). Off by default: an admin's webhook could otherwise
    /// reach services inside the network Runway runs in.
    #[arg(long, env = "RUNWAY_ALLOW_PRIVATE_WEBHOOKS", global = true)]
    pub allow_private_webhooks: bool,

    /// On PostgreSQL, where the flag snapshot is written after each change, so a replica
    /// started while the database is unreachable serves the flags (and tokens) it last knew.
    #[arg(long, env = "RUNWAY_FLAG_SNAPSHOT_FILE", default_value = "data/flag-snapshot.json", global = true)]
    pub flag_snapshot_file: std::path::PathBuf,

    /// Folder holding the built browser assets (pkg/runway.js, .wasm, .css), as cargo-leptos writes them.
    #[arg(long, env = "RUNWAY_SITE_ROOT", default_value = "target/site", global = true)]
    pub site_root: String,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve the console and the API (the default).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Manage people's accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens for services and scripts.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Import and export workspaces.
    #[command(subcommand)]
    Workspaces(WorkspacesCommand),
    /// Create a plan from a Markdown document (stages from "Phase 1", "Stage 0", "Week 2"
    /// headings; "- [ ]" checklists; risk tables; rollback sections). `--dry-run` shows what
    /// would be created and saves nothing.
    Import {
        file: std::path::PathBuf,
        #[arg(long)]
        dry_run: bool,
    },
    /// Print a plan as Markdown (the shape `import` reads back to the same plan).
    Export { plan_id: i64 },
}

#[derive(Debug, Clone, Subcommand)]
pub enum WorkspacesCommand {
    /// Create or update workspaces from a CSV file with the header id,name,agent_provider.
    /// Bad lines are listed with their numbers and skipped; the good ones are imported.
    Import { file: std::path::PathBuf },
    /// Print every workspace as CSV (id,name,agent_provider).
    Export,
}

#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Add a person. The password is read from stdin when it is not a terminal, else asked for.
    Add {
        username: String,
        /// Make them an admin (manages people, tokens and every plan).
        #[arg(long)]
        admin: bool,
        /// Name shown on pages.
        #[arg(long, default_value = "")]
        display_name: String,
        /// Email, phone or chat handle shown on the plans where they hold a role.
        #[arg(long, default_value = "")]
        contact: String,
    },
    /// List everyone with an account.
    List,
    /// Set a new password (read like `user add`); their sessions end.
    ResetPassword { username: String },
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokenCommand {
    /// Create a token. It is printed once, alone on the last line.
    Create {
        name: String,
        /// Comma-separated: plans:read, plans:write, flags:read, flags:write, metrics:write,
        /// workspaces:read, workspaces:write.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// The environment a flags:read token evaluates flags in.
        #[arg(long)]
        environment: Option<String>,
        /// Comma-separated metric names or prefixes a metrics:write token may send; an
        /// entry ending in `.`, `_`, `:`, `/` or `-` is a prefix (`--metrics billing.`).
        #[arg(long, value_delimiter = ',')]
        metrics: Vec<String>,
    },
    /// List tokens with their last use (never the secrets).
    List,
    /// Revoke a token by its id: it stops working at once.
    Revoke { id: i64 },
}

pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

pub async fn run(cli: Cli) -> Result<(), String> {
    match cli.command.clone().unwrap_or(Command::Serve) {
        Command::Migrate => {
            crate::db::migrate(&cli.database_url).await?;
            tracing::info!(database = %redact(&cli.database_url), "migrations applied");
            Ok(())
        }
        Command::Serve => serve(cli).await,
        Command::User(cmd) => user(&cli.database_url, cmd).await,
        Command::Token(cmd) => token(&cli.database_url, cmd).await,
        Command::Workspaces(cmd) => workspaces(&cli.database_url, cmd).await,
        Command::Import { file, dry_run } => import_plan(&cli.database_url, &file, dry_run).await,
        Command::Export { plan_id } => {
            let service = open_service(&cli.database_url).await?;
            print!("{}", service.export_plan(&Ctx::cli(), plan_id).await.map_err(failed)?.1);
            Ok(())
        }
    }
}

async fn open_service(url: &str) -> Result<Service, String> {
    Ok(Service::new(Db::open(url).await?))
}

fn failed(e: crate::error::Error) -> String {
    e.into_api().message
}

/// A password from stdin (one line) when piped, else asked for twice without echo.
fn read_password() -> Result<String, String> {
    use std::io::{BufRead, IsTerminal};
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("reading the password: {e}"))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password("Password: ").map_err(|e| format!("reading the password: {e}"))?;
    let again = rpassword::prompt_password("Password again: ").map_err(|e| format!("reading the password: {e}"))?;
    if first != again {
        return Err("the two passwords differ".into());
    }
    Ok(first)
}

async fn user(url: &str, cmd: UserCommand) -> Result<(), String> {
    let service = open_service(url).await?;
    let ctx = Ctx::cli();
    match cmd {
        UserCommand::Add { username, admin, display_name, contact } => {
            let password = read_password()?;
            let new = app::person::NewPerson { username, password, display_name, contact, admin };
            let p = service.add_person(&ctx, new).await.map_err(failed)?;
            println!("added {} ({})", p.username, p.role.as_str());
        }
        UserCommand::List => {
            for p in service.list_people(&ctx).await.map_err(failed)? {
                println!("{}\t{}\t{}\t{}", p.username, p.role.as_str(), p.display_name, p.contact);
            }
        }
        UserCommand::ResetPassword { username } => {
            let password = read_password()?;
            let p = service.reset_password(&ctx, &username, password).await.map_err(failed)?;
            println!("password set for {}; their sessions have ended", p.username);
        }
    }
    Ok(())
}

async fn token(url: &str, cmd: TokenCommand) -> Result<(), String> {
    let service = open_service(url).await?;
    let ctx = Ctx::cli();
    match cmd {
        TokenCommand::Create { name, scopes, environment, metrics } => {
            let scopes = scopes
                .iter()
                .map(|s| app::token::Scope::parse(s).ok_or_else(|| format!("unknown scope {s:?}")))
                .collect::<Result<Vec<_>, _>>()?;
            let made = service
                .create_token(&ctx, app::token::NewToken { name, scopes, environment, metrics })
                .await
                .map_err(failed)?;
            let scopes: Vec<&str> = made.token.scopes.iter().map(|s| s.as_str()).collect();
            println!("created token {} (id {}) with scopes {}", made.token.name, made.token.id, scopes.join(","));
            if !made.token.metrics.is_empty() {
                println!("it may send only the metrics {}", made.token.metrics.join(","));
            }
            println!("it is shown only now; send it as Authorization: Bearer <token>");
            println!("{}", made.secret);
        }
        TokenCommand::List => {
            for t in service.list_tokens(&ctx).await.map_err(failed)? {
                let scopes: Vec<&str> = t.scopes.iter().map(|s| s.as_str()).collect();
                let state = if t.revoked_at.is_some() { "revoked" } else { "active" };
                let used = t.last_used_at.as_deref().unwrap_or("never used");
                println!("{}\t{}\t{}…\t{}\t{state}\t{used}", t.id, t.name, t.prefix, scopes.join(","));
            }
        }
        TokenCommand::Revoke { id } => {
            let t = service.revoke_token(&ctx, id).await.map_err(failed)?;
            println!("revoked token {} (id {})", t.name, t.id);
        }
    }
    Ok(())
}

async fn workspaces(url: &str, cmd: WorkspacesCommand) -> Result<(), String> {
    let service = open_service(url).await?;
    let ctx = Ctx::cli();
    match cmd {
        WorkspacesCommand::Import { file } => {
            let bytes = std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let report = service
                .import_now(&ctx, &bytes, |r| eprintln!("imported {} of {} lines", r.processed, r.total))
                .await
                .map_err(failed)?;
            for e in &report.rejected {
                println!("line {}: {}", e.line, e.message);
            }
            if report.rejected_count > report.rejected.len() as i64 {
                println!("... and {} more refused lines", report.rejected_count - report.rejected.len() as i64);
            }
            println!(
                "{} lines: {} created, {} updated, {} unchanged, {} refused",
                report.total, report.created, report.updated, report.unchanged, report.rejected_count
            );
            if let Some(e) = report.error {
                return Err(format!("the import stopped: {e}"));
            }
        }
        WorkspacesCommand::Export => print!("{}", service.export_csv(&ctx).await.map_err(failed)?),
    }
    Ok(())
}

async fn import_plan(url: &str, file: &std::path::Path, dry_run: bool) -> Result<(), String> {
    let service = open_service(url).await?;
    let ctx = Ctx::cli();
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let preview = service.preview_import(&ctx, &bytes, &name).await.map_err(failed)?;
    for note in &preview.notes {
        eprintln!("note: {note}");
    }
    let p = &preview.plan;
    println!("{}", p.title);
    for (i, s) in p.stages.iter().enumerate() {
        let steps = app::runbook::outline(&s.forward_runbook).steps.len();
        let rollback = app::runbook::outline(&s.rollback_runbook).steps.len();
        println!("  stage {}: {} ({} checks, {steps} steps, {rollback} rollback steps)", i + 1, s.name, s.checklist.len());
    }
    println!("  {} risks; kept in the description: {}", p.risks.len(), preview.described.join(", "));
    if dry_run {
        println!("dry run: nothing saved");
        return Ok(());
    }
    let plan = service.create_plan(&ctx, preview.plan).await.map_err(failed)?;
    println!("created plan {}", plan.id);
    Ok(())
}

async fn serve(cli: Cli) -> Result<(), String> {
    let kind = crate::db::Kind::of(&cli.database_url)?;
    let snapshot_file = (kind == crate::db::Kind::Postgres).then(|| cli.flag_snapshot_file.clone());
    let key = crate::secret::SecretKey::load(cli.secret_key.as_deref(), &cli.secret_key_file)?;
    let retention = std::time::Duration::from_secs(u64::from(cli.metrics_retention_days) * 24 * 3600);
    let configure = |db: Db| {
        Service::new(db)
            .with_secret(key.clone())
            .with_metrics_retention(retention)
            .with_private_webhooks(cli.allow_private_webhooks)
            .with_snapshot_file(snapshot_file.clone())
    };
    // A replica restarted during a database outage serves the flags it last wrote.
    let outage = match snapshot_file.as_deref().filter(|f| f.exists()) {
        Some(_) => why_unreachable(&cli.database_url).await?,
        None => None,
    };
    let service = match outage {
        None => {
            let db = Db::open(&cli.database_url).await?;
            tracing::info!(database = %redact(&cli.database_url), "database ready");
            crate::secret::verify(&db, &key).await?;
            let service = configure(db);
            start(&service, cli.no_demo).await?;
            service
        }
        Some(why) => {
            let service = configure(Db::lazy(&cli.database_url)?);
            let written_at = service.serve_snapshot_file()?;
            service.database_unreachable(&why);
            tracing::warn!(written_at, "serving the flag snapshot from disk until the database answers");
            let (background, url, key) = (service.clone(), cli.database_url.clone(), key.clone());
            tokio::spawn(async move {
                while crate::db::migrate(&url).await.is_err() {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
                let started = async {
                    crate::secret::verify(&background.db, &key).await?;
                    start(&background, true).await
                };
                if let Err(e) = started.await {
                    tracing::error!("{e}");
                    std::process::exit(1);
                }
            });
            service
        }
    };
    let app = http::router(AppState::new(service, &cli.site_root));
    let listener = tokio::net::TcpListener::bind(cli.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cli.addr))?;
    tracing::info!("Runway is listening on http://{}", cli.addr);
    // The peer address limits sign-ins per client.
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| format!("server stopped: {e}"))
}

/// Why the database cannot be reached, when it cannot (refused, reset, no answer within a few
/// seconds); `None` when it answers. Any other failure, such as a wrong password, stops the start.
async fn why_unreachable(url: &str) -> Result<Option<String>, String> {
    let db = Db::lazy(url)?;
    let answer = tokio::time::timeout(std::time::Duration::from_secs(3), db.ping()).await;
    db.pool.close().await;
    match answer {
        Ok(Ok(())) => Ok(None),
        Ok(Err(e)) if crate::db::unreachable(&e) => Ok(Some(e.to_string())),
        Ok(Err(e)) => Err(format!("cannot open the database {}: {e}", redact(url))),
        Err(_) => Ok(Some("no answer within 3 s".into())),
    }
}

/// With the database migrated: the demo, the flag snapshot and the background work.
async fn start(service: &Service, no_demo: bool) -> Result<(), String> {
    if !no_demo {
        if let Some(id) = demo::load_if_empty(service).await.map_err(|e| format!("loading the demo plan: {e}"))? {
            tracing::info!(plan = id, "loaded the demo plan and its demo people");
        }
    }
    if service.count_people().await.map_err(failed)? == 0 {
        tracing::warn!("nobody can sign in yet: add an admin with `runway user add NAME --admin`");
    }
    service.reload_flags().await.map_err(|e| format!("loading the flags: {e}"))?;
    service.listen_for_flag_changes();
    service.start_webhook_worker();
    service.start_retention_worker(std::time::Duration::from_secs(3600));
    Ok(())
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
