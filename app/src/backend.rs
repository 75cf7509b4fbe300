//! What server functions need from the server's service layer. The server crate
//! implements this and provides it as context, so `app` never depends on storage.
use crate::error::ApiError;
use crate::audit::{AuditPage, AuditQuery};
use crate::plan::{Plan, PlanPage, PlanQuery};
use std::sync::Arc;

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn list_plans(&self, query: PlanQuery) -> Result<PlanPage, ApiError>;
    async fn get_plan(&self, id: i64) -> Result<Plan, ApiError>;
    async fn list_audit(&self, query: AuditQuery) -> Result<AuditPage, ApiError>;
}

pub type SharedBackend = Arc<dyn Backend>;

pub fn backend() -> Result<SharedBackend, ApiError> {
    leptos::prelude::use_context::<SharedBackend>().ok_or_else(ApiError::internal)
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
