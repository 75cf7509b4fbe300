//! What server functions need from the server's service layer. The server crate
//! implements this and provides it as context, so `app` never depends on storage.
//! Every call carries the request's headers: the server works out who is asking
//! (session cookie or bearer token) and checks their permission.
use crate::audit::{AuditPage, AuditQuery};
use crate::error::ApiError;
use crate::flag::{Flag, FlagAbilities, FlagView};
use crate::person::{Person, Viewer};
use crate::plan::{Abilities, Plan, PlanPage, PlanQuery};
use crate::review::Comment;
use crate::token::Token;
use http::HeaderMap;
use std::sync::Arc;

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn viewer(&self, headers: &HeaderMap) -> Result<Option<Viewer>, ApiError>;
    async fn list_people(&self, headers: &HeaderMap) -> Result<Vec<Person>, ApiError>;
    async fn list_tokens(&self, headers: &HeaderMap) -> Result<Vec<Token>, ApiError>;
    async fn list_plans(&self, headers: &HeaderMap, query: PlanQuery) -> Result<PlanPage, ApiError>;
    async fn get_plan(&self, headers: &HeaderMap, id: i64) -> Result<Plan, ApiError>;
    async fn list_comments(&self, headers: &HeaderMap, plan_id: i64) -> Result<Vec<Comment>, ApiError>;
    async fn abilities(&self, headers: &HeaderMap, plan_id: i64) -> Result<Abilities, ApiError>;
    async fn list_audit(&self, headers: &HeaderMap, query: AuditQuery) -> Result<AuditPage, ApiError>;
    async fn list_flags(&self, headers: &HeaderMap) -> Result<Vec<Flag>, ApiError>;
    async fn flag_abilities(&self, headers: &HeaderMap) -> Result<FlagAbilities, ApiError>;
    async fn flag_view(&self, headers: &HeaderMap, key: &str) -> Result<FlagView, ApiError>;
    async fn checklist_sources(&self, headers: &HeaderMap) -> Result<Vec<(i64, String)>, ApiError>;
    async fn inbox(&self, headers: &HeaderMap) -> Result<Vec<crate::inbox::InboxItem>, ApiError>;
    async fn webhooks(&self, headers: &HeaderMap) -> Result<crate::webhook::WebhookView, ApiError>;
    async fn list_workspaces(&self, headers: &HeaderMap, query: crate::workspace::WorkspaceQuery) -> Result<crate::workspace::WorkspacePage, ApiError>;
    async fn workspace_view(&self, headers: &HeaderMap, id: &str) -> Result<crate::workspace::WorkspaceView, ApiError>;
    async fn list_providers(&self, headers: &HeaderMap) -> Result<Vec<crate::workspace::Provider>, ApiError>;
    async fn import_report(&self, headers: &HeaderMap, id: i64) -> Result<crate::workspace::ImportReport, ApiError>;
    /// Provider adoption, for a plan whose stages flip a provider's availability flag.
    async fn adoption(&self, headers: &HeaderMap) -> Result<crate::workspace::Adoption, ApiError>;
    /// The flags that make providers available.
    async fn provider_flags(&self, headers: &HeaderMap) -> Result<Vec<String>, ApiError>;
    /// Each guard's metric over time, for the charts on the plan page.
    async fn guard_series(&self, headers: &HeaderMap, plan_id: i64) -> Result<Vec<crate::guard::GuardSeries>, ApiError>;
}

pub type SharedBackend = Arc<dyn Backend>;

pub fn backend() -> Result<SharedBackend, ApiError> {
    leptos::prelude::use_context::<SharedBackend>().ok_or_else(ApiError::internal)
}

/// The headers of the request being served (a page render or a server function call).
pub fn request() -> HeaderMap {
    leptos::prelude::use_context::<http::request::Parts>().map(|p| p.headers).unwrap_or_default()
}

/// Gives a page, or a server function's answer, the status its error deserves:
/// a missing plan is a 404, not a 200 page or a 500.
pub fn set_page_status(e: &ApiError) {
    if let Some(opts) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(code) = http::StatusCode::from_u16(e.status) {
            opts.set_status(code);
        }
    }
}

/// A server function's result, with its error's status on the response (a 401 stays a
/// 401, not leptos' default 500).
pub fn answer<T>(result: Result<T, ApiError>) -> Result<T, ApiError> {
    if let Err(e) = &result {
        set_page_status(e);
    }
    result
}
