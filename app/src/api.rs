//! Browser calls to the JSON API (`/api/v1`). Writes from the pages go through here,
//! so the browser and scripts use the same, validated, versioned endpoints.
use crate::error::ApiError;
#[cfg(feature = "hydrate")]
use crate::error::ErrorBody;
use crate::person::{NewPerson, Person};
use crate::plan::{NewPlan, Plan, PlanPatch};
use crate::review::{Comment, NewComment, NewSignOff, ReviewRequest};
use crate::role::NewRoleAssignment;
use crate::token::{CreatedToken, NewToken, Token};
use crate::risk::{NewRisk, RiskPatch};
use crate::stage::{NewStage, StageOrder, StagePatch};
use serde::{de::DeserializeOwned, Serialize};

#[derive(Clone, Copy)]
enum Verb {
    Post,
    Patch,
    Put,
    Delete,
}

#[cfg(feature = "hydrate")]
async fn call<B: Serialize, R: DeserializeOwned>(verb: Verb, url: &str, body: Option<&B>) -> Result<R, ApiError> {
    use gloo_net::http::{Method, RequestBuilder};
    let method = match verb {
        Verb::Post => Method::POST,
        Verb::Patch => Method::PATCH,
        Verb::Put => Method::PUT,
        Verb::Delete => Method::DELETE,
    };
    // Our own id for the request: the change's event carries it back on the live stream.
    let request_id = crate::live::new_request_id();
    let mut builder = RequestBuilder::new(url).method(method).header("accept", "application/json").header("x-request-id", &request_id);
    // The session cookie alone is not enough for a change: the page proves it is ours.
    if let Some(token) = csrf_token() {
        builder = builder.header("x-csrf-token", &token);
    }
    let request = match body {
        Some(b) => builder.json(b),
        None => builder.build(),
    }
    .map_err(|e| ApiError::new(0, "client", e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::new(0, "network", format!("Could not reach Runway: {e}")))?;
    answer(response).await
}

/// Reads an answer from its bytes, as the server functions do (see [`crate::pages::Json`]).
#[cfg(feature = "hydrate")]
async fn answer<R: DeserializeOwned>(response: gloo_net::http::Response) -> Result<R, ApiError> {
    let status = response.status();
    let body = response.binary().await.map_err(|e| ApiError::new(0, "network", format!("Could not read Runway's answer: {e}")))?;
    if (200..300).contains(&status) {
        return serde_json::from_slice(&body).map_err(|e| ApiError::new(status, "client", format!("Unexpected answer: {e}")));
    }
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(body) => Err(ApiError { status, ..body.error }),
        Err(_) => Err(ApiError::new(status, "http", format!("The server answered {status}."))),
    }
}

/// The CSRF token the server rendered into the page header (`data-csrf`).
#[cfg(feature = "hydrate")]
fn csrf_token() -> Option<String> {
    web_sys::window()?
        .document()?
        .query_selector("[data-csrf]")
        .ok()??
        .get_attribute("data-csrf")
        .filter(|t| !t.is_empty())
}

#[cfg(not(feature = "hydrate"))]
async fn call<B: Serialize, R: DeserializeOwned>(_verb: Verb, _url: &str, _body: Option<&B>) -> Result<R, ApiError> {
    // Event handlers never run during server rendering.
    Err(ApiError::new(0, "client", "This action needs the browser."))
}

pub async fn create_plan(new: &NewPlan) -> Result<Plan, ApiError> {
    call(Verb::Post, "/api/v1/plans", Some(new)).await
}

pub async fn update_plan(id: i64, patch: &PlanPatch) -> Result<Plan, ApiError> {
    call(Verb::Patch, &format!("/api/v1/plans/{id}"), Some(patch)).await
}

pub async fn archive_plan(id: i64, version: i64) -> Result<Plan, ApiError> {
    call::<(), _>(Verb::Delete, &format!("/api/v1/plans/{id}?version={version}"), None).await
}

pub async fn add_stage(plan_id: i64, new: &NewStage) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/stages"), Some(new)).await
}

