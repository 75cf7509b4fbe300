//! Flag evaluation for services: an in-memory snapshot of every live flag, swapped
//! whole after each change, so an evaluation never touches the database.
use crate::flag::load_flags;
use crate::service::Service;
use app::flag::FlagState;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

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

    fn set(&self, snapshot: Snapshot) {
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(snapshot);
        }
        self.swapped.send_modify(|n| *n += 1);
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
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                // Changes made while we were away: catch up.
                service.reload_flags().await.ok();
            }
        });
    }

    async fn listen_once(&self) -> Result<(), sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect(&self.db.url).await?;
        listener.listen_all([CHANNEL, CHANGES]).await?;
        loop {
            let n = listener.recv().await?;
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
        let (flags, segments) = {
            let mut conn = self.db.read().await?;
            (load_flags(&mut conn, false).await?, crate::segment::load_segments(&mut conn).await?)
        };
        let segments = crate::segment::by_name(segments);
        // A segment's change changes what the flags using it serve: it is in every etag.
        let mut named: Vec<_> = segments.iter().collect();
        named.sort_by(|a, b| a.0.cmp(b.0));
        let segments_json = serde_json::to_vec(&named).unwrap_or_default();
        let mut environments: HashMap<String, EnvFlags> = HashMap::new();
        for flag in flags {
            for state in flag.environments {
                environments.entry(state.environment.clone()).or_default().flags.push((flag.key.clone(), state));
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
        self.flag_cache.set(Snapshot { environments, segments });
        Ok(())
    }
}
