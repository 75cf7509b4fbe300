//! Review: stakeholders comment and sign off; the plan goes draft -> in review ->
//! approved once every assigned stakeholder has signed off the current version.
//! A change to what they reviewed voids the sign-offs and says why.
use crate::audit::Entry;
use crate::db::now;
use crate::error::Result;
use crate::person::person_from_row;
use crate::plan::load_plan;
use crate::service::{decode_enum, Ctx, Need, Service};
use app::error::ApiError;
use app::plan::{Plan, PlanStatus};
use app::review::{Comment, Decision, NewComment, NewSignOff, SignOff};
use app::role::PlanRole;
use sqlx::{AnyConnection, Row};

/// Current (not voided) sign-offs, one per stakeholder, newest decision.
pub async fn load_sign_offs(conn: &mut AnyConnection, plan_id: i64) -> Result<Vec<SignOff>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT s.id AS signoff_id, s.decision, s.comment, s.plan_version, s.created_at AS signed_at, {}
         FROM signoffs s JOIN users u ON u.id = s.user_id
         WHERE s.plan_id = $1 AND s.voided_at IS NULL ORDER BY s.id",
        crate::person::COLUMNS
    ))
    .bind(plan_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SignOff {
                id: r.try_get("signoff_id")?,
                person: person_from_row(r)?,
                decision: decode_enum(r.try_get("decision")?, Decision::parse, "decision")?,
                comment: r.try_get("comment")?,
                plan_version: r.try_get("plan_version")?,
                created_at: r.try_get("signed_at")?,
            })
        })
        .collect()
}

/// Changes to what stakeholders sign off: the plan's text, its stages and its risks.
/// (Starting or rolling back a stage runs the plan; it does not change what was reviewed.)
pub fn is_content_change(action: &str) -> bool {
    matches!(
        action,
        "plan.update"
            | "stage.create"
            | "stage.update"
            | "stage.delete"
            | "stage.reorder"
            | "stage.flags"
            | "checklist.create"
            | "checklist.delete"
            | "checklist.copy"
    ) || action.starts_with("risk.")
}

