//! Running a stage from the plan page: ask for go/no-go, vote, watch the soak time,
//! mark it passed, ask for and decide a rollback, and follow the rollback runbook.
use super::form::{Field, FormState};
use super::plan_page::use_plan;
use super::{countdown, now_ms, rfc3339_ms, seconds, short_time, ticking_clock};
use crate::api;
use crate::gate::{GateRequest, GateStatus, NewVote, RollbackDecision, RollbackRequest, RollbackStatus, Verdict, Vote};
use crate::plan::PlanStatus;
use crate::role::PlanRole;
use crate::stage::{Stage, StageAction, StageStatus};
use leptos::prelude::*;

/// Who is looking at the plan page, as far as running stages goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Runner {
    pub username: String,
    pub roles: Vec<PlanRole>,
    pub admin: bool,
    /// Edits the plan: asks for go, passes and aborts stages.
    pub lead: bool,
}

impl Runner {
    fn holds(&self, role: PlanRole) -> bool {
        self.roles.contains(&role)
    }
}

#[component]
pub fn StageGate(
    plan_status: PlanStatus,
    /// The first stage not yet passed: the only one whose gate may be asked for.
    is_next: bool,
    stage: Stage,
    rollback_runbook_html: String,
    runner: Runner,
) -> impl IntoView {
    let state = use_plan();
    let plan_id = state.plan_id;
    let stage_id = stage.id;
    let name = stage.name.clone();
    let running = matches!(plan_status, PlanStatus::Approved | PlanStatus::Executing);
    let deciders = stage.gate_roles.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ");
    let needed = stage.gate_approvals;
    let heading_id = format!("gate-{stage_id}");

    // Asking for go.
    let ask = (runner.lead && running && is_next && stage.status == StageStatus::Pending).then(|| {
        let rationale = RwSignal::new(String::new());
        let form = state.form("gate", stage_id).small();
        let label = format!("Request go/no-go for {name}");
        let unmet = stage.unmet_checks().count();
        let submit = move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let req = GateRequest { version: state.version(), rationale: rationale.get_untracked() };
            if let Err(e) = req.validate() {
                return form.show(e);
            }
            state.submit(form, async move { api::request_gate(plan_id, stage_id, &req).await });
        };
        view! {
            <form class="inline-form small gate-ask" novalidate on:submit=submit>
                <Field label="Why it is ready (optional)" name="rationale" value=rationale form/>
                <button type="submit" class="button primary" aria-label=label>"Request go/no-go"</button>
                {(unmet > 0).then(|| view! { <p class="hint">{format!("{unmet} required check(s) must be at Pass first.")}</p> })}
            </form>
        }
    });

    // The open gate: its votes, and the viewer's vote when it is theirs to cast.
    let open = stage.open_gate().cloned().map(|gate| {
        let my_role = gate.roles.iter().copied().find(|r| runner.holds(*r));
        let voted = gate.votes.iter().any(|v| v.username == runner.username);
        let mine = gate.requested_by == runner.username;
        let may_vote = my_role.is_some() && !voted && !mine;
        let gate_id = gate.id;
        let votes = gate
            .votes
            .iter()
            .map(|v| view! { <li>{format!("{} — {} ({})", v.vote.label(), v.username, v.role.label())} {(!v.rationale.is_empty()).then(|| format!(": {}", v.rationale))}</li> })
            .collect_view();
        let go_votes = gate.votes.iter().filter(|v| v.vote == Vote::Go).count();
        let ballot = may_vote.then(|| {
            let form = state.form("vote", gate_id).small();
            let cast = move |go: bool, rationale: String| {
                let v = NewVote { vote: if go { Vote::Go } else { Vote::NoGo }, rationale };
                if let Err(e) = v.validate() {
                    return form.show(e);
                }
                state.submit(form, async move { api::vote(plan_id, gate_id, &v).await });
            };
            view! {
                <Ballot form name="rationale" field=format!("vote-rationale-{gate_id}") label="Rationale for your vote"
                    yes=("Go", format!("Go for {name}")) no=("No-go", format!("No-go for {name}")) decide=cast/>
            }
        });
        let why = (!gate.rationale.is_empty()).then(|| format!(" — “{}”", gate.rationale));
        let waiting = if mine {
            " You asked, so someone else decides.".to_string()
        } else if voted {
            " You have voted.".to_string()
        } else {
            String::new()
        };
        view! {
            <div class="gate-open" role="status">
                <p><strong>"Awaiting go/no-go"</strong>
                    {format!(": asked by {} at {}", gate.requested_by, short_time(&gate.requested_at))}{why}
                    {format!(". {go_votes} of {} go vote(s).", gate.approvals_required)}{waiting}</p>
                <ul class="votes">{votes}</ul>
                {ballot}
            </div>
        }
    });

    let history = stage
        .gates
        .iter()
        .filter(|g| g.status != GateStatus::Pending)
        .map(|g| {
            let decided = g.decided_at.as_deref().map(short_time).unwrap_or_default();
            let voters = g.votes.iter().map(|v| format!("{} {}", v.vote.label(), v.username)).collect::<Vec<_>>().join(", ");
            let why = g.decision_rationale.clone().filter(|r| !r.is_empty()).map(|r| format!(" — “{r}”"));
            view! {
                <li class=format!("gate-{}", g.status.as_str())>
                    <strong>{g.status.label()}</strong>{format!(" on {decided}, asked by {}", g.requested_by)}
                    {(!voters.is_empty()).then(|| format!(" ({voters})"))}{why}
                </li>
            }
        })
        .collect_view();

    // Soaking: a live countdown to when the stage may pass.
    let soak = (stage.status == StageStatus::Active).then(|| {
        let started = stage.started_at.as_deref().and_then(rfc3339_ms).unwrap_or_else(now_ms);
        let until = started + stage.min_soak_minutes.unwrap_or(0) * 60_000;
        let clock = ticking_clock();
        let pass_label = format!("Mark {name} passed");
        let can_pass = runner.lead && stage.open_rollback().is_none();
        view! {
            <p class="soak" role="timer" aria-live="off">
                {move || {
                    let left = until - clock.get();
                    if left > 0 {
                        format!("Soaking: {} left before this stage may pass and the next gate may open.", countdown(left))
                    } else {
                        "Minimum soak time is over: this stage may pass.".to_string()
                    }
                }}
            </p>
            {can_pass.then(|| view! {
                <button type="button" class="button" aria-label=pass_label
                    on:click=move |_| {
                        let action = StageAction { version: state.version(), reason: String::new() };
                        state.change(async move { api::pass_stage(plan_id, stage_id, &action).await })
                    }>"Mark passed"</button>
            })}
        }
    });

    let abort = (runner.lead && matches!(stage.status, StageStatus::Pending | StageStatus::AwaitingDecision) && running).then(|| {
        let label = format!("Abort {name}");
        let stage_name = name.clone();
        view! {
            <button type="button" class="link danger" aria-label=label on:click=move |_| {
                let Some(reason) = super::ask(&format!("Why is {stage_name} aborted? The plan stops here.")) else { return };
                let action = StageAction { version: state.version(), reason };
                state.change(async move { api::abort_stage(plan_id, stage_id, &action).await })
            }>"Abort stage"</button>
        }
    });

    let labelled_by = heading_id.clone();
    view! {
        <section class="gate" aria-labelledby=labelled_by>
            <h4 id=heading_id>"Go/no-go"</h4>
            <p class="small">{format!("Decided by {deciders}; {needed} go vote(s) needed. One no-go stops it.")}</p>
            {open}
            {ask}
            {soak}
            <ul class="gate-history small">{history}</ul>
            {abort}
            <StageRollback stage=stage.clone() runbook_html=rollback_runbook_html runner/>
        </section>
    }
    .into_any()
}

