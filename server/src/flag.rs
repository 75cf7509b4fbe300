//! Feature flags: storage and the service calls that change them. After every change
//! the evaluation snapshot is rebuilt, so services never wait on the database.
use crate::audit::Entry;
use crate::db::{now, WriteTx};
use crate::error::Result;
use crate::service::{forbidden, Caller, Ctx, Service};
use app::error::ApiError;
use app::flag::{Environment, Flag, FlagAbilities, FlagChange, FlagView, FlagPatch, FlagState, FlagStateInput, NewEnvironment, NewFlag, Variant};
use app::role::PlanRole;
use app::token::Scope;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

const COLUMNS: &str = "id, key, description, owner, tags, version, created_at, updated_at, archived_at, killed_at, killed_by, responders";

fn flag_from_row(r: &AnyRow) -> Result<Flag, sqlx::Error> {
    let tags: String = r.try_get("tags")?;
    let responders: String = r.try_get("responders")?;
    Ok(Flag {
        id: r.try_get("id")?,
        key: r.try_get("key")?,
        description: r.try_get("description")?,
        owner: r.try_get("owner")?,
        tags: tags.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect(),
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        archived_at: r.try_get("archived_at")?,
        killed_at: r.try_get("killed_at")?,
        killed_by: r.try_get("killed_by")?,
        responders: responders.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect(),
        environments: vec![],
    })
}

pub(crate) fn json_list<T: serde::de::DeserializeOwned>(r: &AnyRow, col: &str) -> Result<Vec<T>, sqlx::Error> {
    let text: String = r.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::ColumnDecode { index: col.into(), source: Box::new(e) })
}

fn state_from_row(r: &AnyRow) -> Result<(i64, FlagState), sqlx::Error> {
    let enabled: i64 = r.try_get("enabled")?;
    Ok((
        r.try_get("flag_id")?,
        FlagState {
            environment: r.try_get("environment")?,
            enabled: enabled == 1,
            percentage: r.try_get("percentage")?,
            allow: json_list(r, "allow_keys")?,
            deny: json_list(r, "deny_keys")?,
            variants: json_list::<Variant>(r, "variants")?,
            rules: json_list(r, "rules")?,
            updated_at: r.try_get("updated_at")?,
        },
    ))
}

const STATE_COLUMNS: &str = "flag_id, environment, enabled, percentage, allow_keys, deny_keys, variants, rules, updated_at";

/// Every flag (archived too when asked) with its states, by key.
pub async fn load_flags(conn: &mut AnyConnection, include_archived: bool) -> Result<Vec<Flag>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM flags WHERE ($1 = 1 OR archived_at IS NULL) ORDER BY key"
    ))
    .bind(i64::from(include_archived))
    .fetch_all(&mut *conn)
    .await?;
    let mut flags = rows.iter().map(flag_from_row).collect::<Result<Vec<_>, _>>()?;
    let states = sqlx::query(&format!("SELECT {STATE_COLUMNS} FROM flag_states ORDER BY environment"))
        .fetch_all(&mut *conn)
        .await?;
    for r in &states {
        let (flag_id, state) = state_from_row(r)?;
        if let Some(f) = flags.iter_mut().find(|f| f.id == flag_id) {
            f.environments.push(state);
        }
    }
    Ok(flags)
}

pub async fn load_flag(conn: &mut AnyConnection, key: &str) -> Result<Option<Flag>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM flags WHERE key = $1")).bind(key).fetch_optional(&mut *conn).await?;
    let Some(row) = row else { return Ok(None) };
    let mut flag = flag_from_row(&row)?;
    let states = sqlx::query(&format!("SELECT {STATE_COLUMNS} FROM flag_states WHERE flag_id = $1 ORDER BY environment"))
        .bind(flag.id)
        .fetch_all(&mut *conn)
        .await?;
    flag.environments = states.iter().map(|r| state_from_row(r).map(|(_, s)| s)).collect::<Result<_, _>>()?;
    Ok(Some(flag))
}

pub async fn load_environments(conn: &mut AnyConnection) -> Result<Vec<Environment>, sqlx::Error> {
    let rows = sqlx::query("SELECT name, created_at FROM environments ORDER BY created_at, name").fetch_all(conn).await?;
    rows.iter().map(|r| Ok(Environment { name: r.try_get("name")?, created_at: r.try_get("created_at")? })).collect()
}

