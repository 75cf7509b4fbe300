//! A stage: one independently deployable and reversible step of a plan.
use crate::error::ApiError;
use crate::plan::MARKDOWN_MAX;
use crate::validate::{check_len, check_minutes, check_required, check_rfc3339};
use serde::{Deserialize, Deserializer, Serialize};

pub const NAME_MAX: usize = 200;
pub const GOAL_MAX: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    Pending,
    AwaitingDecision,
    Active,
    Passed,
    RolledBack,
    Aborted,
}

impl StageStatus {
    pub const ALL: [StageStatus; 6] = [
        StageStatus::Pending,
        StageStatus::AwaitingDecision,
        StageStatus::Active,
        StageStatus::Passed,
        StageStatus::RolledBack,
        StageStatus::Aborted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Pending => "pending",
            StageStatus::AwaitingDecision => "awaiting_decision",
            StageStatus::Active => "active",
            StageStatus::Passed => "passed",
            StageStatus::RolledBack => "rolled_back",
            StageStatus::Aborted => "aborted",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StageStatus::Pending => "Pending",
            StageStatus::AwaitingDecision => "Awaiting decision",
            StageStatus::Active => "Active",
            StageStatus::Passed => "Passed",
            StageStatus::RolledBack => "Rolled back",
            StageStatus::Aborted => "Aborted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        StageStatus::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Stage {
    pub id: i64,
    pub plan_id: i64,
    /// 0-based place in the plan's order.
    pub position: i64,
    pub name: String,
    pub goal: String,
    /// Markdown.
    pub description: String,
    pub status: StageStatus,
    /// RFC 3339, UTC.
    pub planned_start: Option<String>,
    pub planned_duration_minutes: Option<i64>,
    /// How long the stage must run before the next gate may open.
    pub min_soak_minutes: Option<i64>,
    /// Markdown.
    pub forward_runbook: String,
    /// Markdown.
    pub rollback_runbook: String,
    pub created_at: String,
    pub updated_at: String,
    /// The flags this stage flips when it starts (and puts back when it is rolled back).
    #[serde(default)]
    pub flag_changes: Vec<StageFlagChange>,
    /// Go/no-go criteria and checks, in order.
    #[serde(default)]
    pub checklist: Vec<crate::checklist::ChecklistItem>,
    /// When the stage started; its minimum soak counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed_at: Option<String>,
    /// The plan roles whose holders vote on this stage's go/no-go gate.
    #[serde(default = "default_gate_roles")]
    pub gate_roles: Vec<crate::role::PlanRole>,
    /// How many "go" votes open the gate (N of the role holders).
    #[serde(default = "one")]
    pub gate_approvals: i64,
    /// Every go/no-go request for this stage, oldest first.
    #[serde(default)]
    pub gates: Vec<crate::gate::Gate>,
    /// Every rollback request for this stage, oldest first.
    #[serde(default)]
    pub rollbacks: Vec<crate::gate::Rollback>,
    /// Runs of this stage's runbooks, oldest first.
    #[serde(default)]
    pub runs: Vec<crate::runbook::RunbookRun>,
    /// A guard on this stage may approve its own rollback request (no rollback authority needed).
    #[serde(default)]
    pub auto_rollback: bool,
    /// Rollback triggers on live metrics, watched while the stage is active.
    #[serde(default)]
    pub guards: Vec<crate::guard::Guard>,
    /// Bumped by every change to what this stage will do.
    #[serde(default)]
    pub revision: i64,
    /// The revision the stakeholders last signed off; the gate opens only when it is current.
    #[serde(default)]
    pub signed_revision: i64,
    /// Why the stage waits for a new sign-off: who changed what, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_note: Option<String>,
}

fn default_gate_roles() -> Vec<crate::role::PlanRole> {
    crate::gate::DEFAULT_GATE_ROLES.to_vec()
}

fn one() -> i64 {
    1
}

impl Stage {
    /// Changed since the stakeholders signed it off: its gate waits for their sign-off.
    pub fn awaits_sign_off(&self) -> bool {
        self.revision != self.signed_revision
    }

