use super::{created, ApiJson, ApiQuery, Ids};
use crate::error::Result;
use crate::service::Ctx;
use crate::AppState;
use app::error::{ApiError, ErrorBody};
use app::plan::Plan;
use app::plan_markdown::{ImportPreview, Imported, IMPORT_MAX_BYTES};
use app::runbook::{NewRun, NewRunNote, RunbookKind, RunbookOutline, RunbookRun, StepResult};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

/// Start a run of a stage's forward runbook (once the stage is active) or rollback runbook
/// (once a rollback is approved). The plan's leads, on-call, rollback authorities and admins.
#[utoipa::path(post, path = "/api/v1/plans/{id}/stages/{stage_id}/runs", tag = "runbooks",
    params(("id" = i64, Path), ("stage_id" = i64, Path)), request_body = NewRun,
    responses((status = 201, body = Plan), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn start(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(new): ApiJson<NewRun>) -> Result<Response> {
    let plan = s.service.start_run(&ctx, ids.plan, ids.sub, new).await?;
    Ok(created(format!("/api/v1/plans/{}", plan.id), plan))
}

/// The steps a stage's runbook splits into (`forward` or `rollback`).
#[utoipa::path(get, path = "/api/v1/plans/{id}/stages/{stage_id}/runbooks/{kind}", tag = "runbooks",
    params(("id" = i64, Path), ("stage_id" = i64, Path), ("kind" = String, Path)),
    responses((status = 200, body = RunbookOutline), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn outline(State(s): State<AppState>, ctx: Ctx, ids: Ids, Path(p): Path<KindPath>) -> Result<Json<RunbookOutline>> {
    let kind = RunbookKind::parse(&p.kind).ok_or_else(|| ApiError::not_found("Runbook"))?;
    Ok(Json(s.service.runbook_outline(&ctx, ids.plan, ids.sub, kind).await?))
}

#[derive(Deserialize)]
pub struct KindPath {
    kind: String,
}

#[utoipa::path(get, path = "/api/v1/plans/{id}/runs/{run_id}", tag = "runbooks",
    params(("id" = i64, Path), ("run_id" = i64, Path)),
    responses((status = 200, body = RunbookRun), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(State(s): State<AppState>, ctx: Ctx, ids: Ids) -> Result<Json<RunbookRun>> {
    Ok(Json(s.service.get_run(&ctx, ids.plan, ids.sub).await?))
}

/// Check a step off (`done`) or skip it (`skipped`, with a reason); the last one finishes the run.
#[utoipa::path(put, path = "/api/v1/plans/{id}/runs/{run_id}/steps/{position}", tag = "runbooks",
    params(("id" = i64, Path), ("run_id" = i64, Path), ("position" = i64, Path, description = "0-based")), request_body = StepResult,
    responses((status = 200, body = Plan), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn step(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(result): ApiJson<StepResult>) -> Result<Json<Plan>> {
    Ok(Json(s.service.record_step(&ctx, ids.plan, ids.sub, ids.item, result).await?))
}

/// A note on a run under way.
#[utoipa::path(post, path = "/api/v1/plans/{id}/runs/{run_id}/notes", tag = "runbooks",
    params(("id" = i64, Path), ("run_id" = i64, Path)), request_body = NewRunNote,
    responses((status = 201, body = Plan), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn note(State(s): State<AppState>, ctx: Ctx, ids: Ids, ApiJson(new): ApiJson<NewRunNote>) -> Result<Response> {
    let plan = s.service.add_run_note(&ctx, ids.plan, ids.sub, new).await?;
    Ok(created(format!("/api/v1/plans/{}", plan.id), plan))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `true`: answer what would be created, and write nothing.
    #[serde(default)]
    pub dry_run: Option<bool>,
    /// The file's name: the plan's title when the document has no heading.
    #[serde(default)]
    pub name: Option<String>,
}

/// Import a Markdown plan sent as the body (up to 5 MB). With `dry_run=true` the answer is
/// the preview (stages, checklists, risks, what went to the description) and nothing is saved.
#[utoipa::path(post, path = "/api/v1/plans/import", tag = "plans", params(ImportQuery),
    request_body(content = String, content_type = "text/markdown"),
    responses((status = 200, body = ImportPreview), (status = 201, body = Imported), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import(State(s): State<AppState>, ctx: Ctx, ApiQuery(q): ApiQuery<ImportQuery>, body: axum::body::Body) -> Result<Response> {
    // Before reading the body: a token that may not import is not made to send 5 MB.
    crate::plan_import::require_importer(&ctx)?;
    let bytes = axum::body::to_bytes(body, IMPORT_MAX_BYTES)
        .await
        .map_err(|_| ApiError::new(413, "file_too_large", "Plans are imported up to 5 MB.").with_field("file"))?;
    let name = q.name.unwrap_or_default();
    if q.dry_run.unwrap_or(false) {
        return Ok(Json(s.service.preview_import(&ctx, &bytes, &name).await?).into_response());
    }
    let imported = s.service.import_plan(&ctx, &bytes, &name).await?;
    Ok(created(format!("/api/v1/plans/{}", imported.plan.id), imported))
}

/// The plan as Markdown, in the shape the import reads back to the same plan.
#[utoipa::path(get, path = "/api/v1/plans/{id}/export.md", tag = "plans", params(("id" = i64, Path)),
    responses((status = 200, content_type = "text/markdown", body = String), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn export(State(s): State<AppState>, ctx: Ctx, ids: Ids) -> Result<Response> {
    let (name, text) = s.service.export_plan(&ctx, ids.plan).await?;
    Ok(super::audit::download("text/markdown; charset=utf-8", &name, text))
}
