//! The service layer: every state change goes through here. Changes to a plan open and
//! end through `action.rs`; people, tokens, flags and workspaces write here and `record`.
use crate::audit::{self, Entry};
use crate::db::{Db, WriteTx};
use crate::error::Result;
use crate::event::{Change, Events};
use app::error::ApiError;
use app::person::{GlobalRole, Person};
use app::plan::{Abilities, Plan};
use app::token::Scope;

/// Raw metric samples are kept 14 days unless configured otherwise.
pub const DEFAULT_METRICS_RETENTION: std::time::Duration = std::time::Duration::from_secs(14 * 24 * 3600);

#[derive(Clone)]
pub struct Service {
    pub db: Db,
    pub events: Events,
    pub sign_in_limit: crate::session::SignInLimit,
    pub flag_cache: crate::evaluate::FlagCache,
    pub token_cache: crate::token::TokenCache,
    /// Wakes the webhook delivery worker when an event is queued.
    pub webhook_wake: std::sync::Arc<tokio::sync::Notify>,
    /// Seals workspaces' API keys; without one, storing a key is refused (503).
    pub secret: Option<crate::secret::SecretKey>,
    /// How long raw metric samples are kept; older points are refused at ingest.
    pub metrics_retention: std::time::Duration,
    /// Webhooks may go to loopback, private and link-local addresses (`--allow-private-webhooks`).
    pub allow_private_webhooks: bool,
    /// Live event streams per caller.
    pub streams: crate::event::Streams,
    /// Whether the database answers; what is served while it does not.
    pub health: crate::health::Health,
    /// Where the flag snapshot is written after each rebuild (PostgreSQL; `--flag-snapshot-file`).
    pub snapshot_file: Option<std::path::PathBuf>,
}

/// Who is asking: a signed-in person, a service holding an API token, nobody, or
/// Runway itself (the demo loader and the command line).
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    Person(Person),
    Token(TokenCaller),
    System(&'static str),
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TokenCaller {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub environment: Option<String>,
    /// The metrics a metrics:write token may send; empty: any.
    pub metrics: Vec<String>,
}

/// Who is acting and on which request; recorded with every change.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub caller: Caller,
    pub request_id: Option<String>,
}

impl Ctx {
    pub fn new(caller: Caller, request_id: Option<String>) -> Ctx {
        Ctx { caller, request_id }
    }

    pub fn anonymous(request_id: Option<String>) -> Ctx {
        Ctx::new(Caller::Anonymous, request_id)
    }

    /// Runway itself, e.g. loading the demo plan.
    pub fn system() -> Ctx {
        Ctx::new(Caller::System("runway"), None)
    }

    /// The command line, run by whoever can reach the database.
    pub fn cli() -> Ctx {
        Ctx::new(Caller::System("runway-cli"), None)
    }

    /// As the audit log names the actor: `alice`, `token:deploy-bot`, `runway`.
    pub fn actor(&self) -> String {
        match &self.caller {
            Caller::Anonymous => "anonymous".into(),
            Caller::Person(p) => p.username.clone(),
            Caller::Token(t) => format!("token:{}", t.name),
            Caller::System(name) => (*name).into(),
        }
    }

    pub fn person(&self) -> Option<&Person> {
        match &self.caller {
            Caller::Person(p) => Some(p),
            _ => None,
        }
    }

    pub fn is_admin(&self) -> bool {
        match &self.caller {
            Caller::Person(p) => p.role == GlobalRole::Admin,
            Caller::System(_) => true,
            _ => false,
        }
    }

    pub(crate) fn has_scope(&self, scope: Scope) -> bool {
        matches!(&self.caller, Caller::Token(t) if t.scopes.iter().any(|s| s.covers(scope)))
    }

    /// 401 for nobody; everyone else goes on to the permission check.
    pub fn require_signed_in(&self) -> Result<(), ApiError> {
        match self.caller {
            Caller::Anonymous => Err(unauthenticated()),
            _ => Ok(()),
        }
    }

    /// A person (not a token) must do this.
    pub fn require_person(&self) -> Result<&Person, ApiError> {
        self.require_signed_in()?;
        self.person().ok_or_else(|| forbidden("This needs a person signed in; API tokens cannot do it."))
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        self.require_signed_in()?;
        if self.is_admin() {
            return Ok(());
        }
        Err(forbidden("Only admins may do this."))
    }

    /// People may read; a token needs the scope.
    pub fn require_read(&self, scope: Scope) -> Result<(), ApiError> {
        self.require_signed_in()?;
        match &self.caller {
            Caller::Token(_) if !self.has_scope(scope) => Err(missing_scope(scope)),
            _ => Ok(()),
        }
    }

    /// What the caller may do on a plan, from the roles they hold on it.
    pub fn abilities(&self, plan: &Plan) -> Abilities {
        crate::action::abilities(self, &crate::action::roles_on(self, plan))
    }
}

pub fn unauthenticated() -> ApiError {
    ApiError::new(401, "unauthenticated", "Sign in, or send an API token as Authorization: Bearer <token>.")
}

pub fn forbidden(message: &str) -> ApiError {
    ApiError::new(403, "forbidden", message)
}

pub(crate) fn missing_scope(scope: Scope) -> ApiError {
    ApiError::new(403, "missing_scope", format!("This token lacks the {} scope.", scope.as_str()))
}

impl Service {
    pub fn new(db: Db) -> Service {
        Service {
            db,
            events: Events::new(),
            sign_in_limit: Default::default(),
            flag_cache: Default::default(),
            token_cache: Default::default(),
            webhook_wake: Default::default(),
            secret: None,
            metrics_retention: DEFAULT_METRICS_RETENTION,
            allow_private_webhooks: false,
            streams: Default::default(),
            health: Default::default(),
            snapshot_file: None,
        }
    }

    pub fn with_snapshot_file(mut self, path: Option<std::path::PathBuf>) -> Service {
        self.snapshot_file = path;
        self
    }

    pub fn with_private_webhooks(mut self, allow: bool) -> Service {
        self.allow_private_webhooks = allow;
        self
    }

    pub fn with_metrics_retention(mut self, retention: std::time::Duration) -> Service {
        self.metrics_retention = retention;
        self
    }

    pub fn with_secret(mut self, key: crate::secret::SecretKey) -> Service {
        self.secret = Some(key);
        self
    }

    /// For changes outside plans (people, tokens): audit entry, commit, event.
    pub(crate) async fn record(&self, mut tx: WriteTx, ctx: &Ctx, entry: Entry) -> Result<()> {
        audit::append(tx.conn(), ctx, &entry).await?;
        tx.commit().await?;
        self.events.publish(Change { action: entry.action.to_string(), plan_id: entry.plan_id, version: None, request_id: ctx.request_id.clone() });
        Ok(())
    }
}

/// RFC 3339 in any offset, stored as UTC seconds: `2026-12-01T09:00:00Z`.
pub(crate) fn normalize_time(field: &str, value: &str) -> Result<String, ApiError> {
    chrono::DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .map_err(|_| ApiError::validation(field, format!("{value:?} is not a date and time such as 2026-12-01T09:00:00Z.")))
}

/// Decodes a text column holding one of an enum's names.
pub(crate) fn decode_enum<T>(value: String, parse: fn(&str) -> Option<T>, column: &str) -> Result<T, sqlx::Error> {
    parse(&value).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unknown value {value:?}").into(),
    })
}
