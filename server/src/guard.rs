//! Guards: rollback triggers on live metrics. Services send samples to
//! `POST /api/v1/metrics`; once a batch is stored, the guards of active stages that watch
//! one of its metrics are evaluated. A breach is recorded, audited and announced (live
//! viewers, webhooks) in one transaction with what the guard does about it.
use crate::action::Action;
use crate::audit::{self, Entry};
use crate::db::{now, Kind, Param, WriteTx};
use crate::error::Result;
use crate::gate::{about, merge};
use crate::service::{decode_enum, forbidden, Caller, Ctx, Service};
use crate::stage::find_stage;
use app::error::ApiError;
use app::guard::{
    check_metric_name, Breach, BreachNotice, Comparison, Guard, GuardAction, GuardSeries, IngestReport, NewGuard,
    RejectedPoint, ResolveBreach, SeriesPoint, BATCH_MAX, FUTURE_SKEW_SECONDS, LABELS_MAX, LABEL_KEY_MAX, LABEL_VALUE_MAX,
};
use app::plan::Plan;
use app::stage::{Stage, StageStatus};
use app::token::{metric_allowed, Scope};
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

/// How many buckets a chart's time range is cut into.
const CHART_BUCKETS: i64 = 120;
/// Rows per multi-row INSERT: 4 parameters each stays under both databases' limits.
const INSERT_CHUNK: usize = 1_000;
/// Samples removed per DELETE, so a large clean-up never holds the write lock for long.
const RETENTION_CHUNK: i64 = 5_000;

const GUARD_COLUMNS: &str = "id, stage_id, metric, labels, comparison, threshold, relative, baseline_value, baseline_window_minutes, \
    baseline_measured, baseline_samples, window_seconds, min_samples, action, created_by, created_at";

fn guard_from_row(r: &sqlx::any::AnyRow) -> Result<Guard, sqlx::Error> {
    Ok(Guard {
        id: r.try_get("id")?,
        stage_id: r.try_get("stage_id")?,
        metric: r.try_get("metric")?,
        labels: {
            let text: String = r.try_get("labels")?;
            serde_json::from_str(&text).map_err(|e| sqlx::Error::ColumnDecode { index: "labels".into(), source: Box::new(e) })?
        },
        comparison: decode_enum(r.try_get("comparison")?, Comparison::parse, "comparison")?,
        threshold: r.try_get("threshold")?,
        relative: r.try_get::<i64, _>("relative")? == 1,
        baseline_value: r.try_get("baseline_value")?,
        baseline_window_minutes: r.try_get("baseline_window_minutes")?,
        baseline_measured: r.try_get("baseline_measured")?,
        baseline_samples: r.try_get("baseline_samples")?,
        window_seconds: r.try_get("window_seconds")?,
        min_samples: r.try_get("min_samples")?,
        action: decode_enum(r.try_get("action")?, GuardAction::parse, "action")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        breaches: vec![],
    })
}

/// A plan's guards with their breaches (one row per breach, joined), oldest first.
pub async fn load_guards(conn: &mut AnyConnection, plan_id: i64) -> Result<Vec<Guard>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {}, b.id AS breach_id, b.value, b.samples, b.threshold AS breach_threshold, b.baseline,
                b.action AS breach_action, b.rollback_id, b.at, b.resolved_at, b.resolved_by, b.resolution
         FROM guards g LEFT JOIN guard_breaches b ON b.guard_id = g.id AND b.plan_id = g.plan_id
         WHERE g.plan_id = $1 ORDER BY g.id, b.id",
        crate::db::prefixed(GUARD_COLUMNS, "g")
    ))
    .bind(plan_id)
    .fetch_all(&mut *conn)
    .await?;
    crate::db::group_joined(
        &rows,
        guard_from_row,
        |r| {
            let Some(breach_id) = r.try_get::<Option<i64>, _>("breach_id")? else { return Ok(None) };
            Ok(Some(Breach {
                id: breach_id,
                guard_id: r.try_get("id")?,
                value: r.try_get("value")?,
                samples: r.try_get("samples")?,
                threshold: r.try_get("breach_threshold")?,
                baseline: r.try_get("baseline")?,
                action: decode_enum(r.try_get("breach_action")?, GuardAction::parse, "breach_action")?,
                rollback_id: r.try_get("rollback_id")?,
                at: r.try_get("at")?,
                resolved_at: r.try_get("resolved_at")?,
                resolved_by: r.try_get("resolved_by")?,
                resolution: r.try_get("resolution")?,
            }))
        },
        |g| &mut g.breaches,
    )
}