pub async fn update_stage(plan_id: i64, stage_id: i64, patch: &StagePatch) -> Result<Plan, ApiError> {
    call(Verb::Patch, &format!("/api/v1/plans/{plan_id}/stages/{stage_id}"), Some(patch)).await
}

pub async fn delete_stage(plan_id: i64, stage_id: i64, version: i64) -> Result<Plan, ApiError> {
    let url = format!("/api/v1/plans/{plan_id}/stages/{stage_id}?version={version}");
    call::<(), _>(Verb::Delete, &url, None).await
}

pub async fn reorder_stages(plan_id: i64, order: &StageOrder) -> Result<Plan, ApiError> {
    call(Verb::Put, &format!("/api/v1/plans/{plan_id}/stages/order"), Some(order)).await
}

pub async fn add_risk(plan_id: i64, new: &NewRisk) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/risks"), Some(new)).await
}

pub async fn update_risk(plan_id: i64, risk_id: i64, patch: &RiskPatch) -> Result<Plan, ApiError> {
    call(Verb::Patch, &format!("/api/v1/plans/{plan_id}/risks/{risk_id}"), Some(patch)).await
}

pub async fn delete_risk(plan_id: i64, risk_id: i64, version: i64) -> Result<Plan, ApiError> {
    let url = format!("/api/v1/plans/{plan_id}/risks/{risk_id}?version={version}");
    call::<(), _>(Verb::Delete, &url, None).await
}

pub async fn assign_role(plan_id: i64, new: &NewRoleAssignment) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/roles"), Some(new)).await
}

pub async fn remove_role(plan_id: i64, role_id: i64) -> Result<Plan, ApiError> {
    call::<(), _>(Verb::Delete, &format!("/api/v1/plans/{plan_id}/roles/{role_id}"), None).await
}

pub async fn request_review(plan_id: i64, version: i64) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/review"), Some(&ReviewRequest { version })).await
}

pub async fn sign_off(plan_id: i64, new: &NewSignOff) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/signoffs"), Some(new)).await
}

pub async fn add_comment(plan_id: i64, new: &NewComment) -> Result<Comment, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/comments"), Some(new)).await
}

pub async fn add_person(new: &NewPerson) -> Result<Person, ApiError> {
    call(Verb::Post, "/api/v1/users", Some(new)).await
}

pub async fn create_token(new: &NewToken) -> Result<CreatedToken, ApiError> {
    call(Verb::Post, "/api/v1/tokens", Some(new)).await
}

pub async fn revoke_token(id: i64) -> Result<Token, ApiError> {
    call::<(), _>(Verb::Delete, &format!("/api/v1/tokens/{id}"), None).await
}

pub async fn create_webhook(new: &crate::webhook::NewWebhook) -> Result<crate::webhook::CreatedWebhook, ApiError> {
    call(Verb::Post, "/api/v1/webhooks", Some(new)).await
}

pub async fn delete_webhook(id: i64) -> Result<crate::webhook::Webhook, ApiError> {
    call::<(), _>(Verb::Delete, &format!("/api/v1/webhooks/{id}"), None).await
}

pub async fn create_flag(new: &crate::flag::NewFlag) -> Result<crate::flag::Flag, ApiError> {
    call(Verb::Post, "/api/v1/flags", Some(new)).await
}

pub async fn set_flag_state(key: &str, env: &str, input: &crate::flag::FlagStateInput) -> Result<crate::flag::Flag, ApiError> {
    let url = format!("/api/v1/flags/{}/environments/{}", crate::pages::encode(key), crate::pages::encode(env));
    call(Verb::Put, &url, Some(input)).await
}

pub async fn kill_flag(key: &str) -> Result<crate::flag::Flag, ApiError> {
    call::<(), _>(Verb::Post, &format!("/api/v1/flags/{}/kill", crate::pages::encode(key)), None).await
}

pub async fn set_stage_flags(plan_id: i64, stage_id: i64, changes: &crate::stage::StageFlagChanges) -> Result<Plan, ApiError> {
    call(Verb::Put, &format!("/api/v1/plans/{plan_id}/stages/{stage_id}/flags"), Some(changes)).await
}

pub async fn request_gate(plan_id: i64, stage_id: i64, req: &crate::gate::GateRequest) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/stages/{stage_id}/gate"), Some(req)).await
}

