//! Run mode on the plan page: start a run of a stage's runbook, check each step off (or
//! skip it with a reason), add notes, and see elapsed time against the plan, live for
//! everyone watching. A finished run stays, read-only, with its timeline.
use super::form::{Choice, Field};
use super::plan_page::use_plan;
use super::{countdown, now_ms, rfc3339_ms, short_time, ticking_clock};
use crate::api;
use crate::gate::RollbackStatus;
use crate::plan::RunHtml;
use crate::runbook::{format_seconds, NewRun, NewRunNote, RunbookKind, RunbookRun, StepResult, StepStatus};
use crate::stage::{Stage, StageStatus};
use leptos::prelude::*;

#[component]
pub fn StageRuns(
    stage: Stage,
    runs_html: Vec<RunHtml>,
    /// Whether the stage has a forward and a rollback runbook (the page gets them rendered).
    runbooks: (bool, bool),
    can_run: bool,
) -> impl IntoView {
    let state = use_plan();
    let plan_id = state.plan_id;
    let stage_id = stage.id;
    let open = |kind: RunbookKind| stage.runs.iter().any(|r| r.kind == kind && r.finished_at.is_none());
    let start_forward = can_run && stage.status == StageStatus::Active && runbooks.0 && !open(RunbookKind::Forward);
    let approved = stage.rollbacks.iter().rev().find(|r| r.status == RollbackStatus::Approved);
    let start_rollback = can_run
        && runbooks.1
        && approved.is_some_and(|rb| rb.runbook_finished_at.is_none() && !stage.runs.iter().any(|r| r.rollback_id == Some(rb.id)));
    let start = move |kind: RunbookKind| {
        state.change(async move { api::start_run(plan_id, stage_id, &NewRun { kind }).await });
    };
    if stage.runs.is_empty() && !start_forward && !start_rollback {
        return ().into_any();
    }
    let name = stage.name.clone();
    // Newest first.
    let mut pairs: Vec<(RunbookRun, RunHtml)> = stage
        .runs
        .into_iter()
        .enumerate()
        .map(|(i, run)| {
            let html = runs_html.get(i).cloned().unwrap_or(RunHtml { preface: String::new(), steps: vec![] });
            (run, html)
        })
        .collect();
    pairs.reverse();
    let runs = pairs.into_iter().map(|(run, html)| view! { <RunView run html can_run/> }).collect_view();
    view! {
        <div class="runs" role="region" aria-label=format!("Runbook runs of {name}")>
            <h4>"Run mode"</h4>
            <div class="run-actions">
                {start_forward.then(|| view! {
                    <button type="button" class="button primary" on:click=move |_| start(RunbookKind::Forward)>"Start forward runbook"</button>
                })}
                {start_rollback.then(|| view! {
                    <button type="button" class="button danger" on:click=move |_| start(RunbookKind::Rollback)>"Start rollback runbook"</button>
                })}
            </div>
            {runs}
        </div>
    }
    .into_any()
}

