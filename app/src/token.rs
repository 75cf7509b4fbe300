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

use leptos::prelude::*;

/// Every token, for the admins' token page.
#[server(prefix = "/_fn")]
pub async fn list_tokens() -> Result<Vec<Token>, ApiError> {
    let backend = crate::backend::backend()?;
    crate::backend::answer(backend.list_tokens(&crate::backend::request()).await)
}
