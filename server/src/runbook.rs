//! Runbook runs: start a run of a stage's forward or rollback runbook, check its steps off
//! or skip them with a reason, add notes. The last step finishes the run, which is then
//! read-only; a rollback runbook's run finishing is the end of that rollback.
use crate::audit::Entry;
use crate::action::Action;
use crate::db::now;
use crate::error::Result;
use crate::service::{decode_enum, Ctx, Service};
use crate::stage::find_stage;
use app::error::ApiError;
use app::gate::RollbackStatus;
use app::plan::Plan;
use app::role::PlanRole;
use app::runbook::{
    outline, NewRun, NewRunNote, RunNote, RunStep, RunbookKind, RunbookOutline, RunbookRun, RunbookStep, StepResult, StepStatus,
};
use app::stage::StageStatus;
use sqlx::{AnyConnection, Row};

/// Every run of a plan's runbooks with their steps (one row per step, joined) and notes,
/// oldest first.
pub async fn load_runs(conn: &mut AnyConnection, plan_id: i64) -> Result<Vec<RunbookRun>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT r.id, r.plan_id, r.stage_id, r.kind, r.rollback_id, r.preface, r.started_by, r.started_at, r.finished_at,
                s.position, s.title, s.body, s.role, s.person, s.planned_seconds, s.status, s.done_by, s.done_at, s.skip_reason
         FROM runbook_runs r LEFT JOIN runbook_run_steps s ON s.run_id = r.id WHERE r.plan_id = $1 ORDER BY r.id, s.position",
    )
    .bind(plan_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut runs: Vec<RunbookRun> = vec![];
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        if runs.last().is_none_or(|x| x.id != id) {
            runs.push(RunbookRun {
                id,
                plan_id: r.try_get("plan_id")?,
                stage_id: r.try_get("stage_id")?,
                kind: decode_enum(r.try_get("kind")?, RunbookKind::parse, "kind")?,
                rollback_id: r.try_get("rollback_id")?,
                preface: r.try_get("preface")?,
                started_by: r.try_get("started_by")?,
                started_at: r.try_get("started_at")?,
                finished_at: r.try_get("finished_at")?,
                steps: vec![],
                notes: vec![],
            });
        }
        let Some(position) = r.try_get::<Option<i64>, _>("position")? else { continue };
        let role: Option<String> = r.try_get("role")?;
        let step = RunStep {
            position,
            step: RunbookStep {
                title: r.try_get("title")?,
                body: r.try_get("body")?,
                role: role.as_deref().and_then(PlanRole::parse),
                person: r.try_get("person")?,
                planned_seconds: r.try_get("planned_seconds")?,
            },
            status: decode_enum(r.try_get("status")?, StepStatus::parse, "status")?,
            done_by: r.try_get("done_by")?,
            done_at: r.try_get("done_at")?,
            skip_reason: r.try_get("skip_reason")?,
        };
        if let Some(run) = runs.last_mut() {
            run.steps.push(step);
        }
    }
    if runs.is_empty() {
        return Ok(runs);
    }
    let notes = sqlx::query(
        "SELECT n.id, n.run_id, n.step, n.author, n.at, n.text
         FROM runbook_run_notes n JOIN runbook_runs r ON r.id = n.run_id WHERE r.plan_id = $1 ORDER BY n.id",
    )
    .bind(plan_id)
    .fetch_all(&mut *conn)
    .await?;
    for r in &notes {
        let run_id: i64 = r.try_get("run_id")?;
        let note = RunNote {
            id: r.try_get("id")?,
            step: r.try_get("step")?,
            author: r.try_get("author")?,
            at: r.try_get("at")?,
            text: r.try_get("text")?,
        };
        if let Some(run) = runs.iter_mut().find(|x| x.id == run_id) {
            run.notes.push(note);
        }
    }
    Ok(runs)
}

fn find_run(plan: &Plan, run_id: i64) -> Result<&RunbookRun, ApiError> {
    plan.stages
        .iter()
        .flat_map(|s| s.runs.iter())
        .find(|r| r.id == run_id)
        .ok_or_else(|| ApiError::not_found("Run"))
}

fn still_running(run: &RunbookRun) -> Result<(), ApiError> {
    match &run.finished_at {
        Some(at) => Err(ApiError::new(409, "run_finished", format!("This run finished at {at}; it is kept as it was."))),
        None => Ok(()),
    }
}

