//! Checklists per stage: the go/no-go criteria and pre-flight checks of a plan, each
//! marked required or optional and recorded Pass, Fail or Not tested, with who and when.
use crate::error::ApiError;
use crate::validate::{check_len, check_required};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    NotTested,
    Pass,
    Fail,
}

impl CheckStatus {
    pub const ALL: [CheckStatus; 3] = [CheckStatus::NotTested, CheckStatus::Pass, CheckStatus::Fail];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::NotTested => "not_tested",
            CheckStatus::Pass => "pass",
            CheckStatus::Fail => "fail",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CheckStatus::NotTested => "Not tested",
            CheckStatus::Pass => "Pass",
            CheckStatus::Fail => "Fail",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        CheckStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChecklistItem {
    pub id: i64,
    pub text: String,
    pub required: bool,
    pub status: CheckStatus,
    pub comment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_url: Option<String>,
    /// Who recorded the status, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
}

pub const TEXT_MAX: usize = 1_000;

/// A checklist item created along with its stage; `done` (a `- [x]` in Markdown) is Pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChecklistDraft {
    pub text: String,
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default)]
    pub done: bool,
}

/// `POST .../checklist`: a new item (the plan's leads and admins).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewChecklistItem {
    pub version: i64,
    pub text: String,
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

impl NewChecklistItem {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_required("text", "The check", &self.text)?;
        check_len("text", "The check", &self.text, TEXT_MAX)
    }
}

/// `PUT .../checklist/{item_id}/result`: what the check showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    pub status: CheckStatus,
    #[serde(default)]
    pub comment: String,
    /// A link to a dashboard, query result or log that shows it.
    #[serde(default)]
    pub evidence_url: Option<String>,
}

impl CheckResult {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_len("comment", "Comment", &self.comment, 2_000)?;
        if self.status == CheckStatus::Fail && self.comment.trim().is_empty() {
            return Err(ApiError::validation("comment", "Say what failed."));
        }
        if let Some(url) = self.evidence_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            check_len("evidence_url", "Evidence link", url, 2_000)?;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ApiError::validation("evidence_url", "The evidence link is an http:// or https:// address."));
            }
        }
        Ok(())
    }
}

/// `POST .../checklist/copy`: the items of another stage (of any plan), results cleared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChecklistCopy {
    pub version: i64,
    pub from_stage_id: i64,
}
