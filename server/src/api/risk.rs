use super::{created, ApiJson, ApiQuery, Ids};
use crate::error::Result;
use crate::service::Ctx;
use crate::AppState;
use app::error::ErrorBody;
use app::plan::{Plan, VersionQuery};
use app::risk::{NewRisk, Risk, RiskPatch};
use axum::extract::State;
use axum::response::Response;
use axum::Json;

#[utoipa::path(get, path = "/api/v1/plans/{id}/risks", tag = "risks", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Risk>), (status = 404, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, ctx: Ctx, ids: Ids) -> Result<Json<Vec<Risk>>> {
    Ok(Json(s.service.get_plan(&ctx, ids.plan).await?.risks))
}

/// Add a risk. Answers with the whole plan at its new version.
#[utoipa::path(post, path = "/api/v1/plans/{id}/risks", tag = "risks", params(("id" = i64, Path)), request_body = NewRisk,
    responses((status = 201, body = Plan), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(new): ApiJson<NewRisk>) -> Result<Response> {
    let plan = s.service.add_risk(&ctx, ids.plan, new).await?;
    Ok(created(format!("/api/v1/plans/{}", plan.id), plan))
}

#[utoipa::path(get, path = "/api/v1/plans/{id}/risks/{risk_id}", tag = "risks",
    params(("id" = i64, Path), ("risk_id" = i64, Path)),
    responses((status = 200, body = Risk), (status = 404, body = ErrorBody)))]
pub async fn get(State(s): State<AppState>, ctx: Ctx, ids: Ids) -> Result<Json<Risk>> {
    Ok(Json(s.service.get_risk(&ctx, ids.plan, ids.sub).await?))
}

#[utoipa::path(patch, path = "/api/v1/plans/{id}/risks/{risk_id}", tag = "risks",
    params(("id" = i64, Path), ("risk_id" = i64, Path)), request_body = RiskPatch,
    responses((status = 200, body = Plan), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(patch): ApiJson<RiskPatch>) -> Result<Json<Plan>> {
    Ok(Json(s.service.update_risk(&ctx, ids.plan, ids.sub, patch).await?))
}

#[utoipa::path(delete, path = "/api/v1/plans/{id}/risks/{risk_id}", tag = "risks",
    params(("id" = i64, Path), ("risk_id" = i64, Path), VersionQuery),
    responses((status = 200, body = Plan), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn delete(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiQuery(v): ApiQuery<VersionQuery>) -> Result<Json<Plan>> {
    Ok(Json(s.service.delete_risk(&ctx, ids.plan, ids.sub, v.version).await?))
}