pub(crate) async fn write_state(conn: &mut AnyConnection, flag_id: i64, s: &FlagState) -> Result<(), sqlx::Error> {
    let json = |v: &dyn erased_json::Json| v.to_json();
    sqlx::query(
        "UPDATE flag_states SET enabled = $1, percentage = $2, allow_keys = $3, deny_keys = $4, variants = $5, rules = $6, updated_at = $7
         WHERE flag_id = $8 AND environment = $9",
    )
    .bind(i64::from(s.enabled))
    .bind(s.percentage)
    .bind(json(&s.allow))
    .bind(json(&s.deny))
    .bind(json(&s.variants))
    .bind(json(&s.rules))
    .bind(&s.updated_at)
    .bind(flag_id)
    .bind(&s.environment)
    .execute(&mut *conn)
    .await?;
    crate::segment::link(conn, flag_id, s).await
}

/// Lists as the JSON text stored in their columns.
mod erased_json {
    pub trait Json {
        fn to_json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> String {
            serde_json::to_string(self).unwrap_or_else(|_| "[]".into())
        }
    }
}

impl Ctx {
    /// Admins and `flags:write` tokens manage flags. (Plan roles do not: anyone may
    /// create a plan and lead it, so "leads some plan" would let anyone turn flags on.)
    pub(crate) fn require_flag_write(&self) -> Result<()> {
        self.require_signed_in()?;
        match &self.caller {
            Caller::Token(t) if t.scopes.iter().any(|s| s.covers(Scope::FlagsWrite)) => Ok(()),
            Caller::Token(_) => Err(ApiError::new(403, "missing_scope", "This token lacks the flags:write scope.").into()),
            _ if self.is_admin() => Ok(()),
            _ => Err(forbidden("Only admins and flags:write tokens manage flags.").into()),
        }
    }

    fn can_manage_flags(&self) -> bool {
        self.require_flag_write().is_ok()
    }

    /// A flag's kill switch is for whoever answers for that flag: admins, the flag's
    /// responders, and the on-call and rollback authorities of a live, signed-off plan
    /// whose stages change it. A role on some other plan (anyone may create one and name
    /// themselves on it) gives nothing over this flag.
    async fn require_kill(&self, conn: &mut AnyConnection, key: &str) -> Result<()> {
        self.require_signed_in()?;
        match &self.caller {
            _ if self.is_admin() => Ok(()),
            Caller::Person(p) if answers_for(conn, p, key).await? => Ok(()),
            _ => Err(forbidden(
                "Only admins, the flag's responders, and the on-call and rollback authorities of an approved plan that changes this flag may use its kill switch.",
            )
            .into()),
        }
    }
}

/// Whether `person` is one of the flag's responders, or on-call or rollback authority on
/// a plan (not archived, past sign-off) with a stage that changes the flag.
async fn answers_for(conn: &mut AnyConnection, person: &app::person::Person, key: &str) -> Result<bool, sqlx::Error> {
    let responders: Option<String> =
        sqlx::query_scalar("SELECT responders FROM flags WHERE key = $1").bind(key).fetch_optional(&mut *conn).await?;
    if responders.is_some_and(|r| r.split(',').any(|name| name == person.username)) {
        return Ok(true);
    }
    // Draft and in-review plans are left out: their flag changes are not signed off yet.
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM plan_roles r JOIN plans p ON p.id = r.plan_id
         WHERE r.user_id = $1 AND r.role IN ($2, $3) AND p.archived_at IS NULL AND p.status NOT IN ('draft', 'in_review')
           AND EXISTS (SELECT 1 FROM stage_flag_changes c JOIN stages s ON s.id = c.stage_id WHERE s.plan_id = p.id AND c.flag_key = $4)",
    )
    .bind(person.id)
    .bind(PlanRole::OnCall.as_str())
    .bind(PlanRole::RollbackAuthority.as_str())
    .bind(key)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// "On, 25%" for a stored state in an audit entry.
fn summary(v: &Option<serde_json::Value>) -> Option<String> {
    let s: FlagState = serde_json::from_value(v.clone()?).ok()?;
    Some(app::flag::describe_state(&s))
}

fn flag_not_found(key: &str) -> ApiError {
    ApiError::new(404, "not_found", format!("There is no flag {key:?}."))
}

