//! Go/no-go gates: the migration lead asks for a decision on a stage; the people holding
//! the roles the stage names vote; enough "go" votes start the stage, one "no-go" stops it.
//! Rollback requests live here too: on-call or the lead asks, a rollback authority decides.
use crate::error::ApiError;
use crate::role::PlanRole;
use crate::validate::check_len;
use serde::{Deserialize, Serialize};

pub const RATIONALE_MAX: usize = 2_000;

/// Who decides a stage's gate when it names no one: its migration lead and rollback authority.
pub const DEFAULT_GATE_ROLES: [PlanRole; 2] = [PlanRole::MigrationLead, PlanRole::RollbackAuthority];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GateStatus {
    Pending,
    Go,
    NoGo,
    /// Closed without a decision (the stage was aborted or the plan rolled back).
    Withdrawn,
}

impl GateStatus {
    pub const ALL: [GateStatus; 4] = [GateStatus::Pending, GateStatus::Go, GateStatus::NoGo, GateStatus::Withdrawn];

    pub fn as_str(self) -> &'static str {
        match self {
            GateStatus::Pending => "pending",
            GateStatus::Go => "go",
            GateStatus::NoGo => "no_go",
            GateStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            GateStatus::Pending => "Awaiting decision",
            GateStatus::Go => "Go",
            GateStatus::NoGo => "No-go",
            GateStatus::Withdrawn => "Withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        GateStatus::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Vote {
    Go,
    NoGo,
}

impl Vote {
    pub fn as_str(self) -> &'static str {
        match self {
            Vote::Go => "go",
            Vote::NoGo => "no_go",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Vote::Go => "Go",
            Vote::NoGo => "No-go",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Vote::Go, Vote::NoGo].into_iter().find(|v| v.as_str() == s)
    }
}

/// One request for a go/no-go decision on one stage, with its votes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Gate {
    pub id: i64,
    pub stage_id: i64,
    pub requested_by: String,
    pub rationale: String,
    /// The roles whose holders may vote, copied from the stage when it was requested.
    pub roles: Vec<PlanRole>,
    /// How many "go" votes decide "go".
    pub approvals_required: i64,
    pub status: GateStatus,
    pub requested_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// The deciding vote's rationale, or why the request was withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_rationale: Option<String>,
    /// The stage's revision when the gate was asked for; a vote on a changed stage is refused.
    #[serde(default)]
    pub stage_revision: i64,
    pub votes: Vec<GateVote>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GateVote {
    pub username: String,
    pub vote: Vote,
    /// The role the voter held that let them vote.
    pub role: PlanRole,
    pub rationale: String,
    pub voted_at: String,
}

/// `POST .../stages/{stage_id}/gate`: the migration lead asks for a go/no-go decision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GateRequest {
    pub version: i64,
    #[serde(default)]
    pub rationale: String,
}

impl GateRequest {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_len("rationale", "The rationale", &self.rationale, RATIONALE_MAX)
    }
}

/// `POST .../gates/{gate_id}/votes`: go or no-go, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewVote {
    pub vote: Vote,
    #[serde(default)]
    pub rationale: String,
}

