//! Stages: ordered, each with its runbooks. Positions are 0..n-1 with no gaps.
use crate::action::Action;
use crate::audit::Entry;
use crate::db::now;
use crate::error::{Error, Result};
use crate::service::{decode_enum, normalize_time, Ctx, Service};
use app::error::ApiError;
use app::plan::Plan;
use app::stage::{StageFlagChange, NewStage, Stage, StageOrder, StagePatch, StageStatus};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashSet;

const COLUMNS: &str = "id, plan_id, position, name, goal, description, status, started_at, passed_at, planned_start, \
    planned_duration_minutes, min_soak_minutes, forward_runbook, rollback_runbook, created_at, updated_at, gate_roles, gate_approvals, auto_rollback, \
    revision, signed_revision, change_note";

fn stage_from_row(r: &AnyRow) -> Result<Stage, sqlx::Error> {
    Ok(Stage {
        id: r.try_get("id")?,
        plan_id: r.try_get("plan_id")?,
        position: r.try_get("position")?,
        name: r.try_get("name")?,
        goal: r.try_get("goal")?,
        description: r.try_get("description")?,
        status: decode_enum(r.try_get("status")?, StageStatus::parse, "status")?,
        planned_start: r.try_get("planned_start")?,
        planned_duration_minutes: r.try_get("planned_duration_minutes")?,
        min_soak_minutes: r.try_get("min_soak_minutes")?,
        forward_runbook: r.try_get("forward_runbook")?,
        rollback_runbook: r.try_get("rollback_runbook")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        flag_changes: vec![],
        checklist: vec![],
        started_at: r.try_get("started_at")?,
        passed_at: r.try_get("passed_at")?,
        gate_roles: app::gate::parse_roles(&r.try_get::<String, _>("gate_roles")?),
        gate_approvals: r.try_get("gate_approvals")?,
        gates: vec![],
        rollbacks: vec![],
        runs: vec![],
        auto_rollback: r.try_get::<i64, _>("auto_rollback")? == 1,
        guards: vec![],
        revision: r.try_get("revision")?,
        signed_revision: r.try_get("signed_revision")?,
        change_note: r.try_get("change_note")?,
    })
}

/// A plan's stages with their flag changes (one row per change, joined), then what the
/// other modules keep for each stage. A fixed number of statements, however many stages.
pub async fn load_stages(conn: &mut AnyConnection, plan_id: i64) -> Result<Vec<Stage>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {}, c.flag_key, c.environment, c.enabled, c.percentage, c.rules AS change_rules, c.applied_at, c.reverted_at
         FROM stages s LEFT JOIN stage_flag_changes c ON c.stage_id = s.id
         WHERE s.plan_id = $1 ORDER BY s.position, c.position",
        crate::db::prefixed(COLUMNS, "s")
    ))
    .bind(plan_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut stages = crate::db::group_joined(
        &rows,
        stage_from_row,
        |r| {
            let Some(flag) = r.try_get::<Option<String>, _>("flag_key")? else { return Ok(None) };
            Ok(Some(StageFlagChange {
                flag,
                environment: r.try_get("environment")?,
                enabled: r.try_get::<i64, _>("enabled")? == 1,
                percentage: r.try_get("percentage")?,
                rules: crate::stage_flag::rules_of(r, "change_rules")?,
                applied_at: r.try_get("applied_at")?,
                reverted_at: r.try_get("reverted_at")?,
            }))
        },
        |s| &mut s.flag_changes,
    )?;
    attach(&mut stages, crate::checklist::load_items(conn, plan_id).await?, |s| &mut s.checklist);
    attach(&mut stages, crate::gate::load_gates(conn, plan_id).await?.into_iter().map(|g| (g.stage_id, g)), |s| &mut s.gates);
    let rollbacks = crate::gate::load_rollbacks(conn, plan_id).await?;
    attach(&mut stages, rollbacks.into_iter().map(|r| (r.stage_id, r)), |s| &mut s.rollbacks);
    attach(&mut stages, crate::runbook::load_runs(conn, plan_id).await?.into_iter().map(|r| (r.stage_id, r)), |s| &mut s.runs);
    attach(&mut stages, crate::guard::load_guards(conn, plan_id).await?.into_iter().map(|g| (g.stage_id, g)), |s| &mut s.guards);
    Ok(stages)
}

/// Puts each `(stage id, item)` into that stage's list, in the order they come.
fn attach<T>(stages: &mut [Stage], items: impl IntoIterator<Item = (i64, T)>, list: impl Fn(&mut Stage) -> &mut Vec<T>) {
    for (stage_id, item) in items {
        if let Some(stage) = stages.iter_mut().find(|s| s.id == stage_id) {
            list(stage).push(item);
        }
    }
}

