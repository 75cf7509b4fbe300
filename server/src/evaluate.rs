//! Flag evaluation for services: an in-memory snapshot of every live flag, swapped
//! whole after each change, so an evaluation never touches the database. On PostgreSQL the
//! snapshot is also written to a file, so a replica restarted while the database is
//! unreachable serves the flags it last knew.
use crate::flag::load_flags;
use crate::service::{Service, TokenCaller};
use app::flag::FlagState;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

const CHANNEL: &str = "runway_flags";
/// Change events (plans, flags, people) from one replica for the watchers of the others.
const CHANGES: &str = "runway_changes";

/// Tells this process's own notifications from other replicas'.
fn process_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| format!("{}-{}", std::process::id(), crate::session::random_hex(4)))
}

/// The flags of one environment, by key.
#[derive(Default)]
pub struct EnvFlags {
    /// Changes whenever any flag's state in this environment changes.
    pub etag: String,
    /// Sorted by key.
    pub flags: Vec<(String, FlagState)>,
    index: HashMap<String, usize>,
    /// Some rule here compares `currentTime`: answers change with the clock, so they carry no ETag.
    pub timed: bool,
}

impl EnvFlags {
    pub fn get(&self, key: &str) -> Option<&FlagState> {
        self.index.get(key).map(|i| &self.flags[*i].1)
    }
}

#[derive(Default)]
pub struct Snapshot {
    pub environments: HashMap<String, EnvFlags>,
    /// Every segment's conditions, by name, for the rules that use them.
    pub segments: app::flag::Segments,
    /// Every token's holder by the token's hash (`None` once revoked): who may evaluate while
    /// the database is unreachable. A token revoked anywhere is refused from the next snapshot.
    pub tokens: HashMap<String, Option<TokenCaller>>,
    /// Each flag's version when read, so a flag's change applied directly never replaces a
    /// later one (none when read from disk).
    pub versions: HashMap<String, i64>,
}

/// The snapshot as written to disk. Tokens appear only as their SHA-256 hashes, as in the
/// database; the file is readable by its owner only.
#[derive(Serialize, Deserialize)]
struct OnDisk {
    format: u32,
    written_at: String,
    environments: BTreeMap<String, Vec<(String, FlagState)>>,
    segments: app::flag::Segments,
    tokens: BTreeMap<String, Option<TokenCaller>>,
}

const DISK_FORMAT: u32 = 1;

impl Snapshot {
    /// Indexes each environment's flags and works out its etag and whether it is timed.
    pub fn new(flags: Vec<(String, Vec<FlagState>)>, segments: app::flag::Segments, tokens: HashMap<String, Option<TokenCaller>>) -> Snapshot {
        // A segment's change changes what the flags using it serve: it is in every etag.
        let mut named: Vec<_> = segments.iter().collect();
        named.sort_by(|a, b| a.0.cmp(b.0));
        let segments_json = serde_json::to_vec(&named).unwrap_or_default();
        let mut environments: HashMap<String, EnvFlags> = HashMap::new();
        for (key, states) in flags {
            for state in states {
                environments.entry(state.environment.clone()).or_default().flags.push((key.clone(), state));
            }
        }
        for env in environments.values_mut() {
            env.flags.sort_by(|a, b| a.0.cmp(&b.0));
            env.index = env.flags.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect();
            let mut hash = Sha256::new();
            hash.update(&segments_json);
            for (key, s) in &env.flags {
                hash.update(key.as_bytes());
                hash.update(serde_json::to_vec(&(s.enabled, s.percentage, &s.allow, &s.deny, &s.variants, &s.rules)).unwrap_or_default());
            }
            env.etag = hex::encode(&hash.finalize()[..12]);
            let on_time = |c: &app::flag::Condition| c.context_name == "currentTime";
            env.timed = env.flags.iter().flat_map(|(_, s)| &s.rules).any(|r| {
                r.conditions.iter().any(on_time) || r.segments.iter().any(|n| segments.get(n).is_some_and(|cs| cs.iter().any(on_time)))
            });
        }
        Snapshot { environments, segments, tokens, versions: HashMap::new() }
    }

