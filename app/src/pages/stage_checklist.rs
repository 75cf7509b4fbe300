//! A stage's checklist on the plan page: leads build it, the people running the plan
//! record each check's result with a comment and evidence.
use super::form::{Checkbox, Choice, Field, Kind};
use super::plan_page::use_plan;
use super::short_time;
use crate::api;
use crate::checklist::{CheckResult, CheckStatus, ChecklistCopy, ChecklistItem, NewChecklistItem};
use crate::error::ApiError;
use leptos::prelude::*;

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
    let plan_id = state.plan_id;
    let empty = items.is_empty();
    let rows = items
        .into_iter()
        .map(|item| view! { <CheckRow stage_id item can_edit can_run/> })
        .collect_view();
    let text = RwSignal::new(String::new());
    let required = RwSignal::new(true);
    let add_form = state.form("check", stage_id).small();
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewChecklistItem { version: state.version(), text: text.get_untracked(), required: required.get_untracked() };
        if let Err(e) = new.validate() {
            return add_form.show(e);
        }
        state.submit(add_form, async move { api::add_check(plan_id, stage_id, &new).await });
    };
    let from = RwSignal::new(String::new());
    let copy_form = state.form("check", stage_id).small();
    let copy = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(from_stage_id) = from.get_untracked().parse::<i64>() else {
            return copy_form.show(ApiError::validation("from_stage_id", "Choose a stage to copy from."));
        };
        let body = ChecklistCopy { version: state.version(), from_stage_id };
        state.submit(copy_form, async move { api::copy_checklist(plan_id, stage_id, &body).await });
    };
    let mut sources: Vec<(String, String)> =
        sources.into_iter().filter(|(id, _)| *id != stage_id).map(|(id, label)| (id.to_string(), label)).collect();
    let has_sources = !sources.is_empty();
    sources.insert(0, (String::new(), "Choose a stage".into()));
    view! {
        <div class="checklist">
            {(!empty || can_edit).then(|| view! { <h4>"Checklist"</h4> })}
            <ul class="checks">{rows}</ul>
            {can_edit.then(|| view! {
                <form class="inline-form small" novalidate on:submit=add>
                    <Field label="New check" name="text" value=text form=add_form required=true
                        placeholder="Error rate under 1% for 30 minutes"/>
                    <Checkbox label="Required" name="required" value=required form=add_form/>
                    <button type="submit" class="button">"Add check"</button>
                </form>
                {has_sources.then(|| view! {
                    <form class="inline-form small" novalidate on:submit=copy>
                        <Choice label="Copy a checklist from" name="from_stage_id" value=from options=sources form=copy_form
                            id=format!("check-from-{stage_id}")/>
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
    let plan_id = state.plan_id;
    let item_id = item.id;
    let status = RwSignal::new(item.status.as_str().to_string());
    let comment = RwSignal::new(item.comment.clone());
    let evidence = RwSignal::new(item.evidence_url.clone().unwrap_or_default());
    let form = state.form("check", item_id).small();
    let record = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let result = CheckResult {
            status: CheckStatus::parse(&status.get_untracked()).unwrap_or(CheckStatus::NotTested),
            comment: comment.get_untracked(),
            evidence_url: Some(evidence.get_untracked()).filter(|e| !e.trim().is_empty()),
        };
        if let Err(e) = result.validate() {
            return form.show(e);
        }
        state.submit(form, async move { api::record_check(plan_id, stage_id, item_id, &result).await });
    };
    let who = match (&item.checked_by, &item.checked_at) {
        (Some(by), Some(at)) => format!("{} by {by}, {}", item.status.label(), short_time(at)),
        _ => item.status.label().to_string(),
    };
    let label = format!("Remove check: {}", item.text);
    let record_label = format!("Record the result of: {}", item.text);
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
                let results = CheckStatus::ALL.into_iter().map(|s| (s.as_str().to_string(), s.label().to_string())).collect();
                view! {
                <form class="inline-form small" novalidate on:submit=record>
                    <Choice label="Result" name="status" value=status options=results form/>
                    <Field label="Comment" name="comment" value=comment form/>
                    <Field label="Evidence link" name="evidence_url" value=evidence form kind=Kind::Url id=format!("check-evidence-{item_id}")/>
                    <button type="submit" class="button">"Record"</button>
                </form>
            }})}
        </li>
    }
    .into_any()
}
