//! Plans: storage and the service calls that change them.
use crate::action::{Action, PlanChange};
use crate::audit::Entry;
use crate::db::now;
use crate::error::Result;
use crate::risk::{insert_risk, load_risks};
use crate::search::{self, Where};
use crate::service::{decode_enum, Ctx, Service};
use crate::stage::{insert_stage, load_stages};
use app::error::ApiError;
use app::role::PlanRole;
use app::token::Scope;
use app::plan::{NewPlan, Plan, PlanPage, PlanPatch, PlanQuery, PlanStatus, PlanSummary};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

const COLUMNS: &str =
    "id, title, summary, description, owner, status, version, created_at, updated_at, archived_at, review_note, rollback_target_seconds";

fn plan_from_row(r: &AnyRow) -> Result<Plan, sqlx::Error> {
    Ok(Plan {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        summary: r.try_get("summary")?,
        description: r.try_get("description")?,
        owner: r.try_get("owner")?,
        status: decode_enum(r.try_get("status")?, PlanStatus::parse, "status")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        archived_at: r.try_get("archived_at")?,
        stages: vec![],
        risks: vec![],
        roles: vec![],
        signoffs: vec![],
        review_note: r.try_get("review_note")?,
        rollback_target_seconds: r.try_get("rollback_target_seconds")?,
    })
}

/// A whole plan with its stages and risks, or `None`: at most 10 statements, however
/// many stages it has (plan, stages, checklists, gates, rollbacks, runs and their notes,
/// guards, risks, roles and sign-offs).
pub async fn load_plan(conn: &mut AnyConnection, id: i64) -> Result<Option<Plan>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM plans WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut plan = plan_from_row(&row)?;
    plan.stages = load_stages(conn, id).await?;
    plan.risks = load_risks(conn, id).await?;
    (plan.roles, plan.signoffs) = crate::role::load_roles_and_sign_offs(conn, id).await?;
    Ok(Some(plan))
}

/// Review states are reached through review and sign-off, and running states follow
/// the stages (gates, passes, rollbacks); none is set by hand.
fn check_status_choice(wanted: Option<PlanStatus>, current: PlanStatus) -> Result<(), ApiError> {
    match wanted {
        Some(s) if s != current && matches!(s, PlanStatus::InReview | PlanStatus::Approved) => Err(ApiError::validation(
            "status",
            "A plan goes to review with \"Send for review\" and is approved by its stakeholders' sign-offs.",
        )),
        Some(s) if s != current && matches!(s, PlanStatus::Executing | PlanStatus::Completed | PlanStatus::RolledBack) => {
            Err(ApiError::validation("status", "A running plan's status follows its stages: go/no-go, pass and rollback."))
        }
        _ => Ok(()),
    }
}

