//! Pages and the small components they share.
pub mod admin;
pub mod adoption;
pub mod audit;
pub mod chart;
pub mod flags;
pub mod form;
pub mod forms;
pub mod plan_import;
pub mod plan_list;
pub mod plan_page;
pub mod plan_people;
pub mod providers;
pub mod sign_in;
pub mod stage_checklist;
pub mod stage_flags;
pub mod stage_gate;
pub mod stage_guards;
pub mod stage_runbook;
pub mod inbox;
pub mod webhooks;
pub mod workspaces;

use crate::error::ApiError;
use crate::plan::PlanStatus;
use crate::stage::StageStatus;
use leptos::prelude::*;
use leptos_meta::Title;

/// JSON hydration data read from its bytes, as the server functions read their answers and
/// [`crate::api`] its own: serde_json compiles a type's decoder once per kind of input, so a
/// type read both from a `&str` and from bytes would carry two decoders in the bundle.
pub struct Json;

impl<T: serde::Serialize> leptos::server::codee::Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;
    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: serde::de::DeserializeOwned> leptos::server::codee::Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;
    fn decode(json: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(json.as_bytes())
    }
}

/// A page's data: [`Resource::new`] with the [`Json`] codec.
pub fn resource<S, T, Fut>(source: impl Fn() -> S + Send + Sync + 'static, fetcher: impl Fn(S) -> Fut + Send + Sync + 'static) -> Resource<T, Json>
where
    S: PartialEq + Clone + Send + Sync + 'static,
    T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

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

/// Asks for a line of text (a reason); `None` when cancelled or left empty.
pub fn ask(question: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.prompt_with_message(question).ok().flatten())
            .filter(|r| !r.trim().is_empty())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = question;
        None
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

/// The foot of a list paged by key: back to the first page, how many match (counted up
/// to 10,000), and the next page.
#[component]
pub fn Pager(first: Option<String>, next: Option<String>, shown: usize, total: i64, capped: bool, noun: &'static str) -> impl IntoView {
    let all = format!("{}{}", thousands(total), if capped { "+" } else { "" });
    view! {
        <nav class="pager" aria-label="Pages">
            {first.map(|href| view! { <a href=href>"First page"</a> })}
            <span class="list-count">{format!("{shown} on this page · {all} {noun} in all")}</span>
            {next.map(|href| view! { <a rel="next" href=href>"Next page"</a> })}
        </nav>
    }
}

/// `base?name=value&...` of the values that are not empty.
pub fn list_link(base: &str, params: &[(&str, &str)]) -> String {
    let parts: Vec<String> = params.iter().filter(|(_, v)| !v.is_empty()).map(|(n, v)| format!("{n}={}", encode(v))).collect();
    if parts.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", parts.join("&"))
    }
}

/// 12000 as "12,000".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Where to go after signing in: `next` when it is a path on this site, else `/plans`.
/// `//host` and `/\host` are other sites to a browser, and browsers drop tabs and line
/// breaks from URLs (`/\t/host` is `//host`), so backslashes and control characters are refused.
pub fn after_sign_in(next: &str) -> &str {
    let plain = !next.chars().any(|c| c == '\\' || c.is_control());
    if plain && next.starts_with('/') && !next.starts_with("//") {
        next
    } else {
        "/plans"
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

/// Milliseconds since 1970 of Runway's fixed-width UTC times (`2026-11-21T10:29:00.123Z`),
/// without a date library in the browser bundle.
pub fn rfc3339_ms(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|v| v.parse::<i64>().ok());
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let millis = if s.as_bytes().get(19) == Some(&b'.') { num(20..23).unwrap_or(0) } else { 0 };
    Some(((days_from_civil(y, m, d) * 24 + h) * 60 + min) * 60_000 + sec * 1000 + millis)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Now, in milliseconds since 1970, on the server or in the browser.
pub fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }
}

/// A signal holding `now_ms()`, ticking every second in the browser.
pub fn ticking_clock() -> ReadSignal<i64> {
    let (now, set_now) = signal(now_ms());
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            let handle = leptos::prelude::set_interval_with_handle(
                move || set_now.set(now_ms()),
                std::time::Duration::from_secs(1),
            );
            if let Ok(h) = handle {
                on_cleanup(move || h.clear());
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = set_now;
    });
    now
}

/// "2 h 05 min 09 s", "4 min 02 s", "12 s".
pub fn countdown(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h} h {m:02} min {s:02} s")
    } else if m > 0 {
        format!("{m} min {s:02} s")
    } else {
        format!("{s} s")
    }
}

/// A rollback's measured time: "0.21 s", "42.0 s".
pub fn seconds(ms: i64) -> String {
    if ms < 10_000 {
        format!("{:.2} s", ms as f64 / 1000.0)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

#[cfg(feature = "hydrate")]
pub(crate) type ChosenFile = web_sys::File;
#[cfg(not(feature = "hydrate"))]
pub(crate) type ChosenFile = ();

/// The file picked in the submitted form's `file` input.
pub(crate) fn chosen_file(ev: &leptos::ev::SubmitEvent) -> Option<ChosenFile> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let form = ev.target()?.dyn_into::<web_sys::HtmlFormElement>().ok()?;
        let input = form.elements().named_item("file")?.dyn_into::<web_sys::HtmlInputElement>().ok()?;
        input.files()?.get(0)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn runway_times_convert_to_epoch_milliseconds() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_ms("2026-11-21T10:29:00.123Z"), Some(1_795_256_940_123));
        assert_eq!(rfc3339_ms("2000-02-29T12:00:00Z"), Some(951_825_600_000));
        assert_eq!(rfc3339_ms("not a time"), None);
    }

    #[test]
    fn countdowns_read_as_hours_minutes_and_seconds() {
        assert_eq!(countdown(3_725_000), "1 h 02 min 05 s");
        assert_eq!(countdown(62_000), "1 min 02 s");
        assert_eq!(countdown(-5), "0 s");
        assert_eq!(seconds(212), "0.21 s");
    }

    #[test]
    fn large_counts_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(12_000), "12,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
    }
}

#[cfg(test)]
mod next_tests {
    use super::*;

    #[test]
    fn after_sign_in_only_paths_on_this_site_are_followed() {
        for ok in ["/plans/3", "/", "/plans?q=a%2Fb", "/flags#top"] {
            assert_eq!(after_sign_in(ok), ok);
        }
        for bad in ["//evil.example", "/\\evil.example", "https://evil.example/", "plans", "", "/\t/evil.example", "/\n/x", "\\\\evil"] {
            assert_eq!(after_sign_in(bad), "/plans", "{bad:?}");
        }
    }
}
