//! API tokens: how services and scripts call Runway, with only the scopes they need.
use crate::error::ApiError;
use crate::validate::{check_len, check_required, check_slug};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Scope {
    #[serde(rename = "plans:read")]
    PlansRead,
    #[serde(rename = "plans:write")]
    PlansWrite,
    #[serde(rename = "flags:read")]
    FlagsRead,
    #[serde(rename = "flags:write")]
    FlagsWrite,
    #[serde(rename = "metrics:write")]
    MetricsWrite,
    #[serde(rename = "workspaces:read")]
    WorkspacesRead,
    #[serde(rename = "workspaces:write")]
    WorkspacesWrite,
}

impl Scope {
    pub const ALL: [Scope; 7] = [
        Scope::PlansRead,
        Scope::PlansWrite,
        Scope::FlagsRead,
        Scope::FlagsWrite,
        Scope::MetricsWrite,
        Scope::WorkspacesRead,
        Scope::WorkspacesWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::PlansRead => "plans:read",
            Scope::PlansWrite => "plans:write",
            Scope::FlagsRead => "flags:read",
            Scope::FlagsWrite => "flags:write",
            Scope::MetricsWrite => "metrics:write",
            Scope::WorkspacesRead => "workspaces:read",
            Scope::WorkspacesWrite => "workspaces:write",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s.trim())
    }

    /// A `:write` scope includes reading the same things.
    pub fn covers(self, wanted: Scope) -> bool {
        self == wanted
            || matches!(
                (self, wanted),
                (Scope::PlansWrite, Scope::PlansRead)
                    | (Scope::FlagsWrite, Scope::FlagsRead)
                    | (Scope::WorkspacesWrite, Scope::WorkspacesRead)
            )
    }
}

/// A token as listed: never the secret itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Token {
    pub id: i64,
    pub name: String,
    /// The first characters of the token, to tell tokens apart.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The metrics a `metrics:write` token may send (see `metric_allowed`); empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<String>,
}

/// `POST /api/v1/tokens` (admins).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    pub scopes: Vec<Scope>,
    /// The one environment a `flags:read` token evaluates flags in.
    #[serde(default)]
    pub environment: Option<String>,
    /// Metric names or prefixes a `metrics:write` token may send; empty: any metric.
    /// An entry ending in `.`, `_`, `:`, `/` or `-` is a prefix (`billing.` allows
    /// `billing.errors`); any other entry is one exact name.
    #[serde(default)]
    pub metrics: Vec<String>,
}

/// At most this many metric entries on one token.
pub const TOKEN_METRICS_MAX: usize = 100;

/// Whether a token limited to `allowed` may send `metric` (an empty list allows any).
pub fn metric_allowed(allowed: &[String], metric: &str) -> bool {
    allowed.is_empty()
        || allowed.iter().any(|a| a == metric || (a.ends_with(['.', '_', ':', '/', '-']) && metric.starts_with(a.as_str())))
}

impl NewToken {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_required("name", "Name", &self.name)?;
        check_len("name", "Name", &self.name, 100)?;
        if self.scopes.is_empty() {
            return Err(ApiError::validation("scopes", "Give the token at least one scope."));
        }
        if let Some(env) = &self.environment {
            check_required("environment", "Environment", env)?;
            check_len("environment", "Environment", env, 64)?;
            check_slug("environment", "Environment", env)?;
        }
        if !self.metrics.is_empty() && !self.scopes.contains(&Scope::MetricsWrite) {
            return Err(ApiError::validation("metrics", "Only a metrics:write token is limited to metrics."));
        }
        if self.metrics.len() > TOKEN_METRICS_MAX {
            return Err(ApiError::validation("metrics", format!("At most {TOKEN_METRICS_MAX} metric names or prefixes.")));
        }
        for (i, m) in self.metrics.iter().enumerate() {
            crate::guard::check_metric_name(&format!("metrics[{i}]"), m.trim())?;
        }
        Ok(())
    }
}

/// The answer to creating a token: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    pub token: Token,
    /// Send as `Authorization: Bearer <secret>`. It cannot be shown again.
    pub secret: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_entry_is_an_exact_name_or_a_prefix_when_it_ends_in_a_separator() {
        let list = vec!["billing.".to_string(), "checkout_latency".to_string(), "git_".to_string()];
        assert!(metric_allowed(&list, "billing.errors"));
        assert!(metric_allowed(&list, "checkout_latency"));
        assert!(metric_allowed(&list, "git_errors"));
        assert!(!metric_allowed(&list, "billing"), "the prefix itself without a name after it is another metric");
        assert!(!metric_allowed(&list, "checkout_latency_p95"), "an exact entry is not a prefix");
        assert!(!metric_allowed(&list, "git.errors"));
        assert!(!metric_allowed(&list, "billingx.errors"));
        assert!(metric_allowed(&[], "anything"));
    }

    #[test]
    fn metric_entries_need_the_metrics_write_scope_and_valid_names() {
        let new = |scopes: Vec<Scope>, metrics: &[&str]| NewToken {
            name: "billing".into(),
            scopes,
            environment: None,
            metrics: metrics.iter().map(|m| m.to_string()).collect(),
        };
        assert!(new(vec![Scope::MetricsWrite], &["billing."]).validate().is_ok());
        let field = |t: NewToken| t.validate().unwrap_err().field.unwrap();
        assert_eq!(field(new(vec![Scope::PlansRead], &["billing."])), "metrics");
        assert_eq!(field(new(vec![Scope::MetricsWrite], &["billing.", "bad name"])), "metrics[1]");
        assert_eq!(field(new(vec![Scope::MetricsWrite], &[""])), "metrics[0]");
    }
}

use leptos::prelude::*;

/// Every token, for the admins' token page.
#[server(prefix = "/_fn")]
pub async fn list_tokens() -> Result<Vec<Token>, ApiError> {
    let backend = crate::backend::backend()?;
    crate::backend::answer(backend.list_tokens(&crate::backend::request()).await)
}
