//! Review: stakeholders comment and sign off; the plan goes draft -> in review ->
//! approved once every assigned stakeholder has signed off the current version.
//! A change to what will run voids the sign-offs, withdraws open gate requests and
//! says why; while the plan runs, the stages it changed wait for a new sign-off.
use crate::audit::Entry;
use crate::db::now;
use crate::error::Result;
use crate::person::person_from_row;
use crate::plan::load_plan;
use crate::action::{Action, PlanChange, Touched};
use crate::service::{decode_enum, Ctx, Service};
use app::error::ApiError;
use app::plan::{Plan, PlanStatus};
use app::stage::StageStatus;
use app::review::{Comment, Decision, NewComment, NewSignOff, SignOff};
use app::role::PlanRole;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// A current sign-off, from a row of `role::load_roles_and_sign_offs`.
pub(crate) fn sign_off_from_row(r: &AnyRow) -> Result<SignOff, sqlx::Error> {
    Ok(SignOff {
        id: r.try_get("entry_id")?,
        person: person_from_row(r)?,
        decision: decode_enum(r.try_get("decision")?, Decision::parse, "decision")?,
        comment: r.try_get("comment")?,
        plan_version: r.try_get("plan_version")?,
        created_at: r.try_get("at")?,
    })
}

/// After a change to what will run (`Review::Voids`), in its transaction: earlier
/// sign-offs are void; the stages it touched wait for a new sign-off before their gates
/// open; open gate requests are withdrawn (every one while the plan is in review or
/// approved, those of the touched stages while it runs), each saying why; a plan in
/// review or approved is back in review.
pub(crate) async fn content_changed(change: &mut PlanChange, ctx: &Ctx, entry: &Entry) -> Result<()> {
    let plan_id = change.plan.id;
    let current = load_plan(change.conn(), plan_id).await?.ok_or_else(|| ApiError::not_found("Plan"))?;
    if change.action == Action::PlanUpdate && !text_changed(entry, &current) {
        return Ok(());
    }
    let touched: Vec<i64> = match &change.touched {
        Touched::Stages(ids) => ids.iter().copied().filter(|id| current.stages.iter().any(|s| s.id == *id)).collect(),
        Touched::Plan => current
            .stages
            .iter()
            .filter(|s| matches!(s.status, StageStatus::Pending | StageStatus::AwaitingDecision))
            .map(|s| s.id)
            .collect(),
    };
    let at = now();
    let what = describe(change.action, entry, &change.plan, &current);
    let when = app::pages::short_time(&at);
    let reviewing = matches!(current.status, PlanStatus::InReview | PlanStatus::Approved);
    let note = (current.status != PlanStatus::Draft).then(|| format!("{} {what} on {when}, after sign-off.", ctx.actor()));
    for id in &touched {
        sqlx::query("UPDATE stages SET revision = revision + 1, change_note = $1 WHERE id = $2")
            .bind(note.as_deref())
            .bind(id)
            .execute(change.conn())
            .await?;
    }
    if current.status == PlanStatus::Draft {
        return Ok(());
    }
    let why = format!("Withdrawn: {} {what} on {when}; ask for go again once the stakeholders sign it off.", ctx.actor());
    let gates_of = if reviewing { None } else { Some(touched.as_slice()) };
    crate::gate::withdraw_gates(change.conn(), plan_id, gates_of, &at, &why).await?;
    sqlx::query("UPDATE signoffs SET voided_at = $1 WHERE plan_id = $2 AND voided_at IS NULL")
        .bind(&at)
        .bind(plan_id)
        .execute(change.conn())
        .await?;
    if reviewing && (!current.signoffs.is_empty() || current.status == PlanStatus::Approved) {
        let note = format!("{} {what} on {when} after sign-off; the stakeholders need to review and sign off again.", ctx.actor());
        sqlx::query("UPDATE plans SET status = $1, review_note = $2 WHERE id = $3")
            .bind(PlanStatus::InReview.as_str())
            .bind(note)
            .bind(plan_id)
            .execute(change.conn())
            .await?;
    }
    Ok(())
}

