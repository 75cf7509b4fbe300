use super::{created, ApiJson, Ids};
use crate::error::Result;
use crate::service::Ctx;
use crate::AppState;
use app::error::ErrorBody;
use app::token::{CreatedToken, NewToken, Token};
use axum::extract::State;
use axum::response::Response;
use axum::Json;

/// Every API token with its last use; never the secrets (admins).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, body = Vec<Token>), (status = 403, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, ctx: Ctx) -> Result<Json<Vec<Token>>> {
    Ok(Json(s.service.list_tokens(&ctx).await?))
}

/// Create a token (admins). The answer holds the secret, the only time it is shown. A
/// `metrics:write` token may be limited to `metrics`: exact names, or prefixes ending in
/// `.`, `_`, `:`, `/` or `-`.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(State(s): State<AppState>, ctx: Ctx, ApiJson(new): ApiJson<NewToken>) -> Result<Response> {
    let made = s.service.create_token(&ctx, new).await?;
    Ok(created(format!("/api/v1/tokens/{}", made.token.id), made))
}

/// Revoke a token (admins): it stops working at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{token_id}", tag = "tokens", params(("token_id" = i64, Path)),
    responses((status = 200, body = Token), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(State(s): State<AppState>, ctx: Ctx, ids: Ids) -> Result<Json<Token>> {
    Ok(Json(s.service.revoke_token(&ctx, ids.sub).await?))
}