/// A plan is paused while a pause guard's breach is unresolved: no gate opens, no stage passes.
pub(crate) fn check_not_paused(plan: &Plan) -> Result<(), ApiError> {
    for stage in &plan.stages {
        for g in &stage.guards {
            if let Some(b) = g.breaches.iter().find(|b| b.resolved_at.is_none() && b.action == GuardAction::Pause) {
                return Err(ApiError::new(
                    409,
                    "guard_paused",
                    format!(
                        "The guard {} on {} breached at {} and paused the plan; resolve the breach before the next gate opens.",
                        g.condition(),
                        stage.name,
                        app::pages::short_time(&b.at)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn ms_to_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn rfc3339_to_ms(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim()).ok().map(|t| t.timestamp_millis())
}

/// One point as sent. Parsed point by point, so one bad point is refused alone.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PointIn {
    metric: String,
    value: f64,
    /// RFC 3339; the time it arrived when left out.
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchIn<'a> {
    #[serde(borrow)]
    points: Vec<&'a RawValue>,
}

/// A stored sample, ready to insert.
struct Sample {
    metric: String,
    value: f64,
    at_ms: i64,
    labels: String,
}

/// The batch's points: a JSON array of points, or `{"points": [...]}`.
fn split_batch(body: &[u8]) -> Result<Vec<&RawValue>, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let points: Vec<&RawValue> = match first {
        Some(b'[') => borrowed_json(body)?,
        Some(b'{') => borrowed_json::<BatchIn>(body)?.points,
        _ => return Err(ApiError::new(400, "malformed_json", "Send a JSON array of points, or {\"points\": [...]}.")),
    };
    if points.len() > BATCH_MAX {
        return Err(ApiError::new(
            413,
            "batch_too_large",
            format!("This batch has {} points; send at most {BATCH_MAX} per request.", points.len()),
        )
        .with_field("points"));
    }
    Ok(points)
}

/// Parses without copying the points (they are checked one by one after).
fn borrowed_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let message = e.to_string();
        let message = message.find(" at line ").map(|i| &message[..i]).unwrap_or(&message);
        if e.is_data() {
            ApiError::validation("points", format!("points: {message}"))
        } else {
            ApiError::new(400, "malformed_json", format!("The body is not valid JSON: {message}."))
        }
    })
}

/// Checks one point; the error names its field under `points[i]`.
fn check_point(i: usize, raw: &RawValue, now: i64, oldest: i64) -> Result<Sample, ApiError> {
    let field = |f: &str| format!("points[{i}].{f}");
    let p: PointIn = crate::api::parse_json(raw.get().as_bytes()).map_err(|mut e| {
        let inner = e.field.take().unwrap_or_else(|| "body".into());
        if inner == "value" || e.message.contains("out of range") {
            e = ApiError::validation(field("value"), "The value must be a finite number (NaN, infinities and numbers out of range are refused).");
        } else if e.code == "malformed_json" || inner == "body" {
            e = ApiError::validation(format!("points[{i}]"), "A point is an object: {\"metric\", \"value\", \"time\", \"labels\"}.");
        } else {
            e.field = Some(field(&inner));
            e.status = 422;
        }
        e
    })?;
    check_metric_name(&field("metric"), &p.metric)?;
    if !p.value.is_finite() {
        return Err(ApiError::validation(field("value"), "The value must be a finite number."));
    }
    let at_ms = match &p.time {
        None => now,
        Some(t) => rfc3339_to_ms(t)
            .ok_or_else(|| ApiError::validation(field("time"), format!("{t:?} is not a time such as 2026-11-22T09:00:00Z.")))?,
    };
    if at_ms > now + FUTURE_SKEW_SECONDS * 1000 {
        return Err(ApiError::new(
            422,
            "time_in_future",
            format!("This point's time is {} s ahead of the server's clock; at most {FUTURE_SKEW_SECONDS} s is allowed.", (at_ms - now) / 1000),
        )
        .with_field(field("time")));
    }
    if at_ms < oldest {
        return Err(ApiError::new(422, "time_too_old", "This point is older than the samples Runway keeps (the retention period).")
            .with_field(field("time")));
    }
    if p.labels.len() > LABELS_MAX {
        return Err(ApiError::validation(field("labels"), format!("A point has at most {LABELS_MAX} labels.")));
    }
    for (k, v) in &p.labels {
        if k.is_empty() || k.chars().count() > LABEL_KEY_MAX || v.chars().count() > LABEL_VALUE_MAX {
            return Err(ApiError::validation(
                field("labels"),
                format!("Label names are 1 to {LABEL_KEY_MAX} characters and values at most {LABEL_VALUE_MAX}."),
            ));
        }
    }
    let labels = serde_json::to_string(&p.labels).unwrap_or_else(|_| "{}".into());
    Ok(Sample { metric: p.metric, value: p.value, at_ms, labels })
}

/// A guard of an active stage, as evaluation needs it.
struct Watch {
    guard: Guard,
    plan_id: i64,
    started_ms: i64,
    has_open_breach: bool,
}

/// Adds a batch to the per-second sums. Keys are summed first and written in order, so
/// one statement never touches a row twice and two batches lock rows in the same order.
async fn add_to_seconds(tx: &mut WriteTx, samples: &[Sample]) -> Result<(), sqlx::Error> {
    let mut seconds: BTreeMap<(&str, i64, &str), (i64, f64)> = BTreeMap::new();
    for s in samples {
        let e = seconds.entry((s.metric.as_str(), s.at_ms.div_euclid(1000), s.labels.as_str())).or_default();
        e.0 += 1;
        e.1 += s.value;
    }
    let rows: Vec<_> = seconds.into_iter().collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${}, ${}, ${})", i * 5 + 1, i * 5 + 2, i * 5 + 3, i * 5 + 4, i * 5 + 5))
            .collect();
        let sql = format!(
            "INSERT INTO metric_seconds (metric, at_second, labels, samples, total) VALUES {}
             ON CONFLICT (metric, at_second, labels) DO UPDATE SET samples = metric_seconds.samples + excluded.samples,
                                                           total = metric_seconds.total + excluded.total",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for ((metric, second, labels), (n, total)) in chunk {
            q = q.bind(*metric).bind(*second).bind(*labels).bind(*n).bind(*total);
        }
        q.execute(tx.conn()).await?;
    }
    Ok(())
}