    fn to_disk(&self) -> Vec<u8> {
        let on_disk = OnDisk {
            format: DISK_FORMAT,
            written_at: crate::db::now(),
            environments: self.environments.iter().map(|(name, env)| (name.clone(), env.flags.clone())).collect(),
            segments: self.segments.clone(),
            tokens: self.tokens.iter().map(|(h, c)| (h.clone(), c.clone())).collect(),
        };
        serde_json::to_vec(&on_disk).unwrap_or_default()
    }

    /// The snapshot a previous run wrote, and when it was written.
    pub fn read(path: &Path) -> Result<(Snapshot, String), String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let on_disk: OnDisk = serde_json::from_slice(&bytes).map_err(|e| format!("{} is not a flag snapshot: {e}", path.display()))?;
        if on_disk.format != DISK_FORMAT {
            return Err(format!("{} was written by another version of Runway", path.display()));
        }
        let by_key = by_flag(on_disk.environments.into_values().flatten());
        let snapshot = Snapshot::new(by_key.into_iter().collect(), on_disk.segments, on_disk.tokens.into_iter().collect());
        Ok((snapshot, on_disk.written_at))
    }
}

/// Each environment's (flag, state) pairs regrouped as each flag's states, as `Snapshot::new` takes them.
fn by_flag(pairs: impl Iterator<Item = (String, FlagState)>) -> BTreeMap<String, Vec<FlagState>> {
    let mut by_key: BTreeMap<String, Vec<FlagState>> = BTreeMap::new();
    for (key, state) in pairs {
        by_key.entry(key).or_default().push(state);
    }
    by_key
}

/// Written beside and renamed over, so a crash mid-write leaves the previous file whole.
fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The current snapshot. Readers take an `Arc` and never block a rebuild for long.
#[derive(Clone)]
pub struct FlagCache {
    current: Arc<RwLock<Arc<Snapshot>>>,
    /// Rebuilds take turns: otherwise a rebuild that read the database before another
    /// change committed could land after that change's own rebuild and hide it.
    rebuilding: Arc<tokio::sync::Mutex<()>>,
    /// Told after every swap; event streams compare their environment's etag.
    swapped: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Default for FlagCache {
    fn default() -> Self {
        FlagCache {
            current: Default::default(),
            rebuilding: Default::default(),
            swapped: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }
}

impl FlagCache {
    pub fn get(&self) -> Arc<Snapshot> {
        self.current.read().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn set(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        let snapshot = Arc::new(snapshot);
        if let Ok(mut current) = self.current.write() {
            *current = snapshot.clone();
        }
        self.swapped.send_modify(|n| *n += 1);
        snapshot
    }

    /// Wakes after each swap of the snapshot.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.swapped.subscribe()
    }
}

impl Service {
    /// Rebuilds the snapshot from the database and tells watchers here and, on
    /// PostgreSQL, the other replicas (NOTIFY; see `listen_for_flag_changes`).
    pub async fn flags_changed(&self) {
        if let Err(e) = self.reload_flags().await {
            tracing::error!(error = %e, "could not rebuild the flag snapshot");
        }
        if self.db.kind == crate::db::Kind::Postgres {
            let sent = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(process_id()).execute(&self.db.pool).await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "could not tell other replicas about a flag change");
            }
        }
    }

