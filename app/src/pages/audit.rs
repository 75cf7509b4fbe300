//! The audit log page: filter by plan, actor, action and time; page through; export.
//! Filters are a GET form and paging is links, so it all works without the WASM.
use super::{list_link, short_time, ErrorPanel, Pager, Ready};
use crate::audit::{list_audit, AuditEntry, AuditPage, ACTION_CHOICES};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

const FILTERS: [&str; 5] = ["plan_id", "actor", "action", "since", "until"];

#[component]
pub fn AuditLog() -> impl IntoView {
    let query = use_query_map();
    let value = move |k: &str| query.read().get(k).unwrap_or_default();
    let before = move || query.read().get("before").and_then(|p| p.parse::<i64>().ok());
    let filters = move || FILTERS.map(value);
    let entries = super::resource(
        move || (filters(), before()),
        |([plan_id, actor, action, since, until], before)| list_audit(plan_id, actor, action, since, until, before),
    );
    // The same filters, for paging and export links.
    let link = move |base: &str, before: Option<i64>| {
        let (values, before) = (filters(), before.map(|b| b.to_string()).unwrap_or_default());
        let mut params: Vec<(&str, &str)> = FILTERS.iter().copied().zip(values.iter().map(String::as_str)).collect();
        params.push(("before", &before));
        list_link(base, &params)
    };

    view! {
        <Title text="Audit log · Runway"/>
        <div class="page-head">
            <h1>"Audit log"</h1>
            <div class="head-actions">
                <a class="button" href=move || link("/api/v1/audit/export.csv", None) download>"Export CSV"</a>
                <a class="button" href=move || link("/api/v1/audit/export.jsonl", None) download>"Export JSON Lines"</a>
            </div>
        </div>
        <form class="search" method="get" action="/audit" aria-label="Filter the audit log">
            <div class="field inline">
                <label for="audit-plan">"Plan number"</label>
                <input id="audit-plan" name="plan_id" type="number" min="1" value=move || value("plan_id")/>
            </div>
            <div class="field inline">
                <label for="audit-actor">"Actor"</label>
                <input id="audit-actor" name="actor" type="text" value=move || value("actor")/>
            </div>
            <div class="field inline">
                <label for="audit-action">"Action"</label>
                <select id="audit-action" name="action">
                    <option value="" selected=move || value("action").is_empty()>"Any"</option>
                    {ACTION_CHOICES
                        .into_iter()
                        .map(|(v, l)| view! { <option value=v selected=move || value("action") == v>{l}</option> })
                        .collect_view()}
                </select>
            </div>
            <div class="field inline">
                <label for="audit-since">"From (UTC)"</label>
                <input id="audit-since" name="since" type="datetime-local" value=move || value("since")/>
            </div>
            <div class="field inline">
                <label for="audit-until">"Until (UTC)"</label>
                <input id="audit-until" name="until" type="datetime-local" value=move || value("until")/>
            </div>
            <button type="submit">"Filter"</button>
        </form>
        <Transition fallback=|| view! { <p aria-busy="true">"Loading the audit log…"</p> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(page) => {
                        view! { <AuditTable page first=before().map(|_| link("/audit", None)) next=move |b| link("/audit", Some(b))/><Ready/> }.into_any()
                    }
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AuditTable(page: AuditPage, first: Option<String>, next: impl Fn(i64) -> String + 'static) -> impl IntoView {
    if page.items.is_empty() {
        let text = if first.is_some() { "No older entries." } else { "No entry matches these filters." };
        return view! { <p class="empty">{text}</p> }.into_any();
    }
    let (shown, total, capped, next) = (page.items.len(), page.total, page.total_capped, page.next.map(next));
    view! {
        <table class="audit">
            <caption class="visually-hidden">"Audit entries, newest first"</caption>
            <thead>
                <tr>
                    <th scope="col">"When"</th>
                    <th scope="col">"Actor"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"Target"</th>
                    <th scope="col">"Change"</th>
                </tr>
            </thead>
            <tbody>{page.items.into_iter().map(|e| view! { <AuditRow entry=e/> }).collect_view()}</tbody>
        </table>
        <Pager first next shown total capped noun="entries"/>
    }
    .into_any()
}

#[component]
fn AuditRow(entry: AuditEntry) -> impl IntoView {
    let pretty = |v: &Option<serde_json::Value>| v.as_ref().and_then(|v| serde_json::to_string_pretty(v).ok());
    let (before, after) = (pretty(&entry.before), pretty(&entry.after));
    let target = match entry.plan_id {
        Some(id) => view! { <a href=format!("/plans/{id}")>{entry.target}</a> }.into_any(),
        None => entry.target.into_any(),
    };
    let AuditEntry { at, actor, action, .. } = entry;
    let when = short_time(&at);
    let data_action = action.clone();
    view! {
        <tr class="audit-row" data-action=data_action>
            <td><time datetime=at>{when}</time></td>
            <td>{actor}</td>
            <td><code>{action}</code></td>
            <td>{target}</td>
            <td>
                {(before.is_some() || after.is_some()).then(|| view! {
                    <details>
                        <summary>"Before and after"</summary>
                        {before.map(|b| view! { <p class="muted">"Before"</p><pre class="json">{b}</pre> })}
                        {after.map(|a| view! { <p class="muted">"After"</p><pre class="json">{a}</pre> })}
                    </details>
                })}
            </td>
        </tr>
    }
}
