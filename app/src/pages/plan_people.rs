//! The plan page's people: who holds which role, the review and its sign-offs, and
//! the discussion (threaded per plan and per stage).
use super::form::{Choice, Field, FormState, Kind};
use super::plan_page::use_plan;
use super::short_time;
use crate::api;
use crate::error::ApiError;
use crate::person::{list_people, Person};
use crate::plan::{Plan, PlanStatus};
use crate::review::{Comment, Decision, NewComment, NewSignOff};
use crate::role::{NewRoleAssignment, PlanRole, RoleAssignment};
use leptos::prelude::*;

fn contact_of(p: &Person) -> String {
    if p.contact.is_empty() {
        p.username.clone()
    } else {
        p.contact.clone()
    }
}

#[component]
pub fn RolesPanel(roles: Vec<RoleAssignment>, can_assign: bool) -> impl IntoView {
    let state = use_plan();
    let plan_id = state.plan_id;
    let rows = PlanRole::ALL
        .into_iter()
        .map(|role| {
            let holders: Vec<RoleAssignment> = roles.iter().filter(|a| a.role == role).cloned().collect();
            let empty = holders.is_empty();
            let people = holders
                .into_iter()
                .map(|a| {
                    let label = format!("Remove {} as {}", a.person.name(), role.label());
                    let assignment = a.id;
                    view! {
                        <li class="holder">
                            <span class="holder-name">{a.person.name().to_string()}</span>
                            " "
                            <span class="contact">{contact_of(&a.person)}</span>
                            {can_assign.then(|| view! {
                                <button type="button" class="link danger" aria-label=label
                                    on:click=move |_| state.change(api::remove_role(plan_id, assignment))>"Remove"</button>
                            })}
                        </li>
                    }
                })
                .collect_view();
            view! {
                <div class=format!("role-row role-{}", role.as_str())>
                    <dt>{role.label()}</dt>
                    <dd>
                        <ul class="holders">{people}</ul>
                        {empty.then(|| view! { <span class="empty">"Nobody yet"</span> })}
                    </dd>
                </div>
            }
        })
        .collect_view();
    view! {
        <section aria-labelledby="roles-heading" class="panel roles">
            <h2 id="roles-heading">"People"</h2>
            <dl class="role-list">{rows}</dl>
            {can_assign.then(|| view! { <AssignForm/> })}
        </section>
    }
    .into_any()
}

#[component]
fn AssignForm() -> impl IntoView {
    let state = use_plan();
    let plan_id = state.plan_id;
    let form = FormState::prefixed("assign").with_banner(state.error);
    let people = super::resource(|| (), |_| list_people());
    let username = RwSignal::new(String::new());
    let role = RwSignal::new(PlanRole::Stakeholder.as_str().to_string());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(role) = PlanRole::parse(&role.get_untracked()) else { return };
        let new = NewRoleAssignment { username: username.get_untracked(), role };
        if new.username.is_empty() {
            return form.show(ApiError::validation("username", "Choose a person."));
        }
        state.submit(form, async move { api::assign_role(plan_id, &new).await });
    };
    let roles = PlanRole::ALL.into_iter().map(|r| (r.as_str().to_string(), r.label().to_string())).collect();
    view! {
        <form class="inline-form assign" novalidate on:submit=submit>
            <Suspense fallback=move || view! {
                <Choice label="Person" name="username" value=username options=vec![(String::new(), "Loading…".into())] form
                    id="assign-person" disabled=true/>
            }>
                {move || Suspend::new(async move {
                    let list = people.await.unwrap_or_default();
                    let options = std::iter::once((String::new(), "Choose a person".to_string()))
                        .chain(list.into_iter().map(|p| (p.username.clone(), format!("{} ({})", p.name(), p.username))))
                        .collect();
                    view! { <Choice label="Person" name="username" value=username options form id="assign-person"/> }
                })}
            </Suspense>
            <Choice label="Role" name="role" value=role options=roles form/>
            <button type="submit" class="button">"Assign role"</button>
        </form>
    }
    .into_any()
}

