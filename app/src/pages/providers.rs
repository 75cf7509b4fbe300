//! The agent provider catalog: what workspaces may choose, and (for admins) adding one.
use super::admin::{field_value, submit_form, FormError};
use super::sign_in::viewer;
use super::{encode, ErrorPanel, Ready};
use crate::api;
use crate::error::ApiError;
use crate::live::on_live_change;
use crate::workspace::{list_providers, NewProvider, Provider, PROVIDER_ENVIRONMENT};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ProvidersPage() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let providers = super::resource(move || reload.get(), |_| list_providers());
    on_live_change(|seen| seen.action.starts_with("provider."), move || reload.update(|n| *n += 1));
    let error = RwSignal::new(None::<ApiError>);
    let add = move |ev: SubmitEvent| {
        ev.prevent_default();
        let flag = field_value(&ev, "flag").trim().to_string();
        let new = NewProvider {
            id: field_value(&ev, "id").trim().to_string(),
            display_name: field_value(&ev, "display_name").trim().to_string(),
            description: field_value(&ev, "description").trim().to_string(),
            needs_key: field_value(&ev, "needs_key") == "on",
            flag: (!flag.is_empty()).then_some(flag),
        };
        let valid = new.validate();
        submit_form(ev, valid, error, reload, async move { api::add_provider(&new).await }, |_| ());
    };
    view! {
        <Title text="Providers · Runway"/>
        <Transition fallback=|| view! { <p aria-busy="true">"Loading providers…"</p> }>
            {move || Suspend::new(async move {
                let admin = viewer().await.is_some_and(|v| v.is_admin());
                match providers.await {
                    Ok(list) => view! {
                        <h1>"Agent providers"</h1>
                        <p class="muted">{format!(
                            "Workspaces choose one of these. A provider with an availability flag is offered to a workspace when that flag is on for the workspace's id in {PROVIDER_ENVIRONMENT}."
                        )}</p>
                        {provider_table(list)}
                        {admin.then(|| view! {
                            <section class="panel" aria-labelledby="new-provider-heading">
                                <h2 id="new-provider-heading">"Add a provider"</h2>
                                <FormError error/>
                                <form class="form" on:submit=add>
                                    <div class="field"><label for="provider-id">"Id"</label>
                                        <input id="provider-id" name="id" required autocomplete="off" placeholder="codex"/></div>
                                    <div class="field"><label for="provider-name">"Display name"</label>
                                        <input id="provider-name" name="display_name" required placeholder="Codex"/></div>
                                    <div class="field"><label for="provider-description">"Description"</label>
                                        <input id="provider-description" name="description"/></div>
                                    <div class="field checkbox"><input id="provider-needs-key" name="needs_key" type="checkbox"/>
                                        <label for="provider-needs-key">"Needs an API key"</label></div>
                                    <div class="field">
                                        <label for="provider-flag">"Availability flag (empty: available everywhere)"</label>
                                        <input id="provider-flag" name="flag" autocomplete="off" placeholder="ENABLE_CODEX_PROVIDER"/>
                                    </div>
                                    <button type="submit" class="button primary">"Add provider"</button>
                                </form>
                            </section>
                        })}
                        <Ready/>
                    }
                    .into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn provider_table(list: Vec<Provider>) -> AnyView {
    view! {
        <table class="providers">
            <caption class="visually-hidden">"Agent providers, in catalog order"</caption>
            <thead><tr>
                <th scope="col">"Id"</th><th scope="col">"Name"</th><th scope="col">"Description"</th>
                <th scope="col">"API key"</th><th scope="col">"Availability"</th>
            </tr></thead>
            <tbody>{list.into_iter().map(|p| {
                let row_id = p.id.clone();
                view! {
                <tr class="provider-row" data-provider=row_id>
                    <td><code>{p.id}</code></td>
                    <td>{p.display_name}</td>
                    <td>{p.description}</td>
                    <td>{if p.needs_key { "Needed" } else { "Not needed" }}</td>
                    <td>{match p.flag {
                        Some(flag) => view! { "Flag " <a href=format!("/flags/{}", encode(&flag))><code>{flag.clone()}</code></a> }.into_any(),
                        None => "Everywhere".into_any(),
                    }}</td>
                </tr>
            }}).collect_view()}</tbody>
        </table>
    }
    .into_any()
}