/// SQL keeping the metric_seconds rows whose labels hold every one of the guard's
/// matchers, and its parameters (numbered from `$first`). The labels are canonical JSON
/// (keys sorted), so a pair is the text `"k":"v"` right after `{` or `,`; inside a JSON
/// string a quote is escaped, so that text cannot come from within another name or value.
/// instr/strpos, not LIKE: SQLite's LIKE ignores case.
fn label_filter(kind: Kind, labels: &BTreeMap<String, String>, first: usize) -> (String, Vec<String>) {
    let find = |n: usize| match kind {
        Kind::Sqlite => format!("instr(labels, ${n}) > 0"),
        Kind::Postgres => format!("strpos(labels, ${n}) > 0"),
    };
    let (mut sql, mut params) = (String::new(), vec![]);
    for (i, (k, v)) in labels.iter().enumerate() {
        let object = serde_json::to_string(&BTreeMap::from([(k, v)])).unwrap_or_default();
        let pair = object.trim_start_matches('{').trim_end_matches('}');
        let n = first + 2 * i;
        sql.push_str(&format!(" AND ({} OR {})", find(n), find(n + 1)));
        params.push(format!("{{{pair}"));
        params.push(format!(",{pair}"));
    }
    (sql, params)
}

/// The count and mean of the guard's samples (its metric, its labels) in the seconds `from..=to`.
async fn window_stats(conn: &mut AnyConnection, kind: Kind, guard: &Guard, from: i64, to: i64) -> Result<(i64, Option<f64>), sqlx::Error> {
    let (labels, params) = label_filter(kind, &guard.labels, 4);
    let sql = format!(
        "SELECT CAST(SUM(samples) AS BIGINT) AS n, SUM(total) AS total FROM metric_seconds
         WHERE metric = $1 AND at_second >= $2 AND at_second <= $3{labels}"
    );
    let mut q = sqlx::query(&sql).bind(&guard.metric).bind(from).bind(to);
    for p in &params {
        q = q.bind(p);
    }
    let row = q.fetch_one(conn).await?;
    let n: Option<i64> = row.try_get("n")?;
    let total: Option<f64> = row.try_get("total")?;
    let n = n.unwrap_or(0);
    Ok((n, total.filter(|_| n > 0).map(|t| t / n as f64)))
}

/// Guards charted per statement: each adds one or two SELECTs (SQLite takes at most 500
/// in one compound statement) and at most 46 parameters.
const CHARTS_PER_STATEMENT: usize = 50;

/// The `b` of the row holding a guard's evaluation window (its buckets count from 0).
const WINDOW_ROW: i64 = -1;

/// One guard's chart on the plan page, in whole seconds.
struct Chart<'a> {
    guard: &'a Guard,
    first: i64,
    last: i64,
    bucket: i64,
    /// The evaluation window ending now, for a guard of an active stage.
    window: Option<(i64, i64)>,
}

/// One statement for the charts: per guard, its bucket sums over `first..=last` (rows
/// `g`, `b` from 0) and, with a window, that window's sum (row `g`, `WINDOW_ROW`).
fn chart_query(kind: Kind, charts: &[Chart]) -> (String, Vec<Param>) {
    let (mut selects, mut params) = (vec![], vec![]);
    for (g, c) in charts.iter().enumerate() {
        let m = params.len() + 1;
        let (labels, label_params) = label_filter(kind, &c.guard.labels, m + 4);
        params.extend([Param::Text(c.guard.metric.clone()), Param::Int(c.first), Param::Int(c.bucket), Param::Int(c.last)]);
        params.extend(label_params.into_iter().map(Param::Text));
        selects.push(format!(
            "SELECT {g} AS g, (at_second - ${first}) / ${bucket} AS b, CAST(SUM(samples) AS BIGINT) AS n, SUM(total) AS total
             FROM metric_seconds WHERE metric = ${m} AND at_second >= ${first} AND at_second <= ${last}{labels} GROUP BY b",
            first = m + 1,
            bucket = m + 2,
            last = m + 3,
        ));
        if let Some((from, to)) = c.window {
            let w = params.len() + 1;
            params.extend([Param::Int(from), Param::Int(to)]);
            selects.push(format!(
                "SELECT {g} AS g, {WINDOW_ROW} AS b, CAST(SUM(samples) AS BIGINT) AS n, SUM(total) AS total
                 FROM metric_seconds WHERE metric = ${m} AND at_second >= ${w} AND at_second <= ${to}{labels}",
                to = w + 1,
            ));
        }
    }
    (format!("{} ORDER BY g, b", selects.join(" UNION ALL ")), params)
}

/// The first whole second at or after `ms`.
fn ceil_second(ms: i64) -> i64 {
    (ms + 999).div_euclid(1000)
}