    /// On PostgreSQL, rebuilds the snapshot whenever another replica changes a flag, so
    /// every replica serves a change within moments of its commit. Reconnects on errors.
    pub fn listen_for_flag_changes(&self) {
        if self.db.kind != crate::db::Kind::Postgres {
            return;
        }
        // This replica's change events, passed on to the others.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<crate::event::Change>();
        self.events.forward_to(tx);
        let pool = self.db.pool.clone();
        tokio::spawn(async move {
            while let Some(change) = rx.recv().await {
                let payload = serde_json::json!({ "origin": process_id(), "change": change }).to_string();
                let sent = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANGES).bind(payload).execute(&pool).await;
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "could not tell other replicas about a change");
                }
            }
        });
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = service.listen_once().await {
                    tracing::warn!(error = %e, "flag change listener stopped; reconnecting");
                    if crate::db::unreachable(&e) {
                        service.database_unreachable(&e);
                    }
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
    }

    async fn listen_once(&self) -> Result<(), sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect(&self.db.url).await?;
        listener.listen_all([CHANNEL, CHANGES]).await?;
        // Listening again: changes made while we were away (or down) are read now, after
        // LISTEN, so none falls between the two.
        self.database_reachable().await;
        loop {
            // `recv` would reconnect by itself and drop what was sent meanwhile; a lost
            // connection ends this listener instead, and the next one catches up.
            let Some(n) = listener.try_recv().await? else {
                return Err(sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "the listener's connection was lost")));
            };
            if n.channel() == CHANGES {
                // Another replica's change: tell the browsers and services watching this one.
                let v: serde_json::Value = serde_json::from_str(n.payload()).unwrap_or_default();
                if v["origin"].as_str() != Some(process_id()) {
                    if let Ok(change) = serde_json::from_value(v["change"].clone()) {
                        self.events.publish_here(change);
                    }
                }
            } else if n.payload() != process_id() {
                self.reload_flags().await?;
            }
        }
    }

    pub async fn reload_flags(&self) -> Result<(), sqlx::Error> {
        let _turn = self.flag_cache.rebuilding.lock().await;
        let read = async {
            let mut conn = self.db.read().await?;
            let flags = load_flags(&mut conn, false).await?;
            let segments = crate::segment::load_segments(&mut conn).await?;
            let tokens = crate::token::load_holders(&mut conn).await?;
            Ok::<_, sqlx::Error>((flags, segments, tokens))
        };
        let (flags, segments, tokens) = match read.await {
            Ok(read) => read,
            Err(e) => {
                if crate::db::unreachable(&e) {
                    self.database_unreachable(&e);
                }
                return Err(e);
            }
        };
        let versions = flags.iter().map(|f| (f.key.clone(), f.version)).collect();
        let flags = flags.into_iter().map(|f| (f.key, f.environments)).collect();
        let snapshot = Snapshot { versions, ..Snapshot::new(flags, crate::segment::by_name(segments), tokens) };
        let snapshot = self.flag_cache.set(snapshot);
        self.health.snapshot_built(SystemTime::now(), false);
        // A token revoked on another replica stops working here as soon as its snapshot arrives.
        self.token_cache.keep_only(&snapshot.tokens);
        if let Some(path) = self.snapshot_file.clone() {
            let bytes = snapshot.to_disk();
            let written = tokio::task::spawn_blocking(move || write_file(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))).await;
            if let Ok(Err(e)) = written {
                tracing::warn!(error = %e, "could not write the flag snapshot to disk");
            }
        }
        Ok(())
    }

    /// One flag's committed change, served at once from the flag the change returned instead of
    /// after reading every flag again (the kill switch's path: each read waits its turn on a
    /// busy server). The full rebuild, and the other replicas' notice, follow in the background.
    pub async fn flag_committed(&self, flag: &app::flag::Flag) {
        {
            let _turn = self.flag_cache.rebuilding.lock().await;
            let current = self.flag_cache.get();
            // A later change's rebuild has landed already.
            if current.versions.get(&flag.key).is_none_or(|v| *v < flag.version) {
                let mut by_key = by_flag(current.environments.values().flat_map(|e| e.flags.iter().cloned()));
                if flag.archived_at.is_some() {
                    by_key.remove(&flag.key);
                } else {
                    by_key.insert(flag.key.clone(), flag.environments.clone());
                }
                let mut versions = current.versions.clone();
                versions.insert(flag.key.clone(), flag.version);
                let patched = Snapshot::new(by_key.into_iter().collect(), current.segments.clone(), current.tokens.clone());
                self.flag_cache.set(Snapshot { versions, ..patched });
            }
        }
        let service = self.clone();
        tokio::spawn(async move { service.flags_changed().await });
    }

    /// A start while the database is unreachable: the flags of the snapshot file, if any.
    pub fn serve_snapshot_file(&self) -> Result<String, String> {
        let path = self.snapshot_file.as_deref().ok_or("no flag snapshot file is configured")?;
        let (snapshot, written_at) = Snapshot::read(path)?;
        let built = chrono::DateTime::parse_from_rfc3339(&written_at).map(SystemTime::from).unwrap_or_else(|_| SystemTime::now());
        self.flag_cache.set(snapshot);
        self.health.snapshot_built(built, true);
        Ok(written_at)
    }
}
