//! The audit log: one entry per change, written in the change's own transaction.
use crate::db::now;
use crate::service::Ctx;
use sqlx::AnyConnection;

pub struct Entry {
    pub action: &'static str,
    /// `plan:1`, `plan:1/stage:5`, ...
    pub target: String,
    pub plan_id: i64,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl Entry {
    pub fn new(action: &'static str, target: String, plan_id: i64) -> Entry {
        Entry { action, target, plan_id, before: None, after: None }
    }

    pub fn before<T: serde::Serialize>(mut self, v: &T) -> Entry {
        self.before = serde_json::to_value(v).ok();
        self
    }

    pub fn after<T: serde::Serialize>(mut self, v: &T) -> Entry {
        self.after = serde_json::to_value(v).ok();
        self
    }
}

pub async fn append(conn: &mut AnyConnection, ctx: &Ctx, e: &Entry) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, plan_id, before_json, after_json, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(now())
    .bind(&ctx.actor)
    .bind(e.action)
    .bind(&e.target)
    .bind(e.plan_id)
    .bind(e.before.as_ref().map(|v| v.to_string()))
    .bind(e.after.as_ref().map(|v| v.to_string()))
    .bind(ctx.request_id.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}
