//! Webhooks: admin-registered URLs that receive Runway's events as signed JSON.
use crate::error::ApiError;
use crate::validate::{check_len, check_required};
use serde::{Deserialize, Serialize};

/// The events a webhook can receive.
pub const EVENTS: [(&str, &str); 9] = [
    ("gate.requested", "Go/no-go requested"),
    ("gate.decided", "Go/no-go decided"),
    ("rollback.requested", "Rollback requested"),
    ("rollback.approved", "Rollback approved"),
    ("rollback.rejected", "Rollback rejected"),
    ("rollback.done", "Rollback done (flags reverted)"),
    ("flag.killed", "Kill switch used"),
    ("guard.breached", "Guard breached"),
    ("guard.resolved", "Guard breach resolved"),
];

/// A registered webhook; its secret is shown only when it is created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    /// Event names, or `*` for all.
    pub events: Vec<String>,
    pub description: String,
    pub created_by: String,
    pub created_at: String,
}

impl Webhook {
    pub fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == "*" || e == event)
    }
}

/// `POST /api/v1/webhooks` (admins).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    pub url: String,
    /// Event names; all events when empty.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
}

impl NewWebhook {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_required("url", "URL", &self.url)?;
        check_len("url", "URL", &self.url, 2_000)?;
        let url = self.url.trim();
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
        if rest.is_none_or(|r| r.is_empty() || r.starts_with('/') || r.chars().any(char::is_whitespace)) {
            return Err(ApiError::validation("url", "Give an http:// or https:// URL, such as https://hooks.example.com/runway."));
        }
        for (i, e) in self.events.iter().enumerate() {
            if e != "*" && !EVENTS.iter().any(|(name, _)| name == e) {
                return Err(ApiError::validation(format!("events[{i}]"), format!("There is no event {e:?}.")));
            }
        }
        check_len("description", "Description", &self.description, 500)
    }
}

/// The answer to registering a webhook: the only time its signing secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedWebhook {
    pub webhook: Webhook,
    /// Verify `X-Runway-Signature: sha256=<hex HMAC-SHA256 of the body under this secret>`.
    pub secret: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    Delivered,
    /// Out of attempts.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Failed].into_iter().find(|d| d.as_str() == s)
    }
}

/// One event sent (or being sent) to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub url: String,
    pub event: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
}

/// The webhooks page: every live webhook and the latest deliveries, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookView {
    pub webhooks: Vec<Webhook>,
    pub deliveries: Vec<Delivery>,
}

use leptos::prelude::*;

#[server(prefix = "/_fn")]
pub async fn list_webhooks() -> Result<WebhookView, ApiError> {
    let backend = crate::backend::backend()?;
    crate::backend::answer(backend.webhooks(&crate::backend::request()).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_url_must_be_http_or_https_and_events_must_exist() {
        let ok = NewWebhook { url: "https://hooks.example.com/runway".into(), ..Default::default() };
        assert!(ok.validate().is_ok());
        for bad in ["ftp://x", "https://", "hooks.example.com", "http:// spaced"] {
            assert!(NewWebhook { url: bad.into(), ..Default::default() }.validate().is_err(), "{bad}");
        }
        let unknown = NewWebhook { events: vec!["stage.exploded".into()], ..ok };
        assert_eq!(unknown.validate().unwrap_err().field.as_deref(), Some("events[0]"));
    }
}
