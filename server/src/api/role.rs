use super::{created, ApiJson, Ids};
use crate::error::Result;
use crate::service::Ctx;
use crate::AppState;
use app::error::ErrorBody;
use app::plan::Plan;
use app::role::{NewRoleAssignment, RoleAssignment};
use axum::extract::State;
use axum::response::Response;
use axum::Json;

/// Who holds which role on the plan, with their contact.
#[utoipa::path(get, path = "/api/v1/plans/{id}/roles", tag = "roles", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<RoleAssignment>), (status = 404, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, ctx: Ctx, ids: Ids) -> Result<Json<Vec<RoleAssignment>>> {
    Ok(Json(s.service.get_plan(&ctx, ids.plan).await?.roles))
}

/// Give a person a role on the plan (its migration leads and admins). Answers with the plan.
#[utoipa::path(post, path = "/api/v1/plans/{id}/roles", tag = "roles", params(("id" = i64, Path)), request_body = NewRoleAssignment,
    responses((status = 201, body = Plan), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn assign(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(new): ApiJson<NewRoleAssignment>) -> Result<Response> {
    let plan = s.service.assign_role(&ctx, ids.plan, new).await?;
    Ok(created(format!("/api/v1/plans/{}/roles", plan.id), plan))
}

/// Take a role away (its migration leads and admins). Answers with the plan.
#[utoipa::path(delete, path = "/api/v1/plans/{id}/roles/{role_id}", tag = "roles",
    params(("id" = i64, Path), ("role_id" = i64, Path)),
    responses((status = 200, body = Plan), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(State(s): State<AppState>, ctx: Ctx, ids: Ids) -> Result<Json<Plan>> {
    Ok(Json(s.service.remove_role(&ctx, ids.plan, ids.sub).await?))
}
