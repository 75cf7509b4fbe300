//! Segments: storage and the service calls that change them. Which flag states use a
//! segment is kept in `flag_state_segments`, so a segment in use cannot be deleted.
use crate::audit::Entry;
use crate::db::now;
use crate::error::Result;
use crate::service::{Ctx, Service};
use app::error::ApiError;
use app::flag::{FlagState, Segments};
use app::segment::{NewSegment, Segment, SegmentInput};
use app::token::Scope;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

const COLUMNS: &str = "id, name, description, conditions, version, created_at, updated_at";

fn segment_from_row(r: &AnyRow) -> Result<Segment, sqlx::Error> {
    Ok(Segment {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        conditions: crate::flag::json_list(r, "conditions")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        used_by: vec![],
    })
}

/// Every segment by name, each with the flags that use it.
pub async fn load_segments(conn: &mut AnyConnection) -> Result<Vec<Segment>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM segments ORDER BY name")).fetch_all(&mut *conn).await?;
    let mut segments = rows.iter().map(segment_from_row).collect::<Result<Vec<_>, _>>()?;
    let uses = sqlx::query(
        "SELECT DISTINCT u.segment_id, f.key FROM flag_state_segments u JOIN flags f ON f.id = u.flag_id ORDER BY f.key",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in &uses {
        let (id, key): (i64, String) = (r.try_get("segment_id")?, r.try_get("key")?);
        if let Some(s) = segments.iter_mut().find(|s| s.id == id) {
            s.used_by.push(key);
        }
    }
    Ok(segments)
}

async fn load_segment(conn: &mut AnyConnection, name: &str) -> Result<Option<Segment>, sqlx::Error> {
    Ok(load_segments(conn).await?.into_iter().find(|s| s.name == name))
}

pub async fn segment_names(conn: &mut AnyConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM segments").fetch_all(conn).await
}

/// Segments' conditions by name, as evaluation reads them.
pub fn by_name(segments: Vec<Segment>) -> Segments {
    segments.into_iter().map(|s| (s.name, s.conditions)).collect()
}

/// Records which segments a flag state's rules use. A rule restored by a rollback may
/// name a segment deleted since; it is left out here and matches nobody.
pub(crate) async fn link(conn: &mut AnyConnection, flag_id: i64, s: &FlagState) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM flag_state_segments WHERE flag_id = $1 AND environment = $2")
        .bind(flag_id)
        .bind(&s.environment)
        .execute(&mut *conn)
        .await?;
    let mut names: Vec<&str> = s.rules.iter().flat_map(|r| r.segments.iter().map(String::as_str)).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        sqlx::query("INSERT INTO flag_state_segments (flag_id, environment, segment_id) SELECT $1, $2, id FROM segments WHERE name = $3")
            .bind(flag_id)
            .bind(&s.environment)
            .bind(name)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(404, "not_found", format!("There is no segment named {name:?}."))
}

impl Service {
    pub async fn list_segments(&self, ctx: &Ctx) -> Result<Vec<Segment>> {
        ctx.require_read(Scope::FlagsRead)?;
        let mut conn = self.db.read().await?;
        Ok(load_segments(&mut conn).await?)
    }

    pub async fn get_segment(&self, ctx: &Ctx, name: &str) -> Result<Segment> {
        ctx.require_read(Scope::FlagsRead)?;
        let mut conn = self.db.read().await?;
        Ok(load_segment(&mut conn, name).await?.ok_or_else(|| not_found(name))?)
    }

    /// Those who manage flags manage segments: a segment changes what flags serve.
    pub async fn create_segment(&self, ctx: &Ctx, new: NewSegment) -> Result<Segment> {
        ctx.require_flag_write()?;
        let conditions = new.validate()?;
        let mut tx = self.db.write().await?;
        if load_segment(tx.conn(), &new.name).await?.is_some() {
            return Err(ApiError::new(409, "duplicate_name", format!("There is already a segment {:?}.", new.name)).with_field("name").into());
        }
        let at = now();
        sqlx::query("INSERT INTO segments (name, description, conditions, version, created_at, updated_at) VALUES ($1, $2, $3, 1, $4, $4)")
            .bind(&new.name)
            .bind(new.description.trim())
            .bind(serde_json::to_string(&conditions).unwrap_or_else(|_| "[]".into()))
            .bind(&at)
            .execute(tx.conn())
            .await?;
        let after = load_segment(tx.conn(), &new.name).await?.ok_or_else(ApiError::internal)?;
        self.record(tx, ctx, Entry::global("segment.create", format!("segment:{}", new.name)).after(&after)).await?;
        self.flags_changed().await;
        Ok(after)
    }

    /// Replaces the segment's description and conditions; every flag using it serves by
    /// the new conditions at once.
    pub async fn update_segment(&self, ctx: &Ctx, name: &str, input: SegmentInput) -> Result<Segment> {
        ctx.require_flag_write()?;
        let conditions = input.validate()?;
        let mut tx = self.db.write().await?;
        let before = load_segment(tx.conn(), name).await?.ok_or_else(|| not_found(name))?;
        if before.version != input.version {
            return Err(ApiError::conflict(before.version).into());
        }
        sqlx::query("UPDATE segments SET description = $1, conditions = $2, version = version + 1, updated_at = $3 WHERE id = $4")
            .bind(input.description.trim())
            .bind(serde_json::to_string(&conditions).unwrap_or_else(|_| "[]".into()))
            .bind(now())
            .bind(before.id)
            .execute(tx.conn())
            .await?;
        let after = load_segment(tx.conn(), name).await?.ok_or_else(ApiError::internal)?;
        self.record(tx, ctx, Entry::global("segment.update", format!("segment:{name}")).before(&before).after(&after)).await?;
        self.flags_changed().await;
        Ok(after)
    }

    /// 409 while any flag's rules use it, naming those flags.
    pub async fn delete_segment(&self, ctx: &Ctx, name: &str) -> Result<()> {
        ctx.require_flag_write()?;
        let mut tx = self.db.write().await?;
        let before = load_segment(tx.conn(), name).await?.ok_or_else(|| not_found(name))?;
        if !before.used_by.is_empty() {
            return Err(ApiError::new(
                409,
                "segment_in_use",
                format!("Segment {name:?} is used by the rules of {}; remove it from them first.", before.used_by.join(", ")),
            )
            .into());
        }
        sqlx::query("DELETE FROM segments WHERE id = $1").bind(before.id).execute(tx.conn()).await?;
        self.record(tx, ctx, Entry::global("segment.delete", format!("segment:{name}")).before(&before)).await?;
        self.flags_changed().await;
        Ok(())
    }
}