#[component]
fn RunView(run: RunbookRun, html: RunHtml, can_run: bool) -> impl IntoView {
    let state = use_plan();
    let plan_id = state.plan_id;
    let running = run.finished_at.is_none();
    let acting = running && can_run;
    let run_id = run.id;
    let started = rfc3339_ms(&run.started_at).unwrap_or_else(now_ms);
    let planned = run.planned_seconds();
    let planned_text = planned.map(|p| format!(" of {} planned", format_seconds(p))).unwrap_or_default();
    // Only a run under way needs a clock that ticks.
    let now = if running { ticking_clock() } else { signal(now_ms()).0 };
    let summary = match &run.finished_at {
        Some(done) => {
            let took = rfc3339_ms(done).unwrap_or(started) - started;
            let over = planned.is_some_and(|p| took > p * 1000);
            let text = format!("Finished {}: took {}{}.", short_time(done), countdown(took), planned_text);
            view! { <p class=if over { "run-elapsed over" } else { "run-elapsed" }>{text}</p> }.into_any()
        }
        None => {
            let text = move || {
                let took = now.get() - started;
                format!("Running: {} elapsed{}.", countdown(took), planned_text)
            };
            let class = move || if planned.is_some_and(|p| now.get() - started > p * 1000) { "run-elapsed over" } else { "run-elapsed" };
            view! { <p class=class role="timer" aria-live="off">{text}</p> }.into_any()
        }
    };
    let first_open = run.steps.iter().position(|s| s.status == StepStatus::Pending);
    let steps = run
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let position = s.position;
            let began = rfc3339_ms(run.step_began(i)).unwrap_or(started);
            let body = html.steps.get(i).cloned().unwrap_or_default();
            let planned = s.step.planned_seconds.map(|p| format!("planned {}", format_seconds(p)));
            let owner = match (&s.step.person, s.step.role) {
                (Some(p), _) => Some(format!("@{p}")),
                (None, Some(r)) => Some(r.label().to_string()),
                _ => None,
            };
            let meta = [owner, planned].into_iter().flatten().collect::<Vec<_>>().join(" · ");
            let outcome = match (s.status, &s.done_by, &s.done_at) {
                (StepStatus::Pending, _, _) if Some(i) == first_open && running => {
                    let text = move || format!("In progress: {}", countdown(now.get() - began));
                    Some(view! { <p class="step-outcome current">{text}</p> }.into_any())
                }
                (StepStatus::Pending, _, _) => None,
                (status, by, at) => {
                    let at = at.clone().unwrap_or_default();
                    let took = rfc3339_ms(&at).map(|t| countdown(t - began)).unwrap_or_default();
                    let text = match status {
                        StepStatus::Done => format!("Done by {} at {} · took {took}", by.clone().unwrap_or_default(), short_time(&at)),
                        _ => format!(
                            "Skipped by {} at {}: “{}”",
                            by.clone().unwrap_or_default(),
                            short_time(&at),
                            s.skip_reason.clone().unwrap_or_default()
                        ),
                    };
                    Some(view! { <p class="step-outcome">{text}</p> }.into_any())
                }
            };
            let pending = s.status == StepStatus::Pending;
            let title = s.step.title.clone();
            let done_label = format!("Mark step {} done: {title}", i + 1);
            let reason_id = format!("skip-{run_id}-{position}");
            let reason_label = format!("Reason for skipping step {}", i + 1);
            let reason = RwSignal::new(String::new());
            let form = state.form("skip", format!("{run_id}-{position}")).small();
            let done = move |_| {
                let result = StepResult { status: StepStatus::Done, reason: String::new() };
                state.change(async move { api::record_step(plan_id, run_id, position, &result).await });
            };
            let skip = move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                let result = StepResult { status: StepStatus::Skipped, reason: reason.get_untracked() };
                if let Err(e) = result.validate() {
                    return form.show(e);
                }
                state.submit(form, async move { api::record_step(plan_id, run_id, position, &result).await });
            };
            view! {
                <li class=format!("run-step step-{}", s.status.as_str()) data-step=position>
                    <div class="step-head">
                        <span class="step-status" aria-hidden="true">{match s.status { StepStatus::Done => "✓", StepStatus::Skipped => "↷", StepStatus::Pending => "○" }}</span>
                        <span class="step-title">{title.clone()}</span>
                        {(!meta.is_empty()).then(|| view! { <span class="step-meta">{meta}</span> })}
                    </div>
                    <div class="markdown step-body" inner_html=body></div>
                    {outcome}
                    {(acting && pending).then(|| view! {
                        <div class="step-actions">
                            <button type="button" class="button small primary" aria-label=done_label on:click=done>"Done"</button>
                            <form class="inline-form small" novalidate on:submit=skip>
                                <Field label=reason_label name="reason" value=reason form id=reason_id placeholder="Why skip it?" hidden_label=true/>
                                <button type="submit" class="button small">"Skip"</button>
                            </form>
                        </div>
                    })}
                </li>
            }
        })
        .collect_view();
    let step_titles: Vec<(i64, String)> = run.steps.iter().map(|s| (s.position, s.step.title.clone())).collect();
    let title_of = {
        let titles = step_titles.clone();
        move |p: i64| titles.iter().find(|(n, _)| *n == p).map(|(n, t)| format!("step {}: {t}", n + 1)).unwrap_or_default()
    };
    let notes = run
        .notes
        .iter()
        .map(|n| {
            let about = n.step.map(|s| format!(" ({})", title_of(s))).unwrap_or_default();
            view! { <li><strong>{n.author.clone()}</strong>{format!(" at {}{about}: ", short_time(&n.at))}{n.text.clone()}</li> }
        })
        .collect_view();
    let has_notes = !run.notes.is_empty();
    let note_text = RwSignal::new(String::new());
    let note_step = RwSignal::new(String::new());
    let note_form = state.form("note", run_id).small();
    let add_note = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let note = NewRunNote { step: note_step.get_untracked().parse().ok(), text: note_text.get_untracked() };
        if let Err(e) = note.validate() {
            return note_form.show(e);
        }
        state.submit(note_form, async move { api::add_run_note(plan_id, run_id, &note).await });
    };
    let timeline = (!running).then(|| timeline(&run));
    let kind = run.kind.label();
    let heading = format!("{kind} run #{run_id}");
    let label = heading.clone();
    let note_id = format!("note-{run_id}");
    let steps_about = std::iter::once((String::new(), "The whole run".to_string()))
        .chain(step_titles.iter().map(|(p, t)| (p.to_string(), format!("Step {}: {t}", p + 1))))
        .collect::<Vec<_>>();
    view! {
        <article class=if running { "run running" } else { "run finished" } data-run-id=run_id aria-label=label>
            <h5>{heading}{if running { " — running" } else { " — finished" }}</h5>
            <p class="muted">{format!("Started by {} at {}.", run.started_by, short_time(&run.started_at))}</p>
            {summary}
            {(!html.preface.trim().is_empty()).then(|| view! { <div class="markdown run-preface" inner_html=html.preface.clone()></div> })}
            <ol class="run-steps">{steps}</ol>
            {has_notes.then(|| view! { <h6>"Notes"</h6><ul class="run-notes">{notes}</ul> })}
            {acting.then(|| view! {
                <form class="inline-form small run-note" novalidate on:submit=add_note>
                    <Field label="Note" name="text" value=note_text form=note_form id=note_id placeholder="What happened"/>
                    <Choice label="About" name="step" value=note_step options=steps_about form=note_form/>
                    <button type="submit" class="button small">"Add note"</button>
                </form>
            })}
            {timeline}
        </article>
    }
    .into_any()
}

/// Everything that happened in a finished run, in time order.
fn timeline(run: &RunbookRun) -> impl IntoView {
    let mut events: Vec<(String, String)> = vec![(run.started_at.clone(), format!("Started by {}", run.started_by))];
    for s in &run.steps {
        if let (Some(at), Some(by)) = (&s.done_at, &s.done_by) {
            let what = if s.status == StepStatus::Skipped { "skipped" } else { "done" };
            events.push((at.clone(), format!("Step {} {what} by {by}: {}", s.position + 1, s.step.title)));
        }
    }
    for n in &run.notes {
        events.push((n.at.clone(), format!("Note by {}: {}", n.author, n.text)));
    }
    if let Some(done) = &run.finished_at {
        events.push((done.clone(), "Finished".into()));
    }
    // Same-second events keep the order they were added in.
    events.sort_by(|a, b| a.0.cmp(&b.0));
    view! {
        <details class="run-timeline" open>
            <summary>"Timeline"</summary>
            <ol>{events.into_iter().map(|(at, what)| view! { <li><time datetime=at.clone()>{short_time(&at)}</time>" "{what}</li> }).collect_view()}</ol>
        </details>
    }
}
