//! Admins' pages: people and API tokens.
use super::{short_time, ErrorPanel, Ready};
use crate::api;
use crate::error::ApiError;
use crate::person::{list_people, NewPerson, Person};
use crate::token::{list_tokens, NewToken, Scope, Token};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;

pub(super) fn field_value(ev: &SubmitEvent, name: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let form = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok());
        if let Some(el) = form.and_then(|f| f.elements().named_item(name)) {
            if let Ok(input) = el.clone().dyn_into::<web_sys::HtmlInputElement>() {
                if input.type_() == "checkbox" {
                    return if input.checked() { "on".into() } else { String::new() };
                }
                return input.value();
            }
        }
        String::new()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (ev, name);
        String::new()
    }
}

fn reset_form(ev: &SubmitEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(form) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok()) {
            form.reset();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}

/// Sends a form that creates something: stops at an invalid field, else, once `create`
/// succeeds, empties the form, hands the answer to `done` and loads the page's data again.
pub(super) fn submit_form<T: 'static>(
    ev: SubmitEvent,
    valid: Result<(), ApiError>,
    error: RwSignal<Option<ApiError>>,
    reload: RwSignal<u32>,
    create: impl std::future::Future<Output = Result<T, ApiError>> + 'static,
    done: impl FnOnce(T) + 'static,
) {
    if let Err(e) = valid {
        error.set(Some(e));
        return;
    }
    error.set(None);
    spawn_local(async move {
        match create.await {
            Ok(answer) => {
                reset_form(&ev);
                done(answer);
                reload.update(|n| *n += 1);
            }
            Err(e) => error.set(Some(e)),
        }
    });
}

/// `submit_form` for something holding a secret (an API token, a webhook): shows its
/// `(name, secret)` the one time it is given.
pub(super) fn create_with_secret(
    ev: SubmitEvent,
    valid: Result<(), ApiError>,
    error: RwSignal<Option<ApiError>>,
    secret: RwSignal<Option<(String, String)>>,
    reload: RwSignal<u32>,
    create: impl std::future::Future<Output = Result<(String, String), ApiError>> + 'static,
) {
    submit_form(ev, valid, error, reload, create, move |shown| secret.set(Some(shown)));
}

#[component]
pub(super) fn FormError(error: RwSignal<Option<ApiError>>) -> impl IntoView {
    move || error.get().map(|e| view! { <p class="error-box" role="alert">{e.message}</p> })
}

