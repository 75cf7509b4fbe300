//! API tokens: created by admins, shown once, stored as a hash, revocable.
use crate::audit::Entry;
use crate::db::now;
use crate::error::Result;
use crate::service::{Ctx, Service, TokenCaller};
use crate::session::{digest, random_hex};
use app::error::ApiError;
use app::token::{CreatedToken, NewToken, Scope, Token};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const COLUMNS: &str = "id, name, prefix, scopes, environment, created_by, created_at, last_used_at, revoked_at, metrics";
/// Last use is written at most this often per token, so reads stay reads.
const LAST_USE_EVERY_SECS: i64 = 60;

fn token_from_row(r: &AnyRow) -> Result<Token, sqlx::Error> {
    let scopes: String = r.try_get("scopes")?;
    let metrics: String = r.try_get("metrics")?;
    Ok(Token {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        scopes: scopes.split(',').filter_map(Scope::parse).collect(),
        environment: r.try_get("environment")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
        metrics: metrics.split(',').filter(|m| !m.is_empty()).map(str::to_string).collect(),
    })
}

async fn load(conn: &mut AnyConnection, id: i64) -> Result<Option<Token>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1")).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(token_from_row).transpose()
}

/// Recently checked tokens, so a busy service's requests do not each read the
/// database. Entries live a few seconds: a token revoked on another replica stops
/// working here within that time; on this one, at once.
#[derive(Clone, Default)]
pub struct TokenCache {
    entries: Arc<RwLock<HashMap<String, (TokenCaller, Instant)>>>,
}

const CACHE_FOR: Duration = Duration::from_secs(5);

impl TokenCache {
    fn get(&self, hash: &str) -> Option<TokenCaller> {
        let map = self.entries.read().ok()?;
        let (caller, at) = map.get(hash)?;
        (at.elapsed() < CACHE_FOR).then(|| caller.clone())
    }

    fn put(&self, hash: String, caller: TokenCaller) {
        if let Ok(mut map) = self.entries.write() {
            if map.len() > 10_000 {
                map.retain(|_, (_, at)| at.elapsed() < CACHE_FOR);
            }
            map.insert(hash, (caller, Instant::now()));
        }
    }

    /// Drops every entry whose token `holders` does not hold (revoked since it was cached).
    pub fn keep_only(&self, holders: &HashMap<String, Option<TokenCaller>>) {
        if let Ok(mut map) = self.entries.write() {
            map.retain(|hash, _| holders.get(hash).is_some_and(Option::is_some));
        }
    }

    fn clear(&self) {
        if let Ok(mut map) = self.entries.write() {
            map.clear();
        }
    }
}

/// Every token's holder by the token's hash, `None` once revoked, for the flag snapshot.
pub async fn load_holders(conn: &mut AnyConnection) -> Result<HashMap<String, Option<TokenCaller>>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS}, token_hash FROM api_tokens")).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            let token = token_from_row(r)?;
            Ok((r.try_get("token_hash")?, token.revoked_at.is_none().then(|| holder(token))))
        })
        .collect()
}

fn holder(token: Token) -> TokenCaller {
    TokenCaller { id: token.id, name: token.name, scopes: token.scopes, environment: token.environment, metrics: token.metrics }
}

impl Service {
    pub async fn list_tokens(&self, ctx: &Ctx) -> Result<Vec<Token>> {
        ctx.require_admin()?;
        let mut conn = self.db.read().await?;
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY id DESC")).fetch_all(&mut *conn).await?;
        Ok(rows.iter().map(token_from_row).collect::<Result<_, _>>()?)
    }

