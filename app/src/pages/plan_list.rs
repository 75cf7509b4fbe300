//! The plan list: status badges, search, paging. Search and paging are plain links
//! and a GET form, so they work before (and without) the WASM.
use super::{list_link, short_time, ErrorPanel, Pager, PlanStatusBadge, Ready};
use crate::plan::{list_plans, PlanPage, PlanStatus};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn PlanList() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let status = move || query.read().get("status").unwrap_or_default();
    let after = move || query.read().get("after").unwrap_or_default();
    let plans = super::resource(move || (q(), status(), after()), |(q, s, a)| list_plans(q, s, a));

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
                    Ok(page) => view! { <PlanTable page q=q() status=status() after=after()/><Ready/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PlanTable(page: PlanPage, q: String, status: String, after: String) -> impl IntoView {
    if page.items.is_empty() {
        let text = if !after.is_empty() {
            "No more plans."
        } else if q.is_empty() && status.is_empty() {
            "No plans yet. Create the first one."
        } else {
            "No plan matches this search."
        };
        return view! { <p class="empty">{text}</p> }.into_any();
    }
    let link = move |cursor: &str| list_link("/plans", &[("q", &q), ("status", &status), ("after", cursor)]);
    let (first, next) = ((!after.is_empty()).then(|| link("")), page.next.as_deref().map(link));
    let (shown, total, capped) = (page.items.len(), page.total, page.total_capped);
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
        <Pager first next shown total capped noun="plans"/>
    }
    .into_any()
}