impl NewVote {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_len("rationale", "The rationale", &self.rationale, RATIONALE_MAX)?;
        if self.vote == Vote::NoGo && self.rationale.trim().is_empty() {
            return Err(ApiError::validation("rationale", "Say why this is a no-go."));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RollbackStatus {
    Pending,
    /// Approved; the stage's flags were put back in the same transaction.
    Approved,
    Rejected,
    Withdrawn,
}

impl RollbackStatus {
    pub const ALL: [RollbackStatus; 4] =
        [RollbackStatus::Pending, RollbackStatus::Approved, RollbackStatus::Rejected, RollbackStatus::Withdrawn];

    pub fn as_str(self) -> &'static str {
        match self {
            RollbackStatus::Pending => "pending",
            RollbackStatus::Approved => "approved",
            RollbackStatus::Rejected => "rejected",
            RollbackStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RollbackStatus::Pending => "Awaiting approval",
            RollbackStatus::Approved => "Approved",
            RollbackStatus::Rejected => "Rejected",
            RollbackStatus::Withdrawn => "Withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        RollbackStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A request to roll a stage back, its decision, and how long reverting took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Rollback {
    pub id: i64,
    pub stage_id: i64,
    pub requested_by: String,
    pub reason: String,
    pub status: RollbackStatus,
    pub requested_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_comment: Option<String>,
    /// Approved by a guard rather than a person.
    #[serde(default)]
    pub automatic: bool,
    /// When the reverted flags were being served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_at: Option<String>,
    /// Milliseconds from approval to reverted flags being served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// The plan's rollback target when this rollback ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_seconds: Option<i64>,
    /// When the run of the rollback runbook finished: the rollback is over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook_finished_at: Option<String>,
    /// Milliseconds from approval to the rollback runbook's last step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_ms: Option<i64>,
}

impl Rollback {
    /// Whether reverting beat the plan's target.
    pub fn within_target(&self) -> Option<bool> {
        Some(self.duration_ms? <= self.target_seconds? * 1000)
    }
}

/// `POST .../stages/{stage_id}/rollback`: on-call or the lead asks to roll a stage back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    pub reason: String,
}

impl RollbackRequest {
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.reason.trim().is_empty() {
            return Err(ApiError::validation("reason", "Say why the stage should be rolled back."));
        }
        check_len("reason", "The reason", &self.reason, RATIONALE_MAX)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

/// `POST .../rollbacks/{rollback_id}/decision`: a rollback authority approves or rejects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RollbackDecision {
    pub decision: Verdict,
    #[serde(default)]
    pub comment: String,
}

impl RollbackDecision {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_len("comment", "The comment", &self.comment, RATIONALE_MAX)?;
        if self.decision == Verdict::Reject && self.comment.trim().is_empty() {
            return Err(ApiError::validation("comment", "Say why the rollback is rejected."));
        }
        Ok(())
    }
}

/// Parses the stored `migration_lead,rollback_authority` form.
pub fn parse_roles(s: &str) -> Vec<PlanRole> {
    s.split(',').filter_map(|r| PlanRole::parse(r.trim())).collect()
}

pub fn join_roles(roles: &[PlanRole]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

/// A stage's gate settings are sound: some roles, no stakeholders (they sign off plans,
/// not stages), and at least one approval.
pub fn check_gate_settings(roles: Option<&Vec<PlanRole>>, approvals: Option<i64>) -> Result<(), ApiError> {
    if let Some(roles) = roles {
        if roles.is_empty() {
            return Err(ApiError::validation("gate_roles", "Name at least one role that decides this stage's gate."));
        }
        if roles.contains(&PlanRole::Stakeholder) {
            return Err(ApiError::validation(
                "gate_roles",
                "Stakeholders sign off the plan; a gate is decided by its lead, on-call or rollback authority.",
            ));
        }
    }
    if let Some(n) = approvals {
        if !(1..=20).contains(&n) {
            return Err(ApiError::validation("gate_approvals", "A gate needs from 1 to 20 approvals."));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_no_go_vote_needs_a_reason_and_a_go_vote_does_not() {
        assert!(NewVote { vote: Vote::NoGo, rationale: " ".into() }.validate().is_err());
        assert!(NewVote { vote: Vote::Go, rationale: String::new() }.validate().is_ok());
    }

    #[test]
    fn gate_roles_round_trip_through_their_stored_form() {
        let roles = vec![PlanRole::MigrationLead, PlanRole::OnCall];
        assert_eq!(parse_roles(&join_roles(&roles)), roles);
    }

    #[test]
    fn stakeholders_and_zero_approvals_are_refused_as_gate_settings() {
        assert!(check_gate_settings(Some(&vec![PlanRole::Stakeholder]), None).is_err());
        assert!(check_gate_settings(Some(&vec![]), None).is_err());
        assert!(check_gate_settings(None, Some(0)).is_err());
        assert!(check_gate_settings(Some(&DEFAULT_GATE_ROLES.to_vec()), Some(2)).is_ok());
    }

    #[test]
    fn a_rollback_is_within_target_when_it_took_no_longer_than_the_target() {
        let mut r = Rollback {
            id: 1,
            stage_id: 1,
            requested_by: "oncall".into(),
            reason: "errors".into(),
            status: RollbackStatus::Approved,
            requested_at: String::new(),
            decided_by: None,
            decided_at: None,
            decision_comment: None,
            automatic: false,
            reverted_at: None,
            duration_ms: Some(30_000),
            target_seconds: Some(30),
            runbook_finished_at: None,
            total_ms: None,
        };
        assert_eq!(r.within_target(), Some(true));
        r.duration_ms = Some(30_001);
        assert_eq!(r.within_target(), Some(false));
    }
}