    pub async fn create_token(&self, ctx: &Ctx, new: NewToken) -> Result<CreatedToken> {
        ctx.require_admin()?;
        new.validate()?;
        if let Some(env) = new.environment.as_deref().map(str::trim) {
            let mut conn = self.db.read().await?;
            if !crate::flag::load_environments(&mut conn).await?.iter().any(|e| e.name == env) {
                return Err(ApiError::new(422, "unknown_environment", format!("There is no environment {env:?}."))
                    .with_field("environment")
                    .into());
            }
        }
        let secret = format!("rwy_{}", random_hex(32));
        let mut scopes: Vec<&str> = new.scopes.iter().map(|s| s.as_str()).collect();
        scopes.sort_unstable();
        scopes.dedup();
        let mut metrics: Vec<&str> = new.metrics.iter().map(|m| m.trim()).collect();
        metrics.sort_unstable();
        metrics.dedup();
        let mut tx = self.db.write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (name, token_hash, prefix, scopes, environment, created_by, created_at, metrics)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(new.name.trim())
        .bind(digest(&secret))
        .bind(&secret[..12])
        .bind(scopes.join(","))
        .bind(new.environment.as_deref().map(str::trim))
        .bind(ctx.actor())
        .bind(now())
        .bind(metrics.join(","))
        .fetch_one(tx.conn())
        .await?;
        let token = load(tx.conn(), id).await?.ok_or_else(ApiError::internal)?;
        self.record(tx, ctx, Entry::global("token.create", format!("token:{id}")).after(&token)).await?;
        // The snapshot holds who may evaluate while the database is unreachable.
        self.flags_changed().await;
        Ok(CreatedToken { token, secret })
    }

    /// A revoked token stops working at once; it stays listed, marked revoked.
    pub async fn revoke_token(&self, ctx: &Ctx, id: i64) -> Result<Token> {
        ctx.require_admin()?;
        let mut tx = self.db.write().await?;
        let before = load(tx.conn(), id).await?.ok_or_else(|| ApiError::not_found("Token"))?;
        if before.revoked_at.is_none() {
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2").bind(now()).bind(id).execute(tx.conn()).await?;
        }
        let after = load(tx.conn(), id).await?.ok_or_else(ApiError::internal)?;
        self.record(tx, ctx, Entry::global("token.revoke", format!("token:{id}")).before(&before).after(&after)).await?;
        self.token_cache.clear();
        // Other replicas drop it from their snapshots, and so their caches, when they hear.
        self.flags_changed().await;
        Ok(after)
    }

    /// The token's holder, or 401 when it is unknown or revoked. While the database is
    /// unreachable (or slower than `DATABASE_WAIT`), the flag snapshot's tokens answer: the
    /// ones that were valid when it was last built, revocations seen by then included.
    pub async fn token_caller(&self, secret: &str) -> Result<TokenCaller> {
        let hash = digest(secret);
        if let Some(caller) = self.token_cache.get(&hash) {
            return Ok(caller);
        }
        if self.health.database_down() {
            return self.snapshot_token(&hash);
        }
        match tokio::time::timeout(crate::health::DATABASE_WAIT, self.stored_token(&hash)).await {
            Ok(Ok(caller)) => {
                self.token_cache.put(hash, caller.clone());
                Ok(caller)
            }
            Ok(Err(crate::error::Error::Db(e))) if crate::db::unreachable(&e) => {
                self.database_unreachable(&e);
                self.snapshot_token(&hash)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => self.snapshot_token(&hash),
        }
    }

    fn snapshot_token(&self, hash: &str) -> Result<TokenCaller> {
        match self.flag_cache.get().tokens.get(hash) {
            Some(Some(caller)) => Ok(caller.clone()),
            Some(None) => Err(ApiError::new(401, "invalid_token", "This API token is unknown or has been revoked.").into()),
            // Perhaps made on another replica since: unknown here, so not "invalid".
            None => Err(ApiError::new(503, "unavailable", "The database is unreachable and this token is not in the last flag snapshot; try again.").into()),
        }
    }

    async fn stored_token(&self, hash: &str) -> Result<TokenCaller> {
        let invalid = || ApiError::new(401, "invalid_token", "This API token is unknown or has been revoked.");
        let row = {
            let mut conn = self.db.read().await?;
            sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1"))
                .bind(hash)
                .fetch_optional(&mut *conn)
                .await?
        };
        let token = row.as_ref().map(token_from_row).transpose()?.ok_or_else(invalid)?;
        if token.revoked_at.is_some() {
            return Err(invalid().into());
        }
        let stale = token.last_used_at.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).is_none_or(|t| {
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds() >= LAST_USE_EVERY_SECS
        });
        if stale {
            let mut tx = self.db.write().await?;
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2").bind(now()).bind(token.id).execute(tx.conn()).await?;
            tx.commit().await?;
        }
        Ok(holder(token))
    }
}