/// Called inside a content change's transaction, with the plan as the change left it.
pub async fn void_sign_offs(conn: &mut AnyConnection, ctx: &Ctx, plan: &Plan, entry: &Entry) -> Result<(), sqlx::Error> {
    if !matches!(plan.status, PlanStatus::InReview | PlanStatus::Approved) {
        return Ok(());
    }
    if entry.action == "plan.update" && !text_changed(entry, plan) {
        return Ok(());
    }
    if plan.signoffs.is_empty() && plan.status != PlanStatus::Approved {
        return Ok(());
    }
    let at = now();
    sqlx::query("UPDATE signoffs SET voided_at = $1 WHERE plan_id = $2 AND voided_at IS NULL")
        .bind(&at)
        .bind(plan.id)
        .execute(&mut *conn)
        .await?;
    let note = format!(
        "{} {} on {} after sign-off; the stakeholders need to review and sign off again.",
        ctx.actor(),
        describe(entry, plan),
        app::pages::short_time(&at)
    );
    sqlx::query("UPDATE plans SET status = $1, review_note = $2 WHERE id = $3")
        .bind(PlanStatus::InReview.as_str())
        .bind(note)
        .bind(plan.id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether a plan edit touched what was reviewed, not only its status.
fn text_changed(entry: &Entry, now: &Plan) -> bool {
    let Some(before) = &entry.before else { return true };
    ["title", "summary", "description", "owner"]
        .iter()
        .any(|f| before.get(*f).and_then(|v| v.as_str()) != serde_json::to_value(now).ok().as_ref().and_then(|p| p.get(*f)).and_then(|v| v.as_str()))
}

/// "changed stage “Stage 2: …”", from the change's action and target.
fn describe(entry: &Entry, plan: &Plan) -> String {
    let sub_id = entry.target.rsplit_once(':').and_then(|(_, id)| id.parse::<i64>().ok());
    let before_name = |key: &str| entry.before.as_ref().and_then(|b| b.get(key)).and_then(|v| v.as_str()).map(str::to_string);
    let stage_name = || {
        sub_id
            .and_then(|id| plan.stages.iter().find(|s| s.id == id))
            .map(|s| s.name.clone())
            .or_else(|| before_name("name"))
            .unwrap_or_default()
    };
    let risk_name = || {
        sub_id
            .and_then(|id| plan.risks.iter().find(|r| r.id == id))
            .map(|r| r.risk.clone())
            .or_else(|| before_name("risk"))
            .unwrap_or_default()
    };
    match entry.action {
        "plan.update" => "edited the plan's details".into(),
        "stage.create" => format!("added stage “{}”", stage_name()),
        "stage.update" => format!("edited stage “{}”", stage_name()),
        "stage.delete" => format!("removed stage “{}”", stage_name()),
        "stage.reorder" => "reordered the stages".into(),
        "stage.flags" => format!("changed the flags stage “{}” flips", stage_name()),
        "checklist.create" | "checklist.delete" | "checklist.copy" => "changed a stage's checklist".into(),
        "risk.create" => format!("added risk “{}”", risk_name()),
        "risk.update" => format!("edited risk “{}”", risk_name()),
        "risk.delete" => format!("removed risk “{}”", risk_name()),
        other => format!("made a change ({other})"),
    }
}

/// Moves an in-review plan to approved when every stakeholder has signed off the
/// current version, and an approved one back to review when that stops being true
/// (a stakeholder added). `why` explains the way back.
pub async fn settle(conn: &mut AnyConnection, plan_id: i64, why: Option<String>) -> Result<(), sqlx::Error> {
    let Some(plan) = load_plan(conn, plan_id).await? else { return Ok(()) };
    let stakeholders: Vec<i64> = plan.holders(PlanRole::Stakeholder).map(|p| p.id).collect();
    let all_in = !stakeholders.is_empty()
        && stakeholders.iter().all(|id| {
            plan.signoffs.iter().any(|s| s.person.id == *id && s.decision == Decision::Approved && s.plan_version == plan.version)
        });
    let next = match (plan.status, all_in) {
        (PlanStatus::InReview, true) => Some((PlanStatus::Approved, None)),
        (PlanStatus::Approved, false) => Some((
            PlanStatus::InReview,
            Some(why.unwrap_or_else(|| "The stakeholders changed; the plan needs their sign-off again.".into())),
        )),
        _ => None,
    };
    if let Some((status, note)) = next {
        sqlx::query("UPDATE plans SET status = $1, review_note = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(note)
            .bind(plan_id)
            .execute(conn)
            .await?;
    }
    Ok(())
}

impl Service {
    /// A draft goes to its stakeholders.
    pub async fn request_review(&self, ctx: &Ctx, plan_id: i64, version: i64) -> Result<Plan> {
        let (mut tx, before) = self.begin_change(ctx, plan_id, Some(version)).await?;
        if before.status != PlanStatus::Draft {
            return Err(ApiError::new(409, "not_a_draft", format!("This plan is {}; only a draft can be sent for review.", before.status.label().to_lowercase()))
                .with_field("status")
                .into());
        }
        if before.holders(PlanRole::Stakeholder).next().is_none() {
            return Err(ApiError::new(422, "no_stakeholders", "Give at least one person the stakeholder role first.").into());
        }
        sqlx::query("UPDATE plans SET status = $1, review_note = NULL WHERE id = $2")
            .bind(PlanStatus::InReview.as_str())
            .bind(plan_id)
            .execute(tx.conn())
            .await?;
        self.finish_change(tx, ctx, Entry::new("plan.request_review", format!("plan:{plan_id}"), plan_id).before(&before))
            .await
    }

    /// A stakeholder signs off, or asks for changes, on the version they reviewed.
    /// Sign-offs do not change the plan's version: stakeholders reviewing side by side
    /// do not conflict with each other.
    pub async fn sign_off(&self, ctx: &Ctx, plan_id: i64, new: NewSignOff) -> Result<Plan> {
        ctx.require_signed_in()?;
        let mut tx = self.db.write().await?;
        let before = load_plan(tx.conn(), plan_id).await?.ok_or_else(|| ApiError::not_found("Plan"))?;
        ctx.require_on_plan(tx.conn(), plan_id, Need::SignOff).await?;
        new.validate()?;
        if before.status != PlanStatus::InReview {
            return Err(ApiError::new(409, "not_in_review", format!("This plan is {}; sign-off happens while it is in review.", before.status.label().to_lowercase()))
                .into());
        }
        if new.version != before.version {
            return Err(ApiError::conflict(before.version).into());
        }
        let person = ctx.require_person()?.clone();
        let at = now();
        sqlx::query("UPDATE signoffs SET voided_at = $1 WHERE plan_id = $2 AND user_id = $3 AND voided_at IS NULL")
            .bind(&at)
            .bind(plan_id)
            .bind(person.id)
            .execute(tx.conn())
            .await?;
        sqlx::query(
            "INSERT INTO signoffs (plan_id, user_id, decision, comment, plan_version, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(plan_id)
        .bind(person.id)
        .bind(new.decision.as_str())
        .bind(new.comment.trim())
        .bind(before.version)
        .bind(&at)
        .execute(tx.conn())
        .await?;
        settle(tx.conn(), plan_id, None).await?;
        let action = match new.decision {
            Decision::Approved => "plan.sign_off",
            Decision::ChangesRequested => "plan.request_changes",
        };
        let entry = Entry::new(action, format!("plan:{plan_id}/person:{}", person.id), plan_id)
            .before(&serde_json::json!({ "status": before.status }))
            .after(&serde_json::json!({ "decision": new.decision, "comment": new.comment.trim(), "version": before.version }));
        self.finish_change(tx, ctx, entry).await
    }

    pub async fn list_comments(&self, ctx: &Ctx, plan_id: i64) -> Result<Vec<Comment>> {
        ctx.require_read(app::token::Scope::PlansRead)?;
        let mut conn = self.db.read().await?;
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM plans WHERE id = $1").bind(plan_id).fetch_one(&mut *conn).await?;
        if exists == 0 {
            return Err(ApiError::not_found("Plan").into());
        }
        Ok(load_comments(&mut conn, plan_id, None).await?)
    }

    pub async fn add_comment(&self, ctx: &Ctx, plan_id: i64, new: NewComment) -> Result<Comment> {
        ctx.require_signed_in()?;
        let mut tx = self.db.write().await?;
        let plan = load_plan(tx.conn(), plan_id).await?.ok_or_else(|| ApiError::not_found("Plan"))?;
        ctx.require_on_plan(tx.conn(), plan_id, Need::Comment).await?;
        new.validate()?;
        let author = ctx.require_person()?.clone();
        let mut stage_id = new.stage_id;
        if let Some(sid) = stage_id {
            if !plan.stages.iter().any(|s| s.id == sid) {
                return Err(ApiError::new(422, "unknown_stage", "This plan has no such stage.").with_field("stage_id").into());
            }
        }
        if let Some(pid) = new.parent_id {
            let parent = load_comments(tx.conn(), plan_id, Some(pid)).await?;
            let parent = parent.first().ok_or_else(|| {
                ApiError::new(422, "unknown_comment", "There is no such comment on this plan to answer.").with_field("parent_id")
            })?;
            // A reply belongs to its thread's stage.
            stage_id = parent.stage_id;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO comments (plan_id, stage_id, parent_id, author_id, body, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(plan_id)
        .bind(stage_id)
        .bind(new.parent_id)
        .bind(author.id)
        .bind(new.body.trim())
        .bind(now())
        .fetch_one(tx.conn())
        .await?;
        let comment = load_comments(tx.conn(), plan_id, Some(id)).await?.pop().ok_or_else(ApiError::internal)?;
        self.finish_change(tx, ctx, Entry::new("comment.create", format!("plan:{plan_id}/comment:{id}"), plan_id).after(&comment))
            .await?;
        Ok(comment)
    }
}

/// A plan's comments, oldest first (or just comment `only`).
async fn load_comments(conn: &mut AnyConnection, plan_id: i64, only: Option<i64>) -> Result<Vec<Comment>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT c.id AS comment_id, c.plan_id, c.stage_id, c.parent_id, c.body, c.created_at AS posted_at, {}
         FROM comments c JOIN users u ON u.id = c.author_id
         WHERE c.plan_id = $1 AND ($2 = 0 OR c.id = $2) ORDER BY c.id",
        crate::person::COLUMNS
    ))
    .bind(plan_id)
    .bind(only.unwrap_or(0))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Comment {
                id: r.try_get("comment_id")?,
                plan_id: r.try_get("plan_id")?,
                stage_id: r.try_get("stage_id")?,
                parent_id: r.try_get("parent_id")?,
                author: person_from_row(r)?,
                body: r.try_get("body")?,
                created_at: r.try_get("posted_at")?,
            })
        })
        .collect()
}
