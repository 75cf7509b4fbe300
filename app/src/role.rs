//! Plan roles: who leads a plan, who is on call, who may approve a rollback, who signs off.
use crate::person::Person;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlanRole {
    MigrationLead,
    OnCall,
    RollbackAuthority,
    Stakeholder,
}

impl PlanRole {
    pub const ALL: [PlanRole; 4] =
        [PlanRole::MigrationLead, PlanRole::OnCall, PlanRole::RollbackAuthority, PlanRole::Stakeholder];

    pub fn as_str(self) -> &'static str {
        match self {
            PlanRole::MigrationLead => "migration_lead",
            PlanRole::OnCall => "on_call",
            PlanRole::RollbackAuthority => "rollback_authority",
            PlanRole::Stakeholder => "stakeholder",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PlanRole::MigrationLead => "Migration lead",
            PlanRole::OnCall => "On-call",
            PlanRole::RollbackAuthority => "Rollback authority",
            PlanRole::Stakeholder => "Stakeholder",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        PlanRole::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One person holding one role on one plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoleAssignment {
    pub id: i64,
    pub role: PlanRole,
    pub person: Person,
    pub assigned_at: String,
}

/// `POST /api/v1/plans/{id}/roles` (the plan's migration leads and admins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewRoleAssignment {
    /// The person's username.
    pub username: String,
    pub role: PlanRole,
}
