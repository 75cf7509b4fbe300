//! Change events, published after each commit and streamed to browsers and services as
//! server-sent events at `GET /api/v1/events`. Each event has an id; a client that
//! reconnects with `Last-Event-ID` gets what it missed from a recent-events buffer, or
//! a `resync` event telling it to reload everything when the gap is too old (or the
//! server restarted).
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// How many recent events a reconnecting client can catch up on.
const KEEP: usize = 4096;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Change {
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// The request that made the change, so a page knows its own change when it comes back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// A published change with its place in this process's sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Numbered {
    pub seq: u64,
    pub change: Change,
}

#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<Numbered>,
    recent: Arc<Mutex<Recent>>,
    /// Tells this process's event ids from another's (a restart, another replica).
    epoch: String,
    /// Where this process's changes go for the other replicas (PostgreSQL only).
    to_replicas: Arc<Mutex<Option<tokio::sync::mpsc::UnboundedSender<Change>>>>,
}

#[derive(Default)]
struct Recent {
    next: u64,
    events: VecDeque<Numbered>,
}

/// Live event streams per caller, so one person or token cannot hold connections
/// without bound. A slot is freed when its stream ends (the client goes away).
#[derive(Clone, Default)]
pub struct Streams {
    open: Arc<Mutex<std::collections::HashMap<String, usize>>>,
}

/// Streams one caller may keep open at once.
pub const STREAMS_PER_CALLER: usize = 8;

/// One open stream's slot; dropping it frees the slot.
pub struct StreamSlot {
    streams: Streams,
    caller: String,
}

impl Streams {
    /// A slot for `caller`, or `None` when they have `STREAMS_PER_CALLER` open already.
    pub fn open(&self, caller: &str) -> Option<StreamSlot> {
        let mut open = self.open.lock().ok()?;
        let n = open.entry(caller.to_string()).or_insert(0);
        if *n >= STREAMS_PER_CALLER {
            return None;
        }
        *n += 1;
        Some(StreamSlot { streams: self.clone(), caller: caller.to_string() })
    }

    pub fn open_for(&self, caller: &str) -> usize {
        self.open.lock().ok().and_then(|o| o.get(caller).copied()).unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.streams.open.lock() {
            if let Some(n) = open.get_mut(&self.caller) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&self.caller);
                }
            }
        }
    }
}

/// What a (re)connecting client gets first: missed events, or the need to reload.
#[derive(Debug, PartialEq)]
pub enum CatchUp {
    Missed(Vec<Numbered>),
    Resync,
}

impl Events {
    pub fn new() -> Events {
        Events {
            tx: broadcast::channel(1024).0,
            recent: Default::default(),
            epoch: format!("{:x}", rand::random::<u32>()),
            to_replicas: Default::default(),
        }
    }

    /// From now on, every change published here is also sent to `tx` (for the other replicas).
    pub fn forward_to(&self, tx: tokio::sync::mpsc::UnboundedSender<Change>) {
        *self.to_replicas.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    }

    /// A change committed here: watchers here and on the other replicas hear of it.
    pub fn publish(&self, change: Change) {
        if let Some(tx) = self.to_replicas.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = tx.send(change.clone());
        }
        self.publish_here(change);
    }

    /// A change (made here or by another replica) for this process's watchers.
    pub fn publish_here(&self, change: Change) {
        // Numbering and sending under one lock keeps the stream and the buffer in the same order.
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.next += 1;
        let numbered = Numbered { seq: recent.next, change };
        recent.events.push_back(numbered.clone());
        if recent.events.len() > KEEP {
            recent.events.pop_front();
        }
        // No subscriber is not an error.
        let _ = self.tx.send(numbered);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Numbered> {
        self.tx.subscribe()
    }

    /// Subscribes and works out what a client that last saw `last_id` missed, with no
    /// gap and no repeat between the two.
    pub fn resume(&self, last_id: Option<&str>) -> (CatchUp, broadcast::Receiver<Numbered>) {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.tx.subscribe();
        let Some(last) = last_id else { return (CatchUp::Missed(vec![]), rx) };
        let seq = last.strip_prefix(&format!("{}-", self.epoch)).and_then(|n| n.parse::<u64>().ok());
        let oldest = recent.events.front().map(|e| e.seq).unwrap_or(recent.next + 1);
        let catch_up = match seq {
            Some(seq) if seq <= recent.next && seq + 1 >= oldest => {
                CatchUp::Missed(recent.events.iter().filter(|e| e.seq > seq).cloned().collect())
            }
            _ => CatchUp::Resync,
        };
        (catch_up, rx)
    }

    /// The SSE id of an event.
    pub fn id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.epoch)
    }
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(n: i64) -> Change {
        Change { action: "plan.update".into(), plan_id: Some(n), version: None, request_id: None }
    }

    #[test]
    fn a_client_resuming_from_an_event_gets_exactly_the_ones_after_it() {
        let events = Events::new();
        for n in 1..=5 {
            events.publish(change(n));
        }
        let (catch_up, _) = events.resume(Some(&events.id(3)));
        let CatchUp::Missed(missed) = catch_up else { panic!("expected missed events") };
        assert_eq!(missed.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5]);
        assert_eq!(events.resume(Some(&events.id(5))).0, CatchUp::Missed(vec![]));
    }

    #[test]
    fn an_id_from_another_process_or_too_old_asks_the_client_to_resync() {
        let events = Events::new();
        events.publish(change(1));
        assert_eq!(events.resume(Some("someone-else-1")).0, CatchUp::Resync);
        assert_eq!(events.resume(Some(&events.id(99))).0, CatchUp::Resync);
        for n in 0..(KEEP as i64 + 10) {
            events.publish(change(n));
        }
        assert_eq!(events.resume(Some(&events.id(1))).0, CatchUp::Resync, "fell out of the buffer");
    }

    #[tokio::test]
    async fn events_published_after_resuming_arrive_on_the_stream_once() {
        let events = Events::new();
        events.publish(change(1));
        let (catch_up, mut rx) = events.resume(Some(&events.id(1)));
        assert_eq!(catch_up, CatchUp::Missed(vec![]));
        events.publish(change(2));
        assert_eq!(rx.recv().await.unwrap().seq, 2);
    }
}
