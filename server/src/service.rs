//! The service layer: every state change goes through here. It checks the change
//! against the plan version, writes, appends the audit entry in the same
//! transaction, commits, then publishes the change event.
use crate::audit::{self, Entry};
use crate::db::{Db, WriteTx};
use crate::error::Result;
use crate::event::{Change, Events};
use crate::plan::load_plan;
use app::error::ApiError;
use app::plan::Plan;

#[derive(Clone)]
pub struct Service {
    pub db: Db,
    pub events: Events,
}

/// Who is acting and on which request; recorded with every change.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: String,
    pub request_id: Option<String>,
}

impl Ctx {
    /// Until accounts exist every browser and API caller is "anonymous".
    pub fn anonymous(request_id: Option<String>) -> Ctx {
        Ctx { actor: "anonymous".into(), request_id }
    }

    /// Runway itself, e.g. loading the demo plan.
    pub fn system() -> Ctx {
        Ctx { actor: "runway".into(), request_id: None }
    }
}

impl Service {
    pub fn new(db: Db) -> Service {
        Service { db, events: Events::new() }
    }

    /// Opens a change to plan `id` made against `version`: 404 when there is no such
    /// plan, 409 when someone changed it since (or it is archived), else bumps its
    /// version and returns the plan as it was.
    pub(crate) async fn begin_change(&self, id: i64, version: Option<i64>) -> Result<(WriteTx, Plan)> {
        self.open_change(id, version, false).await
    }

    /// `begin_change`, but an archived plan may be changed too (to restore it).
    pub(crate) async fn open_change(&self, id: i64, version: Option<i64>, archived_ok: bool) -> Result<(WriteTx, Plan)> {
        let version = version.ok_or_else(|| {
            ApiError::validation("version", "Send the plan version this change is based on.")
        })?;
        let mut tx = self.db.write().await?;
        let before = load_plan(tx.conn(), id).await?.ok_or_else(|| ApiError::not_found("Plan"))?;
        if before.version != version {
            return Err(ApiError::conflict(before.version).into());
        }
        if before.archived_at.is_some() && !archived_ok {
            return Err(ApiError::new(409, "plan_archived", "This plan is archived; restore it before changing it.")
                .with_field("archived")
                .into());
        }
        bump(&mut tx, id, version).await?;
        Ok((tx, before))
    }

    /// Appends the audit entry, commits, and tells watchers. Returns the plan as it is now.
    pub(crate) async fn finish_change(&self, mut tx: WriteTx, ctx: &Ctx, entry: Entry) -> Result<Plan> {
        let plan_id = entry.plan_id;
        let after = load_plan(tx.conn(), plan_id).await?.ok_or_else(|| ApiError::not_found("Plan"))?;
        let entry = if entry.after.is_none() { entry.after(&after) } else { entry };
        audit::append(tx.conn(), ctx, &entry).await?;
        tx.commit().await?;
        self.events.publish(Change { action: entry.action.to_string(), plan_id, version: after.version });
        Ok(after)
    }
}

/// The version check happens again in the UPDATE itself: of two edits made against
/// the same version at the same time, exactly one wins.
async fn bump(tx: &mut WriteTx, id: i64, version: i64) -> Result<()> {
    let done = sqlx::query("UPDATE plans SET version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3")
        .bind(crate::db::now())
        .bind(id)
        .bind(version)
        .execute(tx.conn())
        .await?;
    if done.rows_affected() == 0 {
        let current: i64 = sqlx::query_scalar("SELECT version FROM plans WHERE id = $1")
            .bind(id)
            .fetch_one(tx.conn())
            .await?;
        return Err(ApiError::conflict(current).into());
    }
    Ok(())
}

/// RFC 3339 in any offset, stored as UTC seconds: `2026-12-01T09:00:00Z`.
pub(crate) fn normalize_time(field: &str, value: &str) -> Result<String, ApiError> {
    chrono::DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .map_err(|_| ApiError::validation(field, format!("{value:?} is not a date and time such as 2026-12-01T09:00:00Z.")))
}

/// Decodes a text column holding one of an enum's names.
pub(crate) fn decode_enum<T>(value: String, parse: fn(&str) -> Option<T>, column: &str) -> Result<T, sqlx::Error> {
    parse(&value).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unknown value {value:?}").into(),
    })
}
