//! Signing in and out, and the header that shows who is signed in.
use super::Ready;
use crate::error::ApiError;
use crate::person::Viewer;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The signed-in person (or `None`), fetched once per page load.
#[derive(Clone, Copy)]
pub struct ViewerResource(pub Resource<Result<Option<Viewer>, ApiError>, super::Json>);

/// The viewer, for components inside a `Suspense`/`Transition`.
pub async fn viewer() -> Option<Viewer> {
    let resource = use_context::<ViewerResource>()?.0;
    resource.await.ok().flatten()
}

#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href="/plans">"Runway"</a>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    viewer().await.map(|v| {
                        let admin = v.is_admin();
                        let name = v.person.name().to_string();
                        let (csrf, csrf_field) = (v.csrf_token.clone(), v.csrf_token.clone());
                        view! {
                            <nav aria-label="Main">
                                <a href="/plans">"Plans"</a>
                                <a href="/plans/new">"New plan"</a>
                                <a href="/flags">"Flags"</a>
                                <a href="/workspaces">"Workspaces"</a>
                                <super::inbox::InboxLink/>
                                {admin.then(|| view! {
                                    <a href="/audit">"Audit log"</a>
                                    <a href="/people">"People"</a>
                                    <a href="/tokens">"API tokens"</a>
                                    <a href="/webhooks">"Webhooks"</a>
                                    <a href="/providers">"Providers"</a>
                                })}
                            </nav>
                            <form class="who" method="post" action="/auth/sign-out" data-csrf=csrf>
                                <span class="signed-in-as">"Signed in as " <strong>{name}</strong></span>
                                <input type="hidden" name="csrf" value=csrf_field/>
                                <button type="submit" class="link">"Sign out"</button>
                            </form>
                        }
                    })
                })}
            </Transition>
        </header>
    }
}

/// A plain form posted to `/auth/sign-in`: it works before the page's script loads.
#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let q = |name: &str| query.read_untracked().get(name).unwrap_or_default();
    let next = super::after_sign_in(&q("next")).to_string();
    let message = match (q("error").as_str(), q("expired").as_str(), q("signed_out").as_str()) {
        ("invalid_credentials", _, _) => Some(("error-box", "Wrong username or password.")),
        ("too_many_attempts", _, _) => {
            Some(("error-box", "Too many failed sign-ins. Wait a little, then try again."))
        }
        ("sign_in_busy", _, _) => Some(("error-box", "Too many sign-ins at once. Try again in a few seconds.")),
        ("cross_origin", _, _) => Some(("error-box", "Sign in from Runway's own sign-in page.")),
        (e, _, _) if !e.is_empty() => Some(("error-box", "Signing in failed; try again.")),
        (_, "1", _) => Some(("notice", "Your session has ended. Sign in again.")),
        (_, _, "1") => Some(("notice", "You are signed out.")),
        _ => None,
    };
    let failed = message.is_some_and(|(class, _)| class == "error-box");
    view! {
        <Title text="Sign in · Runway"/>
        <div class="sign-in">
            <h1>"Sign in to Runway"</h1>
            {message.map(|(class, text)| {
                let role = if class == "error-box" { "alert" } else { "status" };
                view! { <p class=class role=role id="sign-in-message">{text}</p> }
            })}
            <form method="post" action="/auth/sign-in" class="form">
                <input type="hidden" name="next" value=next/>
                <div class="field">
                    <label for="field-username">"Username"</label>
                    <input
                        id="field-username"
                        name="username"
                        autocomplete="username"
                        required
                        autofocus
                        value=q("username")
                        aria-invalid=if failed { "true" } else { "false" }
                        aria-describedby=if failed { "sign-in-message" } else { "" }
                    />
                </div>
                <div class="field">
                    <label for="field-password">"Password"</label>
                    <input id="field-password" name="password" type="password" autocomplete="current-password" required/>
                </div>
                <button type="submit" class="button primary">"Sign in"</button>
            </form>
        </div>
        <Ready/>
    }
}
