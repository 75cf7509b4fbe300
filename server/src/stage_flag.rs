//! The flags a stage flips: set on the plan, applied together (one transaction) when
//! the stage starts, and put back to exactly what they were when it is rolled back.
use crate::action::Action;
use crate::audit::{self, Entry};
use crate::db::{now, WriteTx};
use crate::error::Result;
use crate::flag::{load_environments, load_flag, write_state};
use crate::service::{Ctx, Service};
use crate::stage::find_stage;
use app::error::ApiError;
use app::flag::FlagState;
use app::plan::{Plan, PlanStatus};
use app::stage::{FlagChangeInput, StageAction, StageFlagChanges, StageStatus};
use sqlx::Row;

impl Service {
    /// Replaces the stage's list of flag changes (its migration leads and admins).
    pub async fn set_stage_flags(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, input: StageFlagChanges) -> Result<Plan> {
        input.validate()?;
        let mut change = self.open(ctx, Action::StageFlags, plan_id, Some(input.version), Some(stage_id)).await?;
        let stage = find_stage(&change.plan, stage_id)?.clone();
        if !matches!(stage.status, StageStatus::Pending | StageStatus::AwaitingDecision) {
            return Err(ApiError::new(409, "stage_started", "This stage has started; its flag changes are fixed.").into());
        }
        sqlx::query("DELETE FROM stage_flag_changes WHERE stage_id = $1").bind(stage_id).execute(change.conn()).await?;
        insert_changes(change.conn(), stage_id, &input.changes).await?;
        let entry = Entry::new(Action::StageFlags, format!("plan:{plan_id}/stage:{stage_id}"), plan_id).before(&stage.flag_changes);
        self.commit(change, ctx, entry).await
    }

    /// Applies a stage's flag changes as part of its "go" decision, saving each flag's
    /// prior state so a rollback can put it back exactly. Returns how many it changed.
    pub(crate) async fn apply_stage_flags(&self, tx: &mut WriteTx, ctx: &Ctx, stage_id: i64, at: &str) -> Result<usize> {
        let rows = sqlx::query("SELECT id, flag_key, environment, enabled, percentage, rules FROM stage_flag_changes WHERE stage_id = $1 ORDER BY position")
            .bind(stage_id)
            .fetch_all(tx.conn())
            .await?;
        for r in &rows {
            let (id, key, env): (i64, String, String) = (r.try_get("id")?, r.try_get("flag_key")?, r.try_get("environment")?);
            let enabled: i64 = r.try_get("enabled")?;
            let flag = load_flag(tx.conn(), &key).await?.filter(|f| f.archived_at.is_none()).ok_or_else(|| {
                ApiError::new(409, "flag_archived", format!("Flag {key:?} is archived or gone; change the stage's flags first."))
            })?;
            let prior = flag.state(&env).cloned().ok_or_else(|| ApiError::not_found("Environment"))?;
            let rules = rules_of(r, "rules")?.unwrap_or_else(|| prior.rules.clone());
            let next = FlagState { enabled: enabled == 1, percentage: r.try_get("percentage")?, rules, updated_at: at.to_string(), ..prior.clone() };
            set_flag(tx, ctx, flag.id, flag.killed_at.is_some(), &key, &prior, &next, stage_id).await?;
            sqlx::query("UPDATE stage_flag_changes SET prior_json = $1, applied_at = $2, reverted_at = NULL WHERE id = $3")
                .bind(serde_json::to_string(&prior).unwrap_or_default())
                .bind(at)
                .bind(id)
                .execute(tx.conn())
                .await?;
        }
        sqlx::query("UPDATE stages SET status = $1, updated_at = $2, started_at = $2 WHERE id = $3")
            .bind(StageStatus::Active.as_str())
            .bind(at)
            .bind(stage_id)
            .execute(tx.conn())
            .await?;
        Ok(rows.len())
    }

