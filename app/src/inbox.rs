//! The approval inbox: everything waiting for the signed-in person's decision.
use crate::error::ApiError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InboxKind {
    /// A go/no-go gate the person may vote on.
    Gate,
    /// A rollback request the person (a rollback authority) may approve.
    Rollback,
    /// A plan in review the person (a stakeholder) has not signed off.
    SignOff,
}

impl InboxKind {
    pub fn label(self) -> &'static str {
        match self {
            InboxKind::Gate => "Go/no-go",
            InboxKind::Rollback => "Rollback",
            InboxKind::SignOff => "Sign-off",
        }
    }
}

/// One thing waiting for a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InboxItem {
    pub kind: InboxKind,
    /// The gate's, the rollback's or (for a sign-off) the plan's id.
    pub id: i64,
    pub plan_id: i64,
    pub plan_title: String,
    /// The plan version, for a sign-off.
    pub plan_version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_name: Option<String>,
    pub requested_by: String,
    pub requested_at: String,
    /// The request's rationale or reason.
    pub note: String,
}

use leptos::prelude::*;

/// What waits for the signed-in person, oldest first.
#[server(prefix = "/_fn")]
pub async fn list_inbox() -> Result<Vec<InboxItem>, ApiError> {
    let backend = crate::backend::backend()?;
    crate::backend::answer(backend.inbox(&crate::backend::request()).await)
}