/// The evaluation window ending now, not reaching back before the second the stage
/// started, in whole seconds (points a little ahead of the clock count).
fn window_of(guard: &Guard, started_ms: i64, now: i64) -> (i64, i64) {
    let from = ceil_second(now - guard.window_seconds * 1000).max(started_ms.div_euclid(1000));
    (from, (now + FUTURE_SKEW_SECONDS * 1000).div_euclid(1000))
}

/// Metrics come from services holding a `metrics:write` token (and Runway itself).
pub(crate) fn require_metrics_writer(ctx: &Ctx) -> Result<(), ApiError> {
    ctx.require_signed_in()?;
    match &ctx.caller {
        Caller::Token(_) if !ctx.has_scope(Scope::MetricsWrite) => Err(crate::service::missing_scope(Scope::MetricsWrite)),
        Caller::Token(_) | Caller::System(_) => Ok(()),
        _ => Err(forbidden("Metrics are sent by services holding a metrics:write token.")),
    }
}

impl Service {
    /// Runway's guards act as themselves in the audit log.
    fn guard_ctx(request_id: Option<String>) -> Ctx {
        Ctx::new(Caller::System("guard"), request_id)
    }

    /// Stores a batch of samples, then evaluates the guards watching its metrics.
    pub async fn ingest(&self, ctx: &Ctx, body: &[u8]) -> Result<IngestReport> {
        require_metrics_writer(ctx)?;
        let points = split_batch(body)?;
        let now = now_ms();
        let oldest = now - self.metrics_retention.as_millis() as i64;
        let mut samples = Vec::with_capacity(points.len());
        let mut rejected = vec![];
        // A token limited to some metrics cannot feed (or mask) other teams' guards.
        let allowed: &[String] = match &ctx.caller {
            Caller::Token(t) => &t.metrics,
            _ => &[],
        };
        for (i, raw) in points.iter().enumerate() {
            match check_point(i, raw, now, oldest) {
                Ok(s) if !metric_allowed(allowed, &s.metric) => {
                    let message = format!("This token may not send {:?}; it may send only {}.", s.metric, allowed.join(", "));
                    let error = ApiError::new(403, "metric_not_allowed", message).with_field(format!("points[{i}].metric"));
                    rejected.push(RejectedPoint { index: i, error });
                }
                Ok(s) => samples.push(s),
                Err(error) => rejected.push(RejectedPoint { index: i, error }),
            }
        }
        if !samples.is_empty() {
            let mut tx = self.db.write().await?;
            for chunk in samples.chunks(INSERT_CHUNK) {
                let values: Vec<String> =
                    (0..chunk.len()).map(|i| format!("(${}, ${}, ${}, ${})", i * 4 + 1, i * 4 + 2, i * 4 + 3, i * 4 + 4)).collect();
                let sql = format!("INSERT INTO metric_samples (metric, value, at_ms, labels) VALUES {}", values.join(", "));
                let mut q = sqlx::query(&sql);
                for s in chunk {
                    q = q.bind(&s.metric).bind(s.value).bind(s.at_ms).bind(&s.labels);
                }
                q.execute(tx.conn()).await?;
            }
            add_to_seconds(&mut tx, &samples).await?;
            tx.commit().await?;
        }
        let metrics: HashSet<&str> = samples.iter().map(|s| s.metric.as_str()).collect();
        let breaches = if metrics.is_empty() { vec![] } else { self.evaluate_guards(&metrics, ctx.request_id.clone()).await? };
        Ok(IngestReport { accepted: samples.len() as i64, rejected, breaches })
    }

    /// Guards of active stages watching one of `metrics`, without an open breach.
    async fn watches(&self, metrics: &HashSet<&str>) -> Result<Vec<Watch>> {
        let mut conn = self.db.read().await?;
        let rows = sqlx::query(&format!(
            "SELECT {}, g.plan_id, s.started_at,
                    (SELECT COUNT(*) FROM guard_breaches b WHERE b.guard_id = g.id AND b.resolved_at IS NULL) AS open_breaches
             FROM guards g JOIN stages s ON s.id = g.stage_id JOIN plans p ON p.id = g.plan_id
             WHERE s.status = 'active' AND p.archived_at IS NULL ORDER BY g.id",
            crate::db::prefixed(GUARD_COLUMNS, "g")
        ))
        .fetch_all(&mut *conn)
        .await?;
        let mut watches = vec![];
        for r in &rows {
            let guard = guard_from_row(r)?;
            if !metrics.contains(guard.metric.as_str()) {
                continue;
            }
            let started: Option<String> = r.try_get("started_at")?;
            let Some(started_ms) = started.as_deref().and_then(rfc3339_to_ms) else { continue };
            let open: i64 = r.try_get("open_breaches")?;
            watches.push(Watch { guard, plan_id: r.try_get("plan_id")?, started_ms, has_open_breach: open > 0 });
        }
        Ok(watches)
    }