    /// Running or done: only a rollback acts on it now.
    pub fn is_frozen(&self) -> bool {
        matches!(self.status, StageStatus::Active | StageStatus::Passed)
    }

    /// The open go/no-go request, if any.
    pub fn open_gate(&self) -> Option<&crate::gate::Gate> {
        self.gates.iter().find(|g| g.status == crate::gate::GateStatus::Pending)
    }

    /// The open rollback request, if any.
    pub fn open_rollback(&self) -> Option<&crate::gate::Rollback> {
        self.rollbacks.iter().find(|r| r.status == crate::gate::RollbackStatus::Pending)
    }

    /// Required checklist items not yet at Pass.
    pub fn unmet_checks(&self) -> impl Iterator<Item = &crate::checklist::ChecklistItem> {
        self.checklist.iter().filter(|i| i.required && i.status != crate::checklist::CheckStatus::Pass)
    }
}

/// One flag this stage sets in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StageFlagChange {
    pub flag: String,
    pub environment: String,
    pub enabled: bool,
    pub percentage: i64,
    /// The targeting rules the stage sets; none: the flag's rules stay as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<crate::rule::Rule>>,
    /// When the stage started and this change was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_at: Option<String>,
}

/// `PUT /api/v1/plans/{id}/stages/{stage_id}/flags`: the stage's whole list of flag changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StageFlagChanges {
    pub version: i64,
    pub changes: Vec<FlagChangeInput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FlagChangeInput {
    pub flag: String,
    pub environment: String,
    pub enabled: bool,
    #[serde(default = "full")]
    pub percentage: i64,
    /// Rules to set (read by [`crate::rule::parse_rules`] against the flag's variants
    /// there); left out or null, the flag keeps its rules.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Vec<crate::rule::Rule>>))]
    pub rules: serde_json::Value,
}

fn full() -> i64 {
    100
}

impl StageFlagChanges {
    pub fn validate(&self) -> Result<(), ApiError> {
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.changes.iter().enumerate() {
            if !(0..=100).contains(&c.percentage) {
                return Err(ApiError::validation(format!("changes[{i}].percentage"), "The percentage is a whole number from 0 to 100."));
            }
            if !seen.insert((c.flag.as_str(), c.environment.as_str())) {
                return Err(ApiError::validation(
                    format!("changes[{i}]"),
                    format!("{} in {} is listed twice.", c.flag, c.environment),
                ));
            }
        }
        Ok(())
    }
}

/// `POST .../start` and `POST .../rollback`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StageAction {
    pub version: i64,
    /// Why (required for a rollback).
    #[serde(default)]
    pub reason: String,
}

/// A stage to add, alone (`POST .../stages`, with `version`) or inside a new plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewStage {
    /// The plan version this change was based on; required when adding to an existing plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    pub name: String,
    #[serde(default)]
    pub goal: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub status: Option<StageStatus>,
    #[serde(default)]
    pub planned_start: Option<String>,
    #[serde(default)]
    pub planned_duration_minutes: Option<i64>,
    #[serde(default)]
    pub min_soak_minutes: Option<i64>,
    #[serde(default)]
    pub forward_runbook: String,
    #[serde(default)]
    pub rollback_runbook: String,
    /// 0-based place to insert at; the end when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
    /// Who votes on the gate; migration lead and rollback authority when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_roles: Option<Vec<crate::role::PlanRole>>,
    /// "Go" votes needed; 1 when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_approvals: Option<i64>,
    /// Checklist items to create with the stage (a new plan, or an imported one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checklist: Vec<crate::checklist::ChecklistDraft>,
    /// Flag changes to set with the stage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flag_changes: Vec<FlagChangeInput>,
    /// Let a guard approve its own rollback of this stage; off when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_rollback: Option<bool>,
}

