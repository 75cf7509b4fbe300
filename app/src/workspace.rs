//! Workspaces: the tenants of the system being migrated. Each uses one agent provider
//! (Claude by default), may hold an encrypted API key for providers that need one, and
//! keeps a history of agent sessions and provider switches.
use crate::error::ApiError;
use crate::validate::{check_len, check_required};
use serde::{Deserialize, Serialize};

/// The provider every workspace starts on; it needs no flag and no key.
pub const DEFAULT_PROVIDER: &str = "claude";
/// Availability flags are evaluated in this environment, the one services read.
pub const PROVIDER_ENVIRONMENT: &str = "production";
/// Workspaces per list page.
pub const PAGE_SIZE: i64 = 50;

/// One agent provider of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Provider {
    /// `claude`, `codex`: what `agent_provider` holds.
    pub id: String,
    pub display_name: String,
    pub description: String,
    /// Whether a workspace must give an API key to use it.
    pub needs_key: bool,
    /// The flag that makes it available, evaluated for the workspace id; none means everywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
}

/// `POST /api/v1/providers` (admins).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewProvider {
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub needs_key: bool,
    #[serde(default)]
    pub flag: Option<String>,
}

impl NewProvider {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_provider_id("id", &self.id)?;
        check_required("display_name", "The display name", &self.display_name)?;
        check_len("display_name", "The display name", &self.display_name, 100)?;
        check_len("description", "The description", &self.description, 1_000)?;
        if let Some(flag) = self.flag.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
            crate::flag::check_key(flag).map_err(|e| e.with_field("flag"))?;
        }
        Ok(())
    }
}

/// Lower-case letters, digits, `-` and `_`, 1 to 40 long.
pub fn check_provider_id(field: &str, id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= 40
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::validation(field, "A provider id is 1 to 40 lower-case letters, digits, '-' or '_', such as codex."))
    }
}

/// Letters, digits, `.`, `_`, `-` and `:`, 1 to 100 long: ids the platform already uses.
pub fn check_workspace_id(field: &str, id: &str) -> Result<(), ApiError> {
    if id.is_empty() {
        return Err(ApiError::validation(field, "The workspace id is required."));
    }
    let ok = id.len() <= 100 && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'));
    if !ok {
        return Err(ApiError::validation(field, "A workspace id is up to 100 letters, digits, '.', '_', '-' or ':'."));
    }
    // These name API paths beside `/workspaces/{id}`.
    if ["imports", "adoption", "export.csv"].contains(&id) {
        return Err(ApiError::validation(field, format!("{id:?} is reserved; choose another workspace id.")));
    }
    Ok(())
}

pub fn check_workspace_name(field: &str, name: &str) -> Result<(), ApiError> {
    check_required(field, "The workspace name", name)?;
    check_len(field, "The workspace name", name, 200)
}

/// An API key as providers issue them: 20 to 200 printable ASCII characters, no spaces.
pub fn check_api_key(key: &str) -> Result<(), ApiError> {
    if key.trim().is_empty() {
        return Err(ApiError::new(422, "key_required", "This provider needs an API key.").with_field("api_key"));
    }
    let ok = (20..=200).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            422,
            "key_malformed",
            "That does not look like an API key: it should be 20 to 200 characters without spaces.",
        )
        .with_field("api_key"))
    }
}

