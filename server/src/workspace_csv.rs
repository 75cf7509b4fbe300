//! Workspaces in and out as CSV (`id,name,agent_provider`). An import checks every line
//! first: bad lines are reported with their numbers and skipped whole, good ones are
//! written in batches, each batch in one transaction with its audit entry.
use crate::audit::Entry;
use crate::db::now;
use crate::error::Result;
use crate::service::{Ctx, Service};
use crate::workspace::{load_providers, require_workspace_admin, sample_adoption, unknown_provider};
use app::error::ApiError;
use app::token::Scope;
use app::workspace::{check_workspace_id, check_workspace_name, ImportReport, ImportStatus, LineError, Provider, HistoryKind};
use sqlx::Row;
use std::collections::HashMap;

/// Rows written per transaction: large enough to be quick, small enough that progress moves.
const BATCH: usize = 1_000;
/// Refused lines kept in the report; the count covers all of them.
const REJECTED_SHOWN: usize = 1_000;
/// The largest file taken, in bytes (100,000 workspaces with long names fit easily).
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct CsvRow {
    pub line: u64,
    pub id: String,
    pub name: String,
    /// None keeps the current provider (claude for a new workspace).
    pub provider: Option<String>,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<CsvRow>,
    pub rejected: Vec<LineError>,
}

impl Parsed {
    pub fn total(&self) -> i64 {
        (self.rows.len() + self.rejected.len()) as i64
    }
}

fn file_error(message: impl Into<String>) -> ApiError {
    ApiError::new(422, "invalid_csv", message).with_field("file")
}

/// Reads and checks every line. A file that cannot be read at all (empty, UTF-16, no
/// header naming the columns) is a 422; a bad line is a `LineError` and the rest go on.
pub fn parse(bytes: &[u8], providers: &[Provider]) -> Result<Parsed, ApiError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(file_error("The file is UTF-16; save it as UTF-8 CSV and upload it again."));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut records = reader.byte_records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(file_error(format!("The first line cannot be read: {e}."))),
        None => return Err(file_error("The file is empty; it needs a header line id,name,agent_provider.")),
    };
    let names: Vec<String> = header.iter().map(|f| String::from_utf8_lossy(f).trim().to_lowercase()).collect();
    let column = |name: &str| names.iter().position(|n| n == name);
    let missing: Vec<&str> = ["id", "name", "agent_provider"].into_iter().filter(|c| column(c).is_none()).collect();
    if !missing.is_empty() {
        return Err(file_error(format!(
            "The header line must name the columns id,name,agent_provider; it lacks {}.",
            missing.join(", ")
        ))
        .with_field("header"));
    }
    let (id_at, name_at, provider_at) = (column("id").unwrap_or(0), column("name").unwrap_or(1), column("agent_provider").unwrap_or(2));
    let needed = id_at.max(name_at).max(provider_at) + 1;
    let mut parsed = Parsed::default();
    let mut first_seen: HashMap<String, u64> = HashMap::new();
    let mut lines = LineCounter::default();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = lines.at(bytes, e.position().map(|p| p.byte()).unwrap_or(0));
                parsed.rejected.push(LineError { line, message: format!("Cannot be read: {e}.") });
                continue;
            }
        };
        let line = lines.at(bytes, record.position().map(|p| p.byte()).unwrap_or(0));
        if record.len() == 1 && record.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        match check_line(&record, line, needed, (id_at, name_at, provider_at), providers) {
            Ok(row) => match first_seen.get(&row.id) {
                Some(first) => parsed.rejected.push(LineError {
                    line,
                    message: format!("The id {:?} is on line {first} already; each workspace may appear once.", row.id),
                }),
                None => {
                    first_seen.insert(row.id.clone(), line);
                    parsed.rows.push(row);
                }
            },
            Err(message) => parsed.rejected.push(LineError { line, message }),
        }
    }
    Ok(parsed)
}

/// Line numbers from byte offsets. The csv reader's own line count lags by one after a
/// CRLF line end (it has read the CR, not yet the LF, when the next record starts).
#[derive(Default)]
struct LineCounter {
    counted_to: usize,
    newlines: u64,
}

