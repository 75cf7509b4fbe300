use super::{created, ApiJson, ApiQuery, Ids};
use crate::error::Result;
use crate::service::Ctx;
use crate::AppState;
use app::error::ErrorBody;
use app::plan::{NewPlan, Plan, PlanPage, PlanPatch, PlanQuery, VersionQuery};
use axum::extract::State;
use axum::response::Response;
use axum::Json;

/// List plans, most recently updated first.
#[utoipa::path(get, path = "/api/v1/plans", tag = "plans", params(PlanQuery),
    responses((status = 200, body = PlanPage), (status = 422, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, ctx: Ctx, ApiQuery(q): ApiQuery<PlanQuery>) -> Result<Json<PlanPage>> {
    Ok(Json(s.service.list_plans(&ctx, &q).await?))
}

/// Create a plan, optionally with its stages and risks.
#[utoipa::path(post, path = "/api/v1/plans", tag = "plans", request_body = NewPlan,
    responses((status = 201, body = Plan), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(State(s): State<AppState>, ctx: Ctx, ApiJson(new): ApiJson<NewPlan>) -> Result<Response> {
    let plan = s.service.create_plan(&ctx, new).await?;
    Ok(created(format!("/api/v1/plans/{}", plan.id), plan))
}

/// A plan with its stages (in order) and risks.
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "plans", params(("id" = i64, Path)),
    responses((status = 200, body = Plan), (status = 404, body = ErrorBody)))]
pub async fn get(State(s): State<AppState>, ctx: Ctx, ids: Ids) -> Result<Json<Plan>> {
    Ok(Json(s.service.get_plan(&ctx, ids.plan).await?))
}

/// Change a plan. `version` must be the plan's current version, else 409 with `current_version`.
/// `archived: false` restores an archived plan.
#[utoipa::path(patch, path = "/api/v1/plans/{id}", tag = "plans", params(("id" = i64, Path)), request_body = PlanPatch,
    responses((status = 200, body = Plan), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(patch): ApiJson<PlanPatch>) -> Result<Json<Plan>> {
    Ok(Json(s.service.update_plan(&ctx, ids.plan, patch).await?))
}

/// Archive a plan: it leaves the list and becomes read-only. Nothing is deleted.
#[utoipa::path(delete, path = "/api/v1/plans/{id}", tag = "plans", params(("id" = i64, Path), VersionQuery),
    responses((status = 200, body = Plan), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn archive(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiQuery(v): ApiQuery<VersionQuery>) -> Result<Json<Plan>> {
    Ok(Json(s.service.archive_plan(&ctx, ids.plan, v.version).await?))
}
