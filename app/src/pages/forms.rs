//! Create and edit forms for plans, stages and risks. The same validation as the
//! server runs as you submit; server errors land next to their field; a stale
//! edit shows the conflict instead of overwriting.
use super::form::{Checkbox, Choice, Field, FormBanner, FormState, Kind};
use super::{param_id, ErrorPanel, Ready};
use crate::api;
use crate::error::ApiError;
use crate::plan::{get_plan, NewPlan, Plan, PlanPatch, PlanStatus};
use crate::risk::{Level, NewRisk, Risk, RiskPatch};
use crate::stage::{NewStage, Stage, StagePatch, StageStatus};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

/// Sends a page form's save; once saved, goes to the page `then` names.
fn save_then_go<F>(form: FormState, save: F, then: impl Fn(&Plan) -> String + 'static)
where
    F: std::future::Future<Output = Result<Plan, ApiError>> + 'static,
{
    let navigate = use_navigate();
    form.send(save, move |plan| navigate(&then(&plan), Default::default()));
}

#[component]
fn Actions(form: FormState, label: &'static str, cancel: String) -> impl IntoView {
    view! {
        <div class="form-actions">
            <button type="submit" class="button primary" disabled=move || form.busy.get()>
                {move || if form.busy.get() { "Saving…" } else { label }}
            </button>
            <a class="button" href=cancel>"Cancel"</a>
        </div>
        <noscript><p class="hint">"Saving needs JavaScript; everything else on Runway reads without it."</p></noscript>
        <Ready/>
    }
}

/// Loads the plan named by the route's `:id`, then renders `form` with it.
fn with_plan<V: IntoView + 'static>(form: impl Fn(Plan) -> V + Copy + Send + Sync + 'static) -> impl IntoView {
    let params = use_params_map();
    let plan = super::resource(move || param_id(&params.read(), "id"), get_plan);
    view! {
        <Suspense fallback=|| view! { <p aria-busy="true">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match plan.await {
                    Ok(p) => form(p).into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Review states come from review and sign-off, so they are not offered here.
fn plan_status_options(current: PlanStatus) -> Vec<(String, String)> {
    PlanStatus::ALL
        .iter()
        .filter(|s| {
            **s == current
                || !matches!(
                    s,
                    PlanStatus::InReview | PlanStatus::Approved | PlanStatus::Executing | PlanStatus::Completed | PlanStatus::RolledBack
                )
        })
        .map(|s| (s.as_str().to_string(), s.label().to_string()))
        .collect()
}

fn level_options() -> Vec<(String, String)> {
    Level::ALL.iter().map(|l| (l.as_str().to_string(), l.label().to_string())).collect()
}

// ---- plans ----

#[component]
pub fn PlanCreate() -> impl IntoView {
    view! {
        <Title text="New plan · Runway"/>
        <h1>"New plan"</h1>
        <PlanForm plan=None/>
    }
}

#[component]
pub fn PlanEdit() -> impl IntoView {
    with_plan(|plan| {
        view! {
            <Title text=format!("Edit {} · Runway", plan.title)/>
            <h1>"Edit plan"</h1>
            <PlanForm plan=Some(plan)/>
        }
    })
}

#[component]
fn PlanForm(plan: Option<Plan>) -> impl IntoView {
    let form = FormState::new();
    let text = |f: fn(&Plan) -> &String| RwSignal::new(plan.as_ref().map(|p| f(p).clone()).unwrap_or_default());
    let title = text(|p| &p.title);
    let summary = text(|p| &p.summary);
    let description = text(|p| &p.description);
    let owner = text(|p| &p.owner);
    let current_status = plan.as_ref().map(|p| p.status).unwrap_or(PlanStatus::Draft);
    let status = RwSignal::new(current_status.as_str().to_string());
    let target = RwSignal::new(plan.as_ref().map(|p| p.rollback_target_seconds).unwrap_or(30).to_string());
    let based_on = plan.as_ref().map(|p| (p.id, p.version));
    let cancel = based_on.map(|(id, _)| format!("/plans/{id}?edit=1")).unwrap_or_else(|| "/plans".into());

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if form.busy.get_untracked() {
            return;
        }
        form.reset();
        let status = PlanStatus::parse(&status.get_untracked());
        let to_page = |p: &Plan| format!("/plans/{}?edit=1", p.id);
        match based_on {
            None => {
                let new = NewPlan {
                    title: title.get_untracked(),
                    summary: summary.get_untracked(),
                    description: description.get_untracked(),
                    owner: owner.get_untracked(),
                    status,
                    ..Default::default()
                };
                match new.validate() {
                    Ok(()) => save_then_go(form, async move { api::create_plan(&new).await }, to_page),
                    Err(e) => form.show(e),
                }
            }
            Some((id, version)) => {
                let patch = PlanPatch {
                    version,
                    title: Some(title.get_untracked()),
                    summary: Some(summary.get_untracked()),
                    description: Some(description.get_untracked()),
                    owner: Some(owner.get_untracked()),
                    status,
                    archived: None,
                    rollback_target_seconds: match target.get_untracked().trim().parse::<i64>() {
                        Ok(t) => Some(t),
                        Err(_) => {
                            return form.show(ApiError::validation(
                                "rollback_target_seconds",
                                "The rollback target is a whole number of seconds.",
                            ))
                        }
                    },
                };
                match patch.validate() {
                    Ok(()) => save_then_go(form, async move { api::update_plan(id, &patch).await }, to_page),
                    Err(e) => form.show(e),
                }
            }
        }
    };

    view! {
        <form class="form" novalidate on:submit=on_submit>
            <FormBanner form/>
            <Field label="Title" name="title" value=title form required=true/>
            <Field label="Summary" name="summary" value=summary form hint="One or two sentences shown in the plan list."/>
            <Field label="Owner" name="owner" value=owner form hint="Who answers for this plan."/>
            <Choice label="Status" name="status" value=status options=plan_status_options(current_status) form/>
            {based_on.map(|_| view! {
                <Field label="Rollback target (seconds)" name="rollback_target_seconds" value=target form kind=Kind::Number
                    hint="How fast an approved rollback should have the flags back; each rollback's time is shown against it."/>
            })}
            <Field label="Description" name="description" value=description form kind=Kind::Area hint="Markdown. Code blocks such as ```sql are kept."/>
            <Actions form label=if based_on.is_some() { "Save plan" } else { "Create plan" } cancel/>
        </form>
    }
}

// ---- stages ----

#[component]
pub fn StageCreate() -> impl IntoView {
    with_plan(|plan| {
        view! {
            <Title text=format!("Add stage · {} · Runway", plan.title)/>
            <h1>"Add a stage to " {plan.title.clone()}</h1>
            <StageForm plan_id=plan.id version=plan.version stage=None/>
        }
    })
}

#[component]
pub fn StageEdit() -> impl IntoView {
    let params = use_params_map();
    let stage_id = move || param_id(&params.read(), "stage_id");
    with_plan(move |plan| match plan.stages.iter().find(|s| s.id == stage_id()).cloned() {
        Some(stage) => view! {
            <Title text=format!("Edit {} · Runway", stage.name)/>
            <h1>"Edit stage"</h1>
            <StageForm plan_id=plan.id version=plan.version stage=Some(stage)/>
        }
        .into_any(),
        None => view! { <ErrorPanel error=ApiError::not_found("Stage")/> }.into_any(),
    })
}

/// `2026-12-01T09:00:00Z` <-> the `datetime-local` input's `2026-12-01T09:00` (shown as UTC).
fn to_local_input(rfc3339: &str) -> String {
    rfc3339.chars().take(16).collect()
}

fn from_local_input(value: &str) -> Option<String> {
    let v = value.trim();
    match v.len() {
        0 => None,
        16 => Some(format!("{v}:00Z")),
        19 => Some(format!("{v}Z")),
        _ => Some(v.to_string()),
    }
}

fn parse_minutes(field: &str, label: &str, value: &str) -> Result<Option<i64>, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse::<i64>()
        .map(Some)
        .map_err(|_| ApiError::validation(field, format!("{label} must be a whole number of minutes.")))
}

#[component]
fn StageForm(plan_id: i64, version: i64, stage: Option<Stage>) -> impl IntoView {
    let form = FormState::new();
    let text = |f: fn(&Stage) -> String| RwSignal::new(stage.as_ref().map(f).unwrap_or_default());
    let name = text(|s| s.name.clone());
    let goal = text(|s| s.goal.clone());
    let description = text(|s| s.description.clone());
    let planned_start = text(|s| s.planned_start.as_deref().map(to_local_input).unwrap_or_default());
    let duration = text(|s| s.planned_duration_minutes.map(|m| m.to_string()).unwrap_or_default());
    let soak = text(|s| s.min_soak_minutes.map(|m| m.to_string()).unwrap_or_default());
    let forward = text(|s| s.forward_runbook.clone());
    let rollback = text(|s| s.rollback_runbook.clone());
    let gate_roles = RwSignal::new(crate::gate::join_roles(
        stage.as_ref().map(|s| s.gate_roles.as_slice()).unwrap_or(&crate::gate::DEFAULT_GATE_ROLES),
    ));
    let gate_approvals = text(|s| s.gate_approvals.to_string());
    let auto_rollback = RwSignal::new(stage.as_ref().is_some_and(|s| s.auto_rollback));
    if gate_approvals.get_untracked().is_empty() {
        gate_approvals.set("1".into());
    }
    let stage_id = stage.as_ref().map(|s| s.id);

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if form.busy.get_untracked() {
            return;
        }
        form.reset();
        let numbers = parse_minutes("planned_duration_minutes", "Planned duration", &duration.get_untracked())
            .and_then(|d| Ok((d, parse_minutes("min_soak_minutes", "Minimum soak time", &soak.get_untracked())?)));
        let (duration, soak) = match numbers {
            Ok(n) => n,
            Err(e) => return form.show(e),
        };
        let roles = Some(crate::gate::parse_roles(&gate_roles.get_untracked()));
        let approvals = match gate_approvals.get_untracked().trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => return form.show(ApiError::validation("gate_approvals", "Approvals needed is a whole number.")),
        };
        let start = from_local_input(&planned_start.get_untracked());
        // A stage's status moves with start, pass and rollback on the plan page.
        let status: Option<StageStatus> = None;
        let to_page = move |_: &Plan| format!("/plans/{plan_id}?edit=1");
        match stage_id {
            None => {
                let new = NewStage {
                    version: Some(version),
                    name: name.get_untracked(),
                    goal: goal.get_untracked(),
                    description: description.get_untracked(),
                    status,
                    planned_start: start,
                    planned_duration_minutes: duration,
                    min_soak_minutes: soak,
                    forward_runbook: forward.get_untracked(),
                    rollback_runbook: rollback.get_untracked(),
                    position: None,
                    gate_roles: roles,
                    gate_approvals: approvals,
                    auto_rollback: Some(auto_rollback.get_untracked()),
                    ..Default::default()
                };
                match new.validate() {
                    Ok(()) => save_then_go(form, async move { api::add_stage(plan_id, &new).await }, to_page),
                    Err(e) => form.show(e),
                }
            }
            Some(stage_id) => {
                let patch = StagePatch {
                    version,
                    name: Some(name.get_untracked()),
                    goal: Some(goal.get_untracked()),
                    description: Some(description.get_untracked()),
                    status,
                    planned_start: Some(start),
                    planned_duration_minutes: Some(duration),
                    min_soak_minutes: Some(soak),
                    forward_runbook: Some(forward.get_untracked()),
                    rollback_runbook: Some(rollback.get_untracked()),
                    gate_roles: roles,
                    gate_approvals: approvals,
                    auto_rollback: Some(auto_rollback.get_untracked()),
                };
                match patch.validate() {
                    Ok(()) => save_then_go(form, async move { api::update_stage(plan_id, stage_id, &patch).await }, to_page),
                    Err(e) => form.show(e),
                }
            }
        }
    };

    view! {
        <form class="form" novalidate on:submit=on_submit>
            <FormBanner form/>
            <Field label="Name" name="name" value=name form required=true/>
            <Field label="Goal" name="goal" value=goal form hint="What is true when this stage has passed."/>
            <Field label="Planned start (UTC)" name="planned_start" value=planned_start form kind=Kind::DateTime/>
            <Field label="Planned duration (minutes)" name="planned_duration_minutes" value=duration form kind=Kind::Number/>
            <Field label="Minimum soak time (minutes)" name="min_soak_minutes" value=soak form kind=Kind::Number hint="How long the stage must run before the next gate may open."/>
            <Choice label="Who decides the go/no-go gate" name="gate_roles" value=gate_roles options=gate_role_options() form/>
            <Field label="Approvals needed" name="gate_approvals" value=gate_approvals form kind=Kind::Number
                hint="How many \"go\" votes open the gate. The person who asks cannot vote; one \"no-go\" stops it."/>
            <Checkbox label="Guards may roll this stage back without waiting for a rollback authority" name="auto_rollback"
                value=auto_rollback form id="auto_rollback"/>
            <Field label="Description" name="description" value=description form kind=Kind::Area hint="Markdown."/>
            <Field label="Forward runbook" name="forward_runbook" value=forward form kind=Kind::Area hint="Markdown: the steps to carry the stage out."/>
            <Field label="Rollback runbook" name="rollback_runbook" value=rollback form kind=Kind::Area hint="Markdown: the steps to undo it."/>
            <Actions form label=if stage_id.is_some() { "Save stage" } else { "Add stage" } cancel=format!("/plans/{plan_id}?edit=1")/>
        </form>
    }
}

