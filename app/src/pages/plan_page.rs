//! A plan: its stages as a timeline, its risks, and its Markdown.
use super::plan_people::{Discussion, ReviewPanel, RolesPanel};
use super::stage_checklist::StageChecklist;
use super::stage_flags::StageFlags;
use super::stage_gate::{Runner, StageGate};
use super::{confirm, param_id, short_time, ErrorPanel, PlanStatusBadge, Ready, StageStatusBadge};
use crate::api;
use crate::error::ApiError;
use crate::plan::{get_plan_view, PlanView, StageHtml};
use crate::stage::{format_minutes, Stage, StageOrder};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

#[component]
pub fn PlanPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || param_id(&params.read(), "id");
    // Bumped after each change made from this page, to fetch the plan again.
    let reload = RwSignal::new(0u32);
    let plan = Resource::new(move || (id(), reload.get()), |(id, _)| get_plan_view(id));
    let action_error = RwSignal::new(None::<ApiError>);
    // Someone else voted, decided or changed the plan: show it without a reload. Our own
    // change reloads the plan when it answers, not again when its event comes back.
    crate::live::on_live_change(
        move |seen| seen.plan_id == Some(id()) && !seen.is_own(),
        move || reload.update(|n| *n += 1),
    );
    // The page reads as a document; `?edit=1` (the "Edit" button) adds the editing
    // controls, for those who may edit. Switching re-renders, it does not refetch.
    let query = use_query_map();
    let editing = Memo::new(move |_| query.read().get("edit").as_deref() == Some("1"));

    view! {
        <Transition fallback=|| view! { <p aria-busy="true">"Loading the plan…"</p> }>
            {move || {
                let editing = editing.get();
                Suspend::new(async move {
                    match plan.await {
                        Ok(view) => view! { <PlanBody view reload action_error editing/><Ready/> }.into_any(),
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn PlanBody(view: PlanView, reload: RwSignal<u32>, action_error: RwSignal<Option<ApiError>>, editing: bool) -> impl IntoView {
    let runner = Runner { username: view.my_name().to_string(), roles: view.my_roles(), admin: view.i_am_admin(), lead: view.can.edit };
    let PlanView { plan, description_html, stages_html, comments, can, flag_keys, killed_flags, checklist_sources, adoption, guard_series, .. } = view;
    let plan_status = plan.status;
    let waiting_for = plan.waiting_for_sign_off();
    let people_plan = plan.clone();
    let stage_names: Vec<(i64, String)> = plan.stages.iter().map(|s| (s.id, s.name.clone())).collect();
    let (plan_id, version) = (plan.id, plan.version);
    let stage_ids = StoredValue::new(plan.stages.iter().map(|s| s.id).collect::<Vec<i64>>());
    let stage_count = plan.stages.len();
    // Stages run in order: only the first one not yet passed may ask for its gate.
    let next_stage = plan.stages.iter().find(|s| s.status != crate::stage::StageStatus::Passed).map(|s| s.id);
    let navigate = use_navigate();

    // Every change below is made against the version this page shows; a stale
    // page gets the conflict message instead of overwriting someone's change.
    let run = move |fut: std::pin::Pin<Box<dyn std::future::Future<Output = Result<crate::plan::Plan, ApiError>>>>| {
        super::change_then_reload(reload, action_error, fut);
    };
    let move_stage = move |from: usize, to: usize| {
        let mut ids = stage_ids.get_value();
        let id = ids.remove(from);
        ids.insert(to, id);
        let order = StageOrder { version, stage_ids: ids };
        run(Box::pin(async move { api::reorder_stages(plan_id, &order).await }));
    };
    let archived = plan.archived_at.is_some();
    // Editing controls: only for editors, only when they asked for them.
    let edit = can.edit && editing && !archived;
    let restore = move |_| {
        let patch = crate::plan::PlanPatch { version, archived: Some(false), ..Default::default() };
        run(Box::pin(async move { api::update_plan(plan_id, &patch).await }));
    };
    let archive = move |_| {
        if !confirm("Archive this plan? It leaves the plan list; its history is kept.") {
            return;
        }
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::archive_plan(plan_id, version).await {
                Ok(_) => navigate("/plans", Default::default()),
                Err(e) => action_error.set(Some(e)),
            }
        });
    };

    let stages = plan
        .stages
        .into_iter()
        .zip(stages_html)
        .enumerate()
        .map(|(i, (stage, html))| {
            let series: Vec<_> = guard_series.iter().filter(|s| stage.guards.iter().any(|g| g.id == s.guard_id)).cloned().collect();
            // A started stage runs as it was signed off: no editing it.
            let can_edit = edit && !stage.is_frozen();
            let waiting = (plan_status != crate::plan::PlanStatus::Draft && stage.awaits_sign_off())
                .then(|| (stage.change_note.clone().unwrap_or_default(), waiting_for.clone()));
            let flags = view! {
                <StageChecklist plan_id version stage_id=stage.id items=stage.checklist.clone() can_edit can_run=can.run
                    sources=checklist_sources.clone() reload error=action_error/>
                <StageFlags plan_id version stage=stage.clone() can_edit flag_keys=flag_keys.clone() reload error=action_error/>
                <StageGate plan_id version plan_status is_next={next_stage == Some(stage.id)} stage=stage.clone() rollback_runbook_html=html.rollback_runbook.clone()
                    runner=runner.clone() reload error=action_error/>
                <super::stage_guards::StageGuards plan_id version stage=stage.clone() series can_edit can_run=can.run reload error=action_error/>
                <super::stage_runbook::StageRuns plan_id stage=stage.clone() runs_html=html.runs.clone()
                    runbooks=(!html.forward_runbook.is_empty(), !html.rollback_runbook.is_empty()) can_run=can.run reload error=action_error/>
            }
            .into_any();
            view! {
                <StageItem
                    flags
                    stage
                    html
                    index=i
                    count=stage_count
                    can_edit
                    waiting
                    on_move=move_stage
                    on_remove=move |stage_id: i64| {
                        if confirm("Remove this stage from the plan?") {
                            run(Box::pin(async move { api::delete_stage(plan_id, stage_id, version).await }));
                        }
                    }
                />
            }
        })
        .collect_view();

    let risks = plan
        .risks
        .into_iter()
        .map(|r| {
            let risk_id = r.id;
            let label = format!("Remove risk: {}", r.risk);
            view! {
                <tr class="risk-row">
                    <td>{r.risk}</td>
                    <td><span class=format!("level level-{}", r.likelihood.as_str())>{r.likelihood.label()}</span></td>
                    <td><span class=format!("level level-{}", r.impact.as_str())>{r.impact.label()}</span></td>
                    <td>{r.mitigation}</td>
                    <td class="row-actions">
                        {edit.then(|| view! {
                        <a href=format!("/plans/{plan_id}/risks/{risk_id}/edit")>"Edit"</a>
                        <button
                            type="button"
                            class="link danger"
                            aria-label=label
                            on:click=move |_| {
                                if confirm("Remove this risk?") {
                                    run(Box::pin(async move { api::delete_risk(plan_id, risk_id, version).await }));
                                }
                            }
                        >
                            "Remove"
                        </button>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    let has_risks = !risks.is_empty();
    let export_url = format!("/api/v1/plans/{plan_id}/export.md");
    let page_url = format!("/plans/{plan_id}");

    view! {
        <Title text=format!("{} · Runway", plan.title)/>
        <article class="plan" data-plan-id=plan_id data-version=version>
            <div class="page-head">
                <div>
                    <h1>{plan.title.clone()}</h1>
                    <p class="summary">{plan.summary.clone()}</p>
                </div>
                {if !can.edit {
                    view! {
                        <div class="head-actions">
                            <a class="button" href=export_url.clone() download>"Download Markdown"</a>
                            {can.history.then(|| view! { <a class="button" href=format!("/audit?plan_id={plan_id}")>"History"</a> })}
                        </div>
                    }.into_any()
                } else if archived {
                    view! {
                        <div class="head-actions">
                            <a class="button" href=export_url.clone() download>"Download Markdown"</a>
                            <button type="button" class="button" on:click=restore>"Restore"</button>
                        </div>
                    }.into_any()
                } else if !edit {
                    view! {
                        <div class="head-actions">
                            <a class="button primary" href=format!("{page_url}?edit=1")>"Edit"</a>
                            <a class="button" href=export_url.clone() download>"Download Markdown"</a>
                            {can.history.then(|| view! { <a class="button" href=format!("/audit?plan_id={plan_id}")>"History"</a> })}
                        </div>
                    }.into_any()
                } else {
                    view! {
                        <div class="head-actions">
                            <a class="button primary" href=page_url.clone()>"Done editing"</a>
                            <a class="button" href=format!("/plans/{plan_id}/edit")>"Edit title and description"</a>
                            <a class="button" href=export_url.clone() download>"Download Markdown"</a>
                            {can.history.then(|| view! { <a class="button" href=format!("/audit?plan_id={plan_id}")>"History"</a> })}
                            <button type="button" class="button danger" on:click=archive>"Archive"</button>
                        </div>
                    }.into_any()
                }}
            </div>
            {edit.then(|| view! {
                <p class="notice editing" role="status">"Editing: changes save as you make them. A change to a plan in review or approved sends it back for sign-off."</p>
            })}
            {archived.then(|| view! {
                <p class="error-box archived" role="status">"This plan is archived: it is read-only and hidden from the plan list. Restore it to change it."</p>
            })}
            {killed_flags.into_iter().map(|(key, by, at)| view! {
                <p class="error-box killed-flag" role="alert">
                    <strong>{format!("Flag {key} was killed")}</strong>
                    {format!(" by {by} on {}: it is off in every environment until someone turns it on again. ", short_time(&at))}
                    <a href=format!("/flags/{}", super::encode(&key))>"Open the flag"</a>
                </p>
            }).collect_view()}
            <dl class="facts">
                <div><dt>"Status"</dt><dd><PlanStatusBadge status=plan.status/></dd></div>
                <div><dt>"Owner"</dt><dd>{if plan.owner.is_empty() { "—".to_string() } else { plan.owner.clone() }}</dd></div>
                <div><dt>"Version"</dt><dd class="plan-version">{version}</dd></div>
                <div><dt>"Updated"</dt><dd><time datetime=plan.updated_at.clone()>{short_time(&plan.updated_at)}</time></dd></div>
                {plan.archived_at.clone().map(|a| view! { <div><dt>"Archived"</dt><dd>{short_time(&a)}</dd></div> })}
            </dl>
            {move || action_error.get().map(|e| {
                let conflict = e.is_conflict();
                view! {
                    <div class=if conflict { "error-box conflict" } else { "error-box" } role="alert">
                        <p>{e.message}</p>
                        {conflict.then(|| view! {
                            <p><button type="button" class="link" on:click=move |_| { action_error.set(None); reload.update(|n| *n += 1) }>"Load the latest version"</button></p>
                        })}
                    </div>
                }
            })}

            <div class="plan-people">
                <ReviewPanel plan=people_plan.clone() can_edit=can.edit can_sign_off=can.sign_off reload error=action_error/>
                <RolesPanel plan_id roles=people_plan.roles.clone() can_assign={can.assign && edit} reload error=action_error/>
            </div>

            {adoption.map(|adoption| view! { <super::adoption::AdoptionPanel adoption/> })}

            <section aria-labelledby="stages-heading">
                <div class="section-head">
                    <h2 id="stages-heading">{format!("Stages ({stage_count})")}</h2>
                    {edit.then(|| view! { <a class="button" href=format!("/plans/{plan_id}/stages/new")>"Add stage"</a> })}
                </div>
                <ol class="timeline">{stages}</ol>
                {(stage_count == 0).then(|| view! { <p class="empty">"No stages yet."</p> })}
            </section>

            <section aria-labelledby="risks-heading">
                <div class="section-head">
                    <h2 id="risks-heading">"Risks"</h2>
                    {edit.then(|| view! { <a class="button" href=format!("/plans/{plan_id}/risks/new")>"Add risk"</a> })}
                </div>
                {if has_risks {
                    view! {
                        <table class="risks">
                            <thead>
                                <tr>
                                    <th scope="col">"Risk"</th>
                                    <th scope="col">"Likelihood"</th>
                                    <th scope="col">"Impact"</th>
                                    <th scope="col">"Mitigation"</th>
                                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                </tr>
                            </thead>
                            <tbody>{risks}</tbody>
                        </table>
                    }.into_any()
                } else {
                    view! { <p class="empty">"No risks recorded."</p> }.into_any()
                }}
            </section>

            <section aria-labelledby="description-heading">
                <h2 id="description-heading">"Description"</h2>
                <div class="markdown" inner_html=description_html></div>
            </section>

            <Discussion plan_id comments stages=stage_names can_comment=can.comment reload error=action_error/>
        </article>
    }
}

#[component]
fn StageItem(
    stage: Stage,
    html: StageHtml,
    index: usize,
    count: usize,
    on_move: impl Fn(usize, usize) + Copy + 'static,
    on_remove: impl Fn(i64) + Copy + 'static,
    can_edit: bool,
    /// Changed after sign-off: who changed what, and whose sign-off it waits for.
    waiting: Option<(String, Vec<String>)>,
    flags: AnyView,
) -> impl IntoView {
    let Stage { id, plan_id, name, goal, status, planned_start, planned_duration_minutes, min_soak_minutes, .. } = stage;
    let heading_id = format!("stage-{id}-name");
    let up_label = format!("Move {name} up");
    let down_label = format!("Move {name} down");
    let remove_label = format!("Remove {name}");
    view! {
        <li class=format!("stage stage-{}", status.as_str()) data-stage-id=id aria-labelledby=heading_id.clone()>
            <div class="stage-marker" aria-hidden="true">{index + 1}</div>
            <div class="stage-body">
                <div class="stage-head">
                    <h3 class="stage-name" id=heading_id.clone()>{name}</h3>
                    <StageStatusBadge status/>
                </div>
                {waiting.map(|(note, who)| {
                    let who = if who.is_empty() { "the stakeholders".to_string() } else { who.join(", ") };
                    view! {
                        <p class="notice waiting-sign-off" role="status">
                            <strong>"Changed after sign-off. "</strong>{note}" "
                            {format!("Waiting for sign-off from {who}.")}
                        </p>
                    }
                })}
                {(!goal.is_empty()).then(|| view! { <p class="goal">{goal}</p> })}
                <dl class="facts small">
                    {planned_start.map(|s| view! { <div><dt>"Planned start"</dt><dd><time datetime=s.clone()>{short_time(&s)}</time></dd></div> })}
                    {planned_duration_minutes.map(|m| view! { <div><dt>"Duration"</dt><dd>{format_minutes(m)}</dd></div> })}
                    {min_soak_minutes.map(|m| view! { <div><dt>"Minimum soak"</dt><dd>{format_minutes(m)}</dd></div> })}
                </dl>
                <MarkdownSection title="Description" html=html.description/>
                <MarkdownSection title="Forward runbook" html=html.forward_runbook/>
                <MarkdownSection title="Rollback runbook" html=html.rollback_runbook/>
                {flags}
                {can_edit.then(|| view! {
                <div class="stage-actions">
                    <a href=format!("/plans/{plan_id}/stages/{id}/edit")>"Edit"</a>
                    <button type="button" class="link" aria-label=up_label disabled={index == 0} on:click=move |_| on_move(index, index - 1)>"Move up"</button>
                    <button type="button" class="link" aria-label=down_label disabled={index + 1 >= count} on:click=move |_| on_move(index, index + 1)>"Move down"</button>
                    <button type="button" class="link danger" aria-label=remove_label on:click=move |_| on_remove(id)>"Remove"</button>
                </div>
                })}
            </div>
        </li>
    }
    .into_any()
}

/// Collapsible so a long plan stays scannable; `<details>` needs no script.
#[component]
fn MarkdownSection(title: &'static str, html: String) -> impl IntoView {
    if html.trim().is_empty() {
        return ().into_any();
    }
    view! {
        <details class="md-section">
            <summary>{title}</summary>
            <div class="markdown" inner_html=html></div>
        </details>
    }
    .into_any()
}
