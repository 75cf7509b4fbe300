use super::{created, ApiJson, ApiQuery, Ids};
use crate::error::Result;
use crate::service::Ctx;
use crate::AppState;
use app::checklist::{CheckResult, ChecklistCopy, NewChecklistItem};
use app::error::ErrorBody;
use app::plan::{Plan, VersionQuery};
use axum::extract::State;
use axum::response::Response;
use axum::Json;

/// Add a check to a stage's checklist (its migration leads and admins). Answers with the plan.
#[utoipa::path(post, path = "/api/v1/plans/{id}/stages/{stage_id}/checklist", tag = "checklists",
    params(("id" = i64, Path), ("stage_id" = i64, Path)), request_body = NewChecklistItem,
    responses((status = 201, body = Plan), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(new): ApiJson<NewChecklistItem>) -> Result<Response> {
    let plan = s.service.add_check(&ctx, ids.plan, ids.sub, new).await?;
    Ok(created(format!("/api/v1/plans/{}", plan.id), plan))
}

/// Copy another stage's checklist (of any plan) onto this stage, results cleared.
#[utoipa::path(post, path = "/api/v1/plans/{id}/stages/{stage_id}/checklist/copy", tag = "checklists",
    params(("id" = i64, Path), ("stage_id" = i64, Path)), request_body = ChecklistCopy,
    responses((status = 200, body = Plan), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn copy(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(copy): ApiJson<ChecklistCopy>) -> Result<Json<Plan>> {
    Ok(Json(s.service.copy_checklist(&ctx, ids.plan, ids.sub, copy).await?))
}

/// Remove a check (its migration leads and admins).
#[utoipa::path(delete, path = "/api/v1/plans/{id}/stages/{stage_id}/checklist/{item_id}", tag = "checklists",
    params(("id" = i64, Path), ("stage_id" = i64, Path), ("item_id" = i64, Path), VersionQuery),
    responses((status = 200, body = Plan), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiQuery(v): ApiQuery<VersionQuery>) -> Result<Json<Plan>> {
    Ok(Json(s.service.remove_check(&ctx, ids.plan, ids.sub, ids.item, v.version).await?))
}

/// Record what a check showed: Pass, Fail (with a comment) or Not tested, and an evidence
/// link (the plan's leads, on-call, rollback authorities and admins).
#[utoipa::path(put, path = "/api/v1/plans/{id}/stages/{stage_id}/checklist/{item_id}/result", tag = "checklists",
    params(("id" = i64, Path), ("stage_id" = i64, Path), ("item_id" = i64, Path)), request_body = CheckResult,
    responses((status = 200, body = Plan), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn record(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(result): ApiJson<CheckResult>) -> Result<Json<Plan>> {
    Ok(Json(s.service.record_check(&ctx, ids.plan, ids.sub, ids.item, result).await?))
}