#[component]
pub fn ReviewPanel(
    /// The plan, with only its stages that changed after sign-off.
    plan: Plan,
    can_edit: bool,
    can_sign_off: bool,
) -> impl IntoView {
    let state = use_plan();
    // A sign-off is of the version shown here; a new version redraws the panel.
    let (plan_id, version, status) = (plan.id, plan.version, plan.status);
    let stakeholders: Vec<Person> = plan.holders(PlanRole::Stakeholder).cloned().collect();
    let signed = stakeholders
        .iter()
        .filter(|p| plan.signoffs.iter().any(|s| s.person.id == p.id && s.decision == Decision::Approved))
        .count();
    // A running plan whose stages changed after sign-off is signed off again, stage by stage.
    let changed: Vec<String> = plan.stages.iter().filter(|s| s.awaits_sign_off()).map(|s| s.name.clone()).collect();
    let resign = status == PlanStatus::Executing && !changed.is_empty();
    let summary = match status {
        _ if resign => format!(
            "Running; changed after sign-off: {}. {signed} of {} stakeholders have signed off the change.",
            changed.join(", "),
            stakeholders.len()
        ),
        PlanStatus::Draft => "Draft: not yet sent to its stakeholders for review.".to_string(),
        PlanStatus::InReview => format!("In review: {signed} of {} stakeholders have signed off.", stakeholders.len()),
        PlanStatus::Approved => "Approved: every stakeholder has signed off this version.".to_string(),
        other => format!("{}.", other.label()),
    };
    let states = stakeholders
        .iter()
        .map(|p| {
            let s = plan.signoffs.iter().find(|s| s.person.id == p.id);
            let (class, text) = match s {
                Some(s) if s.decision == Decision::Approved => ("signed", format!("signed off version {}", s.plan_version)),
                Some(s) => ("changes", format!("asked for changes: {}", s.comment)),
                None => ("waiting", "not signed off yet".to_string()),
            };
            let when = s.map(|s| short_time(&s.created_at)).unwrap_or_default();
            view! {
                <li class=format!("signoff signoff-{class}")>
                    <strong>{p.name().to_string()}</strong>" "{text}" "<span class="when">{when}</span>
                </li>
            }
        })
        .collect_view();
    let comment = RwSignal::new(String::new());
    let form = FormState::prefixed("signoff").with_banner(state.error);
    let decide = move |decision: Decision| {
        let new = NewSignOff { version, decision, comment: comment.get_untracked() };
        if let Err(e) = new.validate() {
            return form.show(e);
        }
        state.submit(form, async move { api::sign_off(plan_id, &new).await });
    };
    view! {
        <section aria-labelledby="review-heading" class="panel review">
            <h2 id="review-heading">"Review"</h2>
            {plan.review_note.clone().filter(|_| status == PlanStatus::InReview).map(|note| view! {
                <div class="notice review-note" role="status"><strong>"Sign-off needed again. "</strong>{note}</div>
            })}
            <p class="review-summary">{summary}</p>
            <ul class="signoffs">{states}</ul>
            {(can_edit && status == PlanStatus::Draft).then(|| view! {
                <button type="button" class="button" on:click=move |_| state.change(api::request_review(plan_id, version))>
                    "Send for review"
                </button>
            })}
            {(can_sign_off && (status == PlanStatus::InReview || resign)).then(|| view! {
                <div class="sign-off-form">
                    <Field label="Comment (required when asking for changes)" name="comment" value=comment form kind=Kind::Area rows=2/>
                    <div class="buttons">
                        <button type="button" class="button primary" on:click=move |_| decide(Decision::Approved)>
                            {format!("Sign off version {version}")}
                        </button>
                        <button type="button" class="button" on:click=move |_| decide(Decision::ChangesRequested)>"Request changes"</button>
                    </div>
                </div>
            })}
        </section>
    }
    .into_any()
}

