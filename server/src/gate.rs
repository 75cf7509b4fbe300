//! Go/no-go gates and rollback requests. A gate is asked for by the migration lead and
//! decided by votes from the roles the stage names; a rollback is asked for by on-call or
//! the lead and decided by a rollback authority. Votes and decisions from several people
//! can arrive at once, so each takes the plan's row lock first (the version bump): of
//! two decisions on one gate, the second sees the first and is refused.
use crate::audit::Entry;
use crate::action::{Action, PlanChange};
use crate::db::now;
use crate::error::Result;
use crate::plan::load_plan;
use crate::service::{decode_enum, forbidden, Ctx, Service};
use crate::stage::find_stage;
use app::error::ApiError;
use app::gate::{
    join_roles, parse_roles, Gate, GateRequest, GateStatus, GateVote, NewVote, Rollback, RollbackDecision,
    RollbackRequest, RollbackStatus, Verdict, Vote,
};
use app::inbox::{InboxItem, InboxKind};
use app::plan::{Plan, PlanStatus};
use app::role::PlanRole;
use app::stage::{Stage, StageAction, StageStatus};
use serde_json::json;
use sqlx::{AnyConnection, Row};
use std::time::Instant;

/// A plan's gates with their votes (one row per vote, joined), oldest first.
pub async fn load_gates(conn: &mut AnyConnection, plan_id: i64) -> Result<Vec<Gate>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT g.id, g.stage_id, g.requested_by, g.rationale, g.roles, g.approvals_required, g.status, g.requested_at,
                g.decided_at, g.decision_rationale, g.stage_revision,
                v.username AS voter, v.vote, v.role AS vote_role, v.rationale AS vote_rationale, v.voted_at
         FROM gates g LEFT JOIN gate_votes v ON v.gate_id = g.id WHERE g.plan_id = $1 ORDER BY g.id, v.id",
    )
    .bind(plan_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut gates: Vec<Gate> = vec![];
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        if gates.last().is_none_or(|g| g.id != id) {
            gates.push(Gate {
                id,
                stage_id: r.try_get("stage_id")?,
                requested_by: r.try_get("requested_by")?,
                rationale: r.try_get("rationale")?,
                roles: parse_roles(&r.try_get::<String, _>("roles")?),
                approvals_required: r.try_get("approvals_required")?,
                status: decode_enum(r.try_get("status")?, GateStatus::parse, "status")?,
                requested_at: r.try_get("requested_at")?,
                decided_at: r.try_get("decided_at")?,
                decision_rationale: r.try_get("decision_rationale")?,
                stage_revision: r.try_get("stage_revision")?,
                votes: vec![],
            });
        }
        let Some(username) = r.try_get::<Option<String>, _>("voter")? else { continue };
        if let Some(g) = gates.last_mut() {
            g.votes.push(GateVote {
                username,
                vote: decode_enum(r.try_get("vote")?, Vote::parse, "vote")?,
                role: decode_enum(r.try_get("vote_role")?, PlanRole::parse, "vote_role")?,
                rationale: r.try_get("vote_rationale")?,
                voted_at: r.try_get("voted_at")?,
            });
        }
    }
    Ok(gates)
}

pub async fn load_rollbacks(conn: &mut AnyConnection, plan_id: i64) -> Result<Vec<Rollback>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, stage_id, requested_by, reason, status, requested_at, decided_by, decided_at, decision_comment,
                automatic, reverted_at, duration_ms, target_seconds, runbook_finished_at, total_ms
         FROM rollbacks WHERE plan_id = $1 ORDER BY id",
    )
    .bind(plan_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Rollback {
                id: r.try_get("id")?,
                stage_id: r.try_get("stage_id")?,
                requested_by: r.try_get("requested_by")?,
                reason: r.try_get("reason")?,
                status: decode_enum(r.try_get("status")?, RollbackStatus::parse, "status")?,
                requested_at: r.try_get("requested_at")?,
                decided_by: r.try_get("decided_by")?,
                decided_at: r.try_get("decided_at")?,
                decision_comment: r.try_get("decision_comment")?,
                automatic: r.try_get::<i64, _>("automatic")? == 1,
                reverted_at: r.try_get("reverted_at")?,
                duration_ms: r.try_get("duration_ms")?,
                target_seconds: r.try_get("target_seconds")?,
                runbook_finished_at: r.try_get("runbook_finished_at")?,
                total_ms: r.try_get("total_ms")?,
            })
        })
        .collect()
}

