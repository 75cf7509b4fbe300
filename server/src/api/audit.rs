use super::ApiQuery;
use crate::audit::{to_csv, to_json_lines};
use crate::error::Result;
use crate::service::Ctx;
use crate::AppState;
use app::audit::{AuditPage, AuditQuery};
use app::error::ErrorBody;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The audit log, newest first. Read-only: there is no endpoint that edits or deletes entries.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 422, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, ctx: Ctx, ApiQuery(q): ApiQuery<AuditQuery>) -> Result<Json<AuditPage>> {
    Ok(Json(s.service.list_audit(&ctx, &q).await?))
}

/// The matching entries as CSV (before and after as JSON text), newest first.
#[utoipa::path(get, path = "/api/v1/audit/export.csv", tag = "audit", params(AuditQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = ErrorBody)))]
pub async fn csv(State(s): State<AppState>, ctx: Ctx, ApiQuery(q): ApiQuery<AuditQuery>) -> Result<Response> {
    let entries = s.service.export_audit(&ctx, &q).await?;
    Ok(download("text/csv; charset=utf-8", "runway-audit.csv", to_csv(&entries)))
}

/// The matching entries as JSON Lines, one entry per line, newest first.
#[utoipa::path(get, path = "/api/v1/audit/export.jsonl", tag = "audit", params(AuditQuery),
    responses((status = 200, content_type = "application/jsonl", body = String), (status = 422, body = ErrorBody)))]
pub async fn jsonl(State(s): State<AppState>, ctx: Ctx, ApiQuery(q): ApiQuery<AuditQuery>) -> Result<Response> {
    let entries = s.service.export_audit(&ctx, &q).await?;
    Ok(download("application/jsonl; charset=utf-8", "runway-audit.jsonl", to_json_lines(&entries)))
}

pub(crate) fn download(content_type: &'static str, name: &str, body: String) -> Response {
    let disposition = format!("attachment; filename=\"{name}\"");
    ([(CONTENT_TYPE, content_type.to_string()), (CONTENT_DISPOSITION, disposition)], body).into_response()
}