/// The usual sets of deciders, as `Choice` options (value: the stored role list).
fn gate_role_options() -> Vec<(String, String)> {
    [
        ("migration_lead,rollback_authority", "Migration lead and rollback authority"),
        ("rollback_authority", "Rollback authority"),
        ("migration_lead", "Migration lead"),
        ("on_call,rollback_authority", "On-call and rollback authority"),
        ("migration_lead,on_call,rollback_authority", "Migration lead, on-call and rollback authority"),
    ]
    .into_iter()
    .map(|(v, l)| (v.to_string(), l.to_string()))
    .collect()
}

// ---- risks ----

#[component]
pub fn RiskCreate() -> impl IntoView {
    with_plan(|plan| {
        view! {
            <Title text=format!("Add risk · {} · Runway", plan.title)/>
            <h1>"Add a risk to " {plan.title.clone()}</h1>
            <RiskForm plan_id=plan.id version=plan.version risk=None/>
        }
    })
}

#[component]
pub fn RiskEdit() -> impl IntoView {
    let params = use_params_map();
    let risk_id = move || param_id(&params.read(), "risk_id");
    with_plan(move |plan| match plan.risks.iter().find(|r| r.id == risk_id()).cloned() {
        Some(risk) => view! {
            <Title text="Edit risk · Runway"/>
            <h1>"Edit risk"</h1>
            <RiskForm plan_id=plan.id version=plan.version risk=Some(risk)/>
        }
        .into_any(),
        None => view! { <ErrorPanel error=ApiError::not_found("Risk")/> }.into_any(),
    })
}

