//! Admins' webhooks page: register URLs, see each one's signing secret once, and
//! read the delivery log.
use super::admin::{create_with_secret, field_value, FormError};
use super::{short_time, ErrorPanel, Ready};
use crate::api;
use crate::error::ApiError;
use crate::webhook::{list_webhooks, Delivery, DeliveryStatus, NewWebhook, Webhook, EVENTS};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let view_data = super::resource(move || reload.get(), |_| list_webhooks());
    let error = RwSignal::new(None::<ApiError>);
    let secret = RwSignal::new(None::<(String, String)>);
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let events = EVENTS
            .iter()
            .filter(|(name, _)| field_value(&ev, &format!("event-{name}")) == "on")
            .map(|(name, _)| name.to_string())
            .collect();
        let new = NewWebhook {
            url: field_value(&ev, "url").trim().to_string(),
            events,
            description: field_value(&ev, "description").trim().to_string(),
        };
        let valid = new.validate();
        let create = async move { api::create_webhook(&new).await.map(|made| (made.webhook.url, made.secret)) };
        create_with_secret(ev, valid, error, secret, reload, create);
    };
    let delete = move |id: i64| {
        if !super::confirm("Delete this webhook? It receives nothing more, and its undelivered events are dropped.") {
            return;
        }
        super::change_then_reload(reload, error, api::delete_webhook(id));
    };
    view! {
        <Title text="Webhooks · Runway"/>
        <Transition fallback=|| view! { <p aria-busy="true">"Loading webhooks…"</p> }>
            {move || Suspend::new(async move {
                match view_data.await {
                    Ok(data) => view! {
                        <h1>"Webhooks"</h1>
                        <p class="muted">
                            "Runway POSTs each event as JSON to the URLs below. Each request carries "
                            <code>"X-Runway-Event"</code>", "<code>"X-Runway-Delivery"</code>" and "
                            <code>"X-Runway-Signature: sha256=…"</code>
                            ", the hex HMAC-SHA256 of the body under the webhook's secret. "
                            "Failed deliveries are retried with growing waits, up to 8 attempts."
                        </p>
                        {move || secret.get().map(|(url, s)| view! {
                            <div class="notice" role="status">
                                <p>{format!("Webhook for {url} added. Copy its signing secret now: it is not shown again.")}</p>
                                <p><code class="secret">{s}</code></p>
                            </div>
                        })}
                        <FormError error/>
                        {webhook_table(data.webhooks, delete)}
                        <section aria-labelledby="new-webhook-heading" class="panel">
                            <h2 id="new-webhook-heading">"Add a webhook"</h2>
                            <form class="form" on:submit=on_submit>
                                <div class="field">
                                    <label for="w-url">"URL"</label>
                                    <input id="w-url" name="url" type="url" required placeholder="https://hooks.example.com/runway"/>
                                </div>
                                <div class="field">
                                    <label for="w-description">"Description"</label>
                                    <input id="w-description" name="description" placeholder="On-call chat"/>
                                </div>
                                <fieldset class="field">
                                    <legend>"Events (none ticked: all of them)"</legend>
                                    {EVENTS.iter().map(|(name, label)| {
                                        let (id, field, target) = (format!("event-{name}"), format!("event-{name}"), format!("event-{name}"));
                                        view! { <label class="checkbox" for=target><input type="checkbox" id=id name=field/>{*label}</label> }
                                    }).collect_view()}
                                </fieldset>
                                <button type="submit" class="button primary">"Add webhook"</button>
                            </form>
                        </section>
                        <section aria-labelledby="deliveries-heading" class="panel">
                            <h2 id="deliveries-heading">"Delivery log"</h2>
                            <button type="button" class="button" on:click=move |_| reload.update(|n| *n += 1)>"Refresh"</button>
                            {delivery_table(data.deliveries)}
                        </section>
                        <Ready/>
                    }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn events_label(w: &Webhook) -> String {
    if w.events.iter().any(|e| e == "*") {
        return "All events".into();
    }
    w.events.join(", ")
}

fn webhook_table(list: Vec<Webhook>, delete: impl Fn(i64) + Copy + Send + Sync + 'static) -> AnyView {
    if list.is_empty() {
        return view! { <p class="empty">"No webhooks yet."</p> }.into_any();
    }
    view! {
        <table class="webhooks">
            <caption class="visually-hidden">"Registered webhooks, newest first"</caption>
            <thead><tr>
                <th scope="col">"URL"</th><th scope="col">"Events"</th><th scope="col">"Description"</th>
                <th scope="col">"Added"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
            </tr></thead>
            <tbody>{list.into_iter().map(|w| {
                let id = w.id;
                let label = format!("Delete webhook {}", w.url);
                let events = events_label(&w);
                view! {
                    <tr class="webhook-row">
                        <th scope="row" class="url"><code>{w.url}</code></th>
                        <td>{events}</td>
                        <td>{w.description}</td>
                        <td>{format!("{} by {}", short_time(&w.created_at), w.created_by)}</td>
                        <td><button type="button" class="link danger" aria-label=label on:click=move |_| delete(id)>"Delete"</button></td>
                    </tr>
                }
            }).collect_view()}</tbody>
        </table>
    }
    .into_any()
}

fn status_label(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Pending => "Pending",
        DeliveryStatus::Delivered => "Delivered",
        DeliveryStatus::Failed => "Failed",
    }
}

fn delivery_table(list: Vec<Delivery>) -> AnyView {
    if list.is_empty() {
        return view! { <p class="empty">"Nothing sent yet."</p> }.into_any();
    }
    let time = |t: Option<String>| t.as_deref().map(short_time).unwrap_or_else(|| "—".into());
    view! {
        <table class="deliveries">
            <caption class="visually-hidden">"Latest webhook deliveries, newest first"</caption>
            <thead><tr>
                <th scope="col">"Event"</th><th scope="col">"URL"</th><th scope="col">"Status"</th>
                <th scope="col">"Attempts"</th><th scope="col">"Response"</th><th scope="col">"Last error"</th>
                <th scope="col">"Queued"</th><th scope="col">"Last attempt"</th><th scope="col">"Delivered"</th>
            </tr></thead>
            <tbody>{list.into_iter().map(|d| {
                let next = d.next_attempt_at.as_deref().map(|t| format!(" (next {})", short_time(t))).unwrap_or_default();
                view! {
                    <tr class=format!("delivery-row delivery-{}", d.status.as_str())>
                        <th scope="row"><code>{d.event}</code></th>
                        <td class="url"><code>{d.url}</code></td>
                        <td><span class=format!("badge delivery-{}", d.status.as_str())>{status_label(d.status)}</span>{next}</td>
                        <td>{d.attempts}</td>
                        <td>{d.response_status.map(|s| s.to_string()).unwrap_or_else(|| "—".into())}</td>
                        <td>{d.last_error.unwrap_or_default()}</td>
                        <td>{short_time(&d.created_at)}</td>
                        <td>{time(d.last_attempt_at)}</td>
                        <td>{time(d.delivered_at)}</td>
                    </tr>
                }
            }).collect_view()}</tbody>
        </table>
    }
    .into_any()
}