    /// The baseline a relative guard compares with: the lead's number, the one measured
    /// before, or now measured (and kept) from the samples before the stage started.
    async fn baseline_of(&self, guard: &Guard, started_ms: i64) -> Result<Option<f64>> {
        if let Some(b) = guard.baseline() {
            return Ok(Some(b));
        }
        let minutes = guard.baseline_window_minutes.unwrap_or(app::guard::DEFAULT_BASELINE_MINUTES);
        let mut conn = self.db.read().await?;
        // The whole seconds before the one the stage started in.
        let (from, to) = (ceil_second(started_ms - minutes * 60_000), started_ms.div_euclid(1000) - 1);
        let (n, mean) = window_stats(&mut conn, self.db.kind, guard, from, to).await?;
        drop(conn);
        let Some(mean) = mean.filter(|_| n > 0) else { return Ok(None) };
        let mut tx = self.db.write().await?;
        sqlx::query("UPDATE guards SET baseline_measured = $1, baseline_samples = $2 WHERE id = $3 AND baseline_measured IS NULL")
            .bind(mean)
            .bind(n)
            .bind(guard.id)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(Some(mean))
    }

    /// Evaluates every guard of an active stage that watches one of `metrics`.
    async fn evaluate_guards(&self, metrics: &HashSet<&str>, request_id: Option<String>) -> Result<Vec<BreachNotice>> {
        let mut notices = vec![];
        for w in self.watches(metrics).await? {
            if w.has_open_breach {
                continue;
            }
            let g = &w.guard;
            let baseline = if g.relative { self.baseline_of(g, w.started_ms).await? } else { None };
            let threshold = if g.relative {
                match baseline {
                    Some(b) => b * g.threshold,
                    None => continue, // nothing to compare with yet
                }
            } else {
                g.threshold
            };
            let now = now_ms();
            let (from, to) = window_of(g, w.started_ms, now);
            let mut conn = self.db.read().await?;
            let (n, mean) = window_stats(&mut conn, self.db.kind, g, from, to).await?;
            drop(conn);
            let Some(mean) = mean else { continue };
            if n < g.min_samples || !g.comparison.holds(mean, threshold) {
                continue;
            }
            let seen = Seen { value: mean, samples: n, threshold, baseline, at_ms: now };
            if let Some(notice) = self.breach(w.plan_id, g.stage_id, g.id, seen, request_id.clone()).await? {
                notices.push(notice);
            }
        }
        Ok(notices)
    }

    /// Records a breach and does what the guard says, in one transaction under the
    /// plan's row lock: of two batches breaching at once, the second finds the breach open.
    async fn breach(&self, plan_id: i64, stage_id: i64, guard_id: i64, seen: Seen, request_id: Option<String>) -> Result<Option<BreachNotice>> {
        let started = Instant::now();
        let ctx = Self::guard_ctx(request_id);
        let mut change = self.open(&ctx, Action::GuardBreach, plan_id, None, None).await?;
        let before = change.plan.clone();
        let stage = find_stage(&before, stage_id)?.clone();
        let Some(guard) = stage.guards.iter().find(|g| g.id == guard_id).cloned() else { return Ok(None) };
        if stage.status != StageStatus::Active || guard.open_breach().is_some() {
            return Ok(None);
        }
        let at = ms_to_rfc3339(seen.at_ms);
        let breach_id: i64 = sqlx::query_scalar(
            "INSERT INTO guard_breaches (guard_id, plan_id, stage_id, value, samples, threshold, baseline, action, at, at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $11 = 1 THEN $7 END, $8, $9, $10) RETURNING id",
        )
        .bind(guard_id)
        .bind(plan_id)
        .bind(stage_id)
        .bind(seen.value)
        .bind(seen.samples)
        .bind(seen.threshold)
        .bind(optional_f64(seen.baseline).0)
        .bind(guard.action.as_str())
        .bind(&at)
        .bind(seen.at_ms)
        .bind(optional_f64(seen.baseline).1)
        .fetch_one(change.conn())
        .await?;
        let reason = format!(
            "Guard {} breached: mean {} over {} samples in the last {} s is {} {}.",
            guard.condition(),
            app::guard::number(seen.value),
            seen.samples,
            guard.window_seconds,
            guard.comparison.words(),
            app::guard::number(seen.threshold)
        );
        let payload = json!({
            "guard": { "id": guard_id, "metric": guard.metric, "condition": guard.condition(), "action": guard.action },
            "breach": { "id": breach_id, "value": seen.value, "samples": seen.samples, "threshold": seen.threshold,
                        "baseline": seen.baseline, "at": at },
        });
        change.announce(Action::GuardBreach, merge(about(&before, &stage), payload.clone())).await?;
        let target = format!("plan:{plan_id}/stage:{stage_id}/guard:{guard_id}");
        let entry = Entry::new(Action::GuardBreach, target, plan_id).after(&payload);
        let mut notice = BreachNotice { plan_id, stage_id, guard_id, breach_id, action: guard.action, rollback_id: None };
        if guard.action != GuardAction::RollBack {
            self.commit(change, &ctx, entry).await?;
            return Ok(Some(notice));
        }
        let (rollback_id, created) = guard_rollback(&mut change.tx, &stage, guard_id, breach_id, &reason).await?;
        notice.rollback_id = Some(rollback_id);
        if !stage.auto_rollback && !created {
            // It joins a request already awaiting a rollback authority.
            self.commit(change, &ctx, entry).await?;
            return Ok(Some(notice));
        }
        audit::append(change.conn(), &ctx, &entry).await?;
        if stage.auto_rollback {
            let payload = json!({ "rollback": { "id": rollback_id, "decided_by": format!("guard:{guard_id}"), "automatic": true,
                                                "comment": AUTO_COMMENT, "reason": reason } });
            self.roll_back(change, &ctx, &stage, rollback_id, payload, started).await?;
        } else {
            let payload = json!({ "rollback": { "id": rollback_id, "requested_by": format!("guard:{guard_id}"), "reason": reason } });
            change.announce(Action::RollbackRequest, merge(about(&before, &stage), payload.clone())).await?;
            let entry = Entry::new(Action::RollbackRequest, format!("plan:{plan_id}/stage:{stage_id}/rollback:{rollback_id}"), plan_id).after(&payload);
            self.commit(change, &ctx, entry).await?;
        }
        Ok(Some(notice))
    }