impl Service {
    /// For one flag (its page), or with `None` for the list: there `kill` means every
    /// flag's kill switch, which only admins hold.
    pub async fn flag_abilities(&self, ctx: &Ctx, key: Option<&str>) -> Result<FlagAbilities> {
        ctx.require_read(Scope::FlagsRead)?;
        let kill = match key {
            Some(key) => {
                let mut conn = self.db.read().await?;
                ctx.require_kill(&mut conn, key).await.is_ok()
            }
            None => ctx.is_admin(),
        };
        Ok(FlagAbilities { manage: ctx.can_manage_flags(), kill })
    }

    /// The flag, its change history from the audit log (oldest first), and what the caller may do.
    pub async fn flag_view(&self, ctx: &Ctx, key: &str) -> Result<FlagView> {
        let flag = self.get_flag(ctx, key).await?;
        let can = self.flag_abilities(ctx, Some(key)).await?;
        let mut conn = self.db.read().await?;
        let rows = sqlx::query(
            "SELECT at, actor, action, target, before_json, after_json FROM audit_log
             WHERE target = $1 OR SUBSTR(target, 1, LENGTH($2)) = $2 ORDER BY id",
        )
        .bind(format!("flag:{key}"))
        .bind(format!("flag:{key}/environment:"))
        .fetch_all(&mut *conn)
        .await?;
        let mut history = vec![];
        for r in &rows {
            let target: String = r.try_get("target")?;
            let action: String = r.try_get("action")?;
            let json = |col: &str| -> Result<Option<serde_json::Value>, sqlx::Error> {
                let t: Option<String> = r.try_get(col)?;
                Ok(t.and_then(|t| serde_json::from_str(&t).ok()))
            };
            let (before, after) = (json("before_json")?, json("after_json")?);
            let environment = target.split_once("/environment:").map(|(_, e)| e.to_string());
            let rollout = |v: &Option<serde_json::Value>| {
                serde_json::from_value::<FlagState>(v.clone()?).ok().map(|s| if s.enabled { s.percentage } else { 0 })
            };
            let (before_text, after_text, rollout_after) = if environment.is_some() {
                (summary(&before), summary(&after), rollout(&after))
            } else {
                (None, None, None)
            };
            history.push(FlagChange {
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                action,
                environment,
                before: before_text,
                after: after_text,
                rollout_after,
            });
        }
        // From the evaluation snapshot, which holds every segment already.
        let snapshot = self.flag_cache.get();
        let segments = flag.environments.iter().flat_map(|s| &s.rules).flat_map(|r| &r.segments)
            .filter_map(|name| Some((name.clone(), snapshot.segments.get(name)?.clone())))
            .collect();
        Ok(FlagView { flag, history, can, segments })
    }

    pub async fn list_flags(&self, ctx: &Ctx, include_archived: bool) -> Result<Vec<Flag>> {
        ctx.require_read(Scope::FlagsRead)?;
        let mut conn = self.db.read().await?;
        Ok(load_flags(&mut conn, include_archived).await?)
    }

    pub async fn get_flag(&self, ctx: &Ctx, key: &str) -> Result<Flag> {
        ctx.require_read(Scope::FlagsRead)?;
        let mut conn = self.db.read().await?;
        Ok(load_flag(&mut conn, key).await?.ok_or_else(|| flag_not_found(key))?)
    }

    pub async fn list_environments(&self, ctx: &Ctx) -> Result<Vec<Environment>> {
        ctx.require_read(Scope::FlagsRead)?;
        let mut conn = self.db.read().await?;
        Ok(load_environments(&mut conn).await?)
    }

    /// A new environment starts with every flag off there.
    pub async fn add_environment(&self, ctx: &Ctx, new: NewEnvironment) -> Result<Environment> {
        ctx.require_admin()?;
        new.validate()?;
        let mut tx = self.db.write().await?;
        if load_environments(tx.conn()).await?.iter().any(|e| e.name == new.name) {
            return Err(ApiError::new(409, "duplicate", format!("There is already an environment {:?}.", new.name)).with_field("name").into());
        }
        let at = now();
        sqlx::query("INSERT INTO environments (name, created_at) VALUES ($1, $2)").bind(&new.name).bind(&at).execute(tx.conn()).await?;
        sqlx::query(
            "INSERT INTO flag_states (flag_id, environment, enabled, percentage, updated_at) SELECT id, $1, 0, 100, $2 FROM flags",
        )
        .bind(&new.name)
        .bind(&at)
        .execute(tx.conn())
        .await?;
        let env = Environment { name: new.name, created_at: at };
        self.record(tx, ctx, Entry::global("environment.create", format!("environment:{}", env.name)).after(&env)).await?;
        self.flags_changed().await;
        Ok(env)
    }

