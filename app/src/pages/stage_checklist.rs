//! A stage's checklist on the plan page: leads build it, the people running the plan
//! record each check's result with a comment and evidence.
use super::short_time;
use crate::api;
use crate::checklist::{CheckResult, CheckStatus, ChecklistCopy, ChecklistItem, NewChecklistItem};
use leptos::prelude::*;
use super::plan_page::use_plan;


#[allow(clippy::too_many_arguments)]
#[component]
pub fn StageChecklist(
    stage_id: i64,
    items: Vec<ChecklistItem>,
    can_edit: bool,
    can_run: bool,
    sources: Vec<(i64, String)>,
) -> impl IntoView {
    let state = use_plan();
    let (plan_id, error) = (state.plan_id, state.error);
    let empty = items.is_empty();
    let rows = items
        .into_iter()
        .map(|item| view! { <CheckRow stage_id item can_edit can_run/> })
        .collect_view();
    let text = RwSignal::new(String::new());
    let required = RwSignal::new(true);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewChecklistItem { version: state.version(), text: text.get_untracked(), required: required.get_untracked() };
        if let Err(e) = new.validate() {
            error.set(Some(e));
            return;
        }
        state.change(async move { api::add_check(plan_id, stage_id, &new).await });
    };
    let from = RwSignal::new(String::new());
    let copy = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(from_stage_id) = from.get_untracked().parse::<i64>() else { return };
        let body = ChecklistCopy { version: state.version(), from_stage_id };
        state.change(async move { api::copy_checklist(plan_id, stage_id, &body).await });
    };
    let sources: Vec<(i64, String)> = sources.into_iter().filter(|(id, _)| *id != stage_id).collect();
    let has_sources = !sources.is_empty();
    let ids = |what: &str| format!("{what}-{stage_id}");
    let (text_id, req_id, from_id) = (ids("check-text"), ids("check-required"), ids("check-from"));
    let (text_for, req_for, from_for) = (text_id.clone(), req_id.clone(), from_id.clone());
    view! {
        <div class="checklist">
            {(!empty || can_edit).then(|| view! { <h4>"Checklist"</h4> })}
            <ul class="checks">{rows}</ul>
            {can_edit.then(|| view! {
                <form class="inline-form small" on:submit=add>
                    <div class="field"><label for=text_for>"New check"</label>
                        <input id=text_id required placeholder="Error rate under 1% for 30 minutes" on:input=move |ev| text.set(event_target_value(&ev))/></div>
                    <div class="field checkbox"><input type="checkbox" id=req_id checked on:change=move |ev| required.set(event_target_checked(&ev))/>
                        <label for=req_for>"Required"</label></div>
                    <button type="submit" class="button">"Add check"</button>
                </form>
                {has_sources.then(|| view! {
                    <form class="inline-form small" on:submit=copy>
                        <div class="field"><label for=from_for>"Copy a checklist from"</label>
                            <select id=from_id on:change=move |ev| from.set(event_target_value(&ev))>
                                <option value="">"Choose a stage"</option>
                                {sources.iter().map(|(id, label)| view! { <option value=id.to_string()>{label.clone()}</option> }).collect_view()}
                            </select></div>
                        <button type="submit" class="button">"Copy checks"</button>
                    </form>
                })}
            })}
        </div>
    }
    .into_any()
}

#[allow(clippy::too_many_arguments)]
#[component]
fn CheckRow(stage_id: i64, item: ChecklistItem, can_edit: bool, can_run: bool) -> impl IntoView {
    let state = use_plan();
    let (plan_id, error) = (state.plan_id, state.error);
    let item_id = item.id;
    let status = RwSignal::new(item.status.as_str().to_string());
    let comment = RwSignal::new(item.comment.clone());
    let evidence = RwSignal::new(item.evidence_url.clone().unwrap_or_default());
    let record = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let result = CheckResult {
            status: CheckStatus::parse(&status.get_untracked()).unwrap_or(CheckStatus::NotTested),
            comment: comment.get_untracked(),
            evidence_url: Some(evidence.get_untracked()).filter(|e| !e.trim().is_empty()),
        };
        if let Err(e) = result.validate() {
            error.set(Some(e));
            return;
        }
        state.change(async move { api::record_check(plan_id, stage_id, item_id, &result).await });
    };
    let who = match (&item.checked_by, &item.checked_at) {
        (Some(by), Some(at)) => format!("{} by {by}, {}", item.status.label(), short_time(at)),
        _ => item.status.label().to_string(),
    };
    let ids = |what: &str| format!("{what}-{item_id}");
    let (status_id, comment_id, evidence_id) = (ids("check-status"), ids("check-comment"), ids("check-evidence"));
    let label = format!("Remove check: {}", item.text);
    let record_label = format!("Record the result of: {}", item.text);
    let current = item.status;
    // The form is there when asked for: a stage's checks stay a list to read.
    let recording = RwSignal::new(false);
    view! {
        <li class=format!("check check-{}", item.status.as_str()) data-check-id=item_id>
            <span class="check-text">{item.text.clone()}</span>
            " "
            <span class="badge">{if item.required { "required" } else { "optional" }}</span>
            " "
            <span class=format!("check-state state-{}", item.status.as_str())>{who}</span>
            {(!item.comment.is_empty()).then(|| view! { <p class="check-comment">{item.comment.clone()}</p> })}
            {item.evidence_url.clone().map(|url| view! { <p><a href=url rel="noopener noreferrer" target="_blank">"Evidence"</a></p> })}
            {can_edit.then(|| view! {
                <button type="button" class="link danger" aria-label=label
                    on:click=move |_| { let version = state.version(); state.change(async move { api::remove_check(plan_id, stage_id, item_id, version).await }) }>"Remove"</button>
            })}
            {can_run.then(|| view! {
                <button type="button" class="link" aria-label=record_label aria-expanded=move || recording.get().to_string()
                    on:click=move |_| recording.update(|r| *r = !*r)>"Record result"</button>
            })}
            {move || (can_run && recording.get()).then(|| {
                let (status_id, comment_id, evidence_id) = (status_id.clone(), comment_id.clone(), evidence_id.clone());
                view! {
                <form class="inline-form small" on:submit=record>
                    <div class="field"><label for=status_id.clone()>"Result"</label>
                        <select id=status_id on:change=move |ev| status.set(event_target_value(&ev))>
                            {CheckStatus::ALL.into_iter().map(|s| view! {
                                <option value=s.as_str() selected={s == current}>{s.label()}</option>
                            }).collect_view()}
                        </select></div>
                    <div class="field"><label for=comment_id.clone()>"Comment"</label>
                        <input id=comment_id prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev))/></div>
                    <div class="field"><label for=evidence_id.clone()>"Evidence link"</label>
                        <input id=evidence_id type="url" prop:value=move || evidence.get() on:input=move |ev| evidence.set(event_target_value(&ev))/></div>
                    <button type="submit" class="button">"Record"</button>
                </form>
            }})}
        </li>
    }
    .into_any()
}