pub async fn vote(plan_id: i64, gate_id: i64, vote: &crate::gate::NewVote) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/gates/{gate_id}/votes"), Some(vote)).await
}

pub async fn abort_stage(plan_id: i64, stage_id: i64, action: &crate::stage::StageAction) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/stages/{stage_id}/abort"), Some(action)).await
}

pub async fn request_rollback(plan_id: i64, stage_id: i64, req: &crate::gate::RollbackRequest) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/stages/{stage_id}/rollback"), Some(req)).await
}

pub async fn decide_rollback(plan_id: i64, rollback_id: i64, d: &crate::gate::RollbackDecision) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/rollbacks/{rollback_id}/decision"), Some(d)).await
}

pub async fn add_environment(new: &crate::flag::NewEnvironment) -> Result<crate::flag::Environment, ApiError> {
    call(Verb::Post, "/api/v1/environments", Some(new)).await
}

pub async fn update_flag(key: &str, patch: &crate::flag::FlagPatch) -> Result<crate::flag::Flag, ApiError> {
    call(Verb::Patch, &format!("/api/v1/flags/{}", crate::pages::encode(key)), Some(patch)).await
}

pub async fn archive_flag(key: &str, version: i64) -> Result<crate::flag::Flag, ApiError> {
    call::<(), _>(Verb::Delete, &format!("/api/v1/flags/{}?version={version}", crate::pages::encode(key)), None).await
}

pub async fn add_check(plan_id: i64, stage_id: i64, new: &crate::checklist::NewChecklistItem) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/stages/{stage_id}/checklist"), Some(new)).await
}

pub async fn copy_checklist(plan_id: i64, stage_id: i64, copy: &crate::checklist::ChecklistCopy) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/stages/{stage_id}/checklist/copy"), Some(copy)).await
}

pub async fn remove_check(plan_id: i64, stage_id: i64, item_id: i64, version: i64) -> Result<Plan, ApiError> {
    let url = format!("/api/v1/plans/{plan_id}/stages/{stage_id}/checklist/{item_id}?version={version}");
    call::<(), _>(Verb::Delete, &url, None).await
}

pub async fn record_check(plan_id: i64, stage_id: i64, item_id: i64, result: &crate::checklist::CheckResult) -> Result<Plan, ApiError> {
    let url = format!("/api/v1/plans/{plan_id}/stages/{stage_id}/checklist/{item_id}/result");
    call(Verb::Put, &url, Some(result)).await
}

pub async fn pass_stage(plan_id: i64, stage_id: i64, action: &crate::stage::StageAction) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/stages/{stage_id}/pass"), Some(action)).await
}

pub async fn create_workspace(new: &crate::workspace::NewWorkspace) -> Result<crate::workspace::Workspace, ApiError> {
    call(Verb::Post, "/api/v1/workspaces", Some(new)).await
}

fn workspace_url(id: &str, rest: &str) -> String {
    format!("/api/v1/workspaces/{}{rest}", crate::pages::encode(id))
}

pub async fn rename_workspace(id: &str, patch: &crate::workspace::WorkspacePatch) -> Result<crate::workspace::Workspace, ApiError> {
    call(Verb::Patch, &workspace_url(id, ""), Some(patch)).await
}

/// Switches the workspace's provider, storing the key given with it.
pub async fn choose_provider(id: &str, choice: &crate::workspace::ProviderChoice) -> Result<crate::workspace::Workspace, ApiError> {
    call(Verb::Put, &workspace_url(id, "/provider"), Some(choice)).await
}

pub async fn set_api_key(id: &str, key: &crate::workspace::ApiKeyInput) -> Result<crate::workspace::Workspace, ApiError> {
    call(Verb::Put, &workspace_url(id, "/api-key"), Some(key)).await
}

pub async fn remove_api_key(id: &str) -> Result<crate::workspace::Workspace, ApiError> {
    call::<(), _>(Verb::Delete, &workspace_url(id, "/api-key"), None).await
}

pub async fn add_member(id: &str, username: &str) -> Result<crate::workspace::Workspace, ApiError> {
    call::<(), _>(Verb::Put, &workspace_url(id, &format!("/members/{}", crate::pages::encode(username))), None).await
}