#[component]
pub fn PeoplePage() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let people = super::resource(move || reload.get(), |_| list_people());
    let error = RwSignal::new(None::<ApiError>);
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let new = NewPerson {
            username: field_value(&ev, "username").trim().to_string(),
            password: field_value(&ev, "password"),
            display_name: field_value(&ev, "display_name"),
            contact: field_value(&ev, "contact"),
            admin: field_value(&ev, "admin") == "on",
        };
        let valid = new.validate();
        submit_form(ev, valid, error, reload, async move { api::add_person(&new).await }, |_| ());
    };
    view! {
        <Title text="People · Runway"/>
        <Transition fallback=|| view! { <p aria-busy="true">"Loading people…"</p> }>
            {move || Suspend::new(async move {
                match people.await {
                    Ok(list) => view! {
                        <h1>"People"</h1>
                        <table class="people">
                            <thead><tr>
                                <th scope="col">"Username"</th><th scope="col">"Name"</th>
                                <th scope="col">"Contact"</th><th scope="col">"Role"</th><th scope="col">"Since"</th>
                            </tr></thead>
                            <tbody>{list.into_iter().map(person_row).collect_view()}</tbody>
                        </table>
                        <section aria-labelledby="add-person-heading" class="panel">
                            <h2 id="add-person-heading">"Add a person"</h2>
                            <FormError error/>
                            <form class="form inline-form" on:submit=on_submit>
                                <div class="field"><label for="p-username">"Username"</label><input id="p-username" name="username" required autocomplete="off"/></div>
                                <div class="field"><label for="p-name">"Display name"</label><input id="p-name" name="display_name"/></div>
                                <div class="field"><label for="p-contact">"Contact"</label><input id="p-contact" name="contact" placeholder="email, phone or chat handle"/></div>
                                <div class="field"><label for="p-password">"Password"</label><input id="p-password" name="password" type="password" required minlength="8" autocomplete="new-password"/></div>
                                <div class="field checkbox"><input id="p-admin" name="admin" type="checkbox"/><label for="p-admin">"Admin"</label></div>
                                <button type="submit" class="button primary">"Add person"</button>
                            </form>
                        </section>
                        <Ready/>
                    }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn person_row(p: Person) -> impl IntoView {
    view! {
        <tr class="person-row">
            <td>{p.username.clone()}</td>
            <td>{p.display_name.clone()}</td>
            <td>{p.contact.clone()}</td>
            <td>{p.role.as_str()}</td>
            <td>{short_time(&p.created_at)}</td>
        </tr>
    }
}

#[component]
pub fn TokensPage() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let tokens = super::resource(move || reload.get(), |_| list_tokens());
    let error = RwSignal::new(None::<ApiError>);
    let secret = RwSignal::new(None::<(String, String)>);
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let scopes = Scope::ALL.into_iter().filter(|s| field_value(&ev, &format!("scope-{}", s.as_str())) == "on").collect();
        let environment = Some(field_value(&ev, "environment").trim().to_string()).filter(|e| !e.is_empty());
        let metrics = field_value(&ev, "metrics").split(',').map(str::trim).filter(|m| !m.is_empty()).map(str::to_string).collect();
        let new = NewToken { name: field_value(&ev, "name").trim().to_string(), scopes, environment, metrics };
        let valid = new.validate();
        let create = async move { api::create_token(&new).await.map(|made| (made.token.name, made.secret)) };
        create_with_secret(ev, valid, error, secret, reload, create);
    };
    let revoke = move |id: i64| {
        if !super::confirm("Revoke this token? Services using it stop working at once.") {
            return;
        }
        spawn_local(async move {
            match api::revoke_token(id).await {
                Ok(_) => reload.update(|n| *n += 1),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <Title text="API tokens · Runway"/>
        <Transition fallback=|| view! { <p aria-busy="true">"Loading tokens…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Ok(list) => view! {
                        <h1>"API tokens"</h1>
                        {move || secret.get().map(|(name, s)| view! {
                            <div class="notice" role="status">
                                <p>{format!("Token “{name}” created. Copy it now: it is not shown again.")}</p>
                                <p><code class="secret">{s}</code></p>
                            </div>
                        })}
                        <FormError error/>
                        <table class="tokens">
                            <thead><tr>
                                <th scope="col">"Name"</th><th scope="col">"Starts with"</th><th scope="col">"Scopes"</th>
                                <th scope="col">"Environment"</th><th scope="col">"Created"</th><th scope="col">"Last used"</th>
                                <th scope="col">"State"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                            </tr></thead>
                            <tbody>{list.into_iter().map(|t| token_row(t, revoke)).collect_view()}</tbody>
                        </table>
                        <section aria-labelledby="new-token-heading" class="panel">
                            <h2 id="new-token-heading">"Create a token"</h2>
                            <form class="form" on:submit=on_submit>
                                <div class="field"><label for="t-name">"Name"</label><input id="t-name" name="name" required placeholder="deploy-bot"/></div>
                                <fieldset class="field">
                                    <legend>"Scopes"</legend>
                                    {Scope::ALL.into_iter().map(|s| {
                                        let (id, name, target) = (format!("scope-{}", s.as_str()), format!("scope-{}", s.as_str()), format!("scope-{}", s.as_str()));
                                        view! { <label class="checkbox" for=target><input type="checkbox" id=id name=name/>{s.as_str()}</label> }
                                    }).collect_view()}
                                </fieldset>
                                <div class="field"><label for="t-env">"Environment (for flags:read)"</label><input id="t-env" name="environment" placeholder="production"/></div>
                                <div class="field"><label for="t-metrics">"Metrics (for metrics:write; comma-separated names, or prefixes ending in . or _)"</label>
                                    <input id="t-metrics" name="metrics" placeholder="billing."/></div>
                                <button type="submit" class="button primary">"Create token"</button>
                            </form>
                        </section>
                        <Ready/>
                    }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn token_row(t: Token, revoke: impl Fn(i64) + Copy + 'static) -> impl IntoView {
    let id = t.id;
    let revoked = t.revoked_at.is_some();
    let label = format!("Revoke token {}", t.name);
    let scopes: Vec<&str> = t.scopes.iter().map(|s| s.as_str()).collect();
    view! {
        <tr class="token-row">
            <td>{t.name.clone()}</td>
            <td><code>{format!("{}…", t.prefix)}</code></td>
            <td>{scopes.join(", ")}{(!t.metrics.is_empty()).then(|| format!(" (metrics: {})", t.metrics.join(", ")))}</td>
            <td>{t.environment.clone().unwrap_or_default()}</td>
            <td>{format!("{} by {}", short_time(&t.created_at), t.created_by)}</td>
            <td>{t.last_used_at.as_deref().map(short_time).unwrap_or_else(|| "never".into())}</td>
            <td>{if revoked { "revoked" } else { "active" }}</td>
            <td>{(!revoked).then(|| view! {
                <button type="button" class="link danger" aria-label=label on:click=move |_| revoke(id)>"Revoke"</button>
            })}</td>
        </tr>
    }
}
