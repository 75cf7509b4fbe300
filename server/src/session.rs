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
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

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

/// Failed sign-ins make the username, and the address they come from, wait; and only a
/// few password checks (argon2, 19 MiB each) run at once. Kept in memory: each replica
/// counts its own.
#[derive(Clone)]
pub struct SignInLimit {
    tallies: Arc<Mutex<HashMap<Key, Tally>>>,
    checks: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Addr(IpAddr),
}

#[derive(Clone, Copy, Debug)]
struct Tally {
    count: u32,
    last: Instant,
}

/// Failures allowed per username before waiting starts; the wait is short (at most a
/// minute) so someone guessing an admin's password cannot keep them out for long.
const USER_FREE: u32 = 3;
const USER_MAX_WAIT: Duration = Duration::from_secs(60);
/// Per address: more failures allowed (several people may share one), then a wait from
/// 15 s up to 15 minutes: one address guessing many usernames is held up far longer.
const ADDR_FREE: u32 = 10;
const ADDR_FIRST_WAIT: Duration = Duration::from_secs(15);
const ADDR_MAX_WAIT: Duration = Duration::from_secs(900);
const USER_FIRST_WAIT: Duration = Duration::from_secs(1);
/// Counts older than this are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// At most this many usernames and addresses are remembered.
const MAX_TALLIES: usize = 10_000;
/// Password checks running at once.
pub const PARALLEL_CHECKS: usize = 4;
/// A sign-in waits at most this long for a check; at most this many wait.
const CHECK_WAIT: Duration = Duration::from_secs(5);
const MAX_WAITING: usize = 64;

impl Default for SignInLimit {
    fn default() -> Self {
        SignInLimit {
            tallies: Default::default(),
            checks: Arc::new(Semaphore::new(PARALLEL_CHECKS)),
            waiting: Default::default(),
            running: Default::default(),
            peak: Default::default(),
        }
    }
}

/// A sign-in counted as a failure until it succeeds.
pub struct Attempt {
    keys: Vec<Key>,
}

impl SignInLimit {
    /// Counts an attempt before its password is checked, so parallel guesses past the
    /// limit are refused; or how long the username or address must still wait.
    fn begin(&self, username: &str, addr: Option<IpAddr>) -> Result<Attempt, Duration> {
        let mut keys = vec![Key::User(username.to_lowercase())];
        keys.extend(addr.map(|a| Key::Addr(address_key(a))));
        let Ok(mut map) = self.tallies.lock() else { return Err(Duration::from_secs(1)) };
        let now = Instant::now();
        let wait = keys
            .iter()
            .filter_map(|k| {
                let t = map.get(k)?;
                let wait = wait_for(k, t.count)?;
                let passed = now.duration_since(t.last);
                (passed < wait).then(|| wait - passed)
            })
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        if map.len() + keys.len() > MAX_TALLIES {
            map.retain(|_, t| now.duration_since(t.last) < FORGET_AFTER);
            while map.len() + keys.len() > MAX_TALLIES {
                let Some(oldest) = map.iter().min_by_key(|(_, t)| t.last).map(|(k, _)| k.clone()) else { break };
                map.remove(&oldest);
            }
        }
        for k in &keys {
            let t = map.entry(k.clone()).or_insert(Tally { count: 0, last: now });
            if now.duration_since(t.last) >= FORGET_AFTER {
                t.count = 0;
            }
            t.count += 1;
            t.last = now;
        }
        Ok(Attempt { keys })
    }

    /// The password was wrong: waiting counts from now.
    fn failed(&self, attempt: Attempt) {
        let Ok(mut map) = self.tallies.lock() else { return };
        for k in attempt.keys {
            if let Some(t) = map.get_mut(&k) {
                t.last = Instant::now();
            }
        }
    }

    /// The password was right: the username starts afresh and the address is not charged.
    fn succeeded(&self, attempt: Attempt) {
        let Ok(mut map) = self.tallies.lock() else { return };
        for k in attempt.keys {
            match k {
                Key::User(_) => {
                    map.remove(&k);
                }
                Key::Addr(_) => {
                    if let Some(t) = map.get_mut(&k) {
                        t.count = t.count.saturating_sub(1);
                    }
                }
            }
        }
    }