fn millis_between(from: &str, to: &str) -> Option<i64> {
    let a = chrono::DateTime::parse_from_rfc3339(from).ok()?;
    let b = chrono::DateTime::parse_from_rfc3339(to).ok()?;
    Some((b - a).num_milliseconds())
}

impl Service {
    /// The steps a stage's runbook splits into, as a run would have them.
    pub async fn runbook_outline(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, kind: RunbookKind) -> Result<RunbookOutline> {
        let plan = self.get_plan(ctx, plan_id).await?;
        let stage = find_stage(&plan, stage_id)?;
        Ok(outline(match kind {
            RunbookKind::Forward => &stage.forward_runbook,
            RunbookKind::Rollback => &stage.rollback_runbook,
        }))
    }

    /// Starts a run: the forward runbook of the active stage, or the rollback runbook of a
    /// stage whose rollback was approved.
    pub async fn start_run(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, new: NewRun) -> Result<Plan> {
        let mut change = self.open(ctx, Action::RunbookStart, plan_id, None, None).await?;
        let stage = find_stage(&change.plan, stage_id)?.clone();
        let mut rollback_id = None;
        let text = match new.kind {
            RunbookKind::Forward => {
                if stage.status != StageStatus::Active {
                    return Err(ApiError::new(
                        409,
                        "stage_not_active",
                        format!("The forward runbook runs once the stage has its go; this stage is {}.", stage.status.label().to_lowercase()),
                    )
                    .into());
                }
                &stage.forward_runbook
            }
            RunbookKind::Rollback => {
                let approved = stage.rollbacks.iter().rev().find(|r| r.status == RollbackStatus::Approved);
                let Some(approved) = approved else {
                    return Err(ApiError::new(409, "no_approved_rollback", "The rollback runbook runs once a rollback of this stage is approved.").into());
                };
                if approved.runbook_finished_at.is_some() || stage.runs.iter().any(|r| r.rollback_id == Some(approved.id)) {
                    return Err(ApiError::new(409, "rollback_runbook_run", "This rollback's runbook has already been run.").into());
                }
                rollback_id = Some(approved.id);
                &stage.rollback_runbook
            }
        };
        if stage.runs.iter().any(|r| r.kind == new.kind && r.finished_at.is_none()) {
            return Err(ApiError::new(409, "run_in_progress", format!("The {} is already being run.", new.kind.label().to_lowercase())).into());
        }
        let outline = outline(text);
        if outline.steps.is_empty() {
            return Err(ApiError::new(422, "empty_runbook", format!("This stage has no {} to run.", new.kind.label().to_lowercase()))
                .with_field("kind")
                .into());
        }
        let at = now();
        let run_id: i64 = sqlx::query_scalar(
            "INSERT INTO runbook_runs (plan_id, stage_id, kind, rollback_id, preface, started_by, started_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(plan_id)
        .bind(stage_id)
        .bind(new.kind.as_str())
        .bind(rollback_id)
        .bind(&outline.preface)
        .bind(ctx.actor())
        .bind(&at)
        .fetch_one(change.conn())
        .await?;
        for (i, s) in outline.steps.iter().enumerate() {
            sqlx::query(
                "INSERT INTO runbook_run_steps (run_id, position, title, body, role, person, planned_seconds)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(run_id)
            .bind(i as i64)
            .bind(&s.title)
            .bind(&s.body)
            .bind(s.role.map(PlanRole::as_str))
            .bind(s.person.as_deref())
            .bind(s.planned_seconds)
            .execute(change.conn())
            .await?;
        }
        let entry = Entry::new(Action::RunbookStart, format!("plan:{plan_id}/stage:{stage_id}/run:{run_id}"), plan_id)
            .after(&serde_json::json!({ "kind": new.kind, "steps": outline.steps.len(), "rollback_id": rollback_id }));
        self.commit(change, ctx, entry).await
    }

    /// Checks a step off or skips it (with the reason). The last open step finishes the run.
    pub async fn record_step(&self, ctx: &Ctx, plan_id: i64, run_id: i64, position: i64, result: StepResult) -> Result<Plan> {
        result.validate()?;
        let mut change = self.open(ctx, Action::RunbookStep, plan_id, None, None).await?;
        let plan = change.plan.clone();
        let mut run = find_run(&plan, run_id)?.clone();
        // Steps of one run take turns (the row lock), so whoever records the last open
        // step finishes the run, even when two people record the last two at once.
        sqlx::query("UPDATE runbook_runs SET finished_at = finished_at WHERE id = $1").bind(run_id).execute(change.conn()).await?;
        run.finished_at = sqlx::query_scalar("SELECT finished_at FROM runbook_runs WHERE id = $1").bind(run_id).fetch_one(change.conn()).await?;
        still_running(&run)?;
        let step = run.steps.iter().find(|s| s.position == position).ok_or_else(|| ApiError::not_found("Step"))?;
        if step.status != StepStatus::Pending {
            let by = step.done_by.clone().unwrap_or_default();
            return Err(ApiError::new(409, "step_recorded", format!("This step was already {} by {by}.", step.status.as_str())).into());
        }
        let at = now();
        let reason = (result.status == StepStatus::Skipped).then(|| result.reason.trim().to_string());
        let done = sqlx::query(
            "UPDATE runbook_run_steps SET status = $1, done_by = $2, done_at = $3, skip_reason = $4
             WHERE run_id = $5 AND position = $6 AND status = 'pending'",
        )
        .bind(result.status.as_str())
        .bind(ctx.actor())
        .bind(&at)
        .bind(reason.as_deref())
        .bind(run_id)
        .bind(position)
        .execute(change.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Err(ApiError::new(409, "step_recorded", "Someone recorded this step a moment ago.").into());
        }
        let target = format!("plan:{plan_id}/stage:{}/run:{run_id}", run.stage_id);
        let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM runbook_run_steps WHERE run_id = $1 AND status = 'pending'")
            .bind(run_id)
            .fetch_one(change.conn())
            .await?;
        let mut after = serde_json::json!({ "step": position, "title": step.step.title, "status": result.status, "reason": reason });
        if open == 0 {
            sqlx::query("UPDATE runbook_runs SET finished_at = $1 WHERE id = $2").bind(&at).bind(run_id).execute(change.conn()).await?;
            after["run_finished"] = serde_json::json!(true);
            after["elapsed_ms"] = serde_json::json!(millis_between(&run.started_at, &at));
            if let Some(rollback_id) = run.rollback_id {
                // The rollback is over: its clock runs from the approval to this step.
                let stage = find_stage(&plan, run.stage_id)?;
                let approved_at = stage.rollbacks.iter().find(|r| r.id == rollback_id).and_then(|r| r.decided_at.clone());
                let total = approved_at.and_then(|a| millis_between(&a, &at));
                sqlx::query("UPDATE rollbacks SET runbook_finished_at = $1, total_ms = $2 WHERE id = $3")
                    .bind(&at)
                    .bind(total)
                    .bind(rollback_id)
                    .execute(change.conn())
                    .await?;
                after["rollback"] = serde_json::json!({ "id": rollback_id, "total_ms": total });
            }
        }
        self.commit(change, ctx, Entry::new(Action::RunbookStep, target, plan_id).after(&after)).await
    }

    /// A note on a run under way, about one step or the whole run.
    pub async fn add_run_note(&self, ctx: &Ctx, plan_id: i64, run_id: i64, note: NewRunNote) -> Result<Plan> {
        note.validate()?;
        let mut change = self.open(ctx, Action::RunbookNote, plan_id, None, None).await?;
        let run = find_run(&change.plan, run_id)?.clone();
        still_running(&run)?;
        if let Some(step) = note.step {
            if !run.steps.iter().any(|s| s.position == step) {
                return Err(ApiError::validation("step", "There is no such step in this run.").into());
            }
        }
        sqlx::query("INSERT INTO runbook_run_notes (run_id, step, author, at, text) VALUES ($1, $2, $3, $4, $5)")
            .bind(run_id)
            .bind(note.step)
            .bind(ctx.actor())
            .bind(now())
            .bind(note.text.trim())
            .execute(change.conn())
            .await?;
        let entry = Entry::new(Action::RunbookNote, format!("plan:{plan_id}/stage:{}/run:{run_id}", run.stage_id), plan_id)
            .after(&serde_json::json!({ "step": note.step, "text": note.text.trim() }));
        self.commit(change, ctx, entry).await
    }

    pub async fn get_run(&self, ctx: &Ctx, plan_id: i64, run_id: i64) -> Result<RunbookRun> {
        let plan = self.get_plan(ctx, plan_id).await?;
        Ok(find_run(&plan, run_id)?.clone())
    }
}