impl Service {
    pub async fn list_plans(&self, ctx: &Ctx, query: &PlanQuery) -> Result<PlanPage> {
        ctx.require_read(Scope::PlansRead)?;
        let limit = query.limit();
        let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        let mut conn = self.db.read().await?;
        let mut w = Where::default();
        if !query.include_archived.unwrap_or(false) {
            w.and("p.archived_at IS NULL");
        }
        if let Some(status) = query.status {
            let s = w.text(status.as_str());
            w.and(format!("p.status = {s}"));
        }
        if let Some(q) = q {
            let columns = ["p.title", "p.summary", "p.owner"];
            search::contains(&mut conn, self.db.kind, &mut w, q, &columns, ("plan_search", "rowid", "p.id")).await?;
        }
        let (total, total_capped) = w.count(&mut conn, "plans p").await?;
        if let Some(after) = query.after.as_deref().filter(|a| !a.is_empty()) {
            // The cursor is the last plan's change time and id.
            let (at, id) = after
                .rsplit_once('~')
                .and_then(|(at, id)| Some((at, id.parse::<i64>().ok()?)))
                .ok_or_else(|| ApiError::validation("after", "after is the next of a previous page."))?;
            let (at, id) = (w.text(at), w.int(id));
            w.and(format!("(p.updated_at < {at} OR (p.updated_at = {at} AND p.id < {id}))"));
        }
        let sql = format!(
            "SELECT p.id, p.title, p.summary, p.owner, p.status, p.version, p.created_at, p.updated_at,
                    p.archived_at, (SELECT COUNT(*) FROM stages s WHERE s.plan_id = p.id) AS stage_count
             FROM plans p{} ORDER BY p.updated_at DESC, p.id DESC LIMIT {}",
            w.sql(),
            limit + 1
        );
        let rows = w.bind(sqlx::query(&sql)).fetch_all(&mut *conn).await?;
        let mut items = rows
            .iter()
            .map(|r| {
                Ok(PlanSummary {
                    id: r.try_get("id")?,
                    title: r.try_get("title")?,
                    summary: r.try_get("summary")?,
                    owner: r.try_get("owner")?,
                    status: decode_enum(r.try_get("status")?, PlanStatus::parse, "status")?,
                    version: r.try_get("version")?,
                    stage_count: r.try_get("stage_count")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                    archived_at: r.try_get("archived_at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let next = search::next_page(&mut items, limit, |p| format!("{}~{}", p.updated_at, p.id));
        Ok(PlanPage { items, total, total_capped, next })
    }

    pub async fn get_plan(&self, ctx: &Ctx, id: i64) -> Result<Plan> {
        ctx.require_read(Scope::PlansRead)?;
        let mut conn = self.db.read().await?;
        Ok(load_plan(&mut conn, id).await?.ok_or_else(|| ApiError::not_found("Plan"))?)
    }

    /// People and `plans:write` tokens create plans; a person creating one becomes its
    /// migration lead.
    pub async fn create_plan(&self, ctx: &Ctx, new: NewPlan) -> Result<Plan> {
        Action::PlanCreate.rules().who.check(ctx, &[])?;
        new.validate()?;
        check_status_choice(new.status, PlanStatus::Draft)?;
        let at = now();
        let mut tx = self.db.write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO plans (title, summary, description, owner, status, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 1, $6, $6) RETURNING id",
        )
        .bind(new.title.trim())
        .bind(new.summary.trim())
        .bind(&new.description)
        .bind(new.owner.trim())
        .bind(new.status.unwrap_or(PlanStatus::Draft).as_str())
        .bind(&at)
        .fetch_one(tx.conn())
        .await?;
        for (i, stage) in new.stages.iter().enumerate() {
            let stage_id = insert_stage(tx.conn(), id, i as i64, stage, &at)
                .await
                .map_err(|e| crate::stage::prefix(e, &format!("stages[{i}]")))?;
            for c in &stage.checklist {
                let item = crate::checklist::insert_item(tx.conn(), stage_id, c.text.trim(), c.required).await?;
                if c.done {
                    // "- [x]" in an imported plan: recorded as passed by whoever imported it.
                    sqlx::query("UPDATE checklist_items SET status = 'pass', checked_by = $1, checked_at = $2 WHERE id = $3")
                        .bind(ctx.actor())
                        .bind(&at)
                        .bind(item)
                        .execute(tx.conn())
                        .await?;
                }
            }
            crate::stage_flag::insert_changes(tx.conn(), stage_id, &stage.flag_changes)
                .await
                .map_err(|e| crate::stage::prefix(e, &format!("stages[{i}]")))?;
        }
        for (i, risk) in new.risks.iter().enumerate() {
            insert_risk(tx.conn(), id, i as i64, risk).await?;
        }
        if let Some(person) = ctx.person() {
            crate::role::insert_role(tx.conn(), id, person.id, PlanRole::MigrationLead).await?;
        }
        let change = PlanChange::created(tx, id).await?;
        self.commit(change, ctx, Entry::new(Action::PlanCreate, format!("plan:{id}"), id)).await
    }

    pub async fn update_plan(&self, ctx: &Ctx, id: i64, patch: PlanPatch) -> Result<Plan> {
        patch.validate()?;
        if patch.archived == Some(false) {
            return self.restore_plan(ctx, id, patch).await;
        }
        if patch.archived == Some(true) {
            return self.archive_plan(ctx, id, Some(patch.version)).await;
        }
        let mut change = self.open(ctx, Action::PlanUpdate, id, Some(patch.version), None).await?;
        let before = change.plan.clone();
        check_status_choice(patch.status, before.status)?;
        sqlx::query("UPDATE plans SET title = $1, summary = $2, description = $3, owner = $4, status = $5, rollback_target_seconds = $7 WHERE id = $6")
            .bind(patch.title.as_deref().map(str::trim).unwrap_or(&before.title))
            .bind(patch.summary.as_deref().map(str::trim).unwrap_or(&before.summary))
            .bind(patch.description.as_deref().unwrap_or(&before.description))
            .bind(patch.owner.as_deref().map(str::trim).unwrap_or(&before.owner))
            .bind(patch.status.unwrap_or(before.status).as_str())
            .bind(id)
            .bind(patch.rollback_target_seconds.unwrap_or(before.rollback_target_seconds))
            .execute(change.conn())
            .await?;
        self.commit(change, ctx, Entry::new(Action::PlanUpdate, format!("plan:{id}"), id).before(&before)).await
    }

    /// Archived plans leave the list and become read-only; nothing is deleted.
    pub async fn archive_plan(&self, ctx: &Ctx, id: i64, version: Option<i64>) -> Result<Plan> {
        let mut change = self.open(ctx, Action::PlanArchive, id, version, None).await?;
        let before = change.plan.clone();
        sqlx::query("UPDATE plans SET archived_at = $1 WHERE id = $2")
            .bind(now())
            .bind(id)
            .execute(change.conn())
            .await?;
        self.commit(change, ctx, Entry::new(Action::PlanArchive, format!("plan:{id}"), id).before(&before)).await
    }

    async fn restore_plan(&self, ctx: &Ctx, id: i64, patch: PlanPatch) -> Result<Plan> {
        let mut change = self.open(ctx, Action::PlanRestore, id, Some(patch.version), None).await?;
        let before = change.plan.clone();
        sqlx::query("UPDATE plans SET archived_at = NULL WHERE id = $1").bind(id).execute(change.conn()).await?;
        self.commit(change, ctx, Entry::new(Action::PlanRestore, format!("plan:{id}"), id).before(&before)).await
    }
}