pub async fn remove_member(id: &str, username: &str) -> Result<crate::workspace::Workspace, ApiError> {
    call::<(), _>(Verb::Delete, &workspace_url(id, &format!("/members/{}", crate::pages::encode(username))), None).await
}

pub async fn add_provider(new: &crate::workspace::NewProvider) -> Result<crate::workspace::Provider, ApiError> {
    call(Verb::Post, "/api/v1/providers", Some(new)).await
}

/// Starts an import of a CSV file's text; the answer's id is polled for progress.
#[cfg(feature = "hydrate")]
pub async fn start_import(csv: String) -> Result<crate::workspace::ImportReport, ApiError> {
    send_body("/api/v1/workspaces/imports", "text/csv", wasm_bindgen::JsValue::from(csv)).await
}

/// POSTs a file's content as it is (not JSON), with the page's CSRF token.
#[cfg(feature = "hydrate")]
async fn send_body<R: DeserializeOwned>(url: &str, content_type: &str, body: wasm_bindgen::JsValue) -> Result<R, ApiError> {
    use gloo_net::http::Request;
    let mut builder = Request::post(url).header("content-type", content_type).header("accept", "application/json");
    if let Some(token) = csrf_token() {
        builder = builder.header("x-csrf-token", &token);
    }
    let response = builder
        .body(body)
        .map_err(|e| ApiError::new(0, "client", e.to_string()))?
        .send()
        .await
        .map_err(|e| ApiError::new(0, "network", format!("Could not reach Runway: {e}")))?;
    answer(response).await
}

#[cfg(not(feature = "hydrate"))]
pub async fn start_import(_csv: String) -> Result<crate::workspace::ImportReport, ApiError> {
    Err(ApiError::new(0, "client", "This action needs the browser."))
}

pub async fn start_run(plan_id: i64, stage_id: i64, new: &crate::runbook::NewRun) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/stages/{stage_id}/runs"), Some(new)).await
}

pub async fn record_step(plan_id: i64, run_id: i64, position: i64, result: &crate::runbook::StepResult) -> Result<Plan, ApiError> {
    call(Verb::Put, &format!("/api/v1/plans/{plan_id}/runs/{run_id}/steps/{position}"), Some(result)).await
}

pub async fn add_run_note(plan_id: i64, run_id: i64, note: &crate::runbook::NewRunNote) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/runs/{run_id}/notes"), Some(note)).await
}

/// Sends a Markdown file as it is (its bytes, so the server can tell what encoding it is in):
/// with `dry_run`, the answer is what would be created.
#[cfg(feature = "hydrate")]
pub async fn import_plan<R: DeserializeOwned>(file: &web_sys::File, dry_run: bool) -> Result<R, ApiError> {
    let url = format!("/api/v1/plans/import?dry_run={dry_run}&name={}", crate::pages::encode(&file.name()));
    send_body(&url, "text/markdown", wasm_bindgen::JsValue::from(file.clone())).await
}


pub async fn add_guard(plan_id: i64, stage_id: i64, new: &crate::guard::NewGuard) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/stages/{stage_id}/guards"), Some(new)).await
}

pub async fn update_guard(plan_id: i64, stage_id: i64, guard_id: i64, new: &crate::guard::NewGuard) -> Result<Plan, ApiError> {
    call(Verb::Put, &format!("/api/v1/plans/{plan_id}/stages/{stage_id}/guards/{guard_id}"), Some(new)).await
}

pub async fn delete_guard(plan_id: i64, stage_id: i64, guard_id: i64, version: i64) -> Result<Plan, ApiError> {
    call::<(), _>(Verb::Delete, &format!("/api/v1/plans/{plan_id}/stages/{stage_id}/guards/{guard_id}?version={version}"), None).await
}

pub async fn resolve_breach(plan_id: i64, breach_id: i64, r: &crate::guard::ResolveBreach) -> Result<Plan, ApiError> {
    call(Verb::Post, &format!("/api/v1/plans/{plan_id}/breaches/{breach_id}/resolve"), Some(r)).await
}
