//! Change events, published after each commit and streamed to browsers and
//! services as server-sent events at `GET /api/v1/events`.
use serde::Serialize;
use tokio::sync::broadcast;

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<Change>,
}

impl Events {
    pub fn new() -> Events {
        Events { tx: broadcast::channel(1024).0 }
    }

    pub fn publish(&self, change: Change) {
        // No subscriber is not an error.
        let _ = self.tx.send(change);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}
