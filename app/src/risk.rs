//! A risk of a plan: what could go wrong, how likely, how bad, and what we do about it.
use crate::error::ApiError;
use crate::validate::{check_len, check_required};
use serde::{Deserialize, Serialize};

pub const TEXT_MAX: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Low, Level::Medium, Level::High];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Level::Low => "Low",
            Level::Medium => "Medium",
            Level::High => "High",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Risk {
    pub id: i64,
    pub plan_id: i64,
    pub position: i64,
    pub risk: String,
    pub likelihood: Level,
    pub impact: Level,
    pub mitigation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewRisk {
    /// The plan version this change was based on; required when adding to an existing plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    pub risk: String,
    pub likelihood: Level,
    pub impact: Level,
    #[serde(default)]
    pub mitigation: String,
}

impl NewRisk {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_risk_fields(Some(&self.risk), Some(&self.mitigation))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RiskPatch {
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub likelihood: Option<Level>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<Level>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigation: Option<String>,
}

impl RiskPatch {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_risk_fields(self.risk.as_ref(), self.mitigation.as_ref())
    }
}

fn check_risk_fields(risk: Option<&String>, mitigation: Option<&String>) -> Result<(), ApiError> {
    if let Some(r) = risk {
        check_required("risk", "Risk", r)?;
        check_len("risk", "Risk", r, TEXT_MAX)?;
    }
    if let Some(m) = mitigation {
        check_len("mitigation", "Mitigation", m, TEXT_MAX)?;
    }
    Ok(())
}