    /// The lead adds a guard to a stage that has not finished.
    pub async fn add_guard(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, new: NewGuard) -> Result<Plan> {
        new.validate()?;
        let mut change = self.open(ctx, Action::GuardCreate, plan_id, Some(new.version), Some(stage_id)).await?;
        let stage = find_stage(&change.plan, stage_id)?.clone();
        check_stage_open(&stage)?;
        let query = sqlx::query(
            "INSERT INTO guards (metric, comparison, threshold, relative, baseline_value, baseline_window_minutes,
                                 window_seconds, min_samples, action, plan_id, stage_id, created_by, created_at, labels)
             VALUES ($1, $2, $3, $4, CASE WHEN $10 = 1 THEN $5 END, $6, $7, $8, $9, $11, $12, $13, $14, $15) RETURNING id",
        );
        let labels = labels_json(&new);
        let row = bind_settings(query, &new).bind(plan_id).bind(stage_id).bind(ctx.actor()).bind(now()).bind(&labels).fetch_one(change.conn()).await?;
        let id: i64 = row.try_get("id")?;
        let entry = Entry::new(Action::GuardCreate, format!("plan:{plan_id}/stage:{stage_id}/guard:{id}"), plan_id).after(&settings(&new));
        self.commit(change, ctx, entry).await
    }

    /// New settings for a guard; a measured baseline is measured again if its window changed.
    pub async fn update_guard(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, guard_id: i64, new: NewGuard) -> Result<Plan> {
        new.validate()?;
        let mut change = self.open(ctx, Action::GuardUpdate, plan_id, Some(new.version), Some(stage_id)).await?;
        let stage = find_stage(&change.plan, stage_id)?.clone();
        let old = stage.guards.iter().find(|g| g.id == guard_id).cloned().ok_or_else(|| ApiError::not_found("Guard"))?;
        check_stage_open(&stage)?;
        let keep_measured = old.metric == new.metric.trim() && old.labels == new.labels && old.baseline_window_minutes == new.baseline_window();
        let query = sqlx::query(
            "UPDATE guards SET metric = $1, comparison = $2, threshold = $3, relative = $4,
                baseline_value = CASE WHEN $10 = 1 THEN $5 END, baseline_window_minutes = $6, window_seconds = $7,
                min_samples = $8, action = $9,
                baseline_measured = CASE WHEN $11 = 1 THEN baseline_measured ELSE NULL END,
                baseline_samples = CASE WHEN $11 = 1 THEN baseline_samples ELSE NULL END,
                labels = $13
             WHERE id = $12",
        );
        let labels = labels_json(&new);
        bind_settings(query, &new).bind(i64::from(keep_measured)).bind(guard_id).bind(&labels).execute(change.conn()).await?;
        let entry = Entry::new(Action::GuardUpdate, format!("plan:{plan_id}/stage:{stage_id}/guard:{guard_id}"), plan_id)
            .before(&old)
            .after(&settings(&new));
        self.commit(change, ctx, entry).await
    }

    /// Removes a guard and its breaches (the audit log keeps them).
    pub async fn delete_guard(&self, ctx: &Ctx, plan_id: i64, stage_id: i64, guard_id: i64, version: Option<i64>) -> Result<Plan> {
        let mut change = self.open(ctx, Action::GuardDelete, plan_id, version, Some(stage_id)).await?;
        let stage = find_stage(&change.plan, stage_id)?;
        let old = stage.guards.iter().find(|g| g.id == guard_id).cloned().ok_or_else(|| ApiError::not_found("Guard"))?;
        sqlx::query("DELETE FROM guards WHERE id = $1").bind(guard_id).execute(change.conn()).await?;
        let entry = Entry::new(Action::GuardDelete, format!("plan:{plan_id}/stage:{stage_id}/guard:{guard_id}"), plan_id).before(&old);
        self.commit(change, ctx, entry).await
    }

    /// Someone running the plan says what was done about a breach: the guard watches again
    /// and, for a pause guard, the next gate may open.
    pub async fn resolve_breach(&self, ctx: &Ctx, plan_id: i64, breach_id: i64, r: ResolveBreach) -> Result<Plan> {
        r.validate()?;
        let mut change = self.open(ctx, Action::GuardResolve, plan_id, None, None).await?;
        let before = change.plan.clone();
        let (stage, guard, breach) = before
            .stages
            .iter()
            .flat_map(|s| s.guards.iter().map(move |g| (s, g)))
            .find_map(|(s, g)| g.breaches.iter().find(|b| b.id == breach_id).map(|b| (s.clone(), g.clone(), b.clone())))
            .ok_or_else(|| ApiError::not_found("Breach"))?;
        if breach.resolved_at.is_some() {
            return Err(ApiError::new(409, "breach_resolved", "This breach was already resolved.").into());
        }
        sqlx::query("UPDATE guard_breaches SET resolved_at = $1, resolved_by = $2, resolution = $3 WHERE id = $4 AND resolved_at IS NULL")
            .bind(now())
            .bind(ctx.actor())
            .bind(r.note.trim())
            .bind(breach_id)
            .execute(change.conn())
            .await?;
        let payload = json!({
            "guard": { "id": guard.id, "metric": guard.metric, "condition": guard.condition(), "action": guard.action },
            "breach": { "id": breach_id, "resolved_by": ctx.actor(), "note": r.note.trim() },
        });
        change.announce(Action::GuardResolve, merge(about(&before, &stage), payload.clone())).await?;
        let entry = Entry::new(Action::GuardResolve, format!("plan:{plan_id}/stage:{}/guard:{}", stage.id, guard.id), plan_id).after(&payload);
        self.commit(change, ctx, entry).await
    }

    /// Each guard's metric over time: bucket means over the stage's time (and the baseline
    /// window before it), the threshold, baseline and breaches.
    pub async fn guard_series(&self, ctx: &Ctx, plan_id: i64) -> Result<Vec<GuardSeries>> {
        let plan = self.get_plan(ctx, plan_id).await?;
        self.series_of(ctx, &plan).await
    }

    /// The same for a plan this request has already read (the plan page), without reading
    /// it again. One statement charts up to `CHARTS_PER_STATEMENT` guards.
    pub async fn series_of(&self, ctx: &Ctx, plan: &Plan) -> Result<Vec<GuardSeries>> {
        ctx.require_read(Scope::PlansRead)?;
        let now = now_ms();
        let oldest = now - self.metrics_retention.as_millis() as i64;
        let (mut out, mut charts) = (vec![], vec![]);
        for stage in &plan.stages {
            let started_ms = stage.started_at.as_deref().and_then(rfc3339_to_ms);
            let finished = matches!(stage.status, StageStatus::Passed | StageStatus::RolledBack | StageStatus::Aborted);
            let end = if finished { rfc3339_to_ms(&stage.updated_at).unwrap_or(now) } else { now };
            for g in &stage.guards {
                let before_start = g.baseline_window_minutes.filter(|_| g.relative).unwrap_or(15) * 60_000;
                let from = match started_ms {
                    Some(s) if s <= end => s - before_start,
                    _ => end - (g.window_seconds * 1000 * 6).max(30 * 60_000),
                }
                .max(oldest);
                let to = end.max(from + 60_000);
                // Whole seconds per slice, so each slice sums whole rows of metric_seconds.
                let bucket = ((to - from) / 1000 / CHART_BUCKETS + 1).max(1);
                let window = (stage.status == StageStatus::Active).then(|| window_of(g, started_ms.unwrap_or(now), now));
                charts.push(Chart { guard: g, first: from.div_euclid(1000), last: to.div_euclid(1000), bucket, window });
                out.push(GuardSeries {
                    guard_id: g.id,
                    metric: g.metric.clone(),
                    from_ms: from,
                    to_ms: to,
                    started_ms,
                    points: vec![],
                    threshold: g.effective_threshold(),
                    baseline: g.baseline(),
                    breaches: g.breaches.iter().filter_map(|b| Some((rfc3339_to_ms(&b.at)?, b.value))).collect(),
                    current: None,
                });
            }
        }
        if charts.is_empty() {
            return Ok(out);
        }
        let mut conn = self.db.read().await?;
        for (charts, out) in charts.chunks(CHARTS_PER_STATEMENT).zip(out.chunks_mut(CHARTS_PER_STATEMENT)) {
            let (sql, params) = chart_query(self.db.kind, charts);
            let q = crate::db::bind_params(sqlx::query(&sql), &params);
            let rows = q.fetch_all(&mut *conn).await?;
            for r in &rows {
                let i = r.try_get::<i64, _>("g")? as usize;
                let (chart, series) = (&charts[i], &mut out[i]);
                let b: i64 = r.try_get("b")?;
                let n = r.try_get::<Option<i64>, _>("n")?.unwrap_or(0);
                let total: Option<f64> = r.try_get("total")?;
                match total.filter(|_| n > 0) {
                    Some(total) if b == WINDOW_ROW => series.current = Some((total / n as f64, n)),
                    Some(total) => {
                        let at_ms = ((chart.first + b * chart.bucket) * 1000 + chart.bucket * 500).min(series.to_ms);
                        series.points.push(SeriesPoint { at_ms, value: total / n as f64, samples: n });
                    }
                    None => {}
                }
            }
        }
        Ok(out)
    }

    /// Removes samples older than the retention period, a chunk at a time so ingest (which
    /// needs the write lock on SQLite) waits at most one chunk.
    pub async fn remove_old_samples(&self) -> Result<u64> {
        let cutoff = now_ms() - self.metrics_retention.as_millis() as i64;
        let mut removed = 0;
        loop {
            let mut tx = self.db.write().await?;
            let done = sqlx::query(
                "DELETE FROM metric_samples WHERE id IN (SELECT id FROM metric_samples WHERE at_ms < $1 ORDER BY at_ms LIMIT $2)",
            )
            .bind(cutoff)
            .bind(RETENTION_CHUNK)
            .execute(tx.conn())
            .await?;
            tx.commit().await?;
            removed += done.rows_affected();
            if done.rows_affected() < RETENTION_CHUNK as u64 {
                break;
            }
            tokio::task::yield_now().await;
        }
        loop {
            let mut tx = self.db.write().await?;
            let done = sqlx::query(
                "DELETE FROM metric_seconds WHERE (metric, at_second, labels) IN
                    (SELECT metric, at_second, labels FROM metric_seconds WHERE at_second < $1 ORDER BY at_second LIMIT $2)",
            )
            .bind(cutoff.div_euclid(1000))
            .bind(RETENTION_CHUNK)
            .execute(tx.conn())
            .await?;
            tx.commit().await?;
            if done.rows_affected() < RETENTION_CHUNK as u64 {
                return Ok(removed);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Removes old samples in the background, every `every`.
    pub fn start_retention_worker(&self, every: Duration) {
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                match service.remove_old_samples().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "removed metric samples past their retention"),
                    Err(e) => tracing::warn!(error = %e.into_api().message, "removing old metric samples failed; trying again later"),
                }
                tokio::time::sleep(every).await;
            }
        });
    }
}

