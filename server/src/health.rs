//! Whether the database answers, and how old the flag snapshot being served is. While the
//! database is unreachable, evaluations and their event streams go on from the snapshot,
//! token checks skip the database, and `/healthz` says "degraded" instead of failing (a load
//! balancer that took the replica out would stop every service's flags with it).
use crate::service::Service;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How long a request waits for the database before it answers from the snapshot.
pub const DATABASE_WAIT: Duration = Duration::from_secs(2);
/// How often an unreachable database is tried again.
const PROBE_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone, Default)]
pub struct Health {
    down: Arc<AtomicBool>,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    down_since: Option<SystemTime>,
    /// When the snapshot being served was read from the database.
    snapshot_built: Option<SystemTime>,
    /// It came from the file a previous run wrote, not from the database.
    snapshot_from_disk: bool,
}

impl Health {
    pub fn database_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// True when this call is the one that found the database gone.
    fn mark_down(&self) -> bool {
        let first = !self.down.swap(true, Ordering::SeqCst);
        if first {
            self.lock().down_since = Some(SystemTime::now());
        }
        first
    }

    fn mark_up(&self) -> bool {
        let was_down = self.down.swap(false, Ordering::SeqCst);
        self.lock().down_since = None;
        was_down
    }

    pub fn snapshot_built(&self, at: SystemTime, from_disk: bool) {
        let mut s = self.lock();
        s.snapshot_built = Some(at);
        s.snapshot_from_disk = from_disk;
    }

    pub fn has_snapshot(&self) -> bool {
        self.lock().snapshot_built.is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What `/healthz` says beside its status.
    pub fn report(&self) -> Value {
        let s = self.lock();
        let age = |t: Option<SystemTime>| t.and_then(|t| t.elapsed().ok()).map(|d| d.as_secs());
        let mut v = json!({
            "status": if self.database_down() { "degraded" } else { "ok" },
            "database": if self.database_down() { "unreachable" } else { "ok" },
            "flag_snapshot": {
                "age_seconds": age(s.snapshot_built),
                "source": if s.snapshot_from_disk { "disk" } else { "database" },
            },
        });
        if let Some(since) = age(s.down_since) {
            v["database_unreachable_seconds"] = json!(since);
        }
        v
    }
}

impl Service {
    /// Something found the database unreachable. The first to find it starts a probe that
    /// tries it every second; when it answers, the snapshot catches up with what changed.
    pub fn database_unreachable(&self, e: &dyn std::fmt::Display) {
        if !self.health.mark_down() {
            return;
        }
        tracing::warn!(error = %e, "the database is unreachable: serving flags from the last snapshot until it returns");
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                if matches!(tokio::time::timeout(DATABASE_WAIT, service.db.ping()).await, Ok(Ok(()))) {
                    service.database_reachable().await;
                    return;
                }
            }
        });
    }

    /// The database answers (again): the snapshot is rebuilt from it.
    pub async fn database_reachable(&self) {
        if self.health.mark_up() {
            tracing::info!("the database is reachable again");
        }
        if let Err(e) = self.reload_flags().await {
            tracing::warn!(error = %e, "could not rebuild the flag snapshot");
        }
    }

    /// `/healthz`: 200 "ok"; 200 "degraded" while the database is unreachable and flags are
    /// served from a snapshot; 503 only when there is nothing to serve at all.
    pub async fn health_check(&self) -> (u16, Value) {
        match tokio::time::timeout(DATABASE_WAIT, self.db.ping()).await {
            Ok(Ok(())) => {
                if self.health.database_down() {
                    self.database_reachable().await;
                }
            }
            Ok(Err(e)) => self.database_unreachable(&e),
            Err(_) => self.database_unreachable(&"no answer within 2 s"),
        }
        let mut report = self.health.report();
        if self.health.database_down() && !self.health.has_snapshot() {
            report["status"] = json!("unavailable");
            return (503, report);
        }
        (200, report)
    }
}
