use super::{created, ApiJson, Ids};
use crate::error::Result;
use crate::service::Ctx;
use crate::AppState;
use app::error::ErrorBody;
use app::plan::Plan;
use app::review::{Comment, NewComment, NewSignOff, ReviewRequest};
use axum::extract::State;
use axum::response::Response;
use axum::Json;

/// Send a draft to its stakeholders (its migration leads and admins).
#[utoipa::path(post, path = "/api/v1/plans/{id}/review", tag = "review", params(("id" = i64, Path)), request_body = ReviewRequest,
    responses((status = 200, body = Plan), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn request(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(r): ApiJson<ReviewRequest>) -> Result<Json<Plan>> {
    Ok(Json(s.service.request_review(&ctx, ids.plan, r.version).await?))
}

/// Sign off, or ask for changes (the plan's stakeholders), on the version reviewed.
/// The plan is approved once every stakeholder has signed off its current version.
#[utoipa::path(post, path = "/api/v1/plans/{id}/signoffs", tag = "review", params(("id" = i64, Path)), request_body = NewSignOff,
    responses((status = 200, body = Plan), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn sign_off(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(new): ApiJson<NewSignOff>) -> Result<Json<Plan>> {
    Ok(Json(s.service.sign_off(&ctx, ids.plan, new).await?))
}

/// The plan's comments, oldest first; `stage_id` and `parent_id` make the threads.
#[utoipa::path(get, path = "/api/v1/plans/{id}/comments", tag = "review", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Comment>), (status = 404, body = ErrorBody)))]
pub async fn comments(State(s): State<AppState>, ctx: Ctx, ids: Ids) -> Result<Json<Vec<Comment>>> {
    Ok(Json(s.service.list_comments(&ctx, ids.plan).await?))
}

/// Comment on the plan, on one of its stages (`stage_id`), or answer a comment (`parent_id`).
#[utoipa::path(post, path = "/api/v1/plans/{id}/comments", tag = "review", params(("id" = i64, Path)), request_body = NewComment,
    responses((status = 201, body = Comment), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn comment(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(new): ApiJson<NewComment>) -> Result<Response> {
    let c = s.service.add_comment(&ctx, ids.plan, new).await?;
    Ok(created(format!("/api/v1/plans/{}/comments", c.plan_id), c))
}
