//! A stage's flag changes on the plan page: set while the stage is pending, applied
//! when its gate says go, put back when its rollback is approved.
use super::form::{Checkbox, Choice, Field, Kind};
use super::plan_page::use_plan;
use crate::api;
use crate::error::ApiError;
use crate::stage::{FlagChangeInput, Stage, StageFlagChanges, StageStatus};
use leptos::prelude::*;

#[component]
pub fn StageFlags(stage: Stage, can_edit: bool, flag_keys: Vec<String>) -> impl IntoView {
    let state = use_plan();
    let (plan_id, error) = (state.plan_id, state.error);
    let stage_id = stage.id;
    let editable = can_edit && matches!(stage.status, StageStatus::Pending | StageStatus::AwaitingDecision);
    let current: Vec<FlagChangeInput> = stage
        .flag_changes
        .iter()
        .map(|c| FlagChangeInput {
            flag: c.flag.clone(),
            environment: c.environment.clone(),
            enabled: c.enabled,
            percentage: c.percentage,
            // Kept as they are: the form edits the rest.
            rules: c.rules.as_ref().and_then(|r| serde_json::to_value(r).ok()).unwrap_or_default(),
        })
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
            // What a "go" sets besides: each rule, in the order it will be tried.
            let rules = c.rules.as_ref().map(|rules| {
                let items = rules
                    .iter()
                    .enumerate()
                    .map(|(i, r)| view! { <li>{format!("{}: if {}, serve {}", r.label(i), crate::flag::describe_when(r), crate::flag::describe_serve(r))}</li> })
                    .collect_view();
                let lead = if rules.is_empty() { "and removes its targeting rules" } else { "and sets its targeting rules to:" };
                view! { <span class="small">" "{lead}</span><ol class="rules small">{items}</ol> }
            });
            let state = match (&c.applied_at, &c.reverted_at) {
                (_, Some(_)) => " (reverted)",
                (Some(_), None) => " (applied)",
                _ => "",
            };
            let label = format!("Remove the change to {} in {}", c.flag, c.environment);
            view! {
                <li class="flag-change-item"><code>{text}</code>{state}{rules}
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
        RwSignal::new("100".to_string()),
    );
    let form = state.form("sf", stage_id).small();
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(percentage) = pct.get_untracked().trim().parse::<i64>() else {
            return form.show(ApiError::validation("percentage", "The percentage is a whole number from 0 to 100."));
        };
        let mut changes = current.get_value();
        let at = changes.len();
        changes.push(FlagChangeInput { flag: flag.get_untracked(), environment: env.get_untracked(), enabled: on.get_untracked(), percentage, rules: serde_json::Value::Null });
        let input = StageFlagChanges { version: state.version(), changes };
        if let Err(e) = input.validate() {
            return form.show(about_new(e, at));
        }
        state.submit(form, async move { api::set_stage_flags(plan_id, stage_id, &input).await.map_err(|e| about_new(e, at)) });
    };
    let ids = |what: &str| format!("{what}-{stage_id}");
    let has_flags = !flag_keys.is_empty();
    let flag_options = flag_keys.iter().map(|k| (k.clone(), k.clone())).collect();
    view! {
        <div class="stage-flags">
            {(has_changes || editable).then(|| view! { <h4>"Flags this stage flips"</h4> })}
            <ul class="flag-changes">{items}</ul>
            {(editable && has_flags).then(|| view! {
                <form class="inline-form small" novalidate on:submit=add>
                    <Choice label="Flag" name="flag" value=flag options=flag_options form/>
                    <Field label="Environment" name="environment" value=env form id=ids("sf-env")/>
                    <Checkbox label="On" name="enabled" value=on form id=ids("sf-on")/>
                    <Field label="Percentage" name="percentage" value=pct form kind=Kind::Number max="100" id=ids("sf-pct")/>
                    <button type="submit" class="button">"Add flag change"</button>
                </form>
            })}
        </div>
    }
    .into_any()
}

/// The server and `validate()` name a change by its place in the list (`changes[2].flag`);
/// the form's own change is the last one, and its fields are the form's.
fn about_new(mut e: ApiError, at: usize) -> ApiError {
    let own = format!("changes[{at}]");
    e.field = match e.field.as_deref().and_then(|f| f.strip_prefix(own.as_str())) {
        Some("") => Some("flag".into()),
        Some(rest) => rest.strip_prefix('.').map(str::to_string).or(e.field),
        None => e.field,
    };
    e
}

#[cfg(test)]
mod tests {
    use super::about_new;
    use crate::error::ApiError;

    #[test]
    fn an_error_about_the_new_change_names_the_form_field() {
        let field = |f: &str, at| about_new(ApiError::validation(f, "x"), at).field.unwrap();
        assert_eq!(field("changes[2].percentage", 2), "percentage");
        assert_eq!(field("changes[2].environment", 2), "environment");
        assert_eq!(field("changes[2]", 2), "flag");
        // Another change's error stays as it is, for the banner.
        assert_eq!(field("changes[1].percentage", 2), "changes[1].percentage");
        assert_eq!(field("changes[12]", 1), "changes[12]");
    }
}
