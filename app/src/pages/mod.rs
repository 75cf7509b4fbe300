//! Pages and the small components they share.
pub mod admin;
pub mod audit;
pub mod flags;
pub mod forms;
pub mod plan_list;
pub mod plan_page;
pub mod plan_people;
pub mod sign_in;
pub mod stage_checklist;
pub mod stage_flags;
pub mod webhooks;

use crate::error::ApiError;
use crate::plan::PlanStatus;
use crate::stage::StageStatus;
use leptos::prelude::*;
use leptos_meta::Title;

/// Marks `<body data-hydrated="true">` once this page's content is interactive.
/// Effects run only in the browser, after the content around them has hydrated.
#[component]
pub fn Ready() -> impl IntoView {
    Effect::new(|_| {
        #[cfg(feature = "hydrate")]
        if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::backend::set_page_status(&ApiError::not_found("Page"));
    view! {
        <Title text="Not found · Runway"/>
        <h1>"Not found"</h1>
        <p>"There is nothing at this address. " <a href="/plans">"Back to the plans"</a></p>
        <Ready/>
    }
}

#[component]
pub fn PlanStatusBadge(status: PlanStatus) -> impl IntoView {
    view! { <span class=format!("badge plan-{}", status.as_str())>{status.label()}</span> }
}

#[component]
pub fn StageStatusBadge(status: StageStatus) -> impl IntoView {
    view! { <span class=format!("badge stage-{}", status.as_str())>{status.label()}</span> }
}

/// An error in place of a page's content.
#[component]
pub fn ErrorPanel(error: ApiError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::backend::set_page_status(&error);
    let heading = if error.code == "not_found" { "Not found" } else { "Something went wrong" };
    view! {
        <Title text=format!("{heading} · Runway")/>
        <div class="error-box" role="alert">
            <h1>{heading}</h1>
            <p>{error.message}</p>
            <p><a href="/plans">"Back to the plans"</a></p>
        </div>
        <Ready/>
    }
}

/// Parses the `:id`-style parameters of a route; a non-number never matches a plan.
pub fn param_id(params: &leptos_router::params::ParamsMap, name: &str) -> i64 {
    params.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Runs a change made from a page: on success the page loads its data again (`reload`),
/// on failure the error shows (`error`).
pub fn change_then_reload<T: 'static>(
    reload: RwSignal<u32>,
    error: RwSignal<Option<ApiError>>,
    change: impl std::future::Future<Output = Result<T, ApiError>> + 'static,
) {
    error.set(None);
    leptos::task::spawn_local(async move {
        match change.await {
            Ok(_) => reload.update(|n| *n += 1),
            Err(e) => error.set(Some(e)),
        }
    });
}

/// A yes/no question before something that cannot be undone from the page.
pub fn confirm(message: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.confirm_with_message(message).ok())
            .unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = message;
        false
    }
}

/// "2026-11-21T10:29:00Z" as "2026-11-21 10:29 UTC".
pub fn short_time(rfc3339: &str) -> String {
    if rfc3339.len() >= 16 {
        format!("{} {} UTC", &rfc3339[..10], &rfc3339[11..16])
    } else {
        rfc3339.to_string()
    }
}

/// Percent-encodes a query value (no extra crate for the browser bundle).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