/// A workspace as lists and the API show it. The API key itself never leaves the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Workspace {
    pub id: String,
    pub name: String,
    /// The provider the workspace chose.
    pub agent_provider: String,
    /// The last four characters of the stored API key, when one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ends_with: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_switch_at: Option<String>,
    /// Usernames of the people who may change it.
    #[serde(default)]
    pub members: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST /api/v1/workspaces`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub agent_provider: Option<String>,
    /// Usernames.
    #[serde(default)]
    pub members: Vec<String>,
}

/// `PATCH /api/v1/workspaces/{id}`: rename.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WorkspacePatch {
    pub name: String,
}

/// `PUT /api/v1/workspaces/{id}/provider`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderChoice {
    pub provider: String,
    /// Needed when the provider needs a key and none is stored yet; replaces a stored one.
    #[serde(default)]
    pub api_key: Option<String>,
}

/// `PUT /api/v1/workspaces/{id}/api-key`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApiKeyInput {
    pub api_key: String,
}

/// What a history entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    Created,
    /// The provider changed: shown as a divider, "Switched to Codex".
    Switch,
    /// An agent session started (the platform reports it).
    Session,
    KeySet,
    KeyRemoved,
    Renamed,
    MemberAdded,
    MemberRemoved,
}

impl HistoryKind {
    pub const ALL: [HistoryKind; 8] = [
        HistoryKind::Created,
        HistoryKind::Switch,
        HistoryKind::Session,
        HistoryKind::KeySet,
        HistoryKind::KeyRemoved,
        HistoryKind::Renamed,
        HistoryKind::MemberAdded,
        HistoryKind::MemberRemoved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HistoryKind::Created => "created",
            HistoryKind::Switch => "switch",
            HistoryKind::Session => "session",
            HistoryKind::KeySet => "key_set",
            HistoryKind::KeyRemoved => "key_removed",
            HistoryKind::Renamed => "renamed",
            HistoryKind::MemberAdded => "member_added",
            HistoryKind::MemberRemoved => "member_removed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        HistoryKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One entry of a workspace's history, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    pub id: i64,
    pub kind: HistoryKind,
    pub at: String,
    /// Who did it: a username, `token:NAME`, or `runway-cli`.
    pub actor: String,
    /// The provider switched to, or the session's provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The provider switched from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_provider: Option<String>,
    /// A session's id, a member's username, a new name.
    #[serde(default)]
    pub detail: String,
}

/// A provider as offered to one workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProviderOption {
    pub provider: Provider,
    /// Its flag is on for this workspace (or it has none).
    pub available: bool,
    pub current: bool,
}

/// Everything the workspace page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WorkspaceView {
    pub workspace: Workspace,
    pub providers: Vec<ProviderOption>,
    pub history: Vec<HistoryEntry>,
    /// The caller is a member or an admin: they may switch, set the key, rename.
    pub can_change: bool,
    /// The caller is an admin: they may add and remove members.
    pub can_manage: bool,
}

impl WorkspaceView {
    pub fn display_name(&self, provider: &str) -> String {
        self.providers
            .iter()
            .find(|p| p.provider.id == provider)
            .map(|p| p.provider.display_name.clone())
            .unwrap_or_else(|| provider.to_string())
    }
}

/// `GET /api/v1/workspaces`: a page of workspaces, by id, after the cursor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams, utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct WorkspaceQuery {
    /// Part of the id or name, any case.
    pub q: String,
    /// Only workspaces on this provider.
    pub provider: String,
    /// The last id of the previous page.
    pub after: String,
    /// 1 to 500; 50 when left out.
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WorkspacePage {
    pub workspaces: Vec<Workspace>,
    /// How many match the search in all, counted up to 10,000.
    pub total: i64,
    /// There are more than `total` (10,000).
    #[serde(default)]
    pub total_capped: bool,
    /// The cursor for the next page, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// `GET /api/v1/workspaces/{id}/agent-provider`: what the platform asks before each agent session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AgentProvider {
    pub workspace_id: String,
    /// The provider to run the next session on.
    pub provider: String,
    /// Whether the previous agent session may be resumed: false when the provider
    /// changed since it started (or there was none).
    pub resumable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_session_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_switch_at: Option<String>,
    pub key_configured: bool,
}

/// `POST /api/v1/workspaces/{id}/sessions`: the platform reports an agent session start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    /// The platform's own session id.
    pub session_id: String,
}

impl NewSession {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_required("session_id", "The session id", &self.session_id)?;
        check_len("session_id", "The session id", &self.session_id, 200)
    }
}

/// One CSV line the import refused, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LineError {
    /// 1-based, counting the header line.
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Running,
    Done,
    Failed,
}

/// An import's progress, then its summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportReport {
    pub id: i64,
    pub status: ImportStatus,
    /// Data lines in the file (the header not counted).
    pub total: i64,
    /// Data lines dealt with so far.
    pub processed: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    /// The refused lines (the first 1,000 listed; `rejected_count` counts them all).
    pub rejected: Vec<LineError>,
    pub rejected_count: i64,
    pub started_by: String,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Why a failed import stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How many workspaces used each provider at one time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AdoptionSample {
    /// The start of the hour, RFC 3339.
    pub at: String,
    pub provider: String,
    pub workspaces: i64,
}

/// Provider adoption: the counts now and over time (one sample per hour with changes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Adoption {
    /// (provider id, display name, workspaces), in catalog order.
    pub current: Vec<(String, String, i64)>,
    pub series: Vec<AdoptionSample>,
}

impl Adoption {
    pub fn total(&self) -> i64 {
        self.current.iter().map(|c| c.2).sum()
    }
}

use leptos::prelude::*;

#[server(prefix = "/_fn")]
pub async fn list_workspaces(query: WorkspaceQuery) -> Result<WorkspacePage, ApiError> {
    let backend = crate::backend::backend()?;
    crate::backend::answer(backend.list_workspaces(&crate::backend::request(), query).await)
}

#[server(prefix = "/_fn")]
pub async fn get_workspace_view(id: String) -> Result<WorkspaceView, ApiError> {
    let backend = crate::backend::backend()?;
    crate::backend::answer(backend.workspace_view(&crate::backend::request(), &id).await)
}

#[server(prefix = "/_fn")]
pub async fn list_providers() -> Result<Vec<Provider>, ApiError> {
    let backend = crate::backend::backend()?;
    crate::backend::answer(backend.list_providers(&crate::backend::request()).await)
}

#[server(prefix = "/_fn")]
pub async fn get_import(id: i64) -> Result<ImportReport, ApiError> {
    let backend = crate::backend::backend()?;
    crate::backend::answer(backend.import_report(&crate::backend::request(), id).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_checked_for_shape_not_content() {
        assert_eq!(check_api_key("").unwrap_err().code, "key_required");
        assert_eq!(check_api_key("short").unwrap_err().code, "key_malformed");
        assert_eq!(check_api_key("sk-proj with spaces in it ok").unwrap_err().code, "key_malformed");
        assert!(check_api_key("sk-proj-0123456789abcdefABCDEF").is_ok());
    }

    #[test]
    fn workspace_ids_are_url_safe() {
        assert!(check_workspace_id("id", "ws_0001").is_ok());
        assert!(check_workspace_id("id", "org:acme.prod-1").is_ok());
        assert!(check_workspace_id("id", "").is_err());
        assert!(check_workspace_id("id", "has space").is_err());
        assert!(check_workspace_id("id", "ü").is_err());
    }
}