/// Whether a plan edit touched what was reviewed (its text, owner or rollback target),
/// not only its status.
fn text_changed(entry: &Entry, now: &Plan) -> bool {
    let Some(before) = &entry.before else { return true };
    let now = serde_json::to_value(now).unwrap_or_default();
    ["title", "summary", "description", "owner", "rollback_target_seconds"].iter().any(|f| before.get(*f) != now.get(*f))
}

/// "changed stage “Stage 2: …”", from the change's action and target.
fn describe(action: Action, entry: &Entry, before: &Plan, now: &Plan) -> String {
    let sub_id = entry.target.split('/').nth(1).and_then(|t| t.rsplit_once(':')).and_then(|(_, id)| id.parse::<i64>().ok());
    let stage_name = || {
        sub_id
            .and_then(|id| now.stages.iter().chain(&before.stages).find(|s| s.id == id))
            .map(|s| s.name.clone())
            .unwrap_or_default()
    };
    let risk_name = || {
        sub_id
            .and_then(|id| now.risks.iter().chain(&before.risks).find(|r| r.id == id))
            .map(|r| r.risk.clone())
            .unwrap_or_default()
    };
    match action {
        Action::PlanUpdate => "edited the plan's details".into(),
        Action::StageCreate => format!("added stage “{}”", stage_name()),
        Action::StageUpdate => format!("edited stage “{}”", stage_name()),
        Action::StageDelete => format!("removed stage “{}”", stage_name()),
        Action::StageReorder => "reordered the stages".into(),
        Action::StageFlags => format!("changed the flags stage “{}” flips", stage_name()),
        Action::ChecklistCreate | Action::ChecklistDelete | Action::ChecklistCopy => {
            format!("changed the checklist of stage “{}”", stage_name())
        }
        Action::GuardCreate => format!("added a guard to stage “{}”", stage_name()),
        Action::GuardUpdate => format!("changed a guard of stage “{}”", stage_name()),
        Action::GuardDelete => format!("removed a guard from stage “{}”", stage_name()),
        Action::RiskCreate => format!("added risk “{}”", risk_name()),
        Action::RiskUpdate => format!("edited risk “{}”", risk_name()),
        Action::RiskDelete => format!("removed risk “{}”", risk_name()),
        other => format!("made a change ({})", other.audit()),
    }
}

/// Settles the review after a sign-off (`signed`) or a change of stakeholders: an
/// in-review plan is approved when every stakeholder has signed off its current version,
/// and only by a sign-off, never because a stakeholder left; an approved plan goes back to
/// review when that stops being true (a stakeholder added; `why` says so); a running plan's
/// changed stages are signed once every stakeholder has signed off again.
pub async fn settle(conn: &mut AnyConnection, plan_id: i64, why: Option<String>, signed: bool) -> Result<(), sqlx::Error> {
    let Some(plan) = load_plan(conn, plan_id).await? else { return Ok(()) };
    let stakeholders: Vec<i64> = plan.holders(PlanRole::Stakeholder).map(|p| p.id).collect();
    let signed_by_all = |current_version: bool| {
        !stakeholders.is_empty()
            && stakeholders.iter().all(|id| {
                plan.signoffs.iter().any(|s| {
                    s.person.id == *id && s.decision == Decision::Approved && (!current_version || s.plan_version == plan.version)
                })
            })
    };
    let sign_stages = "UPDATE stages SET signed_revision = revision, change_note = NULL WHERE plan_id = $1";
    match plan.status {
        PlanStatus::InReview if signed && signed_by_all(true) => {
            sqlx::query("UPDATE plans SET status = $1, review_note = NULL WHERE id = $2")
                .bind(PlanStatus::Approved.as_str())
                .bind(plan_id)
                .execute(&mut *conn)
                .await?;
            sqlx::query(sign_stages).bind(plan_id).execute(conn).await?;
        }
        PlanStatus::Approved if !signed_by_all(true) => {
            sqlx::query("UPDATE plans SET status = $1, review_note = $2 WHERE id = $3")
                .bind(PlanStatus::InReview.as_str())
                .bind(why.unwrap_or_else(|| "The stakeholders changed; the plan needs their sign-off again.".into()))
                .bind(plan_id)
                .execute(conn)
                .await?;
        }
        PlanStatus::Executing if signed && signed_by_all(false) => {
            sqlx::query(sign_stages).bind(plan_id).execute(conn).await?;
        }
        _ => {}
    }
    Ok(())
}

