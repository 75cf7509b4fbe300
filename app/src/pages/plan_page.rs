//! A plan: its stages as a timeline, its risks, and its Markdown.
use super::form::FormState;
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

/// What the parts of the plan page share: which plan, the version on screen, and how a
/// change made from the page reports back. Provided by the page, read with [`use_plan`].
#[derive(Clone, Copy)]
pub struct PlanState {
    pub plan_id: i64,
    version: Memo<i64>,
    reload: RwSignal<u32>,
    pub error: RwSignal<Option<ApiError>>,
}

impl PlanState {
    /// The version a change is made against: the one on screen when it is sent. A page
    /// that missed someone's change gets the conflict message instead of overwriting it.
    pub fn version(&self) -> i64 {
        self.version.get_untracked()
    }

    /// Sends a change; once it is made the page shows the plan as it is now, or the error.
    pub fn change<T: 'static>(&self, change: impl std::future::Future<Output = Result<T, ApiError>> + 'static) {
        self.change_then(change, || ());
    }

    /// Like [`change`](Self::change), with `done` run when it succeeded (to close or
    /// clear a form that stays on the page).
    pub fn change_then<T: 'static>(
        &self,
        change: impl std::future::Future<Output = Result<T, ApiError>> + 'static,
        done: impl FnOnce() + 'static,
    ) {
        let (reload, error) = (self.reload, self.error);
        error.set(None);
        spawn_local(async move {
            match change.await {
                Ok(_) => {
                    done();
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    }

    /// A form on the page with the page's banner: ids `{prefix}-{name}-{key}`, so each
    /// stage's (check's, gate's…) form has its own.
    pub fn form(&self, prefix: &str, key: impl std::fmt::Display) -> FormState {
        FormState::scoped(prefix, key).with_banner(self.error)
    }

    /// Sends a form's change, like [`change`](Self::change): what the server says about
    /// one of the form's fields shows next to it, anything else in the page's banner.
    pub fn submit<T: 'static>(&self, form: FormState, change: impl std::future::Future<Output = Result<T, ApiError>> + 'static) {
        self.submit_then(form, change, || ());
    }

    /// Like [`submit`](Self::submit), with `done` run when it succeeded.
    pub fn submit_then<T: 'static>(
        &self,
        form: FormState,
        change: impl std::future::Future<Output = Result<T, ApiError>> + 'static,
        done: impl FnOnce() + 'static,
    ) {
        let reload = self.reload;
        form.send(change, move |_| {
            done();
            reload.update(|n| *n += 1);
        });
    }

    pub fn reload(&self) {
        self.reload.update(|n| *n += 1);
    }
}

/// The plan page's shared state, for the components inside it.
pub fn use_plan() -> PlanState {
    expect_context::<PlanState>()
}

/// One part of the plan on screen, redrawn only when that part changed.
fn part<T>(shown: RwSignal<Option<PlanView>>, pick: impl Fn(&PlanView) -> T + Send + Sync + 'static) -> Memo<Option<T>>
where
    T: Clone + PartialEq + Send + Sync + 'static,
{
    Memo::new(move |_| shown.with(|v| v.as_ref().map(&pick)))
}

#[component]
pub fn PlanPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| param_id(&params.read(), "id"));
    let first = Resource::<_, HydrationCodec>::new_with_options(move || id.get(), get_plan_view, false);
    // The plan on screen. Changes fetch it again into here, and each part of the page
    // redraws only if its own part changed: a note half-typed in one stage survives
    // someone else's vote in another.
    let shown = RwSignal::new(None::<PlanView>);
    let reload = RwSignal::new(0u32);
    let error = RwSignal::new(None::<ApiError>);
    // Someone else voted, decided or changed the plan: show it without a reload. Our own
    // change fetches the plan when it answers, not again when its event comes back.
    crate::live::on_live_change(
        move |seen| seen.plan_id == Some(id.get_untracked()) && !seen.is_own(),
        move || reload.update(|n| *n += 1),
    );
    Effect::watch(
        move || reload.get(),
        move |asked, _, _| {
            let (asked, plan_id) = (*asked, id.get_untracked());
            spawn_local(async move {
                let answer = get_plan_view(plan_id).await;
                // A later fetch has started: its answer is newer than this one.
                if reload.get_untracked() != asked || id.get_untracked() != plan_id {
                    return;
                }
                match answer {
                    Ok(view) => shown.set(Some(view)),
                    Err(e) => error.set(Some(e)),
                }
            });
        },
        false,
    );
    // The page reads as a document; `?edit=1` (the "Edit" button) adds the editing
    // controls, for those who may edit. Switching redraws; it refetches only the first time
    // after hydration (below).
    let query = use_query_map();
    let editing = Memo::new(move |_| query.read().get("edit").as_deref() == Some("1"));
    let editing_at_first = editing.get_untracked();

    view! {
        <Transition fallback=|| view! { <p aria-busy="true">"Loading the plan…"</p> }>
            {move || {
                let editing = editing.get();
                Suspend::new(async move {
                    match first.await {
                        Ok(view) => {
                            let plan_id = view.plan.id;
                            // Another plan's first answer starts the page over; for the same plan
                            // the page keeps what it shows, which may be newer.
                            if shown.with_untracked(|s| s.as_ref().map(|s| s.plan.id)) != Some(view.plan.id) {
                                shown.set(Some(view));
                            }
                            // Hydrated from a copy without the Markdown, which stays on the page
                            // while the page is the server's; switching Edit mode draws the page
                            // anew, with the Markdown fetched first. Untracked: the page on
                            // screen until then is the one being replaced.
                            if editing != editing_at_first && shown.with_untracked(|s| s.as_ref().is_some_and(|s| s.html_elided)) {
                                match get_plan_view(plan_id).await {
                                    Ok(full) => shown.update_untracked(|s| *s = Some(full)),
                                    Err(e) => error.set(Some(e)),
                                }
                            }
                            view! { <PlanBody shown reload error editing/><Ready/> }.into_any()
                        }
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// The plan as the page's hydration data carries it: without the rendered Markdown, which
/// the page holds already ([`PlanView::without_html`]). JSON, read from its bytes as [`super::Json`] reads it.
struct HydrationCodec;

type Answer = Result<PlanView, ApiError>;

impl leptos::server::codee::Encoder<Answer> for HydrationCodec {
    type Error = serde_json::Error;
    type Encoded = String;
    fn encode(answer: &Answer) -> Result<String, serde_json::Error> {
        match answer {
            Ok(view) => serde_json::to_string(&Ok::<PlanView, ApiError>(view.without_html())),
            Err(_) => serde_json::to_string(answer),
        }
    }
}

impl leptos::server::codee::Decoder<Answer> for HydrationCodec {
    type Error = serde_json::Error;
    type Encoded = str;
    fn decode(json: &str) -> Result<Answer, serde_json::Error> {
        serde_json::from_slice(json.as_bytes())
    }
}

/// What a stage shows; the stage redraws when this changes, and only then.
#[derive(Clone, PartialEq)]
struct StageShown {
    stage: Stage,
    html: StageHtml,
    index: usize,
    count: usize,
    series: Vec<crate::guard::GuardSeries>,
    /// The first stage not yet passed: the only one whose gate may be asked for.
    is_next: bool,
    /// Changed after sign-off: the change note, and whose sign-off it waits for.
    waiting: Option<(String, Vec<String>)>,
    plan_status: crate::plan::PlanStatus,
    runner: Runner,
    can: crate::plan::Abilities,
    flag_keys: Vec<String>,
    checklist_sources: Vec<(i64, String)>,
}

fn stage_shown(view: &PlanView, stage_id: i64) -> Option<StageShown> {
    let plan = &view.plan;
    let index = plan.stages.iter().position(|s| s.id == stage_id)?;
    let stage = plan.stages[index].clone();
    let next = plan.stages.iter().find(|s| s.status != crate::stage::StageStatus::Passed).map(|s| s.id);
    let waiting = (plan.status != crate::plan::PlanStatus::Draft && stage.awaits_sign_off())
        .then(|| (stage.change_note.clone().unwrap_or_default(), plan.waiting_for_sign_off()));
    let series = view.guard_series.iter().filter(|s| stage.guards.iter().any(|g| g.id == s.guard_id)).cloned().collect();
    Some(StageShown {
        html: view.stages_html.get(index).cloned().unwrap_or_default(),
        index,
        count: plan.stages.len(),
        series,
        is_next: next == Some(stage_id),
        waiting,
        plan_status: plan.status,
        runner: Runner { username: view.my_name().to_string(), roles: view.my_roles(), admin: view.i_am_admin(), lead: view.can.edit },
        can: view.can,
        flag_keys: view.flag_keys.clone(),
        checklist_sources: view.checklist_sources.clone(),
        stage,
    })
}

/// The plan's own fields, without what has a part of its own (stages, risks).
fn plan_head(view: &PlanView) -> (crate::plan::Plan, crate::plan::Abilities, Vec<(String, String, String)>) {
    let plan = crate::plan::Plan { stages: vec![], risks: vec![], ..view.plan.clone() };
    (plan, view.can, view.killed_flags.clone())
}

#[component]
fn PlanBody(shown: RwSignal<Option<PlanView>>, reload: RwSignal<u32>, error: RwSignal<Option<ApiError>>, editing: bool) -> impl IntoView {
    let Some(plan_id) = shown.with_untracked(|v| v.as_ref().map(|v| v.plan.id)) else { return ().into_any() };
    let version = Memo::new(move |_| shown.with(|v| v.as_ref().map(|v| v.plan.version).unwrap_or_default()));
    let state = PlanState { plan_id, version, reload, error };
    provide_context(state);
    let navigate = use_navigate();
    let head = part(shown, plan_head);
    // The review panel reads which stages wait for sign-off again, not the rest of them.
    let review = part(shown, |v| {
        let mut plan = plan_head(v).0;
        plan.stages = v.plan.stages.iter().filter(|s| s.awaits_sign_off()).cloned().collect();
        (plan, v.can)
    });
    let stage_ids = part(shown, |v| v.plan.stages.iter().map(|s| s.id).collect::<Vec<i64>>());
    let stage_names = Signal::derive(move || shown.with(|v| v.as_ref().map(|v| v.plan.stages.iter().map(|s| (s.id, s.name.clone())).collect()).unwrap_or_default()));
    let risks = part(shown, |v| (v.plan.risks.clone(), v.can.edit && v.plan.archived_at.is_none()));
    let roles = part(shown, |v| v.plan.roles.clone());
    let adoption = part(shown, |v| v.adoption.clone());
    let description = part(shown, |v| v.description_html.clone());
    let comments = part(shown, |v| v.comments.clone());
    let comments = Signal::derive(move || comments.get().unwrap_or_default());
    let (can, archived) = shown.with_untracked(|v| v.as_ref().map(|v| (v.can, v.plan.archived_at.is_some()))).unwrap_or_default();
    // Editing controls: only for editors, only when they asked for them.
    let edit = can.edit && editing && !archived;

    let move_stage = move |from: usize, to: usize| {
        let mut ids = stage_ids.get_untracked().unwrap_or_default();
        let id = ids.remove(from);
        ids.insert(to, id);
        let order = StageOrder { version: state.version(), stage_ids: ids };
        state.change(async move { api::reorder_stages(plan_id, &order).await });
    };
    let remove_stage = move |stage_id: i64| {
        if confirm("Remove this stage from the plan?") {
            let version = state.version();
            state.change(async move { api::delete_stage(plan_id, stage_id, version).await });
        }
    };
    let restore = move |_| {
        let patch = crate::plan::PlanPatch { version: state.version(), archived: Some(false), ..Default::default() };
        state.change(async move { api::update_plan(plan_id, &patch).await });
    };
    let archive = move |_| {
        if !confirm("Archive this plan? It leaves the plan list; its history is kept.") {
            return;
        }
        let (navigate, version) = (navigate.clone(), state.version());
        spawn_local(async move {
            match api::archive_plan(plan_id, version).await {
                Ok(_) => navigate("/plans", Default::default()),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let archive = StoredValue::new(archive);

    let head_view = move || {
        let (plan, can, killed_flags) = head.get()?;
        let archived = plan.archived_at.is_some();
        let version = plan.version;
        let export_url = format!("/api/v1/plans/{plan_id}/export.md");
        let page_url = format!("/plans/{plan_id}");
        Some(view! {
            <Title text=format!("{} · Runway", plan.title)/>
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
                            <button type="button" class="button danger" on:click=move |ev| archive.with_value(|a| a(ev))>"Archive"</button>
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
        })
    };

    let risks_view = move || {
        let (risks, may_edit) = risks.get()?;
        let edit = edit && may_edit;
        if risks.is_empty() {
            return Some(view! { <p class="empty">"No risks recorded."</p> }.into_any());
        }
        let rows = risks
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
                                        let version = state.version();
                                        state.change(async move { api::delete_risk(plan_id, risk_id, version).await });
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
        Some(view! {
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
                <tbody>{rows}</tbody>
            </table>
        }.into_any())
    };

    view! {
        <article class="plan" data-plan-id=plan_id data-version=move || version.get()>
            {head_view}
            {move || error.get().map(|e| {
                let conflict = e.is_conflict();
                view! {
                    <div class=if conflict { "error-box conflict" } else { "error-box" } role="alert">
                        <p>{e.message}</p>
                        {conflict.then(|| view! {
                            <p><button type="button" class="link" on:click=move |_| { error.set(None); state.reload() }>"Load the latest version"</button></p>
                        })}
                    </div>
                }
            })}

            <div class="plan-people">
                {move || review.get().map(|(plan, can)| view! { <ReviewPanel plan can_edit=can.edit can_sign_off=can.sign_off/> })}
                {move || roles.get().map(|roles| view! { <RolesPanel roles can_assign={can.assign && edit}/> })}
            </div>

            {move || adoption.get().flatten().map(|adoption| view! { <super::adoption::AdoptionPanel adoption/> })}

            <section aria-labelledby="stages-heading">
                <div class="section-head">
                    <h2 id="stages-heading">{move || format!("Stages ({})", stage_ids.get().map(|s| s.len()).unwrap_or(0))}</h2>
                    {edit.then(|| view! { <a class="button" href=format!("/plans/{plan_id}/stages/new")>"Add stage"</a> })}
                </div>
                <ol class="timeline">
                    <For each=move || stage_ids.get().unwrap_or_default() key=|id| *id let:stage_id>
                        {
                            let shown = Memo::new(move |_| shown.with(|v| v.as_ref().and_then(|v| stage_shown(v, stage_id))));
                            move || shown.get().map(|s| view! { <StageItem shown=s edit on_move=move_stage on_remove=remove_stage/> })
                        }
                    </For>
                </ol>
                {move || stage_ids.get().is_some_and(|s| s.is_empty()).then(|| view! { <p class="empty">"No stages yet."</p> })}
            </section>

            <section aria-labelledby="risks-heading">
                <div class="section-head">
                    <h2 id="risks-heading">"Risks"</h2>
                    {edit.then(|| view! { <a class="button" href=format!("/plans/{plan_id}/risks/new")>"Add risk"</a> })}
                </div>
                {risks_view}
            </section>

            <section aria-labelledby="description-heading">
                <h2 id="description-heading">"Description"</h2>
                {move || description.get().map(|html| view! { <div class="markdown" inner_html=html></div> })}
            </section>

            <Discussion comments stages=stage_names can_comment=can.comment/>
        </article>
    }
    .into_any()
}

#[component]
fn StageItem(shown: StageShown, edit: bool, on_move: impl Fn(usize, usize) + Copy + 'static, on_remove: impl Fn(i64) + Copy + 'static) -> impl IntoView {
    let StageShown { stage, html, index, count, series, is_next, waiting, plan_status, runner, can, flag_keys, checklist_sources } = shown;
    // A started stage runs as it was signed off: no editing it.
    let can_edit = edit && !stage.is_frozen();
    let parts = view! {
        <StageChecklist stage_id=stage.id items=stage.checklist.clone() can_edit can_run=can.run sources=checklist_sources/>
        <StageFlags stage=stage.clone() can_edit flag_keys/>
        <StageGate plan_status is_next stage=stage.clone() rollback_runbook_html=html.rollback_runbook.clone() runner/>
        <super::stage_guards::StageGuards stage=stage.clone() series can_edit can_run=can.run/>
        <super::stage_runbook::StageRuns stage=stage.clone() runs_html=html.runs.clone()
            runbooks=(!html.forward_runbook.is_empty(), !html.rollback_runbook.is_empty()) can_run=can.run/>
    };
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
                {parts}
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