/// What webhooks receive about a plan and stage.
pub(crate) fn about(plan: &Plan, stage: &Stage) -> serde_json::Value {
    json!({
        "plan": { "id": plan.id, "title": plan.title },
        "stage": { "id": stage.id, "name": stage.name },
    })
}

pub(crate) fn merge(mut base: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

fn requester_id(ctx: &Ctx) -> Option<i64> {
    ctx.person().map(|p| p.id)
}

async fn requested_by_id(conn: &mut AnyConnection, table: &str, id: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT requested_by_id FROM {table} WHERE id = $1")).bind(id).fetch_one(conn).await
}

impl Service {
    /// The migration lead asks for a go/no-go decision on the next stage, as it was signed off.
    pub async fn request_gate(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, req: GateRequest) -> Result<Plan> {
        req.validate()?;
        let mut change = self.open(ctx, Action::GateRequest, plan_id, Some(req.version), None).await?;
        let before = change.plan.clone();
        if !matches!(before.status, PlanStatus::Approved | PlanStatus::Executing) {
            return Err(ApiError::new(409, "not_approved", "Only an approved plan runs: its stakeholders sign it off first.").into());
        }
        let stage = find_stage(&before, stage_id)?.clone();
        if stage.status != StageStatus::Pending {
            return Err(ApiError::new(409, "stage_not_pending", format!("This stage is {}.", stage.status.label().to_lowercase())).into());
        }
        if let Some(active) = before.stages.iter().find(|s| s.status == StageStatus::Active) {
            return Err(ApiError::new(409, "stage_active", format!("{} is still active; one stage runs at a time.", active.name)).into());
        }
        if let Some(earlier) = before.stages.iter().take_while(|s| s.id != stage_id).find(|s| s.status != StageStatus::Passed) {
            return Err(ApiError::new(409, "out_of_order", format!("{} has not passed yet; stages run in order.", earlier.name)).into());
        }
        check_signed(&before, &stage)?;
        check_checklist(&stage)?;
        crate::guard::check_not_paused(&before)?;
        let at = now();
        let gate_id: i64 = sqlx::query_scalar(
            "INSERT INTO gates (plan_id, stage_id, requested_by, requested_by_id, rationale, roles, approvals_required, requested_at, stage_revision)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(plan_id)
        .bind(stage_id)
        .bind(ctx.actor())
        .bind(requester_id(ctx))
        .bind(req.rationale.trim())
        .bind(join_roles(&stage.gate_roles))
        .bind(stage.gate_approvals)
        .bind(&at)
        .bind(stage.revision)
        .fetch_one(change.conn())
        .await?;
        set_stage_status(change.conn(), stage_id, StageStatus::AwaitingDecision, &at).await?;
        let payload = json!({
            "gate": { "id": gate_id, "requested_by": ctx.actor(), "rationale": req.rationale.trim(),
                      "roles": stage.gate_roles, "approvals_required": stage.gate_approvals },
        });
        change.announce(Action::GateRequest, merge(about(&before, &stage), payload.clone())).await?;
        let entry = Entry::new(Action::GateRequest, format!("plan:{plan_id}/stage:{stage_id}"), plan_id).after(&payload);
        self.commit(change, ctx, entry).await
    }

    /// A vote on an open gate. One "no-go" decides no-go; enough "go" votes decide go,
    /// which applies the stage's flag changes and makes it active, all in one transaction.
    /// The vote checks again that the plan may run and that the stage is still what was
    /// asked for and signed off.
    pub async fn vote(&self, ctx: &Ctx, plan_id: i64, gate_id: i64, vote: NewVote) -> Result<Plan> {
        vote.validate()?;
        let mut change = self.open(ctx, Action::GateVote, plan_id, None, None).await?;
        let person = ctx.require_person()?.clone();
        let before = change.plan.clone();
        let (stage, gate) = find_in_stages(&before, |s| s.gates.iter().find(|g| g.id == gate_id), "Gate")?;
        let roles = before.roles_of(person.id);
        let Some(role) = gate.roles.iter().copied().find(|r| roles.contains(r)) else {
            let names: Vec<&str> = gate.roles.iter().map(|r| r.label()).collect();
            return Err(forbidden(&format!("Only this plan's {} may vote on this gate.", names.join(" and ").to_lowercase())).into());
        };
        if gate.status != GateStatus::Pending {
            return Err(ApiError::new(409, "gate_decided", format!("This gate was already decided: {}.", gate.status.label())).into());
        }
        if !matches!(before.status, PlanStatus::Approved | PlanStatus::Executing) {
            return Err(ApiError::new(409, "not_approved", "This plan is no longer approved; nothing runs until its stakeholders sign it off again.").into());
        }
        if gate.stage_revision != stage.revision {
            return Err(ApiError::new(409, "gate_stale", format!("{} changed after go was asked for; the request must be made again.", stage.name)).into());
        }
        check_signed(&before, &stage)?;
        if requested_by_id(change.conn(), "gates", gate_id).await? == Some(person.id) {
            return Err(ApiError::new(403, "own_request", "You asked for this decision; someone else must decide it.").into());
        }
        if gate.votes.iter().any(|v| v.username == person.username) {
            return Err(ApiError::new(409, "already_voted", "You have already voted on this gate.").into());
        }
        if vote.vote == Vote::Go {
            check_checklist(&stage)?;
            crate::guard::check_not_paused(&before)?;
        }
        let at = now();
        sqlx::query(
            "INSERT INTO gate_votes (gate_id, user_id, username, vote, role, rationale, voted_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(gate_id)
        .bind(person.id)
        .bind(&person.username)
        .bind(vote.vote.as_str())
        .bind(role.as_str())
        .bind(vote.rationale.trim())
        .bind(&at)
        .execute(change.conn())
        .await?;
        let go_votes = gate.votes.iter().filter(|v| v.vote == Vote::Go).count() as i64 + i64::from(vote.vote == Vote::Go);
        let decision = match vote.vote {
            Vote::NoGo => Some(GateStatus::NoGo),
            Vote::Go if go_votes >= gate.approvals_required => Some(GateStatus::Go),
            Vote::Go => None,
        };
        let mut flags_changed = 0;
        if let Some(decision) = decision {
            let done = sqlx::query(
                "UPDATE gates SET status = $1, decided_at = $2, decision_rationale = $3 WHERE id = $4 AND status = 'pending'",
            )
            .bind(decision.as_str())
            .bind(&at)
            .bind(vote.rationale.trim())
            .bind(gate_id)
            .execute(change.conn())
            .await?;
            if done.rows_affected() != 1 {
                return Err(ApiError::new(409, "gate_decided", "This gate was decided a moment ago.").into());
            }
            if decision == GateStatus::Go {
                flags_changed = self.apply_stage_flags(&mut change.tx, ctx, stage.id, &at).await?;
                set_plan_status(change.conn(), plan_id, PlanStatus::Executing).await?;
            } else {
                set_stage_status(change.conn(), stage.id, StageStatus::Pending, &at).await?;
            }
            let payload = json!({
                "gate": { "id": gate_id, "decision": decision, "decided_by": person.username, "rationale": vote.rationale.trim() },
            });
            change.announce(Action::GateVote, merge(about(&before, &stage), payload)).await?;
        }
        let entry = Entry::new(Action::GateVote, format!("plan:{plan_id}/stage:{}/gate:{gate_id}", stage.id), plan_id).after(&json!({
            "vote": vote.vote, "role": role, "rationale": vote.rationale.trim(), "decision": decision,
        }));
        let plan = self.commit(change, ctx, entry).await?;
        if flags_changed > 0 {
            self.flags_changed().await;
        }
        Ok(plan)
    }

    /// The lead stops a stage that has not started (withdrawing its open gate); the plan
    /// is then aborted.
    pub async fn abort_stage(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, action: StageAction) -> Result<Plan> {
        if action.reason.trim().is_empty() {
            return Err(ApiError::validation("reason", "Say why the stage is aborted.").into());
        }
        let mut change = self.open(ctx, Action::StageAbort, plan_id, Some(action.version), None).await?;
        let stage = find_stage(&change.plan, stage_id)?.clone();
        if !matches!(stage.status, StageStatus::Pending | StageStatus::AwaitingDecision) {
            return Err(ApiError::new(
                409,
                "stage_started",
                format!("This stage is {}; a started stage is rolled back, not aborted.", stage.status.label().to_lowercase()),
            )
            .into());
        }
        let at = now();
        let why = format!("Withdrawn: {} aborted the stage: {}", ctx.actor(), action.reason.trim());
        withdraw_gates(change.conn(), plan_id, None, &at, &why).await?;
        set_stage_status(change.conn(), stage_id, StageStatus::Aborted, &at).await?;
        set_plan_status(change.conn(), plan_id, PlanStatus::Aborted).await?;
        let entry = Entry::new(Action::StageAbort, format!("plan:{plan_id}/stage:{stage_id}"), plan_id)
            .before(&stage)
            .after(&json!({ "status": "aborted", "reason": action.reason.trim() }));
        self.commit(change, ctx, entry).await
    }

    /// On-call or a migration lead asks to roll back the active stage, or the last
    /// passed one when none is active.
    pub async fn request_rollback(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, req: RollbackRequest) -> Result<Plan> {
        req.validate()?;
        let mut change = self.open(ctx, Action::RollbackRequest, plan_id, None, None).await?;
        let person = ctx.require_person()?.clone();
        let before = change.plan.clone();
        let stage = find_stage(&before, stage_id)?.clone();
        check_rollback_target(&before, &stage)?;
        if stage.open_rollback().is_some() {
            return Err(ApiError::new(409, "rollback_pending", "A rollback of this stage is already awaiting approval.").into());
        }
        let at = now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO rollbacks (plan_id, stage_id, requested_by, requested_by_id, reason, requested_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(plan_id)
        .bind(stage_id)
        .bind(&person.username)
        .bind(person.id)
        .bind(req.reason.trim())
        .bind(&at)
        .fetch_one(change.conn())
        .await?;
        let payload = json!({ "rollback": { "id": id, "requested_by": person.username, "reason": req.reason.trim() } });
        change.announce(Action::RollbackRequest, merge(about(&before, &stage), payload.clone())).await?;
        let entry = Entry::new(Action::RollbackRequest, format!("plan:{plan_id}/stage:{stage_id}/rollback:{id}"), plan_id).after(&payload);
        self.commit(change, ctx, entry).await
    }

    /// A rollback authority approves or rejects a rollback request. On approval the
    /// stage's flags revert in the same transaction; the time from approval to the
    /// reverted flags being served is then stored against the plan's target.
    pub async fn decide_rollback(&self, ctx: &Ctx, plan_id: i64, rollback_id: i64, d: RollbackDecision) -> Result<Plan> {
        let approved_at = Instant::now();
        d.validate()?;
        let action = match d.decision {
            Verdict::Approve => Action::RollbackApprove,
            Verdict::Reject => Action::RollbackReject,
        };
        let mut change = self.open(ctx, action, plan_id, None, None).await?;
        let person = ctx.require_person()?.clone();
        let before = change.plan.clone();
        let (stage, rollback) = find_in_stages(&before, |s| s.rollbacks.iter().find(|r| r.id == rollback_id), "Rollback")?;
        if rollback.status != RollbackStatus::Pending {
            return Err(ApiError::new(409, "rollback_decided", format!("This rollback was already decided: {}.", rollback.status.label())).into());
        }
        if requested_by_id(change.conn(), "rollbacks", rollback_id).await? == Some(person.id) {
            return Err(ApiError::new(403, "own_request", "You asked for this rollback; another rollback authority must decide it.").into());
        }
        let status = match d.decision {
            Verdict::Approve => RollbackStatus::Approved,
            Verdict::Reject => RollbackStatus::Rejected,
        };
        if status == RollbackStatus::Approved {
            check_rollback_target(&before, &stage)?;
        }
        let at = now();
        let done = sqlx::query(
            "UPDATE rollbacks SET status = $1, decided_by = $2, decided_at = $3, decision_comment = $4 WHERE id = $5 AND status = 'pending'",
        )
        .bind(status.as_str())
        .bind(&person.username)
        .bind(&at)
        .bind(d.comment.trim())
        .bind(rollback_id)
        .execute(change.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(ApiError::new(409, "rollback_decided", "This rollback was decided a moment ago.").into());
        }
        let payload = json!({ "rollback": { "id": rollback_id, "decided_by": person.username, "comment": d.comment.trim(),
                                            "requested_by": rollback.requested_by, "reason": rollback.reason } });
        let target = format!("plan:{plan_id}/stage:{}/rollback:{rollback_id}", stage.id);
        if status == RollbackStatus::Rejected {
            change.announce(Action::RollbackReject, merge(about(&before, &stage), payload.clone())).await?;
            let entry = Entry::new(Action::RollbackReject, target, plan_id).after(&payload);
            return self.commit(change, ctx, entry).await;
        }
        self.roll_back(change, ctx, &stage, rollback_id, payload, approved_at).await
    }

    /// Reverts an approved rollback's stage, then records how long that took.
    pub(crate) async fn roll_back(
        &self,
        mut change: PlanChange,
        ctx: &Ctx,
        stage: &Stage,
        rollback_id: i64,
        payload: serde_json::Value,
        approved_at: Instant,
    ) -> Result<Plan> {
        let before = change.plan.clone();
        let plan_id = before.id;
        let at = now();
        let reverted = self.revert_stage_flags(&mut change.tx, ctx, stage.id, &at).await?;
        let why = format!("Withdrawn: {} was rolled back.", stage.name);
        withdraw_gates(change.conn(), plan_id, None, &at, &why).await?;
        set_plan_status(change.conn(), plan_id, PlanStatus::RolledBack).await?;
        change.announce(Action::RollbackApprove, merge(about(&before, stage), payload.clone())).await?;
        let target = format!("plan:{plan_id}/stage:{}/rollback:{rollback_id}", stage.id);
        let entry = Entry::new(Action::RollbackApprove, target.clone(), plan_id)
            .before(stage)
            .after(&merge(payload, json!({ "flags_reverted": reverted })));
        self.commit(change, ctx, entry).await?;
        if reverted > 0 {
            // The flags count as reverted once this replica serves them.
            self.flags_changed().await;
        }
        let duration_ms = approved_at.elapsed().as_millis() as i64;
        let target_seconds = before.rollback_target_seconds;
        let mut change = self.open(&Ctx::system(), Action::RollbackDone, plan_id, None, None).await?;
        sqlx::query("UPDATE rollbacks SET reverted_at = $1, duration_ms = $2, target_seconds = $3 WHERE id = $4")
            .bind(now())
            .bind(duration_ms)
            .bind(target_seconds)
            .bind(rollback_id)
            .execute(change.conn())
            .await?;
        let timing = json!({
            "rollback": { "id": rollback_id, "duration_ms": duration_ms, "target_seconds": target_seconds,
                          "within_target": duration_ms <= target_seconds * 1000, "flags_reverted": reverted },
        });
        let hook = merge(about(&change.plan, find_stage(&change.plan, stage.id)?), timing.clone());
        change.announce(Action::RollbackDone, hook).await?;
        self.commit(change, ctx, Entry::new(Action::RollbackDone, target, plan_id).after(&timing)).await
    }

    /// Everything waiting for the signed-in person's decision, oldest first: gates they
    /// may vote on, rollbacks they may approve, plans they have not signed off.
    pub async fn inbox(&self, ctx: &Ctx) -> Result<Vec<InboxItem>> {
        let person = ctx.require_person()?.clone();
        let mut conn = self.db.read().await?;
        let plan_ids: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT r.plan_id FROM plan_roles r JOIN plans p ON p.id = r.plan_id
             WHERE r.user_id = $1 AND p.archived_at IS NULL ORDER BY r.plan_id",
        )
        .bind(person.id)
        .fetch_all(&mut *conn)
        .await?;
        let mut items = vec![];
        for plan_id in plan_ids {
            let Some(plan) = load_plan(&mut conn, plan_id).await? else { continue };
            let roles = plan.roles_of(person.id);
            // Requests are made by people, recorded under their username.
            let mine = |by: &str| by == person.username;
            let item = |kind, id, stage: Option<&Stage>, by: &str, at: &str, note: &str| InboxItem {
                kind,
                id,
                plan_id,
                plan_title: plan.title.clone(),
                plan_version: plan.version,
                stage_id: stage.map(|s| s.id),
                stage_name: stage.map(|s| s.name.clone()),
                requested_by: by.to_string(),
                requested_at: at.to_string(),
                note: note.to_string(),
            };
            for stage in &plan.stages {
                if let Some(g) = stage.open_gate() {
                    let may = g.roles.iter().any(|r| roles.contains(r));
                    let voted = g.votes.iter().any(|v| v.username == person.username);
                    if may && !voted && !mine(&g.requested_by) {
                        items.push(item(InboxKind::Gate, g.id, Some(stage), &g.requested_by, &g.requested_at, &g.rationale));
                    }
                }
                if let Some(r) = stage.open_rollback() {
                    if roles.contains(&PlanRole::RollbackAuthority) && !mine(&r.requested_by) {
                        items.push(item(InboxKind::Rollback, r.id, Some(stage), &r.requested_by, &r.requested_at, &r.reason));
                    }
                }
            }
            let resign = plan.status == PlanStatus::Executing && plan.stages.iter().any(|s| s.awaits_sign_off());
            if (plan.status == PlanStatus::InReview || resign)
                && roles.contains(&PlanRole::Stakeholder)
                && !plan.signoffs.iter().any(|s| s.person.id == person.id)
            {
                items.push(item(InboxKind::SignOff, plan.id, None, "", &plan.updated_at, &plan.summary));
            }
        }
        items.sort_by(|a, b| a.requested_at.cmp(&b.requested_at));
        Ok(items)
    }
}

/// The stage holding the gate or rollback `find` picks, and that item; 404 naming `what`.
fn find_in_stages<T: Clone>(plan: &Plan, find: impl Fn(&Stage) -> Option<&T>, what: &str) -> Result<(Stage, T), ApiError> {
    plan.stages.iter().find_map(|s| find(s).map(|t| (s.clone(), t.clone()))).ok_or_else(|| ApiError::not_found(what))
}

/// A stage changed after sign-off waits for the stakeholders before its gate opens.
fn check_signed(plan: &Plan, stage: &Stage) -> Result<(), ApiError> {
    if !stage.awaits_sign_off() {
        return Ok(());
    }
    let waiting = plan.waiting_for_sign_off();
    let who = if waiting.is_empty() { "the stakeholders".to_string() } else { waiting.join(", ") };
    let what = stage.change_note.clone().unwrap_or_else(|| format!("{} changed after sign-off.", stage.name));
    Err(ApiError::new(409, "sign_off_needed", format!("{what} Its gate opens once {who} sign off again.")))
}

/// Every required checklist item must be at Pass before a gate is asked for or a "go" given.
fn check_checklist(stage: &Stage) -> Result<(), ApiError> {
    let unmet: Vec<&str> = stage.unmet_checks().map(|i| i.text.as_str()).collect();
    if unmet.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        422,
        "checklist_incomplete",
        format!("{} required check(s) are not at Pass: {}.", unmet.len(), unmet.join("; ")),
    )
    .with_field("checklist"))
}

/// A rollback targets the active stage, or the last passed one when none is active.
fn check_rollback_target(plan: &Plan, stage: &Stage) -> Result<(), ApiError> {
    match stage.status {
        StageStatus::Active => Ok(()),
        StageStatus::Passed => {
            if plan.stages.iter().any(|s| s.status == StageStatus::Active) {
                return Err(ApiError::new(409, "not_last_stage", "Another stage is active; roll that one back first."));
            }
            if plan.stages.iter().any(|s| s.position > stage.position && s.status == StageStatus::Passed) {
                return Err(ApiError::new(409, "not_last_stage", "A later stage has passed; only the last passed stage rolls back."));
            }
            Ok(())
        }
        other => Err(ApiError::new(
            409,
            "stage_not_started",
            format!("This stage is {}; only the active stage or the last passed one rolls back.", other.label().to_lowercase()),
        )),
    }
}

async fn set_stage_status(conn: &mut AnyConnection, stage_id: i64, status: StageStatus, at: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE stages SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status.as_str())
        .bind(at)
        .bind(stage_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn set_plan_status(conn: &mut AnyConnection, plan_id: i64, status: PlanStatus) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE plans SET status = $1 WHERE id = $2").bind(status.as_str()).bind(plan_id).execute(conn).await?;
    Ok(())
}

/// Closes open gate requests undecided (of the stages `only` names, or all of the plan's),
/// saying `why`, and returns their stages to pending.
pub(crate) async fn withdraw_gates(conn: &mut AnyConnection, plan_id: i64, only: Option<&[i64]>, at: &str, why: &str) -> Result<(), sqlx::Error> {
    let open: Vec<(i64, i64)> = sqlx::query_as("SELECT id, stage_id FROM gates WHERE plan_id = $1 AND status = 'pending'")
        .bind(plan_id)
        .fetch_all(&mut *conn)
        .await?;
    for (gate_id, stage_id) in open {
        if only.is_some_and(|ids| !ids.contains(&stage_id)) {
            continue;
        }
        sqlx::query("UPDATE gates SET status = 'withdrawn', decided_at = $1, decision_rationale = $2 WHERE id = $3 AND status = 'pending'")
            .bind(at)
            .bind(why)
            .bind(gate_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("UPDATE stages SET status = 'pending', updated_at = $1 WHERE id = $2 AND status = 'awaiting_decision'")
            .bind(at)
            .bind(stage_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
