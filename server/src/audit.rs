//! The audit log: one entry per change, written in the change's own transaction.
//! Entries are only ever appended; nothing here updates or deletes them.
use crate::db::now;
use crate::error::Result;
use crate::service::{Ctx, Service};
use app::audit::{AuditEntry, AuditPage, AuditQuery};
use app::error::ApiError;
use crate::search::Where;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

pub struct Entry {
    pub action: &'static str,
    /// `plan:1`, `plan:1/stage:5`, ...
    pub target: String,
    /// `None` for changes outside any plan (people, tokens).
    pub plan_id: Option<i64>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl Entry {
    /// A change to plan `plan_id`, named by its action.
    pub fn new(action: crate::action::Action, target: String, plan_id: i64) -> Entry {
        Entry { action: action.audit(), target, plan_id: Some(plan_id), before: None, after: None }
    }

    /// A change that belongs to no plan: people, tokens.
    pub fn global(action: &'static str, target: String) -> Entry {
        Entry { action, target, plan_id: None, before: None, after: None }
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
    .bind(ctx.actor())
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

/// Exports stop here; narrower filters get the rest.
pub const EXPORT_MAX: i64 = 100_000;

/// The conditions of a query's filters, checked; only those given, so each query is
/// planned for the indexes it can use.
fn filter(q: &AuditQuery) -> Result<Where, ApiError> {
    let text = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or("").to_string();
    let action = text(&q.action);
    app::validate::check_len("action", "Action", &action, 100)?;
    let actor = text(&q.actor);
    app::validate::check_len("actor", "Actor", &actor, 200)?;
    let mut w = Where::default();
    if let Some(plan_id) = q.plan_id {
        let p = w.int(plan_id);
        w.and(format!("plan_id = {p}"));
    }
    if !actor.is_empty() {
        let a = w.text(actor);
        w.and(format!("actor = {a}"));
    }
    match kind_of(&action) {
        // Every action of a kind: `stage.` up to, not including, `stage/` ('/' follows '.').
        Some(kind) => {
            let (from, to) = (w.text(format!("{kind}.")), w.text(format!("{kind}/")));
            w.and(format!("action >= {from} AND action < {to}"));
        }
        _ if !action.is_empty() => {
            let a = w.text(action);
            w.and(format!("action = {a}"));
        }
        _ => {}
    }
    let since = bound("since", &q.since)?;
    if !since.is_empty() {
        let s = w.text(since);
        w.and(format!("at >= {s}"));
    }
    let until = bound("until", &q.until)?;
    if !until.is_empty() {
        let u = w.text(until);
        w.and(format!("at < {u}"));
    }
    Ok(w)
}

/// A time bound as stored text (RFC 3339 UTC with milliseconds). A browser's
/// `datetime-local` value (`2026-11-21T10:00`) is taken as UTC.
fn bound(field: &str, value: &Option<String>) -> Result<String, ApiError> {
    let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else { return Ok(String::new()) };
    let parsed = chrono::DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&chrono::Utc)).or_else(|_| {
        chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M").map(|t| t.and_utc())
    });
    parsed
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .map_err(|_| ApiError::validation(field, format!("{v:?} is not a date and time such as 2026-12-01T09:00:00Z.")))
}

fn entry_from_row(r: &AnyRow) -> Result<AuditEntry, sqlx::Error> {
    let json = |col: &str| -> Result<Option<serde_json::Value>, sqlx::Error> {
        let text: Option<String> = r.try_get(col)?;
        Ok(text.map(|t| serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t))))
    };
    Ok(AuditEntry {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        plan_id: r.try_get("plan_id")?,
        before: json("before_json")?,
        after: json("after_json")?,
        request_id: r.try_get("request_id")?,
    })
}

impl Service {
    /// Admins only: the log shows every change by everyone.
    pub async fn list_audit(&self, ctx: &Ctx, q: &AuditQuery) -> Result<AuditPage> {
        ctx.require_admin()?;
        let limit = q.limit();
        let mut conn = self.db.read().await?;
        let (total, total_capped) = filter(q)?.count(&mut conn, "audit_log").await?;
        // A time window lists by time: its entries are then together in the time index,
        // wherever they are in id order. By id, PostgreSQL walked from the newest entry back
        // to the window (one day of a million entries, 90 days back: 224 ms; by time 0.2 ms).
        // Ids and times disagree only for changes committed at the same moment.
        let timed = [&q.since, &q.until].iter().any(|b| b.as_deref().is_some_and(|b| !b.trim().is_empty()));
        let order = if timed { "at DESC, id DESC" } else { "id DESC" };
        let mut items = match q.action.as_deref().and_then(|a| kind_of(a.trim())) {
            // SQLite sorts a whole kind found through the action index (190,000 of a million
            // entries: 126 ms), and walking the log newest first can pass half a million
            // entries of other kinds; each action of the kind read newest first through the
            // index, merged, takes a millisecond. PostgreSQL plans that by itself.
            Some(kind) if self.db.kind == crate::db::Kind::Sqlite => {
                let mut items = vec![];
                for action in actions_of_kind(&mut conn, kind).await? {
                    let one = AuditQuery { action: Some(action), ..q.clone() };
                    items.extend(select(&mut conn, &page_filter(&one, timed)?, order, limit + 1).await?);
                }
                items.sort_by(|a, b| if timed { (&b.at, b.id).cmp(&(&a.at, a.id)) } else { b.id.cmp(&a.id) });
                items.truncate(limit as usize + 1);
                items
            }
            _ => select(&mut conn, &page_filter(q, timed)?, order, limit + 1).await?,
        };
        let next = crate::search::next_page(&mut items, limit, |e| e.id);
        Ok(AuditPage { items, total, total_capped, next })
    }

