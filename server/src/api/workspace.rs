use super::{created, ApiJson, ApiQuery};
use crate::error::Result;
use crate::service::Ctx;
use crate::AppState;
use app::error::{ApiError, ErrorBody};
use app::workspace::{
    Adoption, AgentProvider, ApiKeyInput, HistoryEntry, ImportReport, NewProvider, NewSession, NewWorkspace, Provider,
    ProviderChoice, Workspace, WorkspacePage, WorkspacePatch, WorkspaceQuery,
};
use axum::extract::{FromRequestParts, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The names in the path: `{workspace_id}`, `{username}`, `{import_id}`.
pub struct Names {
    pub workspace: String,
    pub username: String,
    pub import: i64,
}

impl<S: Send + Sync> FromRequestParts<S> for Names {
    type Rejection = crate::error::Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(|_| ApiError::not_found("Resource"))?;
        let mut names = Names { workspace: String::new(), username: String::new(), import: 0 };
        for (name, value) in &params {
            match name {
                "workspace_id" => names.workspace = value.to_string(),
                "username" => names.username = value.to_string(),
                "import_id" => names.import = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| ApiError::not_found("Import"))?,
                _ => {}
            }
        }
        Ok(names)
    }
}

/// A page of workspaces by id (`after` = the previous page's last id), with the number
/// matching the search. People and `workspaces:read` tokens.
#[utoipa::path(get, path = "/api/v1/workspaces", tag = "workspaces", params(WorkspaceQuery),
    responses((status = 200, body = WorkspacePage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, ctx: Ctx, ApiQuery(q): ApiQuery<WorkspaceQuery>) -> Result<Json<WorkspacePage>> {
    Ok(Json(s.service.list_workspaces(&ctx, &q).await?))
}

/// Create a workspace (admins and `workspaces:write` tokens).
#[utoipa::path(post, path = "/api/v1/workspaces", tag = "workspaces", request_body = NewWorkspace,
    responses((status = 201, body = Workspace), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(State(s): State<AppState>, ctx: Ctx, ApiJson(new): ApiJson<NewWorkspace>) -> Result<Response> {
    let ws = s.service.create_workspace(&ctx, new).await?;
    Ok(created(format!("/api/v1/workspaces/{}", ws.id), ws))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}", tag = "workspaces", params(("workspace_id" = String, Path)),
    responses((status = 200, body = Workspace), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(State(s): State<AppState>, ctx: Ctx, n: Names) -> Result<Json<Workspace>> {
    Ok(Json(s.service.get_workspace(&ctx, &n.workspace).await?))
}

/// Rename a workspace (its members, admins, `workspaces:write` tokens).
#[utoipa::path(patch, path = "/api/v1/workspaces/{workspace_id}", tag = "workspaces", params(("workspace_id" = String, Path)),
    request_body = WorkspacePatch,
    responses((status = 200, body = Workspace), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn rename(State(s): State<AppState>, ctx: Ctx, n: Names, ApiJson(patch): ApiJson<WorkspacePatch>) -> Result<Json<Workspace>> {
    Ok(Json(s.service.rename_workspace(&ctx, &n.workspace, patch).await?))
}

/// Choose the workspace's agent provider (its members, admins, `workspaces:write` tokens):
/// 403 `provider_unavailable` where the provider's flag is off for this workspace, 422
/// `key_required` or `key_malformed` for a provider that needs an API key.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/provider", tag = "workspaces", params(("workspace_id" = String, Path)),
    request_body = ProviderChoice,
    responses((status = 200, body = Workspace), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn choose_provider(State(s): State<AppState>, ctx: Ctx, n: Names, ApiJson(choice): ApiJson<ProviderChoice>) -> Result<Json<Workspace>> {
    Ok(Json(s.service.choose_provider(&ctx, &n.workspace, choice).await?))
}

/// Set or replace the workspace's API key. It is sealed at once; answers show only its last four characters.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/api-key", tag = "workspaces", params(("workspace_id" = String, Path)),
    request_body = ApiKeyInput,
    responses((status = 200, body = Workspace), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_key(State(s): State<AppState>, ctx: Ctx, n: Names, ApiJson(key): ApiJson<ApiKeyInput>) -> Result<Json<Workspace>> {
    Ok(Json(s.service.set_api_key(&ctx, &n.workspace, key).await?))
}

#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace_id}/api-key", tag = "workspaces", params(("workspace_id" = String, Path)),
    responses((status = 200, body = Workspace), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_key(State(s): State<AppState>, ctx: Ctx, n: Names) -> Result<Json<Workspace>> {
    Ok(Json(s.service.remove_api_key(&ctx, &n.workspace).await?))
}

/// Make a person a member: they may then switch the provider (admins, `workspaces:write` tokens).
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/members/{username}", tag = "workspaces",
    params(("workspace_id" = String, Path), ("username" = String, Path)),
    responses((status = 200, body = Workspace), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_member(State(s): State<AppState>, ctx: Ctx, n: Names) -> Result<Json<Workspace>> {
    Ok(Json(s.service.add_member(&ctx, &n.workspace, &n.username).await?))
}

#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace_id}/members/{username}", tag = "workspaces",
    params(("workspace_id" = String, Path), ("username" = String, Path)),
    responses((status = 200, body = Workspace), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_member(State(s): State<AppState>, ctx: Ctx, n: Names) -> Result<Json<Workspace>> {
    Ok(Json(s.service.remove_member(&ctx, &n.workspace, &n.username).await?))
}

/// Sessions, switches, key and member changes, oldest first.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/history", tag = "workspaces", params(("workspace_id" = String, Path)),
    responses((status = 200, body = Vec<HistoryEntry>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn history(State(s): State<AppState>, ctx: Ctx, n: Names) -> Result<Json<Vec<HistoryEntry>>> {
    Ok(Json(s.service.workspace_history(&ctx, &n.workspace).await?))
}

/// What the platform asks before an agent session: the provider, whether the last session
/// may be resumed (not when the provider changed since it started), the last switch, and
/// whether a key is configured (`workspaces:read`).
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/agent-provider", tag = "workspaces", params(("workspace_id" = String, Path)),
    responses((status = 200, body = AgentProvider), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn agent_provider(State(s): State<AppState>, ctx: Ctx, n: Names) -> Result<Json<AgentProvider>> {
    Ok(Json(s.service.agent_provider(&ctx, &n.workspace).await?))
}

/// The platform reports that an agent session started (`workspaces:write`); answers as `agent-provider`.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/sessions", tag = "workspaces", params(("workspace_id" = String, Path)),
    request_body = NewSession,
    responses((status = 201, body = AgentProvider), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn record_session(State(s): State<AppState>, ctx: Ctx, n: Names, ApiJson(new): ApiJson<NewSession>) -> Result<Response> {
    let answer = s.service.record_session(&ctx, &n.workspace, new).await?;
    Ok(created(format!("/api/v1/workspaces/{}/agent-provider", answer.workspace_id), answer))
}

/// Import a CSV file (`id,name,agent_provider`, header first) sent as the body (admins and
/// `workspaces:write` tokens). Lines are checked at once: a file that cannot be read is a
/// 422; bad lines are listed with their numbers and skipped. Good lines are written in the
/// background: poll the answer's `id` for progress and the summary.
#[utoipa::path(post, path = "/api/v1/workspaces/imports", tag = "workspaces", request_body(content = String, content_type = "text/csv"),
    responses((status = 202, body = ImportReport), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import(State(s): State<AppState>, ctx: Ctx, body: axum::body::Body) -> Result<Response> {
    // Before reading the body: a caller who may not import is not made to send 64 MB.
    crate::workspace::require_workspace_admin(&ctx)?;
    let bytes = axum::body::to_bytes(body, crate::workspace_csv::MAX_BYTES)
        .await
        .map_err(|_| ApiError::new(413, "too_large", "The file is over 64 MB."))?;
    let report = s.service.start_import(&ctx, &bytes).await?;
    let location = [(axum::http::header::LOCATION, format!("/api/v1/workspaces/imports/{}", report.id))];
    Ok((StatusCode::ACCEPTED, location, Json(report)).into_response())
}

#[utoipa::path(get, path = "/api/v1/workspaces/imports/{import_id}", tag = "workspaces", params(("import_id" = i64, Path)),
    responses((status = 200, body = ImportReport), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn import_report(State(s): State<AppState>, ctx: Ctx, n: Names) -> Result<Json<ImportReport>> {
    Ok(Json(s.service.import_report(&ctx, n.import).await?))
}

/// Every workspace as CSV, in the shape the import takes.
#[utoipa::path(get, path = "/api/v1/workspaces/export.csv", tag = "workspaces",
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = ErrorBody)))]
pub async fn export(State(s): State<AppState>, ctx: Ctx) -> Result<Response> {
    let text = s.service.export_csv(&ctx).await?;
    Ok(super::audit::download("text/csv; charset=utf-8", "workspaces.csv", text))
}

/// How many workspaces use each provider, now and per hour over the last 90 days.
#[utoipa::path(get, path = "/api/v1/workspaces/adoption", tag = "workspaces",
    responses((status = 200, body = Adoption), (status = 403, body = ErrorBody)))]
pub async fn adoption(State(s): State<AppState>, ctx: Ctx) -> Result<Json<Adoption>> {
    Ok(Json(s.service.adoption(&ctx).await?))
}

#[utoipa::path(get, path = "/api/v1/providers", tag = "workspaces",
    responses((status = 200, body = Vec<Provider>), (status = 403, body = ErrorBody)))]
pub async fn providers(State(s): State<AppState>, ctx: Ctx) -> Result<Json<Vec<Provider>>> {
    Ok(Json(s.service.list_providers(&ctx).await?))
}

/// Add an agent provider to the catalog (admins), with the flag that makes it available.
#[utoipa::path(post, path = "/api/v1/providers", tag = "workspaces", request_body = NewProvider,
    responses((status = 201, body = Provider), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_provider(State(s): State<AppState>, ctx: Ctx, ApiJson(new): ApiJson<NewProvider>) -> Result<Response> {
    let p = s.service.add_provider(&ctx, new).await?;
    Ok(created(format!("/api/v1/providers/{}", p.id), p))
}
