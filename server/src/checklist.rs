//! Stage checklists: items are plan content (leads edit them; changes void sign-offs);
//! results are recorded while the plan runs, by the people who run it.
use crate::audit::Entry;
use crate::db::now;
use crate::error::Result;
use crate::action::Action;
use crate::service::{decode_enum, Ctx, Service};
use crate::stage::find_stage;
use app::checklist::{CheckResult, CheckStatus, ChecklistCopy, ChecklistItem, NewChecklistItem};
use app::error::ApiError;
use app::plan::Plan;
use sqlx::{AnyConnection, Row};

/// Every checklist item of a plan, as (stage id, item), in stage and item order.
pub async fn load_items(conn: &mut AnyConnection, plan_id: i64) -> Result<Vec<(i64, ChecklistItem)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.id, c.stage_id, c.text, c.required, c.status, c.comment, c.evidence_url, c.checked_by, c.checked_at
         FROM checklist_items c JOIN stages s ON s.id = c.stage_id WHERE s.plan_id = $1 ORDER BY c.stage_id, c.position",
    )
    .bind(plan_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let required: i64 = r.try_get("required")?;
            Ok((
                r.try_get("stage_id")?,
                ChecklistItem {
                    id: r.try_get("id")?,
                    text: r.try_get("text")?,
                    required: required == 1,
                    status: decode_enum(r.try_get("status")?, CheckStatus::parse, "status")?,
                    comment: r.try_get("comment")?,
                    evidence_url: r.try_get("evidence_url")?,
                    checked_by: r.try_get("checked_by")?,
                    checked_at: r.try_get("checked_at")?,
                },
            ))
        })
        .collect()
}

pub(crate) async fn insert_item(conn: &mut AnyConnection, stage_id: i64, text: &str, required: bool) -> Result<i64, sqlx::Error> {
    let position: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), -1) + 1 FROM checklist_items WHERE stage_id = $1")
        .bind(stage_id)
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query_scalar("INSERT INTO checklist_items (stage_id, position, text, required) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(stage_id)
        .bind(position)
        .bind(text)
        .bind(i64::from(required))
        .fetch_one(conn)
        .await
}

impl Service {
    /// Stages with a checklist worth copying, newest plans first.
    pub async fn checklist_sources(&self, ctx: &Ctx) -> Result<Vec<(i64, String)>> {
        ctx.require_read(app::token::Scope::PlansRead)?;
        let mut conn = self.db.read().await?;
        let rows = sqlx::query(
            "SELECT s.id, p.title, s.name, COUNT(c.id) AS checks FROM stages s
             JOIN plans p ON p.id = s.plan_id JOIN checklist_items c ON c.stage_id = s.id
             GROUP BY s.id, p.id, p.title, s.name ORDER BY p.id DESC, s.id LIMIT 200",
        )
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                let (title, name, checks): (String, String, i64) = (r.try_get("title")?, r.try_get("name")?, r.try_get("checks")?);
                Ok((r.try_get("id")?, format!("{title} — {name} ({checks} checks)")))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    pub async fn add_check(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, new: NewChecklistItem) -> Result<Plan> {
        new.validate()?;
        let mut change = self.open(ctx, Action::ChecklistCreate, plan_id, Some(new.version), Some(stage_id)).await?;
        let id = insert_item(change.conn(), stage_id, new.text.trim(), new.required).await?;
        let entry = Entry::new(Action::ChecklistCreate, format!("plan:{plan_id}/stage:{stage_id}/check:{id}"), plan_id)
            .after(&serde_json::json!({ "text": new.text.trim(), "required": new.required }));
        self.commit(change, ctx, entry).await
    }

    pub async fn remove_check(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, item_id: i64, version: Option<i64>) -> Result<Plan> {
        let mut change = self.open(ctx, Action::ChecklistDelete, plan_id, version, Some(stage_id)).await?;
        let item = find_stage(&change.plan, stage_id)?.checklist.iter().find(|c| c.id == item_id).cloned();
        let item = item.ok_or_else(|| ApiError::not_found("Checklist item"))?;
        sqlx::query("DELETE FROM checklist_items WHERE id = $1").bind(item_id).execute(change.conn()).await?;
        let entry = Entry::new(Action::ChecklistDelete, format!("plan:{plan_id}/stage:{stage_id}/check:{item_id}"), plan_id).before(&item);
        self.commit(change, ctx, entry).await
    }

    /// Appends another stage's items (of any plan the caller can read), results cleared.
    pub async fn copy_checklist(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, copy: ChecklistCopy) -> Result<Plan> {
        let mut change = self.open(ctx, Action::ChecklistCopy, plan_id, Some(copy.version), Some(stage_id)).await?;
        let rows = sqlx::query("SELECT text, required FROM checklist_items WHERE stage_id = $1 ORDER BY position")
            .bind(copy.from_stage_id)
            .fetch_all(change.conn())
            .await?;
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stages WHERE id = $1").bind(copy.from_stage_id).fetch_one(change.conn()).await?;
        if exists == 0 {
            return Err(ApiError::new(422, "unknown_stage", "There is no such stage to copy from.").with_field("from_stage_id").into());
        }
        for r in &rows {
            let (text, required): (String, i64) = (r.try_get("text")?, r.try_get("required")?);
            insert_item(change.conn(), stage_id, &text, required == 1).await?;
        }
        let entry = Entry::new(Action::ChecklistCopy, format!("plan:{plan_id}/stage:{stage_id}"), plan_id)
            .after(&serde_json::json!({ "from_stage_id": copy.from_stage_id, "items": rows.len() }));
        self.commit(change, ctx, entry).await
    }

    /// Records what a check showed. The people who run the plan do this: its migration
    /// leads, on-call, rollback authorities, and admins. It changes no plan version, so
    /// checks recorded side by side never conflict.
    pub async fn record_check(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, item_id: i64, result: CheckResult) -> Result<Plan> {
        let mut change = self.open(ctx, Action::CheckResult, plan_id, None, None).await?;
        result.validate()?;
        let item = find_stage(&change.plan, stage_id)?.checklist.iter().find(|c| c.id == item_id).cloned();
        let item = item.ok_or_else(|| ApiError::not_found("Checklist item"))?;
        let evidence = result.evidence_url.as_deref().map(str::trim).filter(|u| !u.is_empty());
        sqlx::query("UPDATE checklist_items SET status = $1, comment = $2, evidence_url = $3, checked_by = $4, checked_at = $5 WHERE id = $6")
            .bind(result.status.as_str())
            .bind(result.comment.trim())
            .bind(evidence)
            .bind(ctx.actor())
            .bind(now())
            .bind(item_id)
            .execute(change.conn())
            .await?;
        let entry = Entry::new(Action::CheckResult, format!("plan:{plan_id}/stage:{stage_id}/check:{item_id}"), plan_id)
            .before(&item)
            .after(&serde_json::json!({ "status": result.status, "comment": result.comment.trim(), "evidence_url": evidence }));
        self.commit(change, ctx, entry).await
    }
}
