//! A stage's flag changes on the plan page: set while the stage is pending, applied
//! when its gate says go, put back when its rollback is approved.
use crate::api;
use crate::stage::{FlagChangeInput, Stage, StageFlagChanges, StageStatus};
use leptos::prelude::*;
use super::plan_page::use_plan;


#[component]
pub fn StageFlags(stage: Stage, can_edit: bool, flag_keys: Vec<String>) -> impl IntoView {
    let state = use_plan();
    let (plan_id, error) = (state.plan_id, state.error);
    let stage_id = stage.id;
    let editable = can_edit && matches!(stage.status, StageStatus::Pending | StageStatus::AwaitingDecision);
    let current: Vec<FlagChangeInput> = stage
        .flag_changes
        .iter()
        .map(|c| FlagChangeInput { flag: c.flag.clone(), environment: c.environment.clone(), enabled: c.enabled, percentage: c.percentage })
        .collect();
    let current = StoredValue::new(current);
    let save = move |changes: Vec<FlagChangeInput>| {
        let input = StageFlagChanges { version: state.version(), changes };
        if let Err(e) = input.validate() {
            error.set(Some(e));
            return;
        }
        state.change(async move { api::set_stage_flags(plan_id, stage_id, &input).await });
    };
    let items = stage
        .flag_changes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let text = format!(
                "{} in {}: {}",
                c.flag,
                c.environment,
                if c.enabled { format!("on, {}%", c.percentage) } else { "off".into() }
            );
            let state = match (&c.applied_at, &c.reverted_at) {
                (_, Some(_)) => " (reverted)",
                (Some(_), None) => " (applied)",
                _ => "",
            };
            let label = format!("Remove the change to {} in {}", c.flag, c.environment);
            view! {
                <li class="flag-change-item"><code>{text}</code>{state}
                    {editable.then(|| view! {
                        <button type="button" class="link danger" aria-label=label on:click=move |_| {
                            let mut list = current.get_value();
                            list.remove(i);
                            save(list);
                        }>"Remove"</button>
                    })}
                </li>
            }
        })
        .collect_view();
    let has_changes = !stage.flag_changes.is_empty();
    let (flag, env, on, pct) = (
        RwSignal::new(flag_keys.first().cloned().unwrap_or_default()),
        RwSignal::new("production".to_string()),
        RwSignal::new(true),
        RwSignal::new(100i64),
    );
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut list = current.get_value();
        list.push(FlagChangeInput { flag: flag.get_untracked(), environment: env.get_untracked(), enabled: on.get_untracked(), percentage: pct.get_untracked() });
        save(list);
    };
    let ids = |what: &str| format!("{what}-{stage_id}");
    let (flag_id, env_id, on_id, pct_id) = (ids("sf-flag"), ids("sf-env"), ids("sf-on"), ids("sf-pct"));
    let (flag_for, env_for, on_for, pct_for) = (flag_id.clone(), env_id.clone(), on_id.clone(), pct_id.clone());
    let has_flags = !flag_keys.is_empty();
    view! {
        <div class="stage-flags">
            {(has_changes || editable).then(|| view! { <h4>"Flags this stage flips"</h4> })}
            <ul class="flag-changes">{items}</ul>
            {(editable && has_flags).then(|| view! {
                <form class="inline-form small" on:submit=add>
                    <div class="field"><label for=flag_for>"Flag"</label>
                        <select id=flag_id on:change=move |ev| flag.set(event_target_value(&ev))>
                            {flag_keys.iter().map(|k| view! { <option value=k.clone()>{k.clone()}</option> }).collect_view()}
                        </select></div>
                    <div class="field"><label for=env_for>"Environment"</label>
                        <input id=env_id value="production" on:input=move |ev| env.set(event_target_value(&ev))/></div>
                    <div class="field checkbox"><input type="checkbox" id=on_id checked on:change=move |ev| on.set(event_target_checked(&ev))/>
                        <label for=on_for>"On"</label></div>
                    <div class="field"><label for=pct_for>"Percentage"</label>
                        <input id=pct_id type="number" min="0" max="100" value="100" on:input=move |ev| pct.set(event_target_value(&ev).parse().unwrap_or(0))/></div>
                    <button type="submit" class="button">"Add flag change"</button>
                </form>
            })}
        </div>
    }
    .into_any()
}