    /// Every matching entry (up to `EXPORT_MAX`), newest first.
    pub async fn export_audit(&self, ctx: &Ctx, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        ctx.require_admin()?;
        let w = filter(q)?;
        let mut conn = self.db.read().await?;
        Ok(select(&mut conn, &w, "id DESC", EXPORT_MAX).await?)
    }
}

/// `stage` for `stage.`: a filter naming a whole kind of action.
fn kind_of(action: &str) -> Option<&str> {
    action.strip_suffix('.').filter(|k| !k.is_empty())
}

/// The filters, and the entries after the page's `before` in the list's order.
fn page_filter(q: &AuditQuery, timed: bool) -> Result<Where, ApiError> {
    let mut w = filter(q)?;
    if let Some(before) = q.before {
        let b = w.int(before);
        if timed {
            let at = format!("(SELECT at FROM audit_log WHERE id = {b})");
            w.and(format!("(at < {at} OR (at = {at} AND id < {b}))"));
        } else {
            w.and(format!("id < {b}"));
        }
    }
    Ok(w)
}

/// The actions logged of a kind (`stage` gives `stage.create`, `stage.pass`, ...), each
/// found by one seek in the action index.
async fn actions_of_kind(conn: &mut AnyConnection, kind: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH RECURSIVE found(action) AS (
             SELECT MIN(action) FROM audit_log WHERE action >= $1 AND action < $2
             UNION ALL
             SELECT (SELECT MIN(action) FROM audit_log WHERE action > found.action AND action < $2)
             FROM found WHERE found.action IS NOT NULL
         )
         SELECT action FROM found WHERE action IS NOT NULL",
    )
    .bind(format!("{kind}."))
    .bind(format!("{kind}/"))
    .fetch_all(conn)
    .await
}

async fn select(conn: &mut AnyConnection, w: &Where, order: &str, limit: i64) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let sql = format!(
        "SELECT id, at, actor, action, target, plan_id, before_json, after_json, request_id
         FROM audit_log{} ORDER BY {order} LIMIT {limit}",
        w.sql()
    );
    w.bind(sqlx::query(&sql)).fetch_all(conn).await?.iter().map(entry_from_row).collect()
}

/// RFC 4180 CSV; before and after are JSON text in their cells. Cells a spreadsheet
/// would take for a formula are made text (`export::spreadsheet_safe`).
pub fn to_csv(entries: &[AuditEntry]) -> String {
    fn cell(out: &mut String, v: &str) {
        let v = &*crate::export::spreadsheet_safe(v);
        if v.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&v.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(v);
        }
    }
    let mut out = String::from("id,at,actor,action,target,plan_id,request_id,before,after\r\n");
    for e in entries {
        let json = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
        let cells = [
            e.id.to_string(),
            e.at.clone(),
            e.actor.clone(),
            e.action.clone(),
            e.target.clone(),
            e.plan_id.map(|p| p.to_string()).unwrap_or_default(),
            e.request_id.clone().unwrap_or_default(),
            json(&e.before),
            json(&e.after),
        ];
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            cell(&mut out, c);
        }
        out.push_str("\r\n");
    }
    out
}

/// One JSON object per line.
pub fn to_json_lines(entries: &[AuditEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&serde_json::to_string(e).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_with_commas_quotes_and_newlines_are_quoted() {
        let e = AuditEntry {
            id: 1,
            at: "2026-11-21T10:00:00.000Z".into(),
            actor: "ada".into(),
            action: "plan.update".into(),
            target: "plan:1".into(),
            plan_id: Some(1),
            before: Some(serde_json::json!({"title": "a, \"b\"\nc"})),
            after: None,
            request_id: None,
        };
        let csv = to_csv(&[e]);
        let row = csv.lines().nth(1).unwrap();
        assert!(row.starts_with("1,2026-11-21T10:00:00.000Z,ada,plan.update,plan:1,1,,\"{"), "{csv}");
        assert!(csv.contains(r#"""title"":"#), "{csv}");
    }

    #[test]
    fn csv_cells_that_look_like_formulas_are_text() {
        let e = AuditEntry {
            id: 2,
            at: "2026-11-21T10:00:00.000Z".into(),
            actor: "=HYPERLINK(\"http://evil\",\"x\")".into(),
            action: "plan.update".into(),
            target: "@x".into(),
            plan_id: None,
            before: None,
            after: None,
            request_id: Some("-1".into()),
        };
        let row = to_csv(&[e]).lines().nth(1).unwrap().to_string();
        assert_eq!(row, r#"2,2026-11-21T10:00:00.000Z,"'=HYPERLINK(""http://evil"",""x"")",plan.update,'@x,,'-1,,"#);
    }

    #[test]
    fn browser_times_are_taken_as_utc() {
        assert_eq!(bound("since", &Some("2026-11-21T10:00".into())).unwrap(), "2026-11-21T10:00:00.000Z");
        assert_eq!(bound("since", &Some("2026-11-21T11:00:00+01:00".into())).unwrap(), "2026-11-21T10:00:00.000Z");
        assert!(bound("since", &Some("yesterday".into())).is_err());
    }
}