#[component]
fn StageRollback(stage: Stage, runbook_html: String, runner: Runner) -> impl IntoView {
    let state = use_plan();
    let plan_id = state.plan_id;
    let stage_id = stage.id;
    let name = stage.name.clone();
    let started = matches!(stage.status, StageStatus::Active | StageStatus::Passed);
    let may_ask = runner.admin || runner.holds(PlanRole::OnCall) || runner.holds(PlanRole::MigrationLead);

    let ask = (started && may_ask && stage.open_rollback().is_none()).then(|| {
        let reason = RwSignal::new(String::new());
        let form = state.form("rollback", stage_id).small();
        let label = format!("Request rollback of {name}");
        let submit = move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let req = RollbackRequest { reason: reason.get_untracked() };
            if let Err(e) = req.validate() {
                return form.show(e);
            }
            state.submit(form, async move { api::request_rollback(plan_id, stage_id, &req).await });
        };
        // Asked for, not shown on every started stage: the page stays a document.
        let asking = RwSignal::new(false);
        let open_label = format!("Roll back {name}…");
        view! {
            <button type="button" class="button small danger rollback-open-form" aria-expanded=move || asking.get().to_string()
                on:click=move |_| asking.update(|a| *a = !*a)>{open_label}</button>
            {move || asking.get().then(|| view! {
            <form class="inline-form small rollback-ask" novalidate on:submit=submit>
                <Field label="Reason to roll back" name="reason" value=reason form/>
                <button type="submit" class="button danger" aria-label=label.clone()>"Request rollback"</button>
            </form>
            })}
        }
    });

    let open = stage.open_rollback().cloned().map(|r| {
        let rollback_id = r.id;
        let may_decide = runner.holds(PlanRole::RollbackAuthority) && r.requested_by != runner.username;
        let decide = may_decide.then(|| {
            let form = state.form("rollback", rollback_id).small();
            let send = move |approve: bool, comment: String| {
                let d = RollbackDecision { decision: if approve { Verdict::Approve } else { Verdict::Reject }, comment };
                if let Err(e) = d.validate() {
                    return form.show(e);
                }
                state.submit(form, async move { api::decide_rollback(plan_id, rollback_id, &d).await });
            };
            view! {
                <Ballot form name="comment" field=format!("rollback-comment-{rollback_id}") label="Comment (required to reject)"
                    yes=("Approve rollback", format!("Approve rollback of {name}")) no=("Reject", format!("Reject rollback of {name}")) decide=send/>
            }
        });
        view! {
            <div class="rollback-open" role="alert">
                <p><strong>"Rollback requested"</strong>
                    {format!(" by {} at {}: “{}”. A rollback authority decides.", r.requested_by, short_time(&r.requested_at), r.reason)}</p>
                {decide}
            </div>
        }
    });

    let done = stage
        .rollbacks
        .iter()
        .filter(|r| r.status != RollbackStatus::Pending)
        .map(|r| {
            let by = r.decided_by.clone().unwrap_or_default();
            let text = match (r.status, r.duration_ms, r.target_seconds) {
                (RollbackStatus::Approved, Some(ms), Some(target)) => {
                    let verdict = if ms <= target * 1000 { "within" } else { "over" };
                    format!("Rolled back in {} ({verdict} the {target} s target), approved by {by}", seconds(ms))
                }
                (RollbackStatus::Approved, _, _) => format!("Rollback approved by {by}; reverting"),
                (status, _, _) => format!("Rollback {} by {by}", status.label().to_lowercase()),
            };
            let class = match r.within_target() {
                Some(false) => "rollback-time over",
                _ => "rollback-time",
            };
            let comment = r.decision_comment.clone().filter(|c| !c.is_empty()).map(|c| format!(" — “{c}”"));
            // The rollback is over when its runbook is: from the approval to the last step.
            let over = r.total_ms.map(|ms| format!(" Rollback runbook finished {} after the approval.", super::countdown(ms)));
            view! { <li class=class>{text}{format!(". Asked by {}: “{}”", r.requested_by, r.reason)}{comment}{over}</li> }
        })
        .collect_view();

    // Once rolled back, the rollback runbook is what the operator needs next.
    let runbook = (stage.status == StageStatus::RolledBack && !runbook_html.trim().is_empty()).then(|| {
        view! {
            <div class="rollback-runbook" role="region" aria-label=format!("Rollback runbook for {name}")>
                <h5>"Flags are back. Now follow the rollback runbook:"</h5>
                <div class="markdown" inner_html=runbook_html></div>
            </div>
        }
    });

    view! {
        <div class="rollback">
            {open}
            {ask}
            <ul class="rollback-history small">{done}</ul>
            {runbook}
        </div>
    }
    .into_any()
}

/// A text box and two buttons: the one-step decision used for votes, rollbacks and the
/// inbox. `yes`/`no` are (button text, accessible name); `decide(yes, text)`, which
/// shows its errors through `form`. `name` is the text's field as `validate()` names it,
/// `field` its element id.
#[allow(clippy::too_many_arguments)]
#[component]
pub fn Ballot(
    form: FormState,
    name: &'static str,
    field: String,
    label: &'static str,
    yes: (&'static str, String),
    no: (&'static str, String),
    decide: impl Fn(bool, String) + Copy + 'static,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    view! {
        <div class="ballot">
            <Field label name value=text form id=field/>
            <button type="button" class="button primary" aria-label=yes.1 on:click=move |_| decide(true, text.get_untracked())>{yes.0}</button>
            <button type="button" class="button danger" aria-label=no.1 on:click=move |_| decide(false, text.get_untracked())>{no.0}</button>
        </div>
    }
}
