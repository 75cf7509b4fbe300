//! The audit log as readers see it: who did what to which target, before and after.
use serde::{Deserialize, Serialize};

pub const PER_PAGE_MAX: i64 = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    /// RFC 3339, UTC, milliseconds.
    pub at: String,
    /// Who acted: a person, a token, or `runway` itself.
    pub actor: String,
    /// `plan.create`, `stage.reorder`, ...
    pub action: String,
    /// `plan:1`, `plan:1/stage:5`, ...
    pub target: String,
    pub plan_id: Option<i64>,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub before: Option<serde_json::Value>,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    /// Newest first: by id, or by time (then id) when `since` or `until` is given.
    pub items: Vec<AuditEntry>,
    /// How many match in all, counted up to 10,000.
    pub total: i64,
    /// There are more than `total` (10,000).
    #[serde(default)]
    pub total_capped: bool,
    /// The `before` of the next (older) page, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

/// Filters of the audit log; every one is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    pub plan_id: Option<i64>,
    #[serde(default)]
    pub actor: Option<String>,
    /// Exact action, or a prefix ending in `.` such as `stage.`.
    #[serde(default)]
    pub action: Option<String>,
    /// RFC 3339; entries at or after.
    #[serde(default)]
    pub since: Option<String>,
    /// RFC 3339; entries before.
    #[serde(default)]
    pub until: Option<String>,
    /// Entries after this one in the list's order: the previous page's `next`.
    #[serde(default)]
    pub before: Option<i64>,
    /// 1 to 200; 50 when left out.
    #[serde(default)]
    pub limit: Option<i64>,
}

impl AuditQuery {
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(50).clamp(1, PER_PAGE_MAX)
    }
}

/// Choices of the action filter: a value ending in `.` matches every action of that kind.
pub const ACTION_CHOICES: [(&str, &str); 37] = [
    ("plan.", "Any plan change"),
    ("plan.create", "Plan created"),
    ("plan.update", "Plan edited"),
    ("plan.archive", "Plan archived"),
    ("plan.restore", "Plan restored"),
    ("plan.request_review", "Plan sent for review"),
    ("plan.sign_off", "Plan signed off"),
    ("plan.request_changes", "Changes requested"),
    ("stage.", "Any stage change"),
    ("stage.create", "Stage added"),
    ("stage.update", "Stage edited"),
    ("stage.delete", "Stage removed"),
    ("stage.reorder", "Stages reordered"),
    ("gate.", "Any go/no-go request or vote"),
    ("rollback.", "Any rollback request, decision or result"),
    ("stage.pass", "Stage passed"),
    ("stage.abort", "Stage aborted"),
    ("risk.", "Any risk change"),
    ("risk.create", "Risk added"),
    ("risk.update", "Risk edited"),
    ("risk.delete", "Risk removed"),
    ("role.", "Any plan role change"),
    ("role.assign", "Plan role given"),
    ("role.remove", "Plan role taken away"),
    ("comment.create", "Comment posted"),
    ("session.", "Any sign-in or sign-out"),
    ("session.sign_in", "Signed in"),
    ("session.sign_out", "Signed out"),
    ("person.", "Any account change"),
    ("person.create", "Person added"),
    ("person.reset_password", "Password set"),
    ("token.", "Any API token change"),
    ("token.create", "Token created"),
    ("token.revoke", "Token revoked"),
    ("webhook.", "Any webhook change"),
    ("webhook.create", "Webhook added"),
    ("webhook.delete", "Webhook deleted"),
];

use crate::error::ApiError;
use leptos::prelude::*;

/// One page of the audit log, for the audit page. Empty strings mean "no filter".
#[server(prefix = "/_fn")]
pub async fn list_audit(
    plan_id: String,
    actor: String,
    action: String,
    since: String,
    until: String,
    before: Option<i64>,
) -> Result<AuditPage, ApiError> {
    let text = |s: String| Some(s).filter(|s| !s.trim().is_empty());
    let plan_id = match text(plan_id) {
        Some(p) => Some(p.trim().parse::<i64>().map_err(|_| ApiError::validation("plan_id", "Plan must be a plan number."))?),
        None => None,
    };
    let query = AuditQuery {
        plan_id,
        actor: text(actor),
        action: text(action),
        since: text(since),
        until: text(until),
        before,
        limit: None,
    };
    crate::backend::answer(crate::backend::backend()?.list_audit(&crate::backend::request(), query).await)
}
