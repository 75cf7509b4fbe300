use super::ApiJson;
use crate::error::Result;
use crate::service::Ctx;
use crate::session::{clear_cookie, is_https, session_cookie, Client};
use crate::AppState;
use app::error::ErrorBody;
use app::person::{SignIn, Viewer};
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Sign in: sets the session cookie and answers with the person and the CSRF token
/// that must accompany the cookie on every state-changing request (`X-CSRF-Token`).
#[utoipa::path(post, path = "/api/v1/session", tag = "people", request_body = SignIn,
    responses((status = 200, body = Viewer), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn sign_in(
    State(s): State<AppState>,
    ctx: Ctx,
    Client(client): Client,
    headers: HeaderMap,
    uri: Uri,
    ApiJson(form): ApiJson<SignIn>,
) -> Result<Response> {
    let session = s.service.sign_in(&ctx, form, client).await?;
    let cookie = session_cookie(&session.secret, is_https(&headers, &uri));
    Ok(([(SET_COOKIE, cookie)], Json(session.viewer)).into_response())
}

/// Who is signed in.
#[utoipa::path(get, path = "/api/v1/session", tag = "people",
    responses((status = 200, body = Viewer), (status = 401, body = ErrorBody)))]
pub async fn current(State(s): State<AppState>, ctx: Ctx, headers: HeaderMap) -> Result<Json<Viewer>> {
    ctx.require_person()?;
    let viewer = s.service.viewer(&headers).await?.ok_or_else(crate::service::unauthenticated)?;
    Ok(Json(viewer))
}

/// Sign out: ends the session and clears the cookie.
#[utoipa::path(delete, path = "/api/v1/session", tag = "people",
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn sign_out(State(s): State<AppState>, ctx: Ctx, headers: HeaderMap, uri: Uri) -> Result<Response> {
    s.service.sign_out(&ctx, &headers).await?;
    let cookie = clear_cookie(is_https(&headers, &uri));
    Ok((axum::http::StatusCode::NO_CONTENT, [(SET_COOKIE, cookie)]).into_response())
}