    /// An active stage passes once its minimum soak time is over; when the last stage
    /// passes, the plan is completed.
    pub async fn pass_stage(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, action: StageAction) -> Result<Plan> {
        let mut change = self.open(ctx, Action::StagePass, plan_id, Some(action.version), None).await?;
        let before = change.plan.clone();
        let stage = find_stage(&before, stage_id)?.clone();
        if stage.status != StageStatus::Active {
            return Err(ApiError::new(409, "stage_not_active", format!("This stage is {}; only an active stage passes.", stage.status.label().to_lowercase())).into());
        }
        if stage.open_rollback().is_some() {
            return Err(ApiError::new(409, "rollback_pending", "A rollback of this stage awaits its decision.").into());
        }
        crate::guard::check_not_paused(&before)?;
        if let Some(until) = soak_until(&stage) {
            let left = until - chrono::Utc::now();
            if left > chrono::Duration::zero() {
                let minutes = (left.num_seconds() + 59) / 60;
                return Err(ApiError::new(409, "soaking", format!("This stage is soaking for {minutes} more minute(s); it can pass after {}.", until.format("%H:%M UTC"))).into());
            }
        }
        let at = now();
        sqlx::query("UPDATE stages SET status = $1, updated_at = $2, passed_at = $2 WHERE id = $3")
            .bind(StageStatus::Passed.as_str())
            .bind(&at)
            .bind(stage_id)
            .execute(change.conn())
            .await?;
        let last = before.stages.iter().all(|s| s.id == stage_id || s.status == StageStatus::Passed);
        if last {
            sqlx::query("UPDATE plans SET status = $1 WHERE id = $2").bind(PlanStatus::Completed.as_str()).bind(plan_id).execute(change.conn()).await?;
        }
        let entry = Entry::new(Action::StagePass, format!("plan:{plan_id}/stage:{stage_id}"), plan_id).before(&stage);
        self.commit(change, ctx, entry).await
    }

