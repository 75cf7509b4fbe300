use super::{ApiJson, ApiQuery, Ids};
use crate::error::Result;
use crate::service::Ctx;
use crate::AppState;
use app::error::{ApiError, ErrorBody};
use app::guard::{GuardSeries, IngestReport, NewGuard, ResolveBreach};
use app::plan::{Plan, VersionQuery};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Ten thousand points with labels fit easily; anything bigger is refused before parsing.
const INGEST_MAX_BYTES: usize = 16 * 1024 * 1024;

/// Add a guard to a stage: leads, admins and `plans:write` tokens.
#[utoipa::path(post, path = "/api/v1/plans/{id}/stages/{stage_id}/guards", tag = "guards",
    params(("id" = i64, Path), ("stage_id" = i64, Path)), request_body = NewGuard,
    responses((status = 201, body = Plan), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(new): ApiJson<NewGuard>) -> Result<Response> {
    let plan = s.service.add_guard(&ctx, ids.plan, ids.sub, new).await?;
    Ok(super::created(format!("/api/v1/plans/{}", plan.id), plan))
}

/// Replace a guard's settings.
#[utoipa::path(put, path = "/api/v1/plans/{id}/stages/{stage_id}/guards/{guard_id}", tag = "guards",
    params(("id" = i64, Path), ("stage_id" = i64, Path), ("guard_id" = i64, Path)), request_body = NewGuard,
    responses((status = 200, body = Plan), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(new): ApiJson<NewGuard>) -> Result<Json<Plan>> {
    Ok(Json(s.service.update_guard(&ctx, ids.plan, ids.sub, ids.item, new).await?))
}

/// Remove a guard (`?version=N`).
#[utoipa::path(delete, path = "/api/v1/plans/{id}/stages/{stage_id}/guards/{guard_id}", tag = "guards",
    params(("id" = i64, Path), ("stage_id" = i64, Path), ("guard_id" = i64, Path), VersionQuery),
    responses((status = 200, body = Plan), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiQuery(v): ApiQuery<VersionQuery>) -> Result<Json<Plan>> {
    Ok(Json(s.service.delete_guard(&ctx, ids.plan, ids.sub, ids.item, v.version).await?))
}

/// Say what was done about a breach: the guard watches again, and a pause is lifted.
#[utoipa::path(post, path = "/api/v1/plans/{id}/breaches/{breach_id}/resolve", tag = "guards",
    params(("id" = i64, Path), ("breach_id" = i64, Path)), request_body = ResolveBreach,
    responses((status = 200, body = Plan), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn resolve(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(r): ApiJson<ResolveBreach>) -> Result<Json<Plan>> {
    Ok(Json(s.service.resolve_breach(&ctx, ids.plan, ids.sub, r).await?))
}

/// Each guard's metric over time (bucket means), with its threshold, baseline and breaches.
#[utoipa::path(get, path = "/api/v1/plans/{id}/guards/series", tag = "guards", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<GuardSeries>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn series(State(s): State<AppState>, ctx: Ctx, ids: Ids) -> Result<Json<Vec<GuardSeries>>> {
    Ok(Json(s.service.guard_series(&ctx, ids.plan).await?))
}

/// Send metric samples (a `metrics:write` token): a JSON array of `{metric, value, time,
/// labels}` or `{"points": [...]}`, at most 10,000 points. Guards of active stages watching
/// these metrics are evaluated before the answer. A bad point is refused alone, by its index;
/// when no point is good the answer is 422. A token limited to some metrics has points of
/// any other metric refused (`metric_not_allowed`).
#[utoipa::path(post, path = "/api/v1/metrics", tag = "guards", request_body(content = String, content_type = "application/json"),
    responses((status = 200, body = IngestReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn ingest(State(s): State<AppState>, ctx: Ctx, headers: HeaderMap, body: axum::body::Body) -> Result<Response> {
    // Before reading the body: a caller who may not send metrics is not made to send 16 MB.
    crate::guard::require_metrics_writer(&ctx)?;
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::new(415, "unsupported_media_type", "Send the points as JSON with Content-Type: application/json.").into());
    }
    let bytes = axum::body::to_bytes(body, INGEST_MAX_BYTES).await.map_err(|_| {
        ApiError::new(413, "batch_too_large", "This batch is over 16 MB; send at most 10,000 points per request.").with_field("points")
    })?;
    let report = s.service.ingest(&ctx, &bytes).await?;
    if report.accepted == 0 && !report.rejected.is_empty() {
        let first = &report.rejected[0].error;
        let mut error = ApiError::new(
            422,
            "invalid_points",
            format!("None of the {} points was stored. The first: {}", report.rejected.len(), first.message),
        );
        error.field = first.field.clone();
        let body = serde_json::json!({ "error": error, "accepted": 0, "rejected": report.rejected, "breaches": [] });
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }
    Ok(Json(report).into_response())
}
