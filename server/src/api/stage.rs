use super::{created, ApiJson, ApiQuery, Ids};
use crate::error::Result;
use crate::service::Ctx;
use crate::AppState;
use app::error::ErrorBody;
use app::plan::{Plan, VersionQuery};
use app::gate::{GateRequest, NewVote, RollbackDecision, RollbackRequest};
use app::stage::{NewStage, Stage, StageAction, StageFlagChanges, StageOrder, StagePatch};
use axum::extract::State;
use axum::response::Response;
use axum::Json;

/// The stages of a plan, in order.
#[utoipa::path(get, path = "/api/v1/plans/{id}/stages", tag = "stages", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Stage>), (status = 404, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, ctx: Ctx, ids: Ids) -> Result<Json<Vec<Stage>>> {
    Ok(Json(s.service.get_plan(&ctx, ids.plan).await?.stages))
}

/// Add a stage (at `position`, or last). Answers with the whole plan at its new version.
#[utoipa::path(post, path = "/api/v1/plans/{id}/stages", tag = "stages", params(("id" = i64, Path)), request_body = NewStage,
    responses((status = 201, body = Plan), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(new): ApiJson<NewStage>) -> Result<Response> {
    let plan = s.service.add_stage(&ctx, ids.plan, new).await?;
    Ok(created(format!("/api/v1/plans/{}", plan.id), plan))
}

#[utoipa::path(get, path = "/api/v1/plans/{id}/stages/{stage_id}", tag = "stages",
    params(("id" = i64, Path), ("stage_id" = i64, Path)),
    responses((status = 200, body = Stage), (status = 404, body = ErrorBody)))]
pub async fn get(State(s): State<AppState>, ctx: Ctx, ids: Ids) -> Result<Json<Stage>> {
    Ok(Json(s.service.get_stage(&ctx, ids.plan, ids.sub).await?))
}

/// Change a stage; `null` clears planned start, duration or soak time.
#[utoipa::path(patch, path = "/api/v1/plans/{id}/stages/{stage_id}", tag = "stages",
    params(("id" = i64, Path), ("stage_id" = i64, Path)), request_body = StagePatch,
    responses((status = 200, body = Plan), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(patch): ApiJson<StagePatch>) -> Result<Json<Plan>> {
    Ok(Json(s.service.update_stage(&ctx, ids.plan, ids.sub, patch).await?))
}

/// Remove a stage; the stages after it move up.
#[utoipa::path(delete, path = "/api/v1/plans/{id}/stages/{stage_id}", tag = "stages",
    params(("id" = i64, Path), ("stage_id" = i64, Path), VersionQuery),
    responses((status = 200, body = Plan), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn delete(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiQuery(v): ApiQuery<VersionQuery>) -> Result<Json<Plan>> {
    Ok(Json(s.service.delete_stage(&ctx, ids.plan, ids.sub, v.version).await?))
}

/// Put the stages in a new order: `stage_ids` lists every stage of the plan exactly once.
#[utoipa::path(put, path = "/api/v1/plans/{id}/stages/order", tag = "stages", params(("id" = i64, Path)), request_body = StageOrder,
    responses((status = 200, body = Plan), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reorder(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(order): ApiJson<StageOrder>) -> Result<Json<Plan>> {
    Ok(Json(s.service.reorder_stages(&ctx, ids.plan, order).await?))
}

/// Replace the flags this stage flips when it starts (its migration leads and admins).
#[utoipa::path(put, path = "/api/v1/plans/{id}/stages/{stage_id}/flags", tag = "stages",
    params(("id" = i64, Path), ("stage_id" = i64, Path)), request_body = StageFlagChanges,
    responses((status = 200, body = Plan), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_flags(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(input): ApiJson<StageFlagChanges>) -> Result<Json<Plan>> {
    Ok(Json(s.service.set_stage_flags(&ctx, ids.plan, ids.sub, input).await?))
}

/// Ask for a go/no-go decision on the next stage (its migration leads and admins). Every
/// required checklist item must be at Pass; the stage then awaits its decision.
#[utoipa::path(post, path = "/api/v1/plans/{id}/stages/{stage_id}/gate", tag = "gates",
    params(("id" = i64, Path), ("stage_id" = i64, Path)), request_body = GateRequest,
    responses((status = 200, body = Plan), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn request_gate(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(req): ApiJson<GateRequest>) -> Result<Json<Plan>> {
    Ok(Json(s.service.request_gate(&ctx, ids.plan, ids.sub, req).await?))
}

/// Vote go or no-go on an open gate (holders of the roles the stage names, not the
/// requester). One no-go rejects; enough go votes apply the stage's flags and start it.
#[utoipa::path(post, path = "/api/v1/plans/{id}/gates/{gate_id}/votes", tag = "gates",
    params(("id" = i64, Path), ("gate_id" = i64, Path)), request_body = NewVote,
    responses((status = 200, body = Plan), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn vote(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(vote): ApiJson<NewVote>) -> Result<Json<Plan>> {
    Ok(Json(s.service.vote(&ctx, ids.plan, ids.sub, vote).await?))
}

/// Abort a stage that has not started (`reason` required); the plan is aborted.
#[utoipa::path(post, path = "/api/v1/plans/{id}/stages/{stage_id}/abort", tag = "stages",
    params(("id" = i64, Path), ("stage_id" = i64, Path)), request_body = StageAction,
    responses((status = 200, body = Plan), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn abort(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(action): ApiJson<StageAction>) -> Result<Json<Plan>> {
    Ok(Json(s.service.abort_stage(&ctx, ids.plan, ids.sub, action).await?))
}

/// Ask for a rollback of the active stage, or of the last passed one (on-call, migration
/// leads and admins; `reason` required). A rollback authority approves it.
#[utoipa::path(post, path = "/api/v1/plans/{id}/stages/{stage_id}/rollback", tag = "gates",
    params(("id" = i64, Path), ("stage_id" = i64, Path)), request_body = RollbackRequest,
    responses((status = 200, body = Plan), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn rollback(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(req): ApiJson<RollbackRequest>) -> Result<Json<Plan>> {
    Ok(Json(s.service.request_rollback(&ctx, ids.plan, ids.sub, req).await?))
}

/// Approve or reject a rollback request (the plan's rollback authorities, not the
/// requester). Approval reverts the stage's flags in one transaction and records how
/// long that took against the plan's rollback target.
#[utoipa::path(post, path = "/api/v1/plans/{id}/rollbacks/{rollback_id}/decision", tag = "gates",
    params(("id" = i64, Path), ("rollback_id" = i64, Path)), request_body = RollbackDecision,
    responses((status = 200, body = Plan), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn decide_rollback(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(d): ApiJson<RollbackDecision>) -> Result<Json<Plan>> {
    Ok(Json(s.service.decide_rollback(&ctx, ids.plan, ids.sub, d).await?))
}

/// Mark an active stage passed, once its minimum soak time is over (409 `soaking` before).
#[utoipa::path(post, path = "/api/v1/plans/{id}/stages/{stage_id}/pass", tag = "stages",
    params(("id" = i64, Path), ("stage_id" = i64, Path)), request_body = StageAction,
    responses((status = 200, body = Plan), (status = 409, body = ErrorBody)))]
pub async fn pass(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(action): ApiJson<StageAction>) -> Result<Json<Plan>> {
    Ok(Json(s.service.pass_stage(&ctx, ids.plan, ids.sub, action).await?))
}
