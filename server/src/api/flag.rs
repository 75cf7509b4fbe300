use super::{created, ApiJson, ApiQuery};
use crate::error::Result;
use crate::service::Ctx;
use crate::AppState;
use app::error::ErrorBody;
use app::flag::{Environment, Flag, FlagPatch, FlagStateInput, NewEnvironment, NewFlag};
use app::plan::VersionQuery;
use app::segment::{NewSegment, Segment, SegmentInput};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlagListQuery {
    /// Include archived flags.
    #[serde(default)]
    pub include_archived: Option<bool>,
}

/// Every flag with its state in each environment, by key.
#[utoipa::path(get, path = "/api/v1/flags", tag = "flags", params(FlagListQuery),
    responses((status = 200, body = Vec<Flag>), (status = 403, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, ctx: Ctx, ApiQuery(q): ApiQuery<FlagListQuery>) -> Result<Json<Vec<Flag>>> {
    Ok(Json(s.service.list_flags(&ctx, q.include_archived.unwrap_or(false)).await?))
}

/// Create a flag (`flags:write`, admins, migration leads). It starts off everywhere.
#[utoipa::path(post, path = "/api/v1/flags", tag = "flags", request_body = NewFlag,
    responses((status = 201, body = Flag), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(State(s): State<AppState>, ctx: Ctx, ApiJson(new): ApiJson<NewFlag>) -> Result<Response> {
    let flag = s.service.create_flag(&ctx, new).await?;
    Ok(created(format!("/api/v1/flags/{}", flag.key), flag))
}

#[utoipa::path(get, path = "/api/v1/flags/{key}", tag = "flags", params(("key" = String, Path)),
    responses((status = 200, body = Flag), (status = 404, body = ErrorBody)))]
pub async fn get(State(s): State<AppState>, ctx: Ctx, Path(key): Path<String>) -> Result<Json<Flag>> {
    Ok(Json(s.service.get_flag(&ctx, &key).await?))
}

/// Change a flag's description, owner, tags or responders (who may use its kill switch).
#[utoipa::path(patch, path = "/api/v1/flags/{key}", tag = "flags", params(("key" = String, Path)), request_body = FlagPatch,
    responses((status = 200, body = Flag), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(State(s): State<AppState>, ctx: Ctx, Path(key): Path<String>, ApiJson(patch): ApiJson<FlagPatch>) -> Result<Json<Flag>> {
    Ok(Json(s.service.update_flag(&ctx, &key, patch).await?))
}

/// Archive a flag: services get FLAG_NOT_FOUND for it from now on.
#[utoipa::path(delete, path = "/api/v1/flags/{key}", tag = "flags", params(("key" = String, Path), VersionQuery),
    responses((status = 200, body = Flag), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn archive(State(s): State<AppState>, ctx: Ctx, Path(key): Path<String>, ApiQuery(v): ApiQuery<VersionQuery>) -> Result<Json<Flag>> {
    Ok(Json(s.service.archive_flag(&ctx, &key, v.version).await?))
}

/// Set the flag's whole state in one environment: on/off, percentage, allow and deny lists, variants.
#[utoipa::path(put, path = "/api/v1/flags/{key}/environments/{env}", tag = "flags",
    params(("key" = String, Path), ("env" = String, Path)), request_body = FlagStateInput,
    responses((status = 200, body = Flag), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_state(
    State(s): State<AppState>,
    ctx: Ctx,
    Path((key, env)): Path<(String, String)>,
    ApiJson(input): ApiJson<FlagStateInput>,
) -> Result<Json<Flag>> {
    Ok(Json(s.service.set_flag_state(&ctx, &key, &env, input).await?))
}

/// The kill switch: off in every environment at once (admins, the flag's responders, and the
/// on-call and rollback authorities of approved plans whose stages change this flag).
#[utoipa::path(post, path = "/api/v1/flags/{key}/kill", tag = "flags", params(("key" = String, Path)),
    responses((status = 200, body = Flag), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn kill(State(s): State<AppState>, ctx: Ctx, Path(key): Path<String>) -> Result<Json<Flag>> {
    Ok(Json(s.service.kill_flag(&ctx, &key).await?))
}

#[utoipa::path(get, path = "/api/v1/environments", tag = "flags",
    responses((status = 200, body = Vec<Environment>)))]
pub async fn environments(State(s): State<AppState>, ctx: Ctx) -> Result<Json<Vec<Environment>>> {
    Ok(Json(s.service.list_environments(&ctx).await?))
}

/// Add an environment (admins); every flag starts off there.
#[utoipa::path(post, path = "/api/v1/environments", tag = "flags", request_body = NewEnvironment,
    responses((status = 201, body = Environment), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_environment(State(s): State<AppState>, ctx: Ctx, ApiJson(new): ApiJson<NewEnvironment>) -> Result<Response> {
    let env = s.service.add_environment(&ctx, new).await?;
    Ok(created(format!("/api/v1/environments/{}", env.name), env))
}

/// Every segment, each with the flags whose rules use it.
#[utoipa::path(get, path = "/api/v1/segments", tag = "flags",
    responses((status = 200, body = Vec<Segment>), (status = 403, body = ErrorBody)))]
pub async fn segments(State(s): State<AppState>, ctx: Ctx) -> Result<Json<Vec<Segment>>> {
    Ok(Json(s.service.list_segments(&ctx).await?))
}

/// Create a segment (`flags:write`, admins): a named set of conditions for rules to use.
#[utoipa::path(post, path = "/api/v1/segments", tag = "flags", request_body = NewSegment,
    responses((status = 201, body = Segment), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_segment(State(s): State<AppState>, ctx: Ctx, ApiJson(new): ApiJson<NewSegment>) -> Result<Response> {
    let segment = s.service.create_segment(&ctx, new).await?;
    Ok(created(format!("/api/v1/segments/{}", segment.name), segment))
}

#[utoipa::path(get, path = "/api/v1/segments/{name}", tag = "flags", params(("name" = String, Path)),
    responses((status = 200, body = Segment), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn segment(State(s): State<AppState>, ctx: Ctx, Path(name): Path<String>) -> Result<Json<Segment>> {
    Ok(Json(s.service.get_segment(&ctx, &name).await?))
}

/// Replace a segment's description and conditions; every flag using it follows at once.
#[utoipa::path(put, path = "/api/v1/segments/{name}", tag = "flags", params(("name" = String, Path)), request_body = SegmentInput,
    responses((status = 200, body = Segment), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_segment(State(s): State<AppState>, ctx: Ctx, Path(name): Path<String>, ApiJson(input): ApiJson<SegmentInput>) -> Result<Json<Segment>> {
    Ok(Json(s.service.update_segment(&ctx, &name, input).await?))
}

/// Delete a segment no rule uses: 409 naming the flags while any does.
#[utoipa::path(delete, path = "/api/v1/segments/{name}", tag = "flags", params(("name" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_segment(State(s): State<AppState>, ctx: Ctx, Path(name): Path<String>) -> Result<Response> {
    s.service.delete_segment(&ctx, &name).await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}