#[component]
fn RiskForm(plan_id: i64, version: i64, risk: Option<Risk>) -> impl IntoView {
    let form = FormState::new();
    let text = RwSignal::new(risk.as_ref().map(|r| r.risk.clone()).unwrap_or_default());
    let mitigation = RwSignal::new(risk.as_ref().map(|r| r.mitigation.clone()).unwrap_or_default());
    let level = |f: fn(&Risk) -> Level| RwSignal::new(risk.as_ref().map(f).unwrap_or(Level::Medium).as_str().to_string());
    let likelihood = level(|r| r.likelihood);
    let impact = level(|r| r.impact);
    let risk_id = risk.as_ref().map(|r| r.id);

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if form.busy.get_untracked() {
            return;
        }
        form.reset();
        let likelihood = Level::parse(&likelihood.get_untracked()).unwrap_or(Level::Medium);
        let impact = Level::parse(&impact.get_untracked()).unwrap_or(Level::Medium);
        let to_page = move |_: &Plan| format!("/plans/{plan_id}?edit=1");
        match risk_id {
            None => {
                let new = NewRisk {
                    version: Some(version),
                    risk: text.get_untracked(),
                    likelihood,
                    impact,
                    mitigation: mitigation.get_untracked(),
                };
                match new.validate() {
                    Ok(()) => save_then_go(form, async move { api::add_risk(plan_id, &new).await }, to_page),
                    Err(e) => form.show(e),
                }
            }
            Some(risk_id) => {
                let patch = RiskPatch {
                    version,
                    risk: Some(text.get_untracked()),
                    likelihood: Some(likelihood),
                    impact: Some(impact),
                    mitigation: Some(mitigation.get_untracked()),
                };
                match patch.validate() {
                    Ok(()) => save_then_go(form, async move { api::update_risk(plan_id, risk_id, &patch).await }, to_page),
                    Err(e) => form.show(e),
                }
            }
        }
    };

    view! {
        <form class="form" novalidate on:submit=on_submit>
            <FormBanner form/>
            <Field label="Risk" name="risk" value=text form required=true/>
            <Choice label="Likelihood" name="likelihood" value=likelihood options=level_options() form/>
            <Choice label="Impact" name="impact" value=impact options=level_options() form/>
            <Field label="Mitigation" name="mitigation" value=mitigation form kind=Kind::Area/>
            <Actions form label=if risk_id.is_some() { "Save risk" } else { "Add risk" } cancel=format!("/plans/{plan_id}?edit=1")/>
        </form>
    }
}
