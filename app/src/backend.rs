//! What server functions need from the server's service layer. The server crate
//! implements this and provides it as context, so `app` never depends on storage.
//! Every call carries the request: the server works out who is asking (session cookie or
//! bearer token; once per request, kept in its extensions) and checks their permission.
use crate::audit::{AuditPage, AuditQuery};
use crate::error::ApiError;
use crate::flag::{Flag, FlagAbilities, FlagView};
use crate::person::{Person, Viewer};
use crate::plan::{Abilities, Plan, PlanPage, PlanQuery};
use crate::review::Comment;
use crate::token::Token;
use http::request::Parts;
use std::sync::Arc;

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn viewer(&self, req: &Parts) -> Result<Option<Viewer>, ApiError>;
    async fn list_people(&self, req: &Parts) -> Result<Vec<Person>, ApiError>;
    async fn list_tokens(&self, req: &Parts) -> Result<Vec<Token>, ApiError>;
    async fn list_plans(&self, req: &Parts, query: PlanQuery) -> Result<PlanPage, ApiError>;
    async fn get_plan(&self, req: &Parts, id: i64) -> Result<Plan, ApiError>;
    /// The comments on a plan this request has already read.
    async fn list_comments(&self, req: &Parts, plan: &Plan) -> Result<Vec<Comment>, ApiError>;
    /// What the caller may do on a plan this request has already read, from its roles.
    async fn abilities(&self, req: &Parts, plan: &Plan) -> Result<Abilities, ApiError>;
    async fn list_audit(&self, req: &Parts, query: AuditQuery) -> Result<AuditPage, ApiError>;
    async fn list_flags(&self, req: &Parts) -> Result<Vec<Flag>, ApiError>;
    async fn flag_abilities(&self, req: &Parts) -> Result<FlagAbilities, ApiError>;
    async fn flag_view(&self, req: &Parts, key: &str) -> Result<FlagView, ApiError>;
    async fn checklist_sources(&self, req: &Parts) -> Result<Vec<(i64, String)>, ApiError>;
    async fn inbox(&self, req: &Parts) -> Result<Vec<crate::inbox::InboxItem>, ApiError>;
    async fn webhooks(&self, req: &Parts) -> Result<crate::webhook::WebhookView, ApiError>;
    async fn list_workspaces(&self, req: &Parts, query: crate::workspace::WorkspaceQuery) -> Result<crate::workspace::WorkspacePage, ApiError>;
    async fn workspace_view(&self, req: &Parts, id: &str) -> Result<crate::workspace::WorkspaceView, ApiError>;
    async fn list_providers(&self, req: &Parts) -> Result<Vec<crate::workspace::Provider>, ApiError>;
    async fn import_report(&self, req: &Parts, id: i64) -> Result<crate::workspace::ImportReport, ApiError>;
    /// Provider adoption, for a plan whose stages flip a provider's availability flag, given
    /// the providers this request has already read.
    async fn adoption(&self, req: &Parts, providers: &[crate::workspace::Provider]) -> Result<crate::workspace::Adoption, ApiError>;
    /// Each guard's metric over time, for the charts on the plan page.
    async fn guard_series(&self, req: &Parts, plan: &Plan) -> Result<Vec<crate::guard::GuardSeries>, ApiError>;
}

pub type SharedBackend = Arc<dyn Backend>;

pub fn backend() -> Result<SharedBackend, ApiError> {
    leptos::prelude::use_context::<SharedBackend>().ok_or_else(ApiError::internal)
}

/// The request being served (a page render or a server function call).
pub fn request() -> Parts {
    leptos::prelude::use_context::<Parts>().unwrap_or_else(|| http::Request::new(()).into_parts().0)
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
