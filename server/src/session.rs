//! Signing in and out, sessions, and working out who is asking: a session cookie, a
//! bearer token, or nobody.
use crate::audit::Entry;
use crate::db::now;
use crate::error::Result;
use crate::person::{find_by_username, person_from_row, verify_password};
use crate::service::{Caller, Ctx, Service};
use app::error::ApiError;
use app::person::{SignIn, Viewer};
use axum::http::HeaderMap;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const COOKIE: &str = "runway_session";
/// Sessions end a day after sign-in, as Argo CD's do.
pub const SESSION_HOURS: i64 = 24;

/// `n` random bytes as hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Secrets are stored only as their SHA-256: they are long and random, so no salt
/// or slow hash is needed, and a stolen table opens nothing.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Repeated failed sign-ins for one username make it wait, longer each time.
/// Kept in memory: each replica counts its own failures.
#[derive(Clone, Default)]
pub struct SignInLimit {
    failures: Arc<Mutex<HashMap<String, (u32, Instant)>>>,
}

/// Failures allowed before waiting starts.
const FREE_FAILURES: u32 = 3;

impl SignInLimit {
    /// How long this username must still wait, if at all.
    fn wait(&self, username: &str) -> Option<Duration> {
        let map = self.failures.lock().ok()?;
        let (count, last) = *map.get(&username.to_lowercase())?;
        let wait = backoff(count)?;
        let passed = last.elapsed();
        (passed < wait).then(|| wait - passed)
    }

    fn failed(&self, username: &str) -> u32 {
        let Ok(mut map) = self.failures.lock() else { return 0 };
        // Forget old entries so the map cannot grow without bound.
        map.retain(|_, (_, last)| last.elapsed() < Duration::from_secs(3600));
        let entry = map.entry(username.to_lowercase()).or_insert((0, Instant::now()));
        entry.0 += 1;
        entry.1 = Instant::now();
        entry.0
    }

    fn succeeded(&self, username: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&username.to_lowercase());
        }
    }
}

/// 1 s after the 3rd failure, doubling each time, at most 15 minutes.
fn backoff(failures: u32) -> Option<Duration> {
    let over = failures.checked_sub(FREE_FAILURES)?;
    Some(Duration::from_secs((1u64 << over.min(10)).min(900)))
}

/// A session cookie's value and the page-side token that must accompany writes.
pub struct NewSession {
    pub secret: String,
    pub viewer: Viewer,
}

/// What the request's credentials resolve to.
pub struct Resolved {
    pub caller: Caller,
    /// Set when the caller came by session cookie: writes must send it back.
    pub csrf: Option<String>,
}