impl NewStage {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_stage_fields(
            Some(&self.name),
            Some(&self.goal),
            Some(&self.description),
            self.planned_start.as_ref(),
            self.planned_duration_minutes,
            self.min_soak_minutes,
            Some(&self.forward_runbook),
            Some(&self.rollback_runbook),
        )?;
        if let Some(p) = self.position {
            if p < 0 {
                return Err(ApiError::validation("position", "Position must be 0 or more."));
            }
        }
        for (i, c) in self.checklist.iter().enumerate() {
            check_required(&format!("checklist[{i}].text"), "The check", &c.text)?;
            check_len(&format!("checklist[{i}].text"), "The check", &c.text, crate::checklist::TEXT_MAX)?;
        }
        StageFlagChanges { version: 0, changes: self.flag_changes.clone() }
            .validate()
            .map_err(|e| crate::plan::prefix_field(e, "flag_changes"))?;
        crate::gate::check_gate_settings(self.gate_roles.as_ref(), self.gate_approvals)
    }
}

/// `PATCH .../stages/{stage_id}`: fields left out stay; `null` clears the optional ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StagePatch {
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StageStatus>,
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub planned_start: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<i64>))]
    pub planned_duration_minutes: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<i64>))]
    pub min_soak_minutes: Option<Option<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_runbook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_runbook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_roles: Option<Vec<crate::role::PlanRole>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_approvals: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_rollback: Option<bool>,
}

impl StagePatch {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_stage_fields(
            self.name.as_ref(),
            self.goal.as_ref(),
            self.description.as_ref(),
            self.planned_start.as_ref().and_then(|o| o.as_ref()),
            self.planned_duration_minutes.flatten(),
            self.min_soak_minutes.flatten(),
            self.forward_runbook.as_ref(),
            self.rollback_runbook.as_ref(),
        )?;
        crate::gate::check_gate_settings(self.gate_roles.as_ref(), self.gate_approvals)
    }
}

/// `PUT /api/v1/plans/{id}/stages/order`: every stage of the plan, each once, in the new order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StageOrder {
    pub version: i64,
    pub stage_ids: Vec<i64>,
}

/// Present-and-null is `Some(None)`; absent is `None` (with `#[serde(default)]`).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[allow(clippy::too_many_arguments)]
fn check_stage_fields(
    name: Option<&String>,
    goal: Option<&String>,
    description: Option<&String>,
    planned_start: Option<&String>,
    duration: Option<i64>,
    soak: Option<i64>,
    forward: Option<&String>,
    rollback: Option<&String>,
) -> Result<(), ApiError> {
    if let Some(n) = name {
        check_required("name", "Name", n)?;
        check_len("name", "Name", n, NAME_MAX)?;
    }
    if let Some(g) = goal {
        check_len("goal", "Goal", g, GOAL_MAX)?;
    }
    if let Some(d) = description {
        check_len("description", "Description", d, MARKDOWN_MAX)?;
    }
    if let Some(s) = planned_start {
        check_rfc3339("planned_start", "Planned start", s)?;
    }
    check_minutes("planned_duration_minutes", "Planned duration", duration)?;
    check_minutes("min_soak_minutes", "Minimum soak time", soak)?;
    if let Some(f) = forward {
        check_len("forward_runbook", "Forward runbook", f, MARKDOWN_MAX)?;
    }
    if let Some(r) = rollback {
        check_len("rollback_runbook", "Rollback runbook", r, MARKDOWN_MAX)?;
    }
    Ok(())
}

/// "1 h 30 min", "2 d", "45 min".
pub fn format_minutes(m: i64) -> String {
    let (d, h, min) = (m / 1440, (m % 1440) / 60, m % 60);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d} d"));
    }
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if min > 0 || parts.is_empty() {
        parts.push(format!("{min} min"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_tells_a_cleared_field_from_a_missing_one() {
        let p: StagePatch = serde_json::from_str(r#"{"version":1,"planned_start":null}"#).unwrap();
        assert_eq!(p.planned_start, Some(None));
        assert_eq!(p.min_soak_minutes, None);
    }

    #[test]
    fn minutes_read_as_days_hours_and_minutes() {
        assert_eq!(format_minutes(0), "0 min");
        assert_eq!(format_minutes(90), "1 h 30 min");
        assert_eq!(format_minutes(1440), "1 d");
    }
}
