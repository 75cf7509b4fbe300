//! The plan list: status badges, search, paging. Search and paging are plain links
//! and a GET form, so they work before (and without) the WASM.
use super::{encode, short_time, ErrorPanel, PlanStatusBadge, Ready};
use crate::plan::{list_plans, PlanPage, PlanStatus};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn PlanList() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let status = move || query.read().get("status").unwrap_or_default();
    let page = move || {
        query.read().get("page").and_then(|p| p.parse::<i64>().ok()).unwrap_or(1).max(1)
    };
    let plans = Resource::new(move || (q(), status(), page()), |(q, s, p)| list_plans(q, s, p));

    view! {
        <Title text="Plans · Runway"/>
        <div class="page-head">
            <h1>"Plans"</h1>
            <div class="head-actions">
                <a class="button" href="/plans/import">"Import Markdown"</a>
                <a class="button primary" href="/plans/new">"New plan"</a>
            </div>
        </div>
        <form class="search" method="get" action="/plans" role="search">
            <div class="field inline">
                <label for="plan-search">"Search"</label>
                <input id="plan-search" type="search" name="q" value=q placeholder="Title, summary or owner"/>
            </div>
            <div class="field inline">
                <label for="plan-status">"Status"</label>
                <select id="plan-status" name="status">
                    <option value="" selected=move || status().is_empty()>"Any"</option>
                    {PlanStatus::ALL
                        .into_iter()
                        .map(|s| {
                            view! {
                                <option value=s.as_str() selected=move || status() == s.as_str()>
                                    {s.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </div>
            <button type="submit">"Search"</button>
        </form>
        <Transition fallback=|| view! { <p aria-busy="true">"Loading plans…"</p> }>
            {move || Suspend::new(async move {
                match plans.await {
                    Ok(page) => view! { <PlanTable page q=q() status=status()/><Ready/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PlanTable(page: PlanPage, q: String, status: String) -> impl IntoView {
    if page.items.is_empty() {
        let text = if q.is_empty() && status.is_empty() {
            "No plans yet. Create the first one."
        } else {
            "No plan matches this search."
        };
        return view! { <p class="empty">{text}</p> }.into_any();
    }
    let link = {
        let (q, status) = (q.clone(), status.clone());
        move |p: i64| {
            let mut parts = vec![format!("page={p}")];
            if !q.is_empty() {
                parts.push(format!("q={}", encode(&q)));
            }
            if !status.is_empty() {
                parts.push(format!("status={}", encode(&status)));
            }
            format!("/plans?{}", parts.join("&"))
        }
    };
    let (current, pages, total) = (page.page, page.page_count(), page.total);
    view! {
        <table class="plans">
            <caption class="visually-hidden">"Plans, most recently updated first"</caption>
            <thead>
                <tr>
                    <th scope="col">"Plan"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Owner"</th>
                    <th scope="col">"Stages"</th>
                    <th scope="col">"Updated"</th>
                </tr>
            </thead>
            <tbody>
                {page
                    .items
                    .into_iter()
                    .map(|p| {
                        view! {
                            <tr class="plan-row" data-plan-id=p.id>
                                <td>
                                    <a class="plan-title" href=format!("/plans/{}", p.id)>{p.title}</a>
                                    <p class="muted">{p.summary}</p>
                                </td>
                                <td><PlanStatusBadge status=p.status/></td>
                                <td>{p.owner}</td>
                                <td>{p.stage_count}</td>
                                <td><time datetime=p.updated_at.clone()>{short_time(&p.updated_at)}</time></td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Pages">
            {(current > 1).then(|| view! { <a rel="prev" href=link(current - 1)>"← Previous"</a> })}
            <span>{format!("Page {current} of {pages} · {total} plan{}", if total == 1 { "" } else { "s" })}</span>
            {(current < pages).then(|| view! { <a rel="next" href=link(current + 1)>"Next →"</a> })}
        </nav>
    }
    .into_any()
}