impl Service {
    /// A draft goes to its stakeholders.
    pub async fn request_review(&self, ctx: &Ctx, plan_id: i64, version: i64) -> Result<Plan> {
        let mut change = self.open(ctx, Action::ReviewRequest, plan_id, Some(version), None).await?;
        let before = change.plan.clone();
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
            .execute(change.conn())
            .await?;
        self.commit(change, ctx, Entry::new(Action::ReviewRequest, format!("plan:{plan_id}"), plan_id).before(&before)).await
    }

    /// A stakeholder signs off, or asks for changes, on the version they reviewed: a plan
    /// in review, or a running plan whose stages changed after sign-off. Sign-offs do not
    /// change the plan's version, so stakeholders reviewing side by side do not conflict;
    /// each takes the plan's row lock, so a sign-off racing an edit sees the edit.
    pub async fn sign_off(&self, ctx: &Ctx, plan_id: i64, new: NewSignOff) -> Result<Plan> {
        let action = match new.decision {
            Decision::Approved => Action::SignOff,
            Decision::ChangesRequested => Action::RequestChanges,
        };
        let mut change = self.open(ctx, action, plan_id, None, None).await?;
        new.validate()?;
        let before = change.plan.clone();
        let resigning = before.status == PlanStatus::Executing && before.stages.iter().any(|s| s.awaits_sign_off());
        if before.status != PlanStatus::InReview && !resigning {
            return Err(ApiError::new(
                409,
                "not_in_review",
                format!("This plan is {}; sign-off happens while it is in review.", before.status.label().to_lowercase()),
            )
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
            .execute(change.conn())
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
        .execute(change.conn())
        .await?;
        settle(change.conn(), plan_id, None, true).await?;
        let entry = Entry::new(action, format!("plan:{plan_id}/person:{}", person.id), plan_id)
            .before(&serde_json::json!({ "status": before.status }))
            .after(&serde_json::json!({ "decision": new.decision, "comment": new.comment.trim(), "version": before.version }));
        self.commit(change, ctx, entry).await
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

    /// The same for a plan this request has already read (the plan page).
    pub async fn comments_of(&self, ctx: &Ctx, plan: &Plan) -> Result<Vec<Comment>> {
        ctx.require_read(app::token::Scope::PlansRead)?;
        let mut conn = self.db.read().await?;
        Ok(load_comments(&mut conn, plan.id, None).await?)
    }

    pub async fn add_comment(&self, ctx: &Ctx, plan_id: i64, new: NewComment) -> Result<Comment> {
        let mut change = self.open(ctx, Action::Comment, plan_id, None, None).await?;
        let plan = change.plan.clone();
        new.validate()?;
        let author = ctx.require_person()?.clone();
        let mut stage_id = new.stage_id;
        if let Some(sid) = stage_id {
            if !plan.stages.iter().any(|s| s.id == sid) {
                return Err(ApiError::new(422, "unknown_stage", "This plan has no such stage.").with_field("stage_id").into());
            }
        }
        if let Some(pid) = new.parent_id {
            let parent = load_comments(change.conn(), plan_id, Some(pid)).await?;
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
        .fetch_one(change.conn())
        .await?;
        let comment = load_comments(change.conn(), plan_id, Some(id)).await?.pop().ok_or_else(ApiError::internal)?;
        self.commit(change, ctx, Entry::new(Action::Comment, format!("plan:{plan_id}/comment:{id}"), plan_id).after(&comment)).await?;
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