#[component]
pub fn Discussion(
    #[prop(into)] comments: Signal<Vec<Comment>>,
    /// The plan's stages (id, name), for threads about one stage.
    #[prop(into)] stages: Signal<Vec<(i64, String)>>,
    can_comment: bool,
) -> impl IntoView {
    let state = use_plan();
    let replying = RwSignal::new(None::<i64>);
    // Each thread is keyed by its first comment, so a new comment or reply from someone
    // else adds to the page without closing a reply being written.
    let thread = move |about: Option<i64>| {
        view! {
            <For
                each=move || comments.with(|all| all.iter().filter(|c| c.parent_id.is_none() && c.stage_id == about).cloned().collect::<Vec<_>>())
                key=|c| c.id
                let:c
            >
                {
                    let id = c.id;
                    let label = format!("Reply to {}", c.author.name());
                    let replies = move || comments.with(|all| all.iter().filter(|r| r.parent_id == Some(id)).cloned().collect::<Vec<_>>());
                    view! {
                        <li class="comment" data-comment-id=id>
                            <CommentBody comment=c/>
                            <ul class="replies">
                                <For each=replies key=|r| r.id let:r>
                                    <li class="comment reply"><CommentBody comment=r/></li>
                                </For>
                            </ul>
                            {can_comment.then(|| view! {
                                <button type="button" class="link" aria-label=label on:click=move |_| replying.set(Some(id))>"Reply"</button>
                                {move || (replying.get() == Some(id)).then(|| view! {
                                    <CommentForm stage_id=None parent_id=Some(id) label="Your reply" posted=move || replying.set(None)/>
                                })}
                            })}
                        </li>
                    }
                }
            </For>
        }
    };
    let discussed = move || {
        comments.with(|all| stages.get().into_iter().filter(|(id, _)| all.iter().any(|c| c.stage_id == Some(*id))).collect::<Vec<_>>())
    };
    let about = RwSignal::new(String::new());
    let writing = RwSignal::new(false);
    // The new comment's form: what it is about, and its text.
    let form = FormState::prefixed("comment").with_banner(state.error);
    view! {
        <section aria-labelledby="discussion-heading" class="panel discussion">
            <h2 id="discussion-heading">"Discussion"</h2>
            {move || comments.with(|c| c.is_empty()).then(|| view! { <p class="empty">"No comments yet."</p> })}
            <ul class="thread">{thread(None)}</ul>
            <For each=discussed key=|about| about.clone() let:about>
                <h3 class="thread-about">{format!("On {}", about.1)}</h3>
                <ul class="thread">{thread(Some(about.0))}</ul>
            </For>
            {move || (can_comment && !writing.get()).then(|| view! {
                <button type="button" class="button" on:click=move |_| writing.set(true)>"Write a comment"</button>
            })}
            {move || (can_comment && writing.get()).then(|| view! {
                {
                    let options = std::iter::once((String::new(), "The whole plan".to_string()))
                        .chain(stages.get_untracked().into_iter().map(|(id, name)| (id.to_string(), name)))
                        .collect();
                    view! { <Choice label="About" name="stage_id" value=about options form id="comment-about"/> }
                }
                {move || {
                    let stage_id = about.get().parse::<i64>().ok();
                    view! { <CommentForm stage_id parent_id=None label="Your comment" form posted=move || { about.set(String::new()); writing.set(false) }/> }
                }}
            })}
        </section>
    }
    .into_any()
}

#[component]
fn CommentBody(comment: Comment) -> impl IntoView {
    view! {
        <p class="comment-meta"><strong>{comment.author.name().to_string()}</strong>" · "<time datetime=comment.created_at.clone()>{short_time(&comment.created_at)}</time></p>
        <p class="comment-body">{comment.body}</p>
    }
}

#[component]
fn CommentForm(
    stage_id: Option<i64>,
    parent_id: Option<i64>,
    label: &'static str,
    /// The form this one is part of (a new comment's, with what it is about); a reply has its own.
    #[prop(optional)]
    form: Option<FormState>,
    /// Run once the comment is posted: the form closes.
    posted: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let state = use_plan();
    let plan_id = state.plan_id;
    let body = RwSignal::new(String::new());
    let (form, field_id) = match parent_id {
        Some(p) => (form.unwrap_or_else(|| state.form("reply", p)), format!("reply-{p}")),
        None => (form.unwrap_or_else(|| FormState::prefixed("comment").with_banner(state.error)), "new-comment".to_string()),
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewComment { body: body.get_untracked(), stage_id, parent_id };
        if let Err(e) = new.validate() {
            return form.show(e);
        }
        state.submit_then(form, async move { api::add_comment(plan_id, &new).await }, posted);
    };
    view! {
        <form class="comment-form" novalidate on:submit=submit>
            <Field label=label name="body" value=body form kind=Kind::Area rows=3 id=field_id/>
            <button type="submit" class="button">"Post"</button>
        </form>
    }
}