    /// A new flag is off in every environment.
    pub async fn create_flag(&self, ctx: &Ctx, new: NewFlag) -> Result<Flag> {
        ctx.require_signed_in()?;
        let mut tx = self.db.write().await?;
        ctx.require_flag_write()?;
        new.validate()?;
        if load_flag(tx.conn(), &new.key).await?.is_some() {
            return Err(ApiError::new(409, "duplicate_key", format!("There is already a flag {:?}.", new.key)).with_field("key").into());
        }
        let at = now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO flags (key, description, owner, tags, version, created_at, updated_at) VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING id",
        )
        .bind(&new.key)
        .bind(new.description.trim())
        .bind(new.owner.trim())
        .bind(new.tags.iter().map(|t| t.trim()).collect::<Vec<_>>().join(","))
        .bind(&at)
        .fetch_one(tx.conn())
        .await?;
        sqlx::query("INSERT INTO flag_states (flag_id, environment, enabled, percentage, updated_at) SELECT $1, name, 0, 100, $2 FROM environments")
            .bind(id)
            .bind(&at)
            .execute(tx.conn())
            .await?;
        self.finish_flag(tx, ctx, &new.key, Entry::global("flag.create", format!("flag:{}", new.key)), None).await
    }

    pub async fn update_flag(&self, ctx: &Ctx, key: &str, patch: FlagPatch) -> Result<Flag> {
        ctx.require_flag_write()?;
        patch.validate()?;
        let (mut tx, before) = self.begin_flag_change(ctx, key, Some(patch.version), false).await?;
        let responders = match &patch.responders {
            Some(list) => known_people(tx.conn(), list).await?,
            None => before.responders.clone(),
        };
        sqlx::query("UPDATE flags SET description = $1, owner = $2, tags = $3, responders = $4 WHERE id = $5")
            .bind(patch.description.as_deref().map(str::trim).unwrap_or(&before.description))
            .bind(patch.owner.as_deref().map(str::trim).unwrap_or(&before.owner))
            .bind(patch.tags.as_ref().map(|t| t.join(",")).unwrap_or_else(|| before.tags.join(",")))
            .bind(responders.join(","))
            .bind(before.id)
            .execute(tx.conn())
            .await?;
        self.finish_flag(tx, ctx, key, Entry::global("flag.update", format!("flag:{key}")), Some(&before)).await
    }

    /// Sets the flag's whole state in one environment.
    pub async fn set_flag_state(&self, ctx: &Ctx, key: &str, environment: &str, input: FlagStateInput) -> Result<Flag> {
        ctx.require_flag_write()?;
        input.validate()?;
        let (mut tx, before) = self.begin_flag_change(ctx, key, Some(input.version), false).await?;
        let segments = crate::segment::segment_names(tx.conn()).await?;
        let rules = input.read_rules(&|name| segments.iter().any(|s| s == name))?;
        let old = before.state(environment).cloned().ok_or_else(|| ApiError::not_found("Environment"))?;
        let state = FlagState {
            environment: environment.to_string(),
            enabled: input.enabled,
            percentage: input.percentage,
            allow: dedup(input.allow),
            deny: dedup(input.deny),
            variants: input.variants,
            rules,
            updated_at: now(),
        };
        write_state(tx.conn(), before.id, &state).await?;
        if state.enabled && before.killed_at.is_some() {
            // Turned on again: the kill is over, and the plans' banners go.
            sqlx::query("UPDATE flags SET killed_at = NULL, killed_by = NULL WHERE id = $1").bind(before.id).execute(tx.conn()).await?;
        }
        let entry = Entry::global("flag.set", format!("flag:{key}/environment:{environment}")).before(&old).after(&state);
        self.finish_flag(tx, ctx, key, entry, None).await
    }

    /// Archived flags are no longer evaluated (services get FLAG_NOT_FOUND); nothing is deleted.
    pub async fn archive_flag(&self, ctx: &Ctx, key: &str, version: Option<i64>) -> Result<Flag> {
        let (mut tx, before) = self.begin_flag_change(ctx, key, version, false).await?;
        sqlx::query("UPDATE flags SET archived_at = $1 WHERE id = $2").bind(now()).bind(before.id).execute(tx.conn()).await?;
        self.finish_flag(tx, ctx, key, Entry::global("flag.archive", format!("flag:{key}")), Some(&before)).await
    }

    /// Off in every environment at once, in one transaction. No version needed: in an
    /// emergency nobody should have to reload first.
    pub async fn kill_flag(&self, ctx: &Ctx, key: &str) -> Result<Flag> {
        ctx.require_signed_in()?;
        let mut tx = self.db.write().await?;
        ctx.require_kill(tx.conn(), key).await?;
        let before = load_flag(tx.conn(), key).await?.filter(|f| f.archived_at.is_none()).ok_or_else(|| flag_not_found(key))?;
        let at = now();
        sqlx::query("UPDATE flag_states SET enabled = 0, updated_at = $1 WHERE flag_id = $2").bind(&at).bind(before.id).execute(tx.conn()).await?;
        sqlx::query("UPDATE flags SET killed_at = $1, killed_by = $2, version = version + 1, updated_at = $1 WHERE id = $3")
            .bind(&at)
            .bind(ctx.actor())
            .bind(before.id)
            .execute(tx.conn())
            .await?;
        let after = load_flag(tx.conn(), key).await?.ok_or_else(ApiError::internal)?;
        let event = serde_json::json!({ "flag": { "key": after.key }, "killed_by": ctx.actor() });
        crate::webhook::enqueue(tx.conn(), "flag.killed", event).await?;
        self.record(tx, ctx, Entry::global("flag.kill", format!("flag:{key}")).before(&before).after(&after)).await?;
        self.webhooks_wake();
        self.flag_committed(&after).await;
        Ok(after)
    }

    /// Loads the flag for a change made against `version`: 404, 409 on a stale version.
    async fn begin_flag_change(&self, ctx: &Ctx, key: &str, version: Option<i64>, archived_ok: bool) -> Result<(WriteTx, Flag)> {
        ctx.require_signed_in()?;
        let version = version.ok_or_else(|| ApiError::validation("version", "Send the flag version this change is based on."))?;
        let mut tx = self.db.write().await?;
        ctx.require_flag_write()?;
        let before = load_flag(tx.conn(), key).await?.ok_or_else(|| flag_not_found(key))?;
        if before.archived_at.is_some() && !archived_ok {
            return Err(ApiError::new(409, "flag_archived", "This flag is archived.").into());
        }
        let done = sqlx::query("UPDATE flags SET version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3")
            .bind(now())
            .bind(before.id)
            .bind(version)
            .execute(tx.conn())
            .await?;
        if done.rows_affected() == 0 {
            let mut e = ApiError::conflict(before.version);
            e.message = format!("This flag was changed by someone else; it is now at version {}. Reload, then change it again.", before.version);
            return Err(e.into());
        }
        Ok((tx, before))
    }

    async fn finish_flag(&self, mut tx: WriteTx, ctx: &Ctx, key: &str, entry: Entry, before: Option<&Flag>) -> Result<Flag> {
        let after = load_flag(tx.conn(), key).await?.ok_or_else(ApiError::internal)?;
        let entry = match before {
            Some(b) => entry.before(b),
            None => entry,
        };
        let entry = if entry.after.is_none() { entry.after(&after) } else { entry };
        self.record(tx, ctx, entry).await?;
        self.flags_changed().await;
        Ok(after)
    }
}

/// The usernames, trimmed and without repeats; 422 naming the first that has no account.
/// (The caller's transaction is dropped on the error, so its version bump is undone.)
async fn known_people(conn: &mut AnyConnection, list: &[String]) -> Result<Vec<String>> {
    for (i, name) in list.iter().enumerate() {
        let name = name.trim();
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1").bind(name).fetch_optional(&mut *conn).await?;
        if found.is_none() {
            return Err(ApiError::new(422, "unknown_user", format!("There is nobody with the username {name:?}."))
                .with_field(format!("responders[{i}]"))
                .into());
        }
    }
    Ok(dedup(list.to_vec()))
}

fn dedup(list: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    list.into_iter().map(|k| k.trim().to_string()).filter(|k| seen.insert(k.clone())).collect()
}