impl LineCounter {
    /// The 1-based line of the record starting at `byte`; offsets only grow.
    fn at(&mut self, bytes: &[u8], byte: u64) -> u64 {
        let end = (byte as usize + 1).min(bytes.len());
        if end > self.counted_to {
            self.newlines += bytes[self.counted_to..end].iter().filter(|b| **b == b'\n').count() as u64;
            self.counted_to = end;
        }
        self.newlines + 1
    }
}

fn check_line(
    record: &csv::ByteRecord,
    line: u64,
    needed: usize,
    (id_at, name_at, provider_at): (usize, usize, usize),
    providers: &[Provider],
) -> std::result::Result<CsvRow, String> {
    if record.len() < needed {
        return Err(format!("It has {} column(s); id, name and agent_provider need {needed}.", record.len()));
    }
    let text = |i: usize| {
        std::str::from_utf8(record.get(i).unwrap_or_default())
            .map(|s| s.trim().to_string())
            .map_err(|_| "It is not UTF-8 text; save the file as UTF-8.".to_string())
    };
    // Cells as the export wrote them: a leading `'` it added is dropped.
    let text = |i: usize| text(i).map(|t| crate::export::from_spreadsheet(&t).to_string());
    let (id, name, provider) = (text(id_at)?, text(name_at)?, text(provider_at)?);
    check_workspace_id("id", &id).map_err(|e| e.message)?;
    check_workspace_name("name", &name).map_err(|e| e.message)?;
    if name.chars().any(char::is_control) {
        return Err("The name holds a line break or control character (is a quote left open?).".into());
    }
    let provider = if provider.is_empty() {
        None
    } else if providers.iter().any(|p| p.id == provider) {
        Some(provider)
    } else {
        return Err(unknown_provider(&provider, providers).message);
    };
    Ok(CsvRow { line, id, name, provider })
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    created: i64,
    updated: i64,
    unchanged: i64,
}

impl Service {
    /// Checks the file and starts writing it in the background; the answer's id is
    /// polled (`GET /workspaces/imports/{id}`) for progress and the summary.
    pub async fn start_import(&self, ctx: &Ctx, bytes: &[u8]) -> Result<ImportReport> {
        let (id, parsed) = self.open_import(ctx, bytes).await?;
        let (service, ctx) = (self.clone(), ctx.clone());
        tokio::spawn(async move {
            service.run_import(&ctx, id, parsed.rows, |_| {}).await;
        });
        self.load_import(id).await
    }

    /// The whole import, here and now (the command line), telling `progress` after each batch.
    pub async fn import_now(&self, ctx: &Ctx, bytes: &[u8], progress: impl FnMut(&ImportReport)) -> Result<ImportReport> {
        let (id, parsed) = self.open_import(ctx, bytes).await?;
        self.run_import(ctx, id, parsed.rows, progress).await;
        self.load_import(id).await
    }

    pub async fn import_report(&self, ctx: &Ctx, id: i64) -> Result<ImportReport> {
        require_workspace_admin(ctx)?;
        self.load_import(id).await
    }

