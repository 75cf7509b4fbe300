//! Live updates in the browser: one `EventSource` on `/api/v1/events` per page load.
//! Pages watch `Live` and load their data again when a change concerns them. The
//! browser reconnects by itself after a dropped connection, sending the last event id,
//! and the server replays what was missed (or says `resync`: then everything reloads).
use leptos::prelude::*;

/// The latest change seen: a counter (so two equal changes still differ), the plan it
/// touched (`None` for flags, people and tokens), its action, or `resync` for everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    pub count: u64,
    pub plan_id: Option<i64>,
    /// The request that made the change (a page's own writes carry its id).
    pub request_id: Option<String>,
    pub action: String,
}

impl Seen {
    pub fn resync(&self) -> bool {
        self.action == "resync"
    }

    /// The echo of a change this page made: the page already loaded what it returned.
    pub fn is_own(&self) -> bool {
        self.request_id.as_deref().is_some_and(|id| OURS.with(|ours| ours.borrow().iter().any(|o| o == id)))
    }
}

// Each write from this page carries a request id of ours (see `api`), and its event on the
// stream carries it back. One page runs in a browser tab, on one thread.
thread_local! {
    static OURS: std::cell::RefCell<std::collections::VecDeque<String>> = const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
}

/// A fresh id for a write from this page, remembered as ours (the last 64: more than a
/// page has under way at once).
#[cfg(feature = "hydrate")]
pub fn new_request_id() -> String {
    let random = || (js_sys::Math::random() * 2f64.powi(53)) as u64;
    let id = format!("page-{:016x}{:016x}", random(), random());
    OURS.with(|ours| {
        let mut ours = ours.borrow_mut();
        if ours.len() == 64 {
            ours.pop_front();
        }
        ours.push_back(id.clone());
    });
    id
}

#[derive(Clone, Copy)]
pub struct Live(pub RwSignal<Seen>);

/// Provides `Live` to the whole app and, in the browser, connects it.
pub fn provide_live() {
    let seen = RwSignal::new(Seen::default());
    provide_context(Live(seen));
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        connect(seen);
    });
}

pub fn use_live() -> Option<Live> {
    use_context::<Live>()
}

/// Calls `on_change` (in the browser) for each change after the first render for which
/// `wanted(&seen)` holds; a `resync` always counts.
pub fn on_live_change(wanted: impl Fn(&Seen) -> bool + 'static, on_change: impl Fn() + 'static) {
    let Some(Live(seen)) = use_live() else { return };
    Effect::new(move |prev: Option<u64>| {
        let s = seen.get();
        if prev.is_some_and(|p| p != s.count) && (s.resync() || wanted(&s)) {
            on_change();
        }
        s.count
    });
}

#[cfg(feature = "hydrate")]
fn connect(seen: RwSignal<Seen>) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let path = web_sys::window().and_then(|w| w.location().pathname().ok()).unwrap_or_default();
    if path == "/login" {
        return;
    }
    let Ok(source) = web_sys::EventSource::new("/api/v1/events") else { return };
    let on_change = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
        let data = ev.data().as_string().unwrap_or_default();
        let value: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
        seen.update(|s| {
            s.count += 1;
            s.plan_id = value["plan_id"].as_i64();
            s.request_id = value["request_id"].as_str().map(str::to_string);
            s.action = value["action"].as_str().unwrap_or("").to_string();
        });
    });
    let on_resync = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |_| {
        seen.update(|s| {
            s.count += 1;
            s.plan_id = None;
            s.request_id = None;
            s.action = "resync".into();
        });
    });
    let _ = source.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
    let _ = source.add_event_listener_with_callback("resync", on_resync.as_ref().unchecked_ref());
    // Marks the page as listening, for people and tests waiting on live updates.
    let on_open = Closure::<dyn Fn(web_sys::Event)>::new(move |_| {
        if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
            let _ = body.set_attribute("data-live", "true");
        }
    });
    let _ = source.add_event_listener_with_callback("open", on_open.as_ref().unchecked_ref());
    // The page lives as long as the source; let the browser own the callbacks.
    on_change.forget();
    on_resync.forget();
    on_open.forget();
    std::mem::forget(source);
}
