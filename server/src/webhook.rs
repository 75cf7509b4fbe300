//! Webhooks: events are queued in the transaction that caused them (so none is lost and
//! none is sent for a change that did not commit), then delivered in the background,
//! signed with HMAC-SHA256 over the body, and retried with backoff.
//!
//! Each delivery is claimed with a guarded UPDATE before it is sent, so several
//! replicas sharing one database never send the same delivery at the same time.
use crate::audit::Entry;
use crate::db::now;
use crate::error::Result;
use crate::service::{Ctx, Service};
use crate::session::random_hex;
use app::error::ApiError;
use app::webhook::{CreatedWebhook, Delivery, DeliveryStatus, NewWebhook, Webhook, WebhookView};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::net::IpAddr;
use std::time::Duration;

/// Attempts before a delivery is given up as failed.
pub const MAX_ATTEMPTS: i64 = 8;
/// How long one attempt may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claim keeps other workers away: longer than an attempt can take.
const CLAIM_FOR: Duration = Duration::from_secs(60);
/// The worker looks for due retries at least this often.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// The delivery log shows this many, newest first.
const LOG_SIZE: i64 = 100;

pub const EVENT_HEADER: &str = "X-Runway-Event";
pub const DELIVERY_HEADER: &str = "X-Runway-Delivery";
pub const SIGNATURE_HEADER: &str = "X-Runway-Signature";

const COLUMNS: &str = "id, url, events, description, created_by, created_at";