    async fn open_import(&self, ctx: &Ctx, bytes: &[u8]) -> Result<(i64, Parsed)> {
        require_workspace_admin(ctx)?;
        if bytes.len() > MAX_BYTES {
            return Err(ApiError::new(413, "too_large", format!("The file is over {} MB.", MAX_BYTES / 1024 / 1024)).into());
        }
        let providers = load_providers(&mut *self.db.read().await?).await?;
        let parsed = parse(bytes, &providers)?;
        let shown: Vec<&LineError> = parsed.rejected.iter().take(REJECTED_SHOWN).collect();
        let mut tx = self.db.write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO workspace_imports (status, total, processed, rejected_count, rejected, started_by, started_at)
             VALUES ('running', $1, $2, $2, $3, $4, $5) RETURNING id",
        )
        .bind(parsed.total())
        .bind(parsed.rejected.len() as i64)
        .bind(serde_json::to_string(&shown).unwrap_or_else(|_| "[]".into()))
        .bind(ctx.actor())
        .bind(now())
        .fetch_one(tx.conn())
        .await?;
        let entry = Entry::global("workspace.import", format!("import:{id}"))
            .after(&serde_json::json!({ "lines": parsed.total(), "rejected": parsed.rejected.len() }));
        self.record(tx, ctx, entry).await?;
        Ok((id, parsed))
    }

    async fn run_import(&self, ctx: &Ctx, id: i64, rows: Vec<CsvRow>, mut progress: impl FnMut(&ImportReport)) {
        let mut counts = Counts::default();
        for batch in rows.chunks(BATCH) {
            match self.write_batch(ctx, id, batch, &mut counts).await {
                Ok(()) => {
                    if let Ok(report) = self.load_import(id).await {
                        progress(&report);
                    }
                }
                Err(e) => {
                    let e = e.into_api();
                    tracing::error!(import = id, error = %e.message, "workspace import stopped");
                    self.end_import(id, ImportStatus::Failed, Some(&e.message)).await;
                    return;
                }
            }
        }
        self.end_import(id, ImportStatus::Done, None).await;
    }

    async fn end_import(&self, id: i64, status: ImportStatus, error: Option<&str>) {
        let status = if status == ImportStatus::Done { "done" } else { "failed" };
        // Through the write turn: on SQLite a write beside it could fail another transaction.
        let done = async {
            let mut tx = self.db.write().await?;
            sqlx::query("UPDATE workspace_imports SET status = $1, finished_at = $2, error = $3 WHERE id = $4")
                .bind(status)
                .bind(now())
                .bind(error)
                .bind(id)
                .execute(tx.conn())
                .await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = done {
            tracing::error!(import = id, error = %e, "could not record the end of an import");
        }
        self.events.publish(crate::event::Change { action: "workspace.import".into(), plan_id: None, version: None, request_id: None });
    }

    /// One batch: creates the new workspaces, updates the changed ones (recording renames
    /// and switches in their history), and moves the import's progress on, all at once.
    async fn write_batch(&self, ctx: &Ctx, import_id: i64, batch: &[CsvRow], counts: &mut Counts) -> Result<()> {
        let mut tx = self.db.write().await?;
        let placeholders: Vec<String> = (1..=batch.len()).map(|i| format!("${i}")).collect();
        let sql = format!("SELECT id, name, agent_provider FROM workspaces WHERE id IN ({})", placeholders.join(", "));
        let mut query = sqlx::query(&sql);
        for row in batch {
            query = query.bind(&row.id);
        }
        let mut existing: HashMap<String, (String, String)> = HashMap::new();
        for r in query.fetch_all(tx.conn()).await? {
            existing.insert(r.try_get("id")?, (r.try_get("name")?, r.try_get("agent_provider")?));
        }
        let at = now();
        let actor = ctx.actor();
        let (mut fresh, mut notes) = (vec![], vec![]);
        let before = *counts;
        for row in batch {
            let Some((name, provider)) = existing.get(&row.id) else {
                let provider = row.provider.clone().unwrap_or_else(|| app::workspace::DEFAULT_PROVIDER.to_string());
                notes.push((row.id.clone(), HistoryKind::Created, Some(provider.clone()), None, String::new()));
                fresh.push((row, provider));
                counts.created += 1;
                continue;
            };
            let renamed = *name != row.name;
            let switched = row.provider.as_ref().filter(|p| *p != provider);
            if !renamed && switched.is_none() {
                counts.unchanged += 1;
                continue;
            }
            counts.updated += 1;
            if renamed {
                notes.push((row.id.clone(), HistoryKind::Renamed, None, None, row.name.clone()));
            }
            if let Some(to) = switched {
                notes.push((row.id.clone(), HistoryKind::Switch, Some(to.clone()), Some(provider.clone()), String::new()));
            }
            sqlx::query(
                "UPDATE workspaces SET name = $1, agent_provider = $2, updated_at = $3,
                 last_switch_at = CASE WHEN agent_provider = $2 THEN last_switch_at ELSE $3 END WHERE id = $4",
            )
            .bind(&row.name)
            .bind(switched.unwrap_or(provider))
            .bind(&at)
            .bind(&row.id)
            .execute(tx.conn())
            .await?;
        }
        // Multi-row inserts, in chunks that stay under both databases' parameter limits.
        for chunk in fresh.chunks(500) {
            let values: Vec<String> = (0..chunk.len()).map(|i| format!("(${}, ${}, ${}, ${}, ${})", i * 5 + 1, i * 5 + 2, i * 5 + 3, i * 5 + 4, i * 5 + 5)).collect();
            let sql = format!("INSERT INTO workspaces (id, name, agent_provider, created_at, updated_at) VALUES {}", values.join(", "));
            let mut q = sqlx::query(&sql);
            for (row, provider) in chunk {
                q = q.bind(&row.id).bind(&row.name).bind(provider).bind(&at).bind(&at);
            }
            q.execute(tx.conn()).await?;
        }
        for chunk in notes.chunks(500) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${}, ${}, ${}, ${}, ${})", i * 7 + 1, i * 7 + 2, i * 7 + 3, i * 7 + 4, i * 7 + 5, i * 7 + 6, i * 7 + 7))
                .collect();
            let sql = format!(
                "INSERT INTO workspace_history (workspace_id, kind, at, actor, provider, from_provider, detail) VALUES {}",
                values.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for (ws, kind, provider, from, detail) in chunk {
                q = q.bind(ws).bind(kind.as_str()).bind(&at).bind(&actor).bind(provider.as_deref()).bind(from.as_deref()).bind(detail);
            }
            q.execute(tx.conn()).await?;
        }
        sample_adoption(tx.conn()).await?;
        sqlx::query(
            "UPDATE workspace_imports SET processed = processed + $1, created = $2, updated = $3, unchanged = $4 WHERE id = $5",
        )
        .bind(batch.len() as i64)
        .bind(counts.created)
        .bind(counts.updated)
        .bind(counts.unchanged)
        .bind(import_id)
        .execute(tx.conn())
        .await?;
        let (first, last) = (batch.first().map(|r| r.line).unwrap_or(0), batch.last().map(|r| r.line).unwrap_or(0));
        let entry = Entry::global("workspace.import", format!("import:{import_id}")).after(&serde_json::json!({
            "lines": format!("{first}-{last}"),
            "created": counts.created - before.created,
            "updated": counts.updated - before.updated,
            "unchanged": counts.unchanged - before.unchanged,
        }));
        self.record(tx, ctx, entry).await
    }

    async fn load_import(&self, id: i64) -> Result<ImportReport> {
        let row = sqlx::query(
            "SELECT id, status, total, processed, created, updated, unchanged, rejected_count, rejected, started_by, started_at, finished_at, error
             FROM workspace_imports WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("Import"))?;
        let status: String = row.try_get("status")?;
        let rejected: String = row.try_get("rejected")?;
        Ok(ImportReport {
            id: row.try_get("id")?,
            status: match status.as_str() {
                "running" => ImportStatus::Running,
                "done" => ImportStatus::Done,
                _ => ImportStatus::Failed,
            },
            total: row.try_get("total")?,
            processed: row.try_get("processed")?,
            created: row.try_get("created")?,
            updated: row.try_get("updated")?,
            unchanged: row.try_get("unchanged")?,
            rejected: serde_json::from_str(&rejected).unwrap_or_default(),
            rejected_count: row.try_get("rejected_count")?,
            started_by: row.try_get("started_by")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            error: row.try_get("error")?,
        })
    }

    /// Every workspace as CSV, by id, in the shape the import takes.
    pub async fn export_csv(&self, ctx: &Ctx) -> Result<String> {
        ctx.require_read(Scope::WorkspacesRead)?;
        let rows = sqlx::query("SELECT id, name, agent_provider FROM workspaces ORDER BY id").fetch_all(&self.db.pool).await?;
        let mut out = csv::Writer::from_writer(vec![]);
        let fail = |e: csv::Error| {
            tracing::error!(error = %e, "writing CSV");
            ApiError::internal()
        };
        out.write_record(["id", "name", "agent_provider"]).map_err(fail)?;
        for r in &rows {
            let (id, name, provider): (String, String, String) = (r.try_get("id")?, r.try_get("name")?, r.try_get("agent_provider")?);
            let cells = [&id, &name, &provider].map(|c| crate::export::spreadsheet_safe(c).into_owned());
            out.write_record(cells).map_err(fail)?;
        }
        let bytes = out.into_inner().map_err(|e| fail(e.into_error().into()))?;
        Ok(String::from_utf8(bytes).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Vec<Provider> {
        ["claude", "codex"]
            .iter()
            .map(|id| Provider { id: id.to_string(), display_name: id.to_string(), description: String::new(), needs_key: false, flag: None })
            .collect()
    }

    fn lines(p: &Parsed) -> Vec<u64> {
        p.rejected.iter().map(|e| e.line).collect()
    }

    #[test]
    fn good_lines_pass_and_bad_ones_are_named_by_line() {
        let csv = b"id,name,agent_provider\nws-1,Acme,claude\nws-2,Beta,gpt\nws-3,,codex\nws 4,Delta,\nws-1,Again,codex\nws-5,Echo\nws-6,\"Foxtrot, Inc.\",\n";
        let p = parse(csv, &catalog()).unwrap();
        let ids: Vec<&str> = p.rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["ws-1", "ws-6"]);
        assert_eq!(p.rows[1].name, "Foxtrot, Inc.", "quoted commas stay in the name");
        assert_eq!(p.rows[1].provider, None, "an empty provider keeps the current one");
        assert_eq!(lines(&p), [3, 4, 5, 6, 7]);
        assert!(p.rejected[0].message.contains("no provider \"gpt\""), "{:?}", p.rejected[0]);
        assert!(p.rejected[3].message.contains("line 2 already"), "{:?}", p.rejected[3]);
        assert!(p.rejected[4].message.contains("column"), "{:?}", p.rejected[4]);
        assert_eq!(p.total(), 7);
    }

    #[test]
    fn a_line_that_is_not_utf8_is_refused_alone() {
        let mut csv = b"id,name,agent_provider\nws-1,Caf".to_vec();
        csv.extend_from_slice(&[0xE9]); // Latin-1 é
        csv.extend_from_slice(b",claude\r\nws-2,Ok,claude\r\n");
        let p = parse(&csv, &catalog()).unwrap();
        assert_eq!(p.rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["ws-2"]);
        assert_eq!(lines(&p), [2]);
        assert!(p.rejected[0].message.contains("UTF-8"));
    }

    #[test]
    fn line_numbers_are_right_with_crlf_and_quoted_line_breaks() {
        let csv = b"id,name,agent_provider\r\nws-1,\"Two\r\nlines\",claude\r\nws-2,B,nope\r\nws-3,C,nope\n";
        let p = parse(csv, &catalog()).unwrap();
        // A name may not hold a line break; the record is named by the line it starts on.
        assert_eq!(lines(&p), [2, 4, 5], "{:?}", p.rejected);
        assert!(p.rows.is_empty());
    }

    #[test]
    fn the_header_may_come_in_any_order_with_a_bom() {
        let p = parse("\u{FEFF}Agent_Provider,ID,Name\ncodex,ws-9,Nine\n".as_bytes(), &catalog()).unwrap();
        assert_eq!(p.rows, [CsvRow { line: 2, id: "ws-9".into(), name: "Nine".into(), provider: Some("codex".into()) }]);
    }

    #[test]
    fn files_that_cannot_be_read_at_all_are_refused_whole() {
        for (bytes, says) in [
            (&b""[..], "empty"),
            (&b"id,title\nws-1,x\n"[..], "lacks name, agent_provider"),
            (&[0xFF, 0xFE, b'i', 0][..], "UTF-16"),
        ] {
            let e = parse(bytes, &catalog()).unwrap_err();
            assert_eq!(e.status, 422);
            assert!(e.message.contains(says), "{} should say {says}", e.message);
        }
    }

    #[test]
    fn an_open_quote_does_not_swallow_lines_silently() {
        let p = parse(b"id,name,agent_provider\nws-1,\"Open,claude\nws-2,Two,claude\n", &catalog()).unwrap();
        assert!(p.rows.is_empty(), "{:?}", p.rows);
        assert_eq!(lines(&p), [2]);
    }
}
