//! The approval inbox: everything waiting for the signed-in person's decision (gates,
//! rollbacks, sign-offs), oldest first, each decided with a comment in one step.
use super::form::FormState;
use super::stage_gate::Ballot;
use super::{short_time, ErrorPanel, Ready};
use crate::api;
use crate::error::ApiError;
use crate::gate::{NewVote, RollbackDecision, Verdict, Vote};
use crate::inbox::{list_inbox, InboxItem, InboxKind};
use crate::live::on_live_change;
use crate::review::{Decision, NewSignOff};
use leptos::prelude::*;
use leptos_meta::Title;

/// Changes that can add to or take from someone's inbox: anything on a plan.
fn concerns_inbox(seen: &crate::live::Seen) -> bool {
    seen.plan_id.is_some()
}

/// "Inbox" in the header, with how many decisions wait. The count is fetched in the
/// browser after hydration (and again on live changes), so the server-rendered header
/// never has to agree with it.
#[component]
pub fn InboxLink() -> impl IntoView {
    let count = RwSignal::new(0usize);
    let reload = RwSignal::new(0u32);
    Effect::new(move |_| {
        reload.track();
        leptos::task::spawn_local(async move {
            if let Ok(items) = list_inbox().await {
                count.set(items.len());
            }
        });
    });
    on_live_change(concerns_inbox, move || reload.update(|n| *n += 1));
    view! {
        <a href="/inbox">"Inbox"
            {move || {
                let n = count.get();
                (n > 0).then(|| view! { <span class="count-badge" aria-label=format!("{n} waiting for you")>{n}</span> })
            }}
        </a>
    }
}

#[component]
pub fn InboxPage() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let items = super::resource(move || reload.get(), |_| list_inbox());
    let error = RwSignal::new(None::<ApiError>);
    on_live_change(concerns_inbox, move || reload.update(|n| *n += 1));
    view! {
        <Title text="Inbox · Runway"/>
        <h1>"Waiting for your decision"</h1>
        {move || error.get().map(|e| view! { <p class="error-box" role="alert">{e.message}</p> })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match items.await {
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"Nothing waits for you. Gates, rollbacks and sign-offs that need you appear here."</p>
                        <Ready/>
                    }
                    .into_any(),
                    Ok(list) => view! {
                        <ol class="inbox">
                            {list.into_iter().map(|item| view! { <InboxRow item reload error/> }).collect_view()}
                        </ol>
                        <Ready/>
                    }
                    .into_any(),
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn InboxRow(item: InboxItem, reload: RwSignal<u32>, error: RwSignal<Option<ApiError>>) -> impl IntoView {
    let field = format!("inbox-comment-{}-{}", item.kind.label().replace('/', "-"), item.id);
    let what = match (&item.kind, &item.stage_name) {
        (InboxKind::Gate, Some(stage)) => format!("Go/no-go for {stage}"),
        (InboxKind::Rollback, Some(stage)) => format!("Rollback of {stage}"),
        _ => "Sign-off".to_string(),
    };
    let (approve_text, reject_text) = match item.kind {
        InboxKind::Gate => ("Go", "No-go"),
        InboxKind::Rollback => ("Approve rollback", "Reject"),
        InboxKind::SignOff => ("Sign off", "Request changes"),
    };
    let subject = format!("{what} on {}", item.plan_title);
    let (approve_label, reject_label) = (format!("{approve_text}: {subject}"), format!("{reject_text}: {subject}"));
    let asked = if item.requested_by.is_empty() {
        format!("In review since {}", short_time(&item.requested_at))
    } else {
        format!("Asked by {} at {}", item.requested_by, short_time(&item.requested_at))
    };
    let note = (!item.note.is_empty()).then(|| item.note.clone());
    let (kind, id, plan_id, version) = (item.kind, item.id, item.plan_id, item.plan_version);
    let form = FormState::prefixed("inbox").with_banner(error);
    let decide = move |yes: bool, text: String| {
        let done = move |_| reload.update(|n| *n += 1);
        match kind {
            InboxKind::Gate => {
                let v = NewVote { vote: if yes { Vote::Go } else { Vote::NoGo }, rationale: text };
                if let Err(e) = v.validate() {
                    return form.show(e);
                }
                form.send(async move { api::vote(plan_id, id, &v).await }, done);
            }
            InboxKind::Rollback => {
                let d = RollbackDecision { decision: if yes { Verdict::Approve } else { Verdict::Reject }, comment: text };
                if let Err(e) = d.validate() {
                    return form.show(e);
                }
                form.send(async move { api::decide_rollback(plan_id, id, &d).await }, done);
            }
            InboxKind::SignOff => {
                let s = NewSignOff { version, decision: if yes { Decision::Approved } else { Decision::ChangesRequested }, comment: text };
                if let Err(e) = s.validate() {
                    return form.show(e);
                }
                form.send(async move { api::sign_off(plan_id, &s).await }, done);
            }
        }
    };
    // The text is a vote's rationale, or a decision's comment.
    let name = if matches!(kind, InboxKind::Gate) { "rationale" } else { "comment" };
    view! {
        <li class=format!("inbox-item inbox-{}", item.kind.label().to_lowercase().replace('/', "-"))>
            <p class="inbox-what"><span class="badge">{item.kind.label()}</span> " "
                <a href=format!("/plans/{plan_id}")>{subject.clone()}</a></p>
            <p class="small">{asked} {note.map(|n| view! { <q>{n}</q> })}</p>
            <Ballot form name field label="Comment" yes=(approve_text, approve_label) no=(reject_text, reject_label) decide/>
        </li>
    }
}