/// Queues `event` for every live webhook that wants it. Call inside the change's transaction.
pub async fn enqueue(conn: &mut AnyConnection, event: &str, data: serde_json::Value) -> Result<(), sqlx::Error> {
    let hooks = sqlx::query("SELECT id, events FROM webhooks WHERE deleted_at IS NULL").fetch_all(&mut *conn).await?;
    let at = now();
    for h in &hooks {
        let events: String = h.try_get("events")?;
        if !events.split(',').any(|e| e == "*" || e == event) {
            continue;
        }
        let payload = serde_json::json!({ "event": event, "at": at, "data": data });
        sqlx::query(
            "INSERT INTO webhook_deliveries (webhook_id, event, payload, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(h.try_get::<i64, _>("id")?)
        .bind(event)
        .bind(payload.to_string())
        .bind(&at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// `sha256=<lowercase hex HMAC-SHA256 of body under secret>`, as sent in `X-Runway-Signature`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait before the next attempt, once `attempts` have failed: 1 s, 2 s, 4 s, … at most an hour.
pub fn backoff(attempts: i64) -> Duration {
    let exponent = attempts.clamp(1, 13) - 1;
    Duration::from_secs(1u64 << exponent).min(Duration::from_secs(3600))
}

/// `now()`, `d` from now.
fn from_now(d: Duration) -> String {
    let later = chrono::Utc::now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero());
    later.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn webhook_from_row(r: &AnyRow) -> Result<Webhook, sqlx::Error> {
    let events: String = r.try_get("events")?;
    Ok(Webhook {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        events: events.split(',').filter(|e| !e.is_empty()).map(str::to_string).collect(),
        description: r.try_get("description")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

fn delivery_from_row(r: &AnyRow) -> Result<Delivery, sqlx::Error> {
    let status = crate::service::decode_enum(r.try_get("status")?, DeliveryStatus::parse, "status")?;
    let next: String = r.try_get("next_attempt_at")?;
    Ok(Delivery {
        id: r.try_get("id")?,
        webhook_id: r.try_get("webhook_id")?,
        url: r.try_get("url")?,
        event: r.try_get("event")?,
        status,
        attempts: r.try_get("attempts")?,
        response_status: r.try_get("response_status")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        last_attempt_at: r.try_get("last_attempt_at")?,
        next_attempt_at: (status == DeliveryStatus::Pending).then_some(next),
        delivered_at: r.try_get("delivered_at")?,
    })
}

async fn load(conn: &mut AnyConnection, id: i64) -> Result<Option<Webhook>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND deleted_at IS NULL");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(webhook_from_row).transpose()
}

/// Loopback, private, link-local, shared (CGNAT), multicast and other addresses that do
/// not lead to the public internet. A webhook there could reach services inside the
/// network Runway runs in, so it needs `--allow-private-webhooks`.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // 64:ff9b::/96 (NAT64) carries an IPv4 address in its last 32 bits.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                return is_private(IpAddr::V4(std::net::Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8)));
            }
            v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || s[..6] == [0, 0, 0, 0, 0, 0]
        }
    }
}

fn private_refusal(what: &str, ip: IpAddr) -> String {
    format!("{what} {ip}, a loopback, private or link-local address; Runway sends webhooks there only when started with --allow-private-webhooks.")
}

/// The URL's host when it is an IP address (`http://10.0.0.5/`, `http://[::1]/`, and the
/// odd spellings the URL parser reads as one, such as `http://2130706433/`).
fn literal_ip(url: &str) -> Option<IpAddr> {
    let url = reqwest::Url::parse(url.trim()).ok()?;
    url.host_str()?.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Refuses what resolves to a private address, at connection time: the address checked
/// is the one connected to, so a name cannot change between the check and the request.
struct PublicOnly;

#[derive(Debug)]
struct PrivateAddress(String);

impl std::fmt::Display for PrivateAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PrivateAddress {}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            type Failed = Box<dyn std::error::Error + Send + Sync>;
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await.map_err(|e| Box::new(e) as Failed)?.collect();
            if let Some(bad) = addrs.iter().find(|a| is_private(a.ip())) {
                return Err(Box::new(PrivateAddress(private_refusal("The host name resolves to", bad.ip()))) as Failed);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The stored form of a webhook's events: `*` for all, else the names, once each.
fn stored_events(events: &[String]) -> String {
    if events.is_empty() || events.iter().any(|e| e == "*") {
        return "*".into();
    }
    let mut names: Vec<&str> = events.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

/// A delivery claimed by this worker, with what sending it needs.
struct Claimed {
    id: i64,
    event: String,
    payload: String,
    attempts: i64,
    url: String,
    secret: String,
    webhook_id: i64,
    claimed_until: String,
}

/// How one attempt went.
struct Outcome {
    delivered: bool,
    response_status: Option<i64>,
    error: Option<String>,
}

impl Service {
    /// Live webhooks, newest first; never their secrets (admins).
    pub async fn list_webhooks(&self, ctx: &Ctx) -> Result<Vec<Webhook>> {
        ctx.require_admin()?;
        let mut conn = self.db.read().await?;
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE deleted_at IS NULL ORDER BY id DESC");
        let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
        Ok(rows.iter().map(webhook_from_row).collect::<Result<_, _>>()?)
    }

    /// Registers a webhook (admins). The answer holds its signing secret, the only time it is shown.
    pub async fn create_webhook(&self, ctx: &Ctx, new: NewWebhook) -> Result<CreatedWebhook> {
        ctx.require_admin()?;
        new.validate()?;
        if let Some(ip) = literal_ip(&new.url).filter(|ip| is_private(*ip) && !self.allow_private_webhooks) {
            return Err(ApiError::new(422, "private_address", private_refusal("The URL points to", ip)).with_field("url").into());
        }
        let secret = format!("whsec_{}", random_hex(32));
        let mut tx = self.db.write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO webhooks (url, secret, events, description, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(new.url.trim())
        .bind(&secret)
        .bind(stored_events(&new.events))
        .bind(new.description.trim())
        .bind(ctx.actor())
        .bind(now())
        .fetch_one(tx.conn())
        .await?;
        let webhook = load(tx.conn(), id).await?.ok_or_else(ApiError::internal)?;
        // The entry holds the webhook as listed: no secret.
        self.record(tx, ctx, Entry::global("webhook.create", format!("webhook:{id}")).after(&webhook)).await?;
        Ok(CreatedWebhook { webhook, secret })
    }

    /// Removes a webhook (admins): it receives nothing more, and its pending deliveries
    /// are marked failed. Its delivery log stays.
    pub async fn delete_webhook(&self, ctx: &Ctx, id: i64) -> Result<Webhook> {
        ctx.require_admin()?;
        let mut tx = self.db.write().await?;
        let before = load(tx.conn(), id).await?.ok_or_else(|| ApiError::not_found("Webhook"))?;
        let at = now();
        sqlx::query("UPDATE webhooks SET deleted_at = $1 WHERE id = $2").bind(&at).bind(id).execute(tx.conn()).await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'failed', claimed_until = NULL, last_error = $1
             WHERE webhook_id = $2 AND status = 'pending'",
        )
        .bind("The webhook was deleted before this was delivered.")
        .bind(id)
        .execute(tx.conn())
        .await?;
        self.record(tx, ctx, Entry::global("webhook.delete", format!("webhook:{id}")).before(&before)).await?;
        Ok(before)
    }

    /// The latest deliveries to any webhook, newest first (admins).
    pub async fn list_deliveries(&self, ctx: &Ctx) -> Result<Vec<Delivery>> {
        ctx.require_admin()?;
        let mut conn = self.db.read().await?;
        let rows = sqlx::query(
            "SELECT d.id, d.webhook_id, w.url, d.event, d.status, d.attempts, d.response_status, d.last_error,
                    d.created_at, d.last_attempt_at, d.next_attempt_at, d.delivered_at
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
             ORDER BY d.id DESC LIMIT $1",
        )
        .bind(LOG_SIZE)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.iter().map(delivery_from_row).collect::<Result<_, _>>()?)
    }

    /// The webhooks page (admins): live webhooks and the latest deliveries.
    pub async fn webhook_view(&self, ctx: &Ctx) -> Result<WebhookView> {
        Ok(WebhookView { webhooks: self.list_webhooks(ctx).await?, deliveries: self.list_deliveries(ctx).await? })
    }

    /// Tells the delivery worker that something was queued.
    pub fn webhooks_wake(&self) {
        self.webhook_wake.notify_one();
    }

    /// Delivers queued events in the background: whenever one is queued here, and every
    /// second for retries and for events queued by other replicas.
    pub fn start_webhook_worker(&self) {
        let service = self.clone();
        tokio::spawn(async move {
            let mut builder = reqwest::Client::builder()
                .timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("Runway-Webhooks/", env!("CARGO_PKG_VERSION")));
            if !service.allow_private_webhooks {
                // No proxy either: it would do the resolving, past this check.
                builder = builder.no_proxy().dns_resolver(std::sync::Arc::new(PublicOnly));
            }
            let client = match builder.build() {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the webhook worker");
                    return;
                }
            };
            loop {
                loop {
                    match service.deliver_next(&client).await {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "webhook worker: database error; trying again shortly");
                            break;
                        }
                    }
                }
                tokio::select! {
                    _ = service.webhook_wake.notified() => {}
                    _ = tokio::time::sleep(POLL_EVERY) => {}
                }
            }
        });
    }

    /// Claims one due delivery and attempts it. False when none was due.
    async fn deliver_next(&self, client: &reqwest::Client) -> Result<bool> {
        let Some(claimed) = self.claim().await? else {
            return Ok(false);
        };
        let outcome = match literal_ip(&claimed.url).filter(|ip| is_private(*ip) && !self.allow_private_webhooks) {
            // Registered while private addresses were allowed; they are not now. Nothing is sent.
            Some(ip) => Outcome { delivered: false, response_status: None, error: Some(format!("Not sent: {}", private_refusal("the URL points to", ip))) },
            None => attempt(client, &claimed).await,
        };
        self.settle(&claimed, &outcome).await?;
        Ok(true)
    }

    /// Takes the oldest due delivery for this worker. It is looked for outside any write
    /// (an idle worker never takes SQLite's write turn), then claimed by an UPDATE that
    /// repeats the conditions and the attempt count read: of two workers racing for one
    /// delivery, exactly one gets it.
    async fn claim(&self) -> Result<Option<Claimed>> {
        loop {
            let at = now();
            let row = {
                let mut conn = self.db.read().await?;
                sqlx::query(
                    "SELECT d.id, d.event, d.payload, d.attempts, d.webhook_id, w.url, w.secret
                     FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                     WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND w.deleted_at IS NULL
                       AND (d.claimed_until IS NULL OR d.claimed_until < $1)
                     ORDER BY d.next_attempt_at, d.id LIMIT 1",
                )
                .bind(&at)
                .fetch_optional(&mut *conn)
                .await?
            };
            let Some(row) = row else {
                return Ok(None);
            };
            let claimed = Claimed {
                id: row.try_get("id")?,
                event: row.try_get("event")?,
                payload: row.try_get("payload")?,
                attempts: row.try_get("attempts")?,
                url: row.try_get("url")?,
                secret: row.try_get("secret")?,
                webhook_id: row.try_get("webhook_id")?,
                claimed_until: from_now(CLAIM_FOR),
            };
            let mut tx = self.db.write().await?;
            let taken = sqlx::query(
                "UPDATE webhook_deliveries SET claimed_until = $1
                 WHERE id = $2 AND status = 'pending' AND attempts = $3 AND next_attempt_at <= $4
                   AND (claimed_until IS NULL OR claimed_until < $4)",
            )
            .bind(&claimed.claimed_until)
            .bind(claimed.id)
            .bind(claimed.attempts)
            .bind(&at)
            .execute(tx.conn())
            .await?;
            tx.commit().await?;
            if taken.rows_affected() == 1 {
                return Ok(Some(claimed));
            }
            // Another worker took it first: look for the next one.
        }
    }

    /// Records how an attempt went: delivered, due again after the backoff, or failed
    /// for good after `MAX_ATTEMPTS`. Only while this worker still holds the claim.
    /// `response_status` is the last attempt's; `last_error` the last failed attempt's,
    /// kept after a later success so the log shows why it took more than one.
    async fn settle(&self, claimed: &Claimed, outcome: &Outcome) -> Result<()> {
        let at = now();
        let attempts = claimed.attempts + 1;
        let (status, next) = if outcome.delivered {
            (DeliveryStatus::Delivered, at.clone())
        } else if attempts >= MAX_ATTEMPTS {
            (DeliveryStatus::Failed, at.clone())
        } else {
            (DeliveryStatus::Pending, from_now(backoff(attempts)))
        };
        let mut tx = self.db.write().await?;
        sqlx::query(
            "UPDATE webhook_deliveries
             SET status = $1, attempts = $2, next_attempt_at = $3, claimed_until = NULL, last_attempt_at = $4,
                 response_status = $5, last_error = COALESCE($6, last_error), delivered_at = $7
             WHERE id = $8 AND claimed_until = $9",
        )
        .bind(status.as_str())
        .bind(attempts)
        .bind(&next)
        .bind(&at)
        .bind(outcome.response_status)
        .bind(outcome.error.as_deref())
        .bind(outcome.delivered.then(|| at.clone()))
        .bind(claimed.id)
        .bind(&claimed.claimed_until)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        // Ids and status codes only: URLs may carry tokens, payloads may say too much.
        let (delivery, webhook, answer) = (claimed.id, claimed.webhook_id, outcome.response_status);
        match status {
            DeliveryStatus::Delivered => tracing::debug!(delivery, webhook, attempts, "webhook delivered"),
            DeliveryStatus::Pending => tracing::debug!(delivery, webhook, attempts, ?answer, "webhook delivery failed; will retry"),
            DeliveryStatus::Failed => tracing::warn!(delivery, webhook, attempts, ?answer, "webhook delivery failed for good"),
        }
        Ok(())
    }
}

