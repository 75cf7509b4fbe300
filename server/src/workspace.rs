//! Workspaces and their agent provider: the catalog, the switch (with its sealed API key),
//! the history the platform's resume rule reads, and provider adoption over time.
use crate::audit::Entry;
use crate::db::{now, WriteTx};
use crate::error::Result;
use crate::search::{self, Where};
use crate::service::{decode_enum, forbidden, Caller, Ctx, Service};
use app::error::ApiError;
use app::token::Scope;
use app::workspace::{
    check_api_key, check_workspace_id, check_workspace_name, Adoption, AdoptionSample, AgentProvider, ApiKeyInput,
    HistoryEntry, HistoryKind, NewProvider, NewSession, NewWorkspace, Provider, ProviderChoice, ProviderOption,
    Workspace, WorkspacePage, WorkspacePatch, WorkspaceQuery, WorkspaceView, DEFAULT_PROVIDER, PAGE_SIZE,
    PROVIDER_ENVIRONMENT,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

const WORKSPACE_COLUMNS: &str = "id, name, agent_provider, api_key_last4, last_switch_at, created_at, updated_at";

fn workspace_from_row(r: &AnyRow) -> Result<Workspace, sqlx::Error> {
    Ok(Workspace {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        agent_provider: r.try_get("agent_provider")?,
        key_ends_with: r.try_get("api_key_last4")?,
        last_switch_at: r.try_get("last_switch_at")?,
        members: vec![],
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn load_providers(conn: &mut AnyConnection) -> Result<Vec<Provider>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, display_name, description, needs_key, flag FROM providers ORDER BY position, id")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            let needs_key: i64 = r.try_get("needs_key")?;
            Ok(Provider {
                id: r.try_get("id")?,
                display_name: r.try_get("display_name")?,
                description: r.try_get("description")?,
                needs_key: needs_key == 1,
                flag: r.try_get("flag")?,
            })
        })
        .collect()
}

pub async fn load_workspace(conn: &mut AnyConnection, id: &str) -> Result<Option<Workspace>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut ws = workspace_from_row(&row)?;
    ws.members = sqlx::query_scalar(
        "SELECT u.username FROM workspace_members m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 ORDER BY u.username",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    Ok(Some(ws))
}

async fn history(conn: &mut AnyConnection, id: &str) -> Result<Vec<HistoryEntry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, kind, at, actor, provider, from_provider, detail FROM workspace_history WHERE workspace_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(HistoryEntry {
                id: r.try_get("id")?,
                kind: decode_enum(r.try_get("kind")?, HistoryKind::parse, "kind")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                provider: r.try_get("provider")?,
                from_provider: r.try_get("from_provider")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}

/// One history entry; `provider` is the provider switched to or the session's.
async fn note(
    conn: &mut AnyConnection,
    ctx: &Ctx,
    id: &str,
    kind: HistoryKind,
    provider: Option<&str>,
    from: Option<&str>,
    detail: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO workspace_history (workspace_id, kind, at, actor, provider, from_provider, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(now())
    .bind(ctx.actor())
    .bind(provider)
    .bind(from)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores how many workspaces use each provider now, in this hour's sample. Called in
/// every transaction that creates workspaces or switches providers.
pub(crate) async fn sample_adoption(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let hour = chrono::Utc::now().format("%Y-%m-%dT%H:00:00Z").to_string();
    let providers: Vec<String> = sqlx::query_scalar("SELECT id FROM providers").fetch_all(&mut *conn).await?;
    let counts = provider_counts(conn).await?;
    for p in providers {
        let n = counts.iter().find(|(id, _)| *id == p).map(|c| c.1).unwrap_or(0);
        sqlx::query(
            "INSERT INTO provider_adoption (hour, provider, workspaces) VALUES ($1, $2, $3)
             ON CONFLICT (hour, provider) DO UPDATE SET workspaces = excluded.workspaces",
        )
        .bind(&hour)
        .bind(&p)
        .bind(n)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn provider_counts(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query("SELECT agent_provider, COUNT(*) AS n FROM workspaces GROUP BY agent_provider")
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("agent_provider")?, r.try_get("n")?))).collect()
}

impl Service {
    /// Whether `provider` is offered to workspace `id`: its flag, evaluated for the
    /// workspace id in the production environment, is on (a provider without a flag
    /// is offered everywhere; a flag that does not exist is off).
    pub fn available(&self, provider: &Provider, workspace_id: &str) -> bool {
        let Some(flag) = provider.flag.as_deref().filter(|f| !f.is_empty()) else { return true };
        let snapshot = self.flag_cache.get();
        let Some(state) = snapshot.environments.get(PROVIDER_ENVIRONMENT).and_then(|e| e.get(flag)) else { return false };
        match app::flag::evaluate(flag, state, &app::flag::key_context(Some(workspace_id)), &snapshot.segments) {
            app::flag::Outcome::Value { value: Some(v), .. } => v != serde_json::Value::Bool(false),
            _ => false,
        }
    }

    pub async fn list_providers(&self, ctx: &Ctx) -> Result<Vec<Provider>> {
        ctx.require_read(Scope::WorkspacesRead)?;
        let mut conn = self.db.read().await?;
        Ok(load_providers(&mut conn).await?)
    }

    pub async fn add_provider(&self, ctx: &Ctx, new: NewProvider) -> Result<Provider> {
        ctx.require_admin()?;
        new.validate()?;
        let mut tx = self.db.write().await?;
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM providers WHERE id = $1").bind(&new.id).fetch_one(tx.conn()).await?;
        if exists > 0 {
            return Err(ApiError::new(409, "provider_exists", format!("There is already a provider {:?}.", new.id)).with_field("id").into());
        }
        let flag = new.flag.as_deref().map(str::trim).filter(|f| !f.is_empty()).map(str::to_string);
        let provider = Provider {
            id: new.id.clone(),
            display_name: new.display_name.trim().to_string(),
            description: new.description.trim().to_string(),
            needs_key: new.needs_key,
            flag,
        };
        sqlx::query(
            "INSERT INTO providers (id, display_name, description, needs_key, flag, position, created_at)
             VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(MAX(position), -1) + 1 FROM providers), $6)",
        )
        .bind(&provider.id)
        .bind(&provider.display_name)
        .bind(&provider.description)
        .bind(i64::from(provider.needs_key))
        .bind(provider.flag.as_deref())
        .bind(now())
        .execute(tx.conn())
        .await?;
        sample_adoption(tx.conn()).await?;
        self.record(tx, ctx, Entry::global("provider.create", format!("provider:{}", provider.id)).after(&provider)).await?;
        Ok(provider)
    }

    pub async fn list_workspaces(&self, ctx: &Ctx, q: &WorkspaceQuery) -> Result<WorkspacePage> {
        ctx.require_read(Scope::WorkspacesRead)?;
        let limit = q.limit.unwrap_or(PAGE_SIZE);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::validation("limit", "limit is 1 to 500.").into());
        }
        let search = q.q.trim();
        let mut conn = self.db.read().await?;
        let mut w = Where::default();
        if !search.is_empty() {
            search::contains(&mut conn, self.db.kind, &mut w, search, &["id", "name"], ("workspace_search", "id", "id")).await?;
        }
        if !q.provider.trim().is_empty() {
            let p = w.text(q.provider.trim());
            w.and(format!("agent_provider = {p}"));
        }
        let (total, total_capped) = if w.sql().is_empty() {
            // The whole table: its count is cheap on both databases, and people ask for it.
            (sqlx::query_scalar("SELECT COUNT(*) FROM workspaces").fetch_one(&mut *conn).await?, false)
        } else {
            w.count(&mut conn, "workspaces").await?
        };
        if !q.after.is_empty() {
            let after = w.text(q.after.as_str());
            w.and(format!("id > {after}"));
        }
        let rows = w
            .bind(sqlx::query(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces{} ORDER BY id LIMIT {}", w.sql(), limit + 1)))
            .fetch_all(&mut *conn)
            .await?;
        let mut workspaces = rows.iter().map(workspace_from_row).collect::<Result<Vec<_>, _>>()?;
        let next = search::next_page(&mut workspaces, limit, |w| w.id.clone());
        Ok(WorkspacePage { workspaces, total, total_capped, next })
    }

    pub async fn get_workspace(&self, ctx: &Ctx, id: &str) -> Result<Workspace> {
        ctx.require_read(Scope::WorkspacesRead)?;
        let mut conn = self.db.read().await?;
        Ok(load_workspace(&mut conn, id).await?.ok_or_else(|| ApiError::not_found("Workspace"))?)
    }

    pub async fn workspace_history(&self, ctx: &Ctx, id: &str) -> Result<Vec<HistoryEntry>> {
        ctx.require_read(Scope::WorkspacesRead)?;
        let mut conn = self.db.read().await?;
        load_workspace(&mut conn, id).await?.ok_or_else(|| ApiError::not_found("Workspace"))?;
        Ok(history(&mut conn, id).await?)
    }

    pub async fn workspace_view(&self, ctx: &Ctx, id: &str) -> Result<WorkspaceView> {
        ctx.require_read(Scope::WorkspacesRead)?;
        let mut conn = self.db.read().await?;
        let workspace = load_workspace(&mut conn, id).await?.ok_or_else(|| ApiError::not_found("Workspace"))?;
        let providers = load_providers(&mut conn)
            .await?
            .into_iter()
            .map(|p| ProviderOption { available: self.available(&p, id), current: p.id == workspace.agent_provider, provider: p })
            .collect();
        let can_change = may_change(&mut conn, ctx, id).await?;
        Ok(WorkspaceView {
            history: history(&mut conn, id).await?,
            workspace,
            providers,
            can_change,
            can_manage: ctx.is_admin() && ctx.person().is_some(),
        })
    }

    pub async fn create_workspace(&self, ctx: &Ctx, new: NewWorkspace) -> Result<Workspace> {
        require_workspace_admin(ctx)?;
        check_workspace_id("id", &new.id)?;
        check_workspace_name("name", &new.name)?;
        let mut tx = self.db.write().await?;
        let providers = load_providers(tx.conn()).await?;
        let provider = new.agent_provider.as_deref().map(str::trim).filter(|p| !p.is_empty()).unwrap_or(DEFAULT_PROVIDER);
        if !providers.iter().any(|p| p.id == provider) {
            return Err(unknown_provider(provider, &providers).with_field("agent_provider").into());
        }
        if load_workspace(tx.conn(), &new.id).await?.is_some() {
            return Err(ApiError::new(409, "workspace_exists", format!("There is already a workspace {:?}.", new.id)).with_field("id").into());
        }
        let at = now();
        sqlx::query("INSERT INTO workspaces (id, name, agent_provider, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
            .bind(&new.id)
            .bind(new.name.trim())
            .bind(provider)
            .bind(&at)
            .execute(tx.conn())
            .await?;
        note(tx.conn(), ctx, &new.id, HistoryKind::Created, Some(provider), None, "").await?;
        for (i, username) in new.members.iter().enumerate() {
            let user_id = user_id(tx.conn(), username).await?.ok_or_else(|| {
                ApiError::new(422, "unknown_person", format!("Nobody is called {username:?}.")).with_field(format!("members[{i}]"))
            })?;
            sqlx::query("INSERT INTO workspace_members (workspace_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(&new.id)
                .bind(user_id)
                .execute(tx.conn())
                .await?;
        }
        sample_adoption(tx.conn()).await?;
        self.finish_workspace(tx, ctx, &new.id, Entry::global("workspace.create", format!("workspace:{}", new.id))).await
    }

    pub async fn rename_workspace(&self, ctx: &Ctx, id: &str, patch: WorkspacePatch) -> Result<Workspace> {
        let (mut tx, before) = self.begin_workspace_change(ctx, id).await?;
        check_workspace_name("name", &patch.name)?;
        let name = patch.name.trim();
        if name != before.name {
            sqlx::query("UPDATE workspaces SET name = $1, updated_at = $2 WHERE id = $3").bind(name).bind(now()).bind(id).execute(tx.conn()).await?;
            note(tx.conn(), ctx, id, HistoryKind::Renamed, None, None, name).await?;
        }
        let entry = Entry::global("workspace.rename", format!("workspace:{id}")).before(&before);
        self.finish_workspace(tx, ctx, id, entry).await
    }

    /// Switches the workspace to `choice.provider`: 403 when the provider is not available
    /// to this workspace, 422 when it needs a key and none is given or stored. Choosing the
    /// current provider again only stores the key given with it.
    pub async fn choose_provider(&self, ctx: &Ctx, id: &str, choice: ProviderChoice) -> Result<Workspace> {
        let (mut tx, before) = self.begin_workspace_change(ctx, id).await?;
        let providers = load_providers(tx.conn()).await?;
        let provider = providers
            .iter()
            .find(|p| p.id == choice.provider)
            .ok_or_else(|| unknown_provider(&choice.provider, &providers).with_field("provider"))?;
        let switching = provider.id != before.agent_provider;
        if switching && !self.available(provider, id) {
            return Err(ApiError::new(
                403,
                "provider_unavailable",
                format!("{} is not yet available for this workspace.", provider.display_name),
            )
            .with_field("provider")
            .into());
        }
        let key = choice.api_key.as_deref().filter(|k| !k.is_empty());
        if let Some(k) = key {
            check_api_key(k)?;
        } else if provider.needs_key && before.key_ends_with.is_none() {
            return Err(ApiError::new(422, "key_required", format!("{} needs an API key.", provider.display_name))
                .with_field("api_key")
                .into());
        }
        if !switching && key.is_none() {
            // The current provider again, with nothing to store: nothing changes.
            return Ok(before);
        }
        if let Some(k) = key {
            self.store_key(tx.conn(), ctx, id, k).await?;
        }
        if switching {
            let at = now();
            sqlx::query("UPDATE workspaces SET agent_provider = $1, last_switch_at = $2, updated_at = $2 WHERE id = $3")
                .bind(&provider.id)
                .bind(&at)
                .bind(id)
                .execute(tx.conn())
                .await?;
            note(tx.conn(), ctx, id, HistoryKind::Switch, Some(&provider.id), Some(&before.agent_provider), "").await?;
            sample_adoption(tx.conn()).await?;
        }
        let action = if switching { "workspace.switch" } else { "workspace.key_set" };
        let entry = Entry::global(action, format!("workspace:{id}")).before(&before);
        self.finish_workspace(tx, ctx, id, entry).await
    }

    pub async fn set_api_key(&self, ctx: &Ctx, id: &str, input: ApiKeyInput) -> Result<Workspace> {
        let (mut tx, before) = self.begin_workspace_change(ctx, id).await?;
        check_api_key(&input.api_key)?;
        self.store_key(tx.conn(), ctx, id, &input.api_key).await?;
        self.finish_workspace(tx, ctx, id, Entry::global("workspace.key_set", format!("workspace:{id}")).before(&before)).await
    }

    pub async fn remove_api_key(&self, ctx: &Ctx, id: &str) -> Result<Workspace> {
        let (mut tx, before) = self.begin_workspace_change(ctx, id).await?;
        if before.key_ends_with.is_some() {
            sqlx::query("UPDATE workspaces SET api_key_sealed = NULL, api_key_last4 = NULL, updated_at = $1 WHERE id = $2")
                .bind(now())
                .bind(id)
                .execute(tx.conn())
                .await?;
            note(tx.conn(), ctx, id, HistoryKind::KeyRemoved, None, None, "").await?;
        }
        self.finish_workspace(tx, ctx, id, Entry::global("workspace.key_removed", format!("workspace:{id}")).before(&before)).await
    }

    /// Seals the key and keeps its last four characters to show.
    async fn store_key(&self, conn: &mut AnyConnection, ctx: &Ctx, id: &str, key: &str) -> Result<()> {
        let secret = self.secret.as_ref().ok_or_else(|| {
            ApiError::new(503, "no_secret_key", "This server has no secret key to seal API keys with; its operator must set one.")
        })?;
        let last4: String = key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        sqlx::query("UPDATE workspaces SET api_key_sealed = $1, api_key_last4 = $2, updated_at = $3 WHERE id = $4")
            .bind(secret.seal(key, id))
            .bind(&last4)
            .bind(now())
            .bind(id)
            .execute(&mut *conn)
            .await?;
        note(conn, ctx, id, HistoryKind::KeySet, None, None, &last4).await?;
        Ok(())
    }

    /// The plaintext key, for the server's own use (handing it to the provider); never answered.
    pub async fn open_api_key(&self, id: &str) -> Result<Option<String>> {
        let mut conn = self.db.read().await?;
        let sealed: Option<Option<String>> =
            sqlx::query_scalar("SELECT api_key_sealed FROM workspaces WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?;
        let Some(sealed) = sealed.flatten() else { return Ok(None) };
        let secret = self.secret.as_ref().ok_or_else(ApiError::internal)?;
        Ok(secret.open(&sealed, id))
    }

    pub async fn add_member(&self, ctx: &Ctx, id: &str, username: &str) -> Result<Workspace> {
        require_workspace_admin(ctx)?;
        let mut tx = self.db.write().await?;
        let before = load_workspace(tx.conn(), id).await?.ok_or_else(|| ApiError::not_found("Workspace"))?;
        let user = user_id(tx.conn(), username).await?.ok_or_else(|| ApiError::not_found("Person"))?;
        if !before.members.iter().any(|m| m == username) {
            sqlx::query("INSERT INTO workspace_members (workspace_id, user_id) VALUES ($1, $2)").bind(id).bind(user).execute(tx.conn()).await?;
            note(tx.conn(), ctx, id, HistoryKind::MemberAdded, None, None, username).await?;
        }
        self.finish_workspace(tx, ctx, id, Entry::global("workspace.member_add", format!("workspace:{id}/member:{username}")).before(&before)).await
    }

    pub async fn remove_member(&self, ctx: &Ctx, id: &str, username: &str) -> Result<Workspace> {
        require_workspace_admin(ctx)?;
        let mut tx = self.db.write().await?;
        let before = load_workspace(tx.conn(), id).await?.ok_or_else(|| ApiError::not_found("Workspace"))?;
        if !before.members.iter().any(|m| m == username) {
            return Err(ApiError::not_found("Member").into());
        }
        sqlx::query("DELETE FROM workspace_members WHERE workspace_id = $1 AND user_id = (SELECT id FROM users WHERE username = $2)")
            .bind(id)
            .bind(username)
            .execute(tx.conn())
            .await?;
        note(tx.conn(), ctx, id, HistoryKind::MemberRemoved, None, None, username).await?;
        self.finish_workspace(tx, ctx, id, Entry::global("workspace.member_remove", format!("workspace:{id}/member:{username}")).before(&before)).await
    }

    /// The platform reports that an agent session started on the workspace's provider.
    pub async fn record_session(&self, ctx: &Ctx, id: &str, new: NewSession) -> Result<AgentProvider> {
        new.validate()?;
        let (mut tx, before) = self.begin_workspace_change(ctx, id).await?;
        note(tx.conn(), ctx, id, HistoryKind::Session, Some(&before.agent_provider), None, new.session_id.trim()).await?;
        self.finish_workspace(tx, ctx, id, Entry::global("workspace.session", format!("workspace:{id}"))).await?;
        self.agent_provider(ctx, id).await
    }

    /// What the platform asks before starting an agent session. The previous session may
    /// be resumed only when no switch happened since it started.
    pub async fn agent_provider(&self, ctx: &Ctx, id: &str) -> Result<AgentProvider> {
        ctx.require_read(Scope::WorkspacesRead)?;
        let mut conn = self.db.read().await?;
        let ws = load_workspace(&mut conn, id).await?.ok_or_else(|| ApiError::not_found("Workspace"))?;
        let last = |kind: HistoryKind| {
            sqlx::query("SELECT id, at, detail FROM workspace_history WHERE workspace_id = $1 AND kind = $2 ORDER BY id DESC LIMIT 1")
                .bind(id.to_string())
                .bind(kind.as_str())
        };
        let session = last(HistoryKind::Session).fetch_optional(&mut *conn).await?;
        let switch = last(HistoryKind::Switch).fetch_optional(&mut *conn).await?;
        let id_of = |r: &Option<AnyRow>| r.as_ref().and_then(|r| r.try_get::<i64, _>("id").ok());
        let resumable = match (id_of(&session), id_of(&switch)) {
            (Some(s), Some(w)) => s > w,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let text = |r: &Option<AnyRow>, col: &str| r.as_ref().and_then(|r| r.try_get::<String, _>(col).ok());
        Ok(AgentProvider {
            workspace_id: ws.id,
            provider: ws.agent_provider,
            resumable,
            last_session_id: text(&session, "detail"),
            last_session_at: text(&session, "at"),
            last_switch_at: ws.last_switch_at,
            key_configured: ws.key_ends_with.is_some(),
        })
    }

    pub async fn adoption(&self, ctx: &Ctx) -> Result<Adoption> {
        let providers = self.list_providers(ctx).await?;
        self.adoption_of(ctx, &providers).await
    }

    /// The same for providers this request has already read (the plan page).
    pub async fn adoption_of(&self, ctx: &Ctx, providers: &[Provider]) -> Result<Adoption> {
        ctx.require_read(Scope::WorkspacesRead)?;
        let mut conn = self.db.read().await?;
        let counts = provider_counts(&mut conn).await?;
        let current = providers
            .iter()
            .map(|p| (p.id.clone(), p.display_name.clone(), counts.iter().find(|c| c.0 == p.id).map(|c| c.1).unwrap_or(0)))
            .collect();
        // The last 90 days at most: enough for a rollout, small enough for a page.
        let since = (chrono::Utc::now() - chrono::Duration::days(90)).format("%Y-%m-%dT%H:00:00Z").to_string();
        let rows = sqlx::query("SELECT hour, provider, workspaces FROM provider_adoption WHERE hour >= $1 ORDER BY hour, provider")
            .bind(since)
            .fetch_all(&mut *conn)
            .await?;
        let series = rows
            .iter()
            .map(|r| Ok(AdoptionSample { at: r.try_get("hour")?, provider: r.try_get("provider")?, workspaces: r.try_get("workspaces")? }))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Adoption { current, series })
    }

    /// Opens a change to workspace `id` by a member, an admin or a `workspaces:write` token.
    async fn begin_workspace_change(&self, ctx: &Ctx, id: &str) -> Result<(WriteTx, Workspace)> {
        ctx.require_signed_in()?;
        let mut tx = self.db.write().await?;
        let before = load_workspace(tx.conn(), id).await?.ok_or_else(|| ApiError::not_found("Workspace"))?;
        if !may_change(tx.conn(), ctx, id).await? {
            return Err(match ctx.caller {
                Caller::Token(_) => ApiError::new(403, "missing_scope", "This token lacks the workspaces:write scope."),
                _ => forbidden("Only the workspace's members and admins may change it."),
            }
            .into());
        }
        Ok((tx, before))
    }

    async fn finish_workspace(&self, tx: WriteTx, ctx: &Ctx, id: &str, entry: Entry) -> Result<Workspace> {
        let mut tx = tx;
        let after = load_workspace(tx.conn(), id).await?.ok_or_else(ApiError::internal)?;
        let entry = if entry.after.is_none() { entry.after(&after) } else { entry };
        self.record(tx, ctx, entry).await?;
        Ok(after)
    }
}

/// Members, admins and `workspaces:write` tokens change a workspace.
async fn may_change(conn: &mut AnyConnection, ctx: &Ctx, id: &str) -> Result<bool, sqlx::Error> {
    match &ctx.caller {
        Caller::Token(t) => Ok(t.scopes.iter().any(|s| s.covers(Scope::WorkspacesWrite))),
        Caller::Person(_) if ctx.is_admin() => Ok(true),
        Caller::Person(p) => {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workspace_members WHERE workspace_id = $1 AND user_id = $2")
                .bind(id)
                .bind(p.id)
                .fetch_one(conn)
                .await?;
            Ok(n > 0)
        }
        Caller::System(_) => Ok(true),
        Caller::Anonymous => Ok(false),
    }
}

/// Creating workspaces, importing them and managing members: admins and `workspaces:write` tokens.
pub(crate) fn require_workspace_admin(ctx: &Ctx) -> Result<(), ApiError> {
    ctx.require_signed_in()?;
    match &ctx.caller {
        Caller::Token(t) if t.scopes.iter().any(|s| s.covers(Scope::WorkspacesWrite)) => Ok(()),
        Caller::Token(_) => Err(ApiError::new(403, "missing_scope", "This token lacks the workspaces:write scope.")),
        _ if ctx.is_admin() => Ok(()),
        _ => Err(forbidden("Only admins may create, import or manage the members of workspaces.")),
    }
}

pub(crate) fn unknown_provider(id: &str, providers: &[Provider]) -> ApiError {
    let known: Vec<&str> = providers.iter().map(|p| p.id.as_str()).collect();
    ApiError::new(422, "unknown_provider", format!("There is no provider {id:?}; known: {}.", known.join(", ")))
}

async fn user_id(conn: &mut AnyConnection, username: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1").bind(username).fetch_optional(conn).await
}