    /// Runs one password check when a slot is free: 503 when too many wait already or
    /// none frees up in time, so a flood queues neither memory nor time without bound.
    /// The check runs on to its end even if the client goes away, holding its slot.
    async fn check<F>(&self, work: F) -> Result<F::Output, ApiError>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let busy = || ApiError::new(503, "sign_in_busy", "Too many sign-ins at once; try again in a few seconds.");
        let waiting = Counted::new(&self.waiting);
        if waiting.now > MAX_WAITING {
            return Err(busy());
        }
        let permit = tokio::time::timeout(CHECK_WAIT, self.checks.clone().acquire_owned()).await;
        drop(waiting);
        let Ok(Ok(permit)) = permit else { return Err(busy()) };
        let (running, peak) = (self.running.clone(), self.peak.clone());
        let task = tokio::spawn(async move {
            let _permit = permit;
            let running = Counted::new(&running);
            peak.fetch_max(running.now, Ordering::SeqCst);
            work.await
        });
        task.await.map_err(|_| ApiError::internal())
    }

    /// The most password checks that ever ran at once (for tests and diagnostics).
    pub fn peak_checks(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// How many usernames and addresses are remembered.
    pub fn remembered(&self) -> usize {
        self.tallies.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// One more in a count, until dropped.
struct Counted<'a> {
    count: &'a AtomicUsize,
    now: usize,
}

impl<'a> Counted<'a> {
    fn new(count: &'a AtomicUsize) -> Counted<'a> {
        Counted { count, now: count.fetch_add(1, Ordering::SeqCst) + 1 }
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// IPv6 clients are counted by their /64: one host usually holds a whole one.
fn address_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

fn wait_for(key: &Key, count: u32) -> Option<Duration> {
    match key {
        Key::User(_) => backoff(count, USER_FREE, USER_FIRST_WAIT, USER_MAX_WAIT),
        Key::Addr(_) => backoff(count, ADDR_FREE, ADDR_FIRST_WAIT, ADDR_MAX_WAIT),
    }
}

/// `first` once `free` failures are used up, doubling with each one more, at most `max`.
fn backoff(failures: u32, free: u32, first: Duration, max: Duration) -> Option<Duration> {
    let over = failures.checked_sub(free)?;
    Some(first.saturating_mul(1u32 << over.min(20)).min(max))
}

/// The socket peer's address, when the server runs with connect info (`runway serve`
/// does). Forwarded-for headers are not trusted: anyone can send them.
pub struct Client(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(Client(peer.map(|c| c.0.ip())))
    }
}

/// A session cookie's value and the page-side token that must accompany writes.
pub struct NewSession {
    pub secret: String,
    pub viewer: Viewer,
}

/// What the request's credentials resolve to.
#[derive(Clone)]
pub struct Resolved {
    pub caller: Caller,
    /// Set when the caller came by session cookie: writes must send it back.
    pub csrf: Option<String>,
}

impl Resolved {
    /// The signed-in person and their CSRF token, for the pages (None for tokens).
    pub fn viewer(&self) -> Option<Viewer> {
        match self {
            Resolved { caller: Caller::Person(person), csrf: Some(csrf) } => Some(Viewer { person: person.clone(), csrf_token: csrf.clone() }),
            _ => None,
        }
    }
}

impl Service {
    /// `client` is the socket peer's address; without it only the username is limited.
    pub async fn sign_in(&self, ctx: &Ctx, form: SignIn, client: Option<IpAddr>) -> Result<NewSession> {
        let username = form.username.trim().to_string();
        let attempt = match self.sign_in_limit.begin(&username, client) {
            Ok(a) => a,
            Err(wait) => {
                tracing::warn!(username = %username, client = ?client, "sign-in refused: too many failures");
                let secs = wait.as_secs().max(1);
                return Err(ApiError::new(
                    429,
                    "too_many_attempts",
                    format!("Too many failed sign-ins; try again in {secs} seconds."),
                )
                .into());
            }
        };
        let found = {
            let mut conn = self.db.read().await?;
            find_by_username(&mut conn, &username).await?
        };
        let hash = found.as_ref().map(|(_, hash)| hash.clone());
        let password = form.password;
        let ok = self
            .sign_in_limit
            .check(async move {
                match hash {
                    Some(hash) => verify_password(password, hash).await,
                    // Spend the same time on unknown names, so timing does not reveal who exists.
                    None => {
                        let _ = crate::person::hash_password(password).await;
                        false
                    }
                }
            })
            .await?;
        let person = match (ok, found) {
            (true, Some((person, _))) => person,
            _ => {
                self.sign_in_limit.failed(attempt);
                tracing::warn!(username = %username, client = ?client, "sign-in failed");
                return Err(ApiError::new(401, "invalid_credentials", "Wrong username or password.").into());
            }
        };
        self.sign_in_limit.succeeded(attempt);
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
            Ok(resolved) => Ok(resolved.viewer()),
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
    fn waiting_starts_after_the_free_failures_and_doubles_up_to_a_bound() {
        let user = Key::User("ada".into());
        assert_eq!(wait_for(&user, 2), None);
        assert_eq!(wait_for(&user, 3), Some(Duration::from_secs(1)));
        assert_eq!(wait_for(&user, 5), Some(Duration::from_secs(4)));
        assert_eq!(wait_for(&user, 40), Some(USER_MAX_WAIT), "an admin is never locked out for long");
        let addr = Key::Addr(IpAddr::from([10, 0, 0, 1]));
        assert_eq!(wait_for(&addr, 9), None);
        assert_eq!(wait_for(&addr, 10), Some(Duration::from_secs(15)));
        assert_eq!(wait_for(&addr, 40), Some(ADDR_MAX_WAIT));
    }

    #[test]
    fn attempts_are_counted_before_the_check_and_a_success_is_not_charged() {
        let limit = SignInLimit::default();
        let addr = Some(IpAddr::from([10, 0, 0, 1]));
        let attempts: Vec<_> = (0..USER_FREE).map(|_| limit.begin("Ada", addr).unwrap()).collect();
        assert!(limit.begin("ada", addr).is_err(), "the username waits while its attempts are out");
        limit.succeeded(attempts.into_iter().next().unwrap());
        assert!(limit.begin("ada", addr).is_ok());
    }

    #[test]
    fn one_address_guessing_many_usernames_waits() {
        let limit = SignInLimit::default();
        let addr = Some(IpAddr::from([192, 0, 2, 7]));
        for i in 0..ADDR_FREE {
            assert!(limit.begin(&format!("user{i}"), addr).is_ok());
        }
        assert!(limit.begin("someone-else", addr).is_err());
        assert!(limit.begin("someone-else", Some(IpAddr::from([192, 0, 2, 8]))).is_ok());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(mapped), IpAddr::from([192, 0, 2, 1]));
    }

    #[test]
    fn the_memory_stays_bounded() {
        let limit = SignInLimit::default();
        for i in 0..(MAX_TALLIES + 50) {
            let _ = limit.begin(&format!("random-{i}"), None);
        }
        assert!(limit.remembered() <= MAX_TALLIES);
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