/// One POST of the stored body, exactly as stored, signed.
async fn attempt(client: &reqwest::Client, d: &Claimed) -> Outcome {
    let sent = client
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(EVENT_HEADER, &d.event)
        .header(DELIVERY_HEADER, d.id.to_string())
        .header(SIGNATURE_HEADER, signature(&d.secret, d.payload.as_bytes()))
        .body(d.payload.clone())
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => Outcome { delivered: true, response_status: Some(r.status().as_u16().into()), error: None },
        Ok(r) => {
            let status = r.status();
            Outcome {
                delivered: false,
                response_status: Some(status.as_u16().into()),
                error: Some(format!("The receiver answered {status}.")),
            }
        }
        Err(e) => Outcome { delivered: false, response_status: None, error: Some(describe(&e)) },
    }
}

/// A short reason for a failed request, without the URL (it may carry a token).
fn describe(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(inner) = source {
        if let Some(refused) = inner.downcast_ref::<PrivateAddress>() {
            return format!("Not sent: {refused}").chars().take(300).collect();
        }
        source = inner.source();
    }
    let reason = if e.is_timeout() {
        format!("No answer within {} s.", TIMEOUT.as_secs())
    } else if e.is_connect() {
        "Could not connect to the receiver.".to_string()
    } else if e.is_redirect() {
        "The receiver answered with a redirect; give the final URL.".to_string()
    } else {
        let mut source: &dyn std::error::Error = e;
        while let Some(inner) = source.source() {
            source = inner;
        }
        format!("The request failed: {source}")
    };
    reason.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hex_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_an_hour() {
        let waits: Vec<u64> = (1..=MAX_ATTEMPTS).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128]);
        assert_eq!(backoff(40), Duration::from_secs(3600));
    }

    #[test]
    fn loopback_private_link_local_and_shared_addresses_are_private() {
        for ip in [
            "127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
            "100.127.255.255", "0.0.0.0", "255.255.255.255", "224.0.0.1", "::1", "::", "fc00::1", "fd12:3456::1",
            "fe80::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn ip_hosts_are_read_in_every_spelling() {
        assert_eq!(literal_ip("http://127.0.0.1:8080/x"), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(literal_ip("http://[::1]/"), Some("::1".parse().unwrap()));
        assert_eq!(literal_ip("http://2130706433/"), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(literal_ip("http://0x7f.1/"), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(literal_ip("https://hooks.example.com/"), None);
    }

    #[test]
    fn no_events_or_a_star_means_all_events() {
        assert_eq!(stored_events(&[]), "*");
        assert_eq!(stored_events(&["flag.killed".into(), "*".into()]), "*");
        assert_eq!(stored_events(&["gate.requested".into(), "flag.killed".into(), "flag.killed".into()]), "flag.killed,gate.requested");
    }
}
