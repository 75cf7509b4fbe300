//! Review: comments on a plan and its stages, and stakeholders' sign-offs.
use crate::error::ApiError;
use crate::person::Person;
use crate::validate::{check_len, check_required};
use serde::{Deserialize, Serialize};

pub const COMMENT_MAX: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approved,
    ChangesRequested,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::ChangesRequested => "changes_requested",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Decision::Approved => "Signed off",
            Decision::ChangesRequested => "Changes requested",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Decision::Approved, Decision::ChangesRequested].into_iter().find(|d| d.as_str() == s)
    }
}

/// A stakeholder's current decision on the plan version they reviewed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SignOff {
    pub id: i64,
    pub person: Person,
    pub decision: Decision,
    pub comment: String,
    pub plan_version: i64,
    pub created_at: String,
}

/// `POST /api/v1/plans/{id}/signoffs` (the plan's stakeholders).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSignOff {
    /// The plan version that was reviewed.
    pub version: i64,
    pub decision: Decision,
    #[serde(default)]
    pub comment: String,
}

impl NewSignOff {
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.decision == Decision::ChangesRequested {
            check_required("comment", "Comment", &self.comment)
                .map_err(|_| ApiError::validation("comment", "Say which changes you are asking for."))?;
        }
        check_len("comment", "Comment", &self.comment, COMMENT_MAX)
    }
}

/// `POST /api/v1/plans/{id}/review`: a draft goes to its stakeholders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Comment {
    pub id: i64,
    pub plan_id: i64,
    /// Set when the comment is about one stage.
    pub stage_id: Option<i64>,
    /// Set when the comment answers another.
    pub parent_id: Option<i64>,
    pub author: Person,
    pub body: String,
    pub created_at: String,
}

/// `POST /api/v1/plans/{id}/comments`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    pub body: String,
    #[serde(default)]
    pub stage_id: Option<i64>,
    #[serde(default)]
    pub parent_id: Option<i64>,
}

impl NewComment {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_required("body", "Comment", &self.body)?;
        check_len("body", "Comment", &self.body, COMMENT_MAX)
    }
}