    /// Puts every flag a stage changed back to exactly its state from just before the
    /// stage started, and marks the stage rolled back. Returns how many flags it changed.
    pub(crate) async fn revert_stage_flags(&self, tx: &mut WriteTx, ctx: &Ctx, stage_id: i64, at: &str) -> Result<usize> {
        let rows = sqlx::query(
            "SELECT id, flag_key, environment, prior_json FROM stage_flag_changes
             WHERE stage_id = $1 AND applied_at IS NOT NULL AND reverted_at IS NULL ORDER BY position DESC",
        )
        .bind(stage_id)
        .fetch_all(tx.conn())
        .await?;
        for r in &rows {
            let (id, key): (i64, String) = (r.try_get("id")?, r.try_get("flag_key")?);
            let prior: Option<String> = r.try_get("prior_json")?;
            let Some(prior) = prior.and_then(|p| serde_json::from_str::<FlagState>(&p).ok()) else { continue };
            let Some(flag) = load_flag(tx.conn(), &key).await? else { continue };
            let current = flag.state(&prior.environment).cloned().ok_or_else(|| ApiError::not_found("Environment"))?;
            let restored = FlagState { updated_at: at.to_string(), ..prior };
            set_flag(tx, ctx, flag.id, flag.killed_at.is_some(), &key, &current, &restored, stage_id).await?;
            sqlx::query("UPDATE stage_flag_changes SET reverted_at = $1 WHERE id = $2").bind(at).bind(id).execute(tx.conn()).await?;
        }
        sqlx::query("UPDATE stages SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(StageStatus::RolledBack.as_str())
            .bind(at)
            .bind(stage_id)
            .execute(tx.conn())
            .await?;
        Ok(rows.len())
    }
}

/// Writes one flag state as part of a stage's transaction, with its own audit entry so
/// the flag's history shows every change, whoever or whatever made it.
#[allow(clippy::too_many_arguments)]
async fn set_flag(
    tx: &mut WriteTx,
    ctx: &Ctx,
    flag_id: i64,
    killed: bool,
    key: &str,
    from: &FlagState,
    to: &FlagState,
    stage_id: i64,
) -> Result<()> {
    write_state(tx.conn(), flag_id, to).await?;
    let clear_kill = to.enabled && killed;
    sqlx::query(if clear_kill {
        "UPDATE flags SET version = version + 1, updated_at = $1, killed_at = NULL, killed_by = NULL WHERE id = $2"
    } else {
        "UPDATE flags SET version = version + 1, updated_at = $1 WHERE id = $2"
    })
    .bind(&to.updated_at)
    .bind(flag_id)
    .execute(tx.conn())
    .await?;
    let entry = Entry::global("flag.set", format!("flag:{key}/environment:{}", to.environment)).before(from).after(to);
    let entry = Entry { after: entry.after.map(|mut a| {
        a["by_stage"] = serde_json::json!(stage_id);
        a
    }), ..entry };
    audit::append(tx.conn(), ctx, &entry).await?;
    Ok(())
}

/// The earliest time an active stage may pass: its start plus its minimum soak.
fn soak_until(stage: &app::stage::Stage) -> Option<chrono::DateTime<chrono::Utc>> {
    let started = chrono::DateTime::parse_from_rfc3339(stage.started_at.as_deref()?).ok()?;
    Some(started.with_timezone(&chrono::Utc) + chrono::Duration::minutes(stage.min_soak_minutes.unwrap_or(0)))
}

/// The flags that do not exist (or are archived): their keys.
pub(crate) async fn missing_flags(conn: &mut sqlx::AnyConnection, keys: &[&str]) -> Result<Vec<String>, sqlx::Error> {
    let mut missing = Vec::new();
    for k in keys {
        if load_flag(&mut *conn, k).await?.filter(|f| f.archived_at.is_none()).is_none() {
            missing.push(k.to_string());
        }
    }
    Ok(missing)
}

/// Stores a stage's flag changes after checking each flag and environment exists.
pub(crate) async fn insert_changes(conn: &mut sqlx::AnyConnection, stage_id: i64, changes: &[FlagChangeInput]) -> Result<()> {
    let envs = load_environments(&mut *conn).await?;
    let segments = crate::segment::segment_names(&mut *conn).await?;
    let mut rules = vec![];
    for (i, c) in changes.iter().enumerate() {
        let live = load_flag(&mut *conn, &c.flag).await?.filter(|f| f.archived_at.is_none());
        let Some(flag) = live else {
            return Err(ApiError::new(422, "unknown_flag", format!("There is no flag {:?}.", c.flag))
                .with_field(format!("changes[{i}].flag"))
                .into());
        };
        if !envs.iter().any(|e| e.name == c.environment) {
            return Err(ApiError::new(422, "unknown_environment", format!("There is no environment {:?}.", c.environment))
                .with_field(format!("changes[{i}].environment"))
                .into());
        }
        // Read against the variants the flag has there now; they are what it will serve.
        let variants: Vec<String> = flag.state(&c.environment).map(|s| s.variants.iter().map(|v| v.name.clone()).collect()).unwrap_or_default();
        let read = match &c.rules {
            serde_json::Value::Null => None,
            v => Some(app::rule::parse_rules(v, &variants, &|n| segments.iter().any(|s| s == n)).map_err(|mut e| {
                e.field = e.field.map(|f| format!("changes[{i}].{f}"));
                e
            })?),
        };
        rules.push(read);
    }
    for (i, (c, rules)) in changes.iter().zip(rules).enumerate() {
        sqlx::query(
            "INSERT INTO stage_flag_changes (stage_id, position, flag_key, environment, enabled, percentage, rules) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(stage_id)
        .bind(i as i64)
        .bind(&c.flag)
        .bind(&c.environment)
        .bind(i64::from(c.enabled))
        .bind(c.percentage)
        .bind(rules.map(|r| serde_json::to_string(&r).unwrap_or_else(|_| "[]".into())))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A stage flag change's rules column: none (keep the flag's) or the rules it sets.
pub(crate) fn rules_of(r: &sqlx::any::AnyRow, col: &str) -> Result<Option<Vec<app::rule::Rule>>, sqlx::Error> {
    use sqlx::Row;
    let text: Option<String> = r.try_get(col)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| sqlx::Error::ColumnDecode { index: col.into(), source: Box::new(e) })).transpose()
}