/// What a guard saw when it breached.
struct Seen {
    value: f64,
    samples: i64,
    threshold: f64,
    baseline: Option<f64>,
    at_ms: i64,
}

/// The rollback a roll-back guard asks for (or joins, when one is already awaiting a
/// decision), approved by the guard itself when the stage allows automatic rollback.
/// Returns its id and whether it is new.
async fn guard_rollback(tx: &mut WriteTx, stage: &Stage, guard_id: i64, breach_id: i64, reason: &str) -> Result<(i64, bool)> {
    let at = now();
    let by = format!("guard:{guard_id}");
    let (rollback_id, created) = match stage.open_rollback() {
        Some(r) => (r.id, false),
        None => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO rollbacks (plan_id, stage_id, requested_by, requested_by_id, reason, requested_at)
                 VALUES ($1, $2, $3, NULL, $4, $5) RETURNING id",
            )
            .bind(stage.plan_id)
            .bind(stage.id)
            .bind(&by)
            .bind(reason)
            .bind(&at)
            .fetch_one(tx.conn())
            .await?;
            (id, true)
        }
    };
    sqlx::query("UPDATE guard_breaches SET rollback_id = $1 WHERE id = $2").bind(rollback_id).bind(breach_id).execute(tx.conn()).await?;
    if stage.auto_rollback {
        sqlx::query(
            "UPDATE rollbacks SET status = 'approved', decided_by = $1, decided_at = $2, decision_comment = $3, automatic = 1
             WHERE id = $4 AND status = 'pending'",
        )
        .bind(&by)
        .bind(&at)
        .bind(AUTO_COMMENT)
        .bind(rollback_id)
        .execute(tx.conn())
        .await?;
    }
    Ok((rollback_id, created))
}