pub(crate) fn prefix(e: Error, prefix: &str) -> Error {
    match e {
        Error::Api(a) => Error::Api(app::plan::prefix_field(a, prefix)),
        other => other,
    }
}

/// Stages move through start, pass and rollback, which check their order, soak time
/// and flags; a status is never set by hand.
fn check_status(wanted: Option<StageStatus>, current: StageStatus) -> Result<(), ApiError> {
    match wanted {
        Some(s) if s != current => Err(ApiError::validation(
            "status",
            "A stage's status changes by starting, passing or rolling it back, not by editing it.",
        )),
        _ => Ok(()),
    }
}

pub(crate) async fn insert_stage(conn: &mut AnyConnection, plan_id: i64, position: i64, s: &NewStage, at: &str) -> Result<i64> {
    check_status(s.status, StageStatus::Pending)?;
    let start = s.planned_start.as_deref().map(|t| normalize_time("planned_start", t)).transpose()?;
    let id = sqlx::query_scalar(
        "INSERT INTO stages (plan_id, position, name, goal, description, status, planned_start,
            planned_duration_minutes, min_soak_minutes, forward_runbook, rollback_runbook, created_at, updated_at,
            gate_roles, gate_approvals, auto_rollback)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15) RETURNING id",
    )
    .bind(plan_id)
    .bind(position)
    .bind(s.name.trim())
    .bind(s.goal.trim())
    .bind(&s.description)
    .bind(s.status.unwrap_or(StageStatus::Pending).as_str())
    .bind(start)
    .bind(s.planned_duration_minutes)
    .bind(s.min_soak_minutes)
    .bind(&s.forward_runbook)
    .bind(&s.rollback_runbook)
    .bind(at)
    .bind(app::gate::join_roles(s.gate_roles.as_deref().unwrap_or(&app::gate::DEFAULT_GATE_ROLES)))
    .bind(s.gate_approvals.unwrap_or(1))
    .bind(i64::from(s.auto_rollback.unwrap_or(false)))
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Gives the stages of a plan the positions 0..n in `ids` order. Moves every stage
/// out of the way first so the (plan, position) uniqueness holds at each step.
async fn renumber(conn: &mut AnyConnection, plan_id: i64, ids: &[i64]) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE stages SET position = -1 - position WHERE plan_id = $1")
        .bind(plan_id)
        .execute(&mut *conn)
        .await?;
    for (i, id) in ids.iter().enumerate() {
        sqlx::query("UPDATE stages SET position = $1 WHERE id = $2 AND plan_id = $3")
            .bind(i as i64)
            .bind(id)
            .bind(plan_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(crate) fn find_stage(plan: &Plan, stage_id: i64) -> Result<&Stage, ApiError> {
    plan.stages.iter().find(|s| s.id == stage_id).ok_or_else(|| ApiError::not_found("Stage"))
}

impl Service {
    pub async fn get_stage(&self, ctx: &Ctx, plan_id: i64, stage_id: i64) -> Result<Stage> {
        let plan = self.get_plan(ctx, plan_id).await?;
        Ok(find_stage(&plan, stage_id)?.clone())
    }

    pub async fn add_stage(&self, ctx: &Ctx, plan_id: i64, new: NewStage) -> Result<Plan> {
        new.validate()?;
        let mut change = self.open(ctx, Action::StageCreate, plan_id, new.version, None).await?;
        let before = change.plan.clone();
        let count = before.stages.len() as i64;
        let position = new.position.unwrap_or(count).min(count);
        if let Some(started) = before.stages.iter().rev().find(|s| s.is_frozen()).filter(|s| s.position >= position) {
            return Err(ApiError::new(409, "stage_frozen", format!("A new stage goes after {}, which has started.", started.name))
                .with_field("position")
                .into());
        }
        let stage_id = insert_stage(change.conn(), plan_id, count, &new, &now()).await?;
        change.touch(stage_id);
        if position < count {
            let mut ids: Vec<i64> = before.stages.iter().map(|s| s.id).collect();
            ids.insert(position as usize, stage_id);
            renumber(change.conn(), plan_id, &ids).await?;
        }
        let entry = Entry::new(Action::StageCreate, format!("plan:{plan_id}/stage:{stage_id}"), plan_id);
        self.commit(change, ctx, entry).await
    }

    pub async fn update_stage(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, patch: StagePatch) -> Result<Plan> {
        patch.validate()?;
        let mut change = self.open(ctx, Action::StageUpdate, plan_id, Some(patch.version), Some(stage_id)).await?;
        let old = find_stage(&change.plan, stage_id)?.clone();
        check_status(patch.status, old.status)?;
        let start = match patch.planned_start {
            Some(Some(t)) => Some(normalize_time("planned_start", &t)?),
            Some(None) => None,
            None => old.planned_start.clone(),
        };
        sqlx::query(
            "UPDATE stages SET name = $1, goal = $2, description = $3, status = $4, planned_start = $5,
                planned_duration_minutes = $6, min_soak_minutes = $7, forward_runbook = $8,
                rollback_runbook = $9, updated_at = $10, gate_roles = $12, gate_approvals = $13, auto_rollback = $14
             WHERE id = $11",
        )
        .bind(patch.name.as_deref().map(str::trim).unwrap_or(&old.name))
        .bind(patch.goal.as_deref().map(str::trim).unwrap_or(&old.goal))
        .bind(patch.description.as_deref().unwrap_or(&old.description))
        .bind(patch.status.unwrap_or(old.status).as_str())
        .bind(start)
        .bind(patch.planned_duration_minutes.unwrap_or(old.planned_duration_minutes))
        .bind(patch.min_soak_minutes.unwrap_or(old.min_soak_minutes))
        .bind(patch.forward_runbook.as_deref().unwrap_or(&old.forward_runbook))
        .bind(patch.rollback_runbook.as_deref().unwrap_or(&old.rollback_runbook))
        .bind(now())
        .bind(stage_id)
        .bind(app::gate::join_roles(patch.gate_roles.as_deref().unwrap_or(&old.gate_roles)))
        .bind(patch.gate_approvals.unwrap_or(old.gate_approvals))
        .bind(i64::from(patch.auto_rollback.unwrap_or(old.auto_rollback)))
        .execute(change.conn())
        .await?;
        let entry = Entry::new(Action::StageUpdate, format!("plan:{plan_id}/stage:{stage_id}"), plan_id).before(&old);
        self.commit(change, ctx, entry).await
    }

    pub async fn delete_stage(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, version: Option<i64>) -> Result<Plan> {
        let mut change = self.open(ctx, Action::StageDelete, plan_id, version, Some(stage_id)).await?;
        let before = change.plan.clone();
        let old = find_stage(&before, stage_id)?.clone();
        sqlx::query("DELETE FROM stages WHERE id = $1").bind(stage_id).execute(change.conn()).await?;
        let ids: Vec<i64> = before.stages.iter().map(|s| s.id).filter(|id| *id != stage_id).collect();
        renumber(change.conn(), plan_id, &ids).await?;
        // What follows the removed stage now runs in another context.
        change.touch_plan();
        let entry = Entry::new(Action::StageDelete, format!("plan:{plan_id}/stage:{stage_id}"), plan_id).before(&old);
        self.commit(change, ctx, entry).await
    }

    /// `order.stage_ids` must name every stage of the plan exactly once.
    pub async fn reorder_stages(&self, ctx: &Ctx, plan_id: i64, order: StageOrder) -> Result<Plan> {
        let mut seen = HashSet::new();
        if let Some(dup) = order.stage_ids.iter().find(|id| !seen.insert(**id)) {
            return Err(ApiError::new(422, "duplicate_stage", format!("Stage {dup} appears twice in the new order."))
                .with_field("stage_ids")
                .into());
        }
        let mut change = self.open(ctx, Action::StageReorder, plan_id, Some(order.version), None).await?;
        let before = change.plan.clone();
        let current: HashSet<i64> = before.stages.iter().map(|s| s.id).collect();
        if seen != current {
            let message = match order.stage_ids.iter().find(|id| !current.contains(id)) {
                Some(id) => format!("Stage {id} is not a stage of this plan."),
                None => format!("The new order must list all {} stages of the plan.", current.len()),
            };
            return Err(ApiError::validation("stage_ids", message).into());
        }
        if let Some(moved) = before.stages.iter().find(|s| s.is_frozen() && order.stage_ids.get(s.position as usize) != Some(&s.id)) {
            crate::action::check_not_frozen(moved).map_err(|e| e.with_field("stage_ids"))?;
        }
        renumber(change.conn(), plan_id, &order.stage_ids).await?;
        let old_order: Vec<i64> = before.stages.iter().map(|s| s.id).collect();
        let entry = Entry::new(Action::StageReorder, format!("plan:{plan_id}"), plan_id)
            .before(&old_order)
            .after(&order.stage_ids);
        self.commit(change, ctx, entry).await
    }
}