impl Service {
    pub async fn sign_in(&self, ctx: &Ctx, form: SignIn) -> Result<NewSession> {
        let username = form.username.trim().to_string();
        if let Some(wait) = self.sign_in_limit.wait(&username) {
            tracing::warn!(username = %username, "sign-in refused: too many failures");
            let secs = wait.as_secs().max(1);
            return Err(ApiError::new(
                429,
                "too_many_attempts",
                format!("Too many failed sign-ins for this username; try again in {secs} seconds."),
            )
            .into());
        }
        let found = {
            let mut conn = self.db.read().await?;
            find_by_username(&mut conn, &username).await?
        };
        let ok = match &found {
            Some((_, hash)) => verify_password(form.password, hash.clone()).await,
            // Spend the same time on unknown names, so timing does not reveal who exists.
            None => {
                let _ = crate::person::hash_password(form.password).await;
                false
            }
        };
        let person = match (ok, found) {
            (true, Some((person, _))) => person,
            _ => {
                let failures = self.sign_in_limit.failed(&username);
                tracing::warn!(username = %username, failures, "sign-in failed");
                return Err(ApiError::new(401, "invalid_credentials", "Wrong username or password.").into());
            }
        };
        self.sign_in_limit.succeeded(&username);
        let secret = random_hex(32);
        let csrf = random_hex(32);
        let at = now();
        let expires = (chrono::Utc::now() + chrono::Duration::hours(SESSION_HOURS))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut tx = self.db.write().await?;
        sqlx::query("INSERT INTO sessions (id_hash, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(digest(&secret))
            .bind(person.id)
            .bind(&csrf)
            .bind(&at)
            .bind(&expires)
            .execute(tx.conn())
            .await?;
        let ctx = Ctx::new(Caller::Person(person.clone()), ctx.request_id.clone());
        self.record(tx, &ctx, Entry::global("session.sign_in", format!("person:{}", person.id))).await?;
        tracing::info!(username = %person.username, "signed in");
        Ok(NewSession { secret, viewer: Viewer { person, csrf_token: csrf } })
    }

    /// Ends the session the cookie names.
    pub async fn sign_out(&self, ctx: &Ctx, headers: &HeaderMap) -> Result<()> {
        let person = ctx.require_person()?.clone();
        let Some(secret) = cookie(headers, COOKIE) else { return Ok(()) };
        let mut tx = self.db.write().await?;
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(digest(&secret)).execute(tx.conn()).await?;
        self.record(tx, ctx, Entry::global("session.sign_out", format!("person:{}", person.id))).await
    }

    /// Who the headers say is asking. A bearer token wins over a cookie. Credentials
    /// that name nothing valid are a 401, never a quiet fall-back to anonymous.
    pub async fn resolve(&self, headers: &HeaderMap) -> Result<Resolved> {
        if let Some(auth) = headers.get(axum::http::header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
                .map(str::trim)
                .ok_or_else(|| ApiError::new(401, "invalid_token", "Send the token as Authorization: Bearer <token>."))?;
            let caller = self.token_caller(token).await?;
            return Ok(Resolved { caller: Caller::Token(caller), csrf: None });
        }
        let Some(secret) = cookie(headers, COOKIE) else {
            return Ok(Resolved { caller: Caller::Anonymous, csrf: None });
        };
        let mut conn = self.db.read().await?;
        let row = sqlx::query(&format!(
            "SELECT {}, s.csrf, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1",
            crate::person::COLUMNS
        ))
        .bind(digest(&secret))
        .fetch_optional(&mut *conn)
        .await?;
        use sqlx::Row;
        match row {
            Some(r) if r.try_get::<String, _>("expires_at")? > now() => Ok(Resolved {
                caller: Caller::Person(person_from_row(&r)?),
                csrf: Some(r.try_get("csrf")?),
            }),
            _ => Err(ApiError::new(401, "session_expired", "Your session has ended; sign in again.").into()),
        }
    }

    /// The signed-in person and their CSRF token, for the pages.
    pub async fn viewer(&self, headers: &HeaderMap) -> Result<Option<Viewer>> {
        match self.resolve(headers).await {
            Ok(Resolved { caller: Caller::Person(person), csrf: Some(csrf) }) => Ok(Some(Viewer { person, csrf_token: csrf })),
            Ok(_) => Ok(None),
            Err(crate::error::Error::Api(e)) if e.status == 401 => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// One cookie's value from the Cookie headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value for a new session; `Secure` when the console is reached over https.
pub fn session_cookie(secret: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        SESSION_HOURS * 3600,
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear_cookie(secure: bool) -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}", if secure { "; Secure" } else { "" })
}

/// Whether the browser reached us over https (directly or through a proxy that says so).
pub fn is_https(headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    uri.scheme_str() == Some("https")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_starts_after_three_failures_and_doubles() {
        assert_eq!(backoff(2), None);
        assert_eq!(backoff(3), Some(Duration::from_secs(1)));
        assert_eq!(backoff(5), Some(Duration::from_secs(4)));
        assert_eq!(backoff(40), Some(Duration::from_secs(900)));
    }

    #[test]
    fn the_session_cookie_is_http_only_and_lax() {
        let c = session_cookie("abc", false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && !c.contains("Secure"));
        assert!(session_cookie("abc", true).ends_with("; Secure"));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert("cookie", "a=1; runway_session=xyz; b=2".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("xyz"));
    }
}