const AUTO_COMMENT: &str = "Approved automatically by the guard: this stage allows automatic rollback.";

/// Guards go on stages that have not finished.
fn check_stage_open(stage: &Stage) -> Result<(), ApiError> {
    if matches!(stage.status, StageStatus::Passed | StageStatus::RolledBack | StageStatus::Aborted) {
        return Err(ApiError::new(
            409,
            "stage_finished",
            format!("This stage is {}; guards watch stages that have not finished.", stage.status.label().to_lowercase()),
        ));
    }
    Ok(())
}

/// Binds a guard's settings ($1 to $10), in the order both the INSERT and the UPDATE name them.
fn bind_settings<'q>(q: Query<'q, Any, AnyArguments<'q>>, new: &'q NewGuard) -> Query<'q, Any, AnyArguments<'q>> {
    let (baseline, has_baseline) = optional_f64(new.baseline_value);
    q.bind(new.metric.trim())
        .bind(new.comparison.as_str())
        .bind(new.threshold)
        .bind(i64::from(new.relative))
        .bind(baseline)
        .bind(new.baseline_window())
        .bind(new.window_seconds)
        .bind(new.min_samples)
        .bind(new.action.as_str())
        .bind(has_baseline)
}

/// sqlx's Any driver sends a missing f64 to PostgreSQL as a float4 NULL, and the statement
/// cached with that type then refuses the next real f64 ("incorrect binary data format").
/// So a number is always bound, with a flag the SQL turns into NULL.
fn optional_f64(v: Option<f64>) -> (f64, i64) {
    (v.unwrap_or(0.0), i64::from(v.is_some()))
}

fn settings(new: &NewGuard) -> serde_json::Value {
    json!({
        "metric": new.metric.trim(), "comparison": new.comparison, "threshold": new.threshold, "relative": new.relative,
        "baseline_value": new.baseline_value, "baseline_window_minutes": new.baseline_window(),
        "window_seconds": new.window_seconds, "min_samples": new.min_samples, "action": new.action, "labels": new.labels,
    })
}

/// The matchers as stored: canonical JSON, like the samples' labels.
fn labels_json(new: &NewGuard) -> String {
    serde_json::to_string(&new.labels).unwrap_or_else(|_| "{}".into())
}
