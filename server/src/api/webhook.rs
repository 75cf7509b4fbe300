use super::{created, ApiJson, Ids};
use crate::error::Result;
use crate::service::Ctx;
use crate::AppState;
use app::error::ErrorBody;
use app::webhook::{CreatedWebhook, Delivery, NewWebhook, Webhook};
use axum::extract::State;
use axum::response::Response;
use axum::Json;

/// Every live webhook; never the signing secrets (admins).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = Vec<Webhook>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, ctx: Ctx) -> Result<Json<Vec<Webhook>>> {
    Ok(Json(s.service.list_webhooks(&ctx).await?))
}

/// Register a URL to receive events as JSON (admins); no `events` means all of them.
/// The answer holds the signing secret, the only time it is shown: each request carries
/// `X-Runway-Signature: sha256=<hex HMAC-SHA256 of the body under the secret>`,
/// `X-Runway-Event` and `X-Runway-Delivery`.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = NewWebhook,
    responses((status = 201, body = CreatedWebhook), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create(State(s): State<AppState>, ctx: Ctx, ApiJson(new): ApiJson<NewWebhook>) -> Result<Response> {
    let made = s.service.create_webhook(&ctx, new).await?;
    Ok(created(format!("/api/v1/webhooks/{}", made.webhook.id), made))
}

/// Delete a webhook (admins): it receives nothing more; its delivery log stays.
#[utoipa::path(delete, path = "/api/v1/webhooks/{webhook_id}", tag = "webhooks", params(("webhook_id" = i64, Path)),
    responses((status = 200, body = Webhook), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete(State(s): State<AppState>, ctx: Ctx, ids: Ids) -> Result<Json<Webhook>> {
    Ok(Json(s.service.delete_webhook(&ctx, ids.sub).await?))
}

/// The latest 100 deliveries to any webhook, newest first, with their attempts and errors (admins).
#[utoipa::path(get, path = "/api/v1/webhooks/deliveries", tag = "webhooks",
    responses((status = 200, body = Vec<Delivery>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn deliveries(State(s): State<AppState>, ctx: Ctx) -> Result<Json<Vec<Delivery>>> {
    Ok(Json(s.service.list_deliveries(&ctx).await?))
}
