//! Workspaces: the list (search, provider filter, pages by cursor, CSV export and
//! import) and a workspace's page (its agent provider, API key, members and history).
use super::admin::{field_value, submit_form, FormError};
use super::sign_in::viewer;
use super::{change_then_reload, chosen_file, confirm, list_link, short_time, thousands, ChosenFile, ErrorPanel, Pager, Ready};
use crate::api;
use crate::error::ApiError;
use crate::live::{on_live_change, Seen};
use crate::workspace::{
    check_api_key, check_workspace_id, check_workspace_name, get_import, get_workspace_view, list_providers, list_workspaces, ApiKeyInput,
    HistoryEntry, HistoryKind, ImportReport, ImportStatus, NewWorkspace, Provider, ProviderChoice, ProviderOption, WorkspacePage,
    WorkspacePatch, WorkspaceQuery, WorkspaceView,
};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

const EXPORT_URL: &str = "/api/v1/workspaces/export.csv";

/// Workspace changes (switches, keys, members, imports) and new providers.
fn concerns_workspaces(seen: &Seen) -> bool {
    seen.action.starts_with("workspace.") || seen.action.starts_with("provider.")
}

fn provider_name(providers: &[Provider], id: &str) -> String {
    providers.iter().find(|p| p.id == id).map(|p| p.display_name.clone()).unwrap_or_else(|| id.to_string())
}

/// The only trace of a stored key the pages show.
fn ends_in(end: &str) -> String {
    format!("ends in …{end}")
}

#[component]
pub fn WorkspaceList() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let provider = Memo::new(move |_| query.read().get("provider").unwrap_or_default());
    let after = Memo::new(move |_| query.read().get("after").unwrap_or_default());
    let reload = RwSignal::new(0u32);
    let providers = super::resource(|| (), |_| list_providers());
    let page = super::resource(
        move || (q.get(), provider.get(), after.get(), reload.get()),
        |(q, provider, after, _)| list_workspaces(WorkspaceQuery { q, provider, after, limit: None }),
    );
    on_live_change(concerns_workspaces, move || reload.update(|n| *n += 1));
    // The outer part (search, import, new workspace) waits only for data that does not
    // change, so an import in progress survives the list loading again.
    view! {
        <Title text="Workspaces · Runway"/>
        <Transition fallback=|| view! { <p aria-busy="true">"Loading workspaces…"</p> }>
            {move || Suspend::new(async move {
                let admin = viewer().await.is_some_and(|v| v.is_admin());
                match providers.await {
                    Ok(list) => {
                        let catalog = StoredValue::new(list.clone());
                        view! {
                            <div class="page-head">
                                <h1>"Workspaces"</h1>
                                <div class="head-actions">
                                    <a class="button" href=EXPORT_URL download="workspaces.csv">"Export CSV"</a>
                                </div>
                            </div>
                            <SearchForm providers=list q provider/>
                            <Transition fallback=|| view! { <p aria-busy="true">"Loading workspaces…"</p> }>
                                {move || Suspend::new(async move {
                                    match page.await {
                                        Ok(p) => view! {
                                            <WorkspaceTable page=p providers=catalog.get_value() q=q.get_untracked() provider=provider.get_untracked() after=after.get_untracked()/>
                                            <Ready/>
                                        }.into_any(),
                                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                                    }
                                })}
                            </Transition>
                            {admin.then(|| view! { <NewWorkspaceForm/><ImportPanel reload/> })}
                        }
                        .into_any()
                    }
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// A GET form, so searching works before (and without) the WASM.
#[component]
fn SearchForm(providers: Vec<Provider>, q: Memo<String>, provider: Memo<String>) -> impl IntoView {
    view! {
        <form class="search" method="get" action="/workspaces" role="search">
            <div class="field inline">
                <label for="workspace-search">"Search"</label>
                <input id="workspace-search" type="search" name="q" value=move || q.get() placeholder="Id or name"/>
            </div>
            <div class="field inline">
                <label for="workspace-provider">"Provider"</label>
                <select id="workspace-provider" name="provider">
                    <option value="" selected=move || provider.get().is_empty()>"Any"</option>
                    {providers.into_iter().map(|p| {
                        let id = p.id.clone();
                        view! { <option value=p.id selected=move || provider.get() == id>{p.display_name}</option> }
                    }).collect_view()}
                </select>
            </div>
            <button type="submit">"Search"</button>
        </form>
    }
}

#[component]
fn WorkspaceTable(page: WorkspacePage, providers: Vec<Provider>, q: String, provider: String, after: String) -> impl IntoView {
    let link = move |cursor: &str| list_link("/workspaces", &[("q", &q), ("provider", &provider), ("after", cursor)]);
    let (first, next) = ((!after.is_empty()).then(|| link("")), page.next.as_deref().map(link));
    let shown = page.workspaces.len();
    let total = page.total;
    let rows = page
        .workspaces
        .into_iter()
        .map(|w| {
            let href = format!("/workspaces/{}", w.id);
            let key = w.key_ends_with.as_deref().map(|e| format!("Set, {}", ends_in(e))).unwrap_or_else(|| "—".into());
            let switched = w.last_switch_at.as_deref().map(short_time).unwrap_or_else(|| "—".into());
            view! {
                <tr class="workspace-row" data-workspace-id=w.id.clone()>
                    <td><a href=href><code>{w.id.clone()}</code></a></td>
                    <td>{w.name}</td>
                    <td>{provider_name(&providers, &w.agent_provider)}</td>
                    <td>{key}</td>
                    <td>{switched}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {if shown == 0 {
            view! { <p class="empty">{if total == 0 { "No workspace matches." } else { "No more workspaces." }}</p> }.into_any()
        } else {
            view! {
                <table class="workspaces">
                    <caption class="visually-hidden">"Workspaces, by id"</caption>
                    <thead><tr>
                        <th scope="col">"Id"</th><th scope="col">"Name"</th><th scope="col">"Provider"</th>
                        <th scope="col">"API key"</th><th scope="col">"Last switch"</th>
                    </tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            }.into_any()
        }}
        <Pager first next shown total capped=page.total_capped noun="workspaces"/>
    }
    .into_any()
}

#[component]
fn NewWorkspaceForm() -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let navigate = use_navigate();
    let create = move |ev: SubmitEvent| {
        ev.prevent_default();
        let new = NewWorkspace { id: field_value(&ev, "id").trim().to_string(), name: field_value(&ev, "name").trim().to_string(), ..Default::default() };
        if let Err(e) = check_workspace_id("id", &new.id).and_then(|_| check_workspace_name("name", &new.name)) {
            error.set(Some(e));
            return;
        }
        error.set(None);
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::create_workspace(&new).await {
                Ok(w) => navigate(&format!("/workspaces/{}", w.id), Default::default()),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <section class="panel" aria-labelledby="new-workspace-heading">
            <h2 id="new-workspace-heading">"New workspace"</h2>
            <FormError error/>
            <form class="inline-form" on:submit=create>
                <div class="field"><label for="new-workspace-id">"Workspace id"</label>
                    <input id="new-workspace-id" name="id" required autocomplete="off" placeholder="ws_0001"/></div>
                <div class="field"><label for="new-workspace-name">"Workspace name"</label>
                    <input id="new-workspace-name" name="name" required placeholder="Acme production"/></div>
                <button type="submit" class="button primary">"Create workspace"</button>
            </form>
        </section>
    }
}

/// Uploads a CSV file's text, then polls the import until it is done, showing progress.
#[component]
fn ImportPanel(reload: RwSignal<u32>) -> impl IntoView {
    let report = RwSignal::new(None::<ImportReport>);
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let start = move |ev: SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        let Some(file) = chosen_file(&ev) else {
            error.set(Some(ApiError::validation("file", "Choose a CSV file first.")));
            return;
        };
        busy.set(true);
        report.set(None);
        spawn_local(async move {
            let result = run_import(file, report).await;
            // The page may have gone meanwhile; then there is nobody to tell.
            let _ = busy.try_set(false);
            match result {
                Ok(()) => {
                    let _ = reload.try_update(|n| *n += 1);
                }
                Err(e) => {
                    let _ = error.try_set(Some(e));
                }
            }
        });
    };
    let status = move || {
        report.with(|r| match r.as_ref().map(|r| (r.status, r.error.clone())) {
            Some((ImportStatus::Running, _)) => "Importing…".to_string(),
            Some((ImportStatus::Done, _)) => "Import finished.".to_string(),
            Some((ImportStatus::Failed, why)) => format!("Import failed: {}", why.unwrap_or_default()),
            None => String::new(),
        })
    };
    view! {
        <section class="panel import" aria-labelledby="import-heading">
            <h2 id="import-heading">"Import CSV"</h2>
            <p class="muted">
                "A header line " <code>"id,name,agent_provider"</code>
                ", then one workspace per line. Known ids are updated, new ones created; lines that cannot be used are listed with their line number."
            </p>
            <form class="inline-form" on:submit=start>
                <div class="field">
                    <label for="import-file">"CSV file"</label>
                    <input id="import-file" name="file" type="file" accept=".csv,text/csv" required/>
                </div>
                <button type="submit" class="button primary" disabled=move || busy.get()>"Import"</button>
            </form>
            <FormError error/>
            <p class="import-status" role="status">{status}</p>
            {move || report.get().map(|r| view! { <ImportProgress report=r/> })}
        </section>
    }
}

#[component]
fn ImportProgress(report: ImportReport) -> impl IntoView {
    let lines = format!("{} of {} lines", thousands(report.processed), thousands(report.total));
    let finished = report.status != ImportStatus::Running;
    let rejected = report
        .rejected
        .iter()
        .map(|l| view! { <tr class="rejected-line"><td class="number">{l.line}</td><td>{l.message.clone()}</td></tr> })
        .collect_view();
    let listed = report.rejected.len() as i64;
    view! {
        <div class="import-progress" data-status=format!("{:?}", report.status).to_lowercase()>
            <progress max=report.total.max(1) value=report.processed aria-label="Import progress"></progress>
            <p class="import-lines">{lines}</p>
        </div>
        {finished.then(|| view! {
            <ul class="import-summary" aria-label="Import summary">
                <li>{format!("{} created", thousands(report.created))}</li>
                <li>{format!("{} updated", thousands(report.updated))}</li>
                <li>{format!("{} unchanged", thousands(report.unchanged))}</li>
                <li>{format!("{} rejected", thousands(report.rejected_count))}</li>
            </ul>
        })}
        {(finished && listed > 0).then(|| view! {
            <table class="rejected">
                <caption>{if listed < report.rejected_count {
                    format!("Rejected lines (the first {} of {})", thousands(listed), thousands(report.rejected_count))
                } else {
                    "Rejected lines".to_string()
                }}</caption>
                <thead><tr><th scope="col">"Line"</th><th scope="col">"Why"</th></tr></thead>
                <tbody>{rejected}</tbody>
            </table>
        })}
    }
    .into_any()
}

/// Reads the file, starts the import and follows it until the server says it ended.
async fn run_import(file: ChosenFile, report: RwSignal<Option<ImportReport>>) -> Result<(), ApiError> {
    let text = read_text(file).await?;
    let mut now = api::start_import(text).await?;
    loop {
        let running = now.status == ImportStatus::Running;
        let id = now.id;
        if report.try_set(Some(now)).is_some() || !running {
            return Ok(());
        }
        pause_ms(300).await;
        now = get_import(id).await?;
    }
}

#[cfg(feature = "hydrate")]
async fn read_text(file: web_sys::File) -> Result<String, ApiError> {
    wasm_bindgen_futures::JsFuture::from(file.text())
        .await
        .ok()
        .and_then(|t| t.as_string())
        .ok_or_else(|| ApiError::new(0, "client", "The file could not be read."))
}

#[cfg(not(feature = "hydrate"))]
async fn read_text(_file: ()) -> Result<String, ApiError> {
    Err(ApiError::new(0, "client", "This action needs the browser."))
}

/// Waits in the browser without blocking it.
async fn pause_ms(ms: i32) {
    #[cfg(feature = "hydrate")]
    {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ms;
}

#[component]
pub fn WorkspacePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let reload = RwSignal::new(0u32);
    let data = super::resource(move || (id(), reload.get()), |(id, _)| get_workspace_view(id));
    // A flag turning on can make a provider available here.
    on_live_change(|seen| concerns_workspaces(seen) || seen.action.starts_with("flag."), move || reload.update(|n| *n += 1));
    view! {
        <Transition fallback=|| view! { <p aria-busy="true">"Loading the workspace…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <WorkspaceBody view reload/><Ready/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn WorkspaceBody(view: WorkspaceView, reload: RwSignal<u32>) -> impl IntoView {
    let history = view.history.iter().map(|e| history_item(&view, e)).collect_view();
    let WorkspaceView { workspace: ws, providers, can_change, can_manage, .. } = view;
    let current = providers.iter().find(|o| o.current).map(|o| o.provider.display_name.clone()).unwrap_or_else(|| ws.agent_provider.clone());
    let workspace_id = StoredValue::new(ws.id.clone());
    let error = RwSignal::new(None::<ApiError>);
    let rename = move |ev: SubmitEvent| {
        ev.prevent_default();
        let patch = WorkspacePatch { name: field_value(&ev, "name").trim().to_string() };
        let valid = check_workspace_name("name", &patch.name);
        let id = workspace_id.get_value();
        submit_form(ev, valid, error, reload, async move { api::rename_workspace(&id, &patch).await }, |_| ());
    };
    view! {
        <Title text=format!("{} · Workspaces · Runway", ws.name)/>
        <article class="workspace" data-workspace-id=ws.id.clone()>
            <div class="page-head">
                <div>
                    <h1>{ws.name.clone()}</h1>
                    <p class="summary">"Workspace " <code>{ws.id.clone()}</code></p>
                </div>
            </div>
            <dl class="facts">
                <div><dt>"Provider"</dt><dd class="current-provider">{current}</dd></div>
                <div><dt>"API key"</dt><dd>{ws.key_ends_with.as_deref().map(|e| format!("Set, {}", ends_in(e))).unwrap_or_else(|| "None".into())}</dd></div>
                <div><dt>"Last switch"</dt><dd>{ws.last_switch_at.as_deref().map(short_time).unwrap_or_else(|| "never".into())}</dd></div>
                <div><dt>"Created"</dt><dd><time datetime=ws.created_at.clone()>{short_time(&ws.created_at)}</time></dd></div>
            </dl>
            <ProviderChooser workspace_id=ws.id.clone() options=providers has_key=ws.key_ends_with.is_some() can_change reload/>
            <div class="workspace-panels">
                <KeyPanel workspace_id ends=ws.key_ends_with.clone() can_change reload/>
                <MembersPanel workspace_id members=ws.members.clone() can_manage reload/>
            </div>
            {can_change.then(|| view! {
                <details class="md-section">
                    <summary>"Rename"</summary>
                    <FormError error/>
                    <form class="inline-form" on:submit=rename>
                        <div class="field"><label for="rename-workspace">"Workspace name"</label>
                            <input id="rename-workspace" name="name" required value=ws.name.clone()/></div>
                        <button type="submit" class="button">"Save name"</button>
                    </form>
                </details>
            })}
            <section aria-labelledby="history-heading">
                <h2 id="history-heading">"History"</h2>
                <ol class="workspace-history">{history}</ol>
            </section>
        </article>
    }
    .into_any()
}

/// The provider cards are native radio buttons (arrow keys move between them); the card
/// is their label. Choosing one that needs a key asks for it, unless one is stored.
#[component]
fn ProviderChooser(workspace_id: String, options: Vec<ProviderOption>, has_key: bool, can_change: bool, reload: RwSignal<u32>) -> impl IntoView {
    let current = options.iter().find(|o| o.current).map(|o| o.provider.id.clone()).unwrap_or_default();
    let chosen = RwSignal::new(current.clone());
    let key = RwSignal::new(String::new());
    let replace_key = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let options = StoredValue::new(options);
    let option = move |id: &str| options.with_value(|o| o.iter().find(|o| o.provider.id == id).cloned());
    let sends_key = move |o: &ProviderOption, replacing: bool| o.provider.needs_key && (!has_key || replacing);
    let switch = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(o) = option(&chosen.get_untracked()) else { return };
        let api_key = sends_key(&o, replace_key.get_untracked()).then(|| key.get_untracked().trim().to_string());
        if let Some(Err(e)) = api_key.as_deref().map(check_api_key) {
            error.set(Some(e));
            return;
        }
        let choice = ProviderChoice { provider: o.provider.id, api_key };
        let id = workspace_id.clone();
        change_then_reload(reload, error, async move { api::choose_provider(&id, &choice).await });
    };
    let key_error = move || error.get().filter(|e| e.field.as_deref() == Some("api_key")).map(|e| e.message);
    let other_error = move || error.get().filter(|e| e.field.as_deref() != Some("api_key")).map(|e| e.message);
    let cards = options
        .get_value()
        .into_iter()
        .map(|o| {
            let pid = o.provider.id.clone();
            let (radio_id, name_id, about_id) = (format!("provider-{pid}"), format!("provider-{pid}-name"), format!("provider-{pid}-about"));
            let (label_for, labelled_by, described_by) = (radio_id.clone(), name_id.clone(), about_id.clone());
            let card_class = {
                let pid = pid.clone();
                move || {
                    let mut class = String::from("provider-card");
                    for (on, name) in [(o.current, " current"), (chosen.get() == pid, " chosen"), (!o.available, " unavailable")] {
                        if on {
                            class.push_str(name);
                        }
                    }
                    class
                }
            };
            view! {
                <label class=card_class for=label_for>
                    <input type="radio" name="provider" id=radio_id value=pid.clone() checked=o.current disabled=!o.available
                        aria-labelledby=labelled_by aria-describedby=described_by
                        on:change=move |_| { chosen.set(pid.clone()); error.set(None); }/>
                    <span class="provider-name" id=name_id>{o.provider.display_name.clone()}</span>
                    <span class="provider-about" id=about_id>
                        {o.current.then(|| view! { <span class="badge current-badge">"Current"</span> })}
                        <span class="provider-description">{o.provider.description.clone()}</span>
                        {o.provider.needs_key.then(|| view! { <span class="provider-note">"Needs an API key."</span> })}
                        {(!o.available).then(|| view! { <span class="provider-note unavailable-note">"Not yet available for this workspace"</span> })}
                    </span>
                </label>
            }
        })
        .collect_view();
    // Shown once another provider is chosen: its key (when it needs one) and the button.
    let switch_box = move || {
        let o = option(&chosen.get()).filter(|o| !o.current)?;
        let name = o.provider.display_name.clone();
        let (replace_label, key_label, button) =
            (format!("Give {name} a new API key instead of the stored one"), format!("API key for {name}"), format!("Switch to {name}"));
        let needs_key = o.provider.needs_key;
        let asks_key = move || sends_key(&o, replace_key.get());
        Some(view! {
            <div class="switch-box">
                {(needs_key && has_key).then(|| view! {
                    <div class="field checkbox">
                        <input type="checkbox" id="replace-key" prop:checked=move || replace_key.get() on:change=move |ev| replace_key.set(event_target_checked(&ev))/>
                        <label for="replace-key">{replace_label}</label>
                    </div>
                })}
                {move || asks_key().then(|| {
                    let key_label = key_label.clone();
                    view! {
                    <div class=move || if key_error().is_some() { "field has-error" } else { "field" }>
                        <label for="field-api_key">{key_label}</label>
                        <input id="field-api_key" type="password" autocomplete="off" spellcheck="false" required
                            aria-invalid=move || key_error().is_some().to_string() aria-describedby="field-api_key-error"
                            on:input=move |ev| key.set(event_target_value(&ev))/>
                        <p class="field-error" id="field-api_key-error" role="alert">{key_error}</p>
                    </div>
                }})}
                <button type="submit" class="button primary">{button}</button>
                <p class="field-error" role="alert">{other_error}</p>
            </div>
        })
    };
    view! {
        <section class="panel provider-panel" aria-labelledby="provider-heading">
            <h2 id="provider-heading">"Agent provider"</h2>
            {(!can_change).then(|| view! { <p class="muted">"Only this workspace's members and admins change its provider."</p> })}
            <form on:submit=switch>
                <fieldset class="provider-cards" disabled=!can_change>
                    <legend class="visually-hidden">"Agent provider"</legend>
                    {cards}
                </fieldset>
                {switch_box}
            </form>
        </section>
    }
    .into_any()
}

#[component]
fn KeyPanel(workspace_id: StoredValue<String>, ends: Option<String>, can_change: bool, reload: RwSignal<u32>) -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let editing = RwSignal::new(false);
    let has_key = ends.is_some();
    let state = ends.as_deref().map(|e| format!("API key: set, {}", ends_in(e))).unwrap_or_else(|| "No API key".into());
    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        let input = ApiKeyInput { api_key: field_value(&ev, "api_key").trim().to_string() };
        let valid = check_api_key(&input.api_key);
        let id = workspace_id.get_value();
        submit_form(ev, valid, error, reload, async move { api::set_api_key(&id, &input).await }, |_| ());
    };
    let remove = move |_| {
        if !confirm("Remove the stored API key? A provider that needs one cannot be used until a new key is set.") {
            return;
        }
        let id = workspace_id.get_value();
        change_then_reload(reload, error, async move { api::remove_api_key(&id).await });
    };
    view! {
        <section class="panel key-panel" aria-labelledby="key-heading">
            <h2 id="key-heading">"API key"</h2>
            <p class="key-state">{state}</p>
            <p class="muted">"Stored encrypted; Runway never shows it again, only its last four characters."</p>
            {can_change.then(|| view! {
                <div class="button-row">
                    <button type="button" class="button" aria-expanded=move || editing.get().to_string()
                        on:click=move |_| editing.update(|e| *e = !*e)>{if has_key { "Replace" } else { "Set a key" }}</button>
                    {has_key.then(|| view! { <button type="button" class="button danger" on:click=remove>"Remove"</button> })}
                </div>
                <Show when=move || editing.get()>
                    <form class="inline-form" on:submit=save>
                        <div class="field"><label for="new-api-key">"New API key"</label>
                            <input id="new-api-key" name="api_key" type="password" autocomplete="off" spellcheck="false" required/></div>
                        <button type="submit" class="button primary">"Save key"</button>
                    </form>
                </Show>
                <FormError error/>
            })}
        </section>
    }
    .into_any()
}

#[component]
fn MembersPanel(workspace_id: StoredValue<String>, members: Vec<String>, can_manage: bool, reload: RwSignal<u32>) -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let remove = move |username: String| {
        if !confirm(&format!("Remove {username} from this workspace's members?")) {
            return;
        }
        let id = workspace_id.get_value();
        change_then_reload(reload, error, async move { api::remove_member(&id, &username).await });
    };
    let add = move |ev: SubmitEvent| {
        ev.prevent_default();
        let username = field_value(&ev, "username").trim().to_string();
        let valid = crate::validate::check_required("username", "The username", &username);
        let id = workspace_id.get_value();
        submit_form(ev, valid, error, reload, async move { api::add_member(&id, &username).await }, |_| ());
    };
    let empty = members.is_empty();
    let items = members
        .into_iter()
        .map(|m| {
            let label = format!("Remove member {m}");
            let who = m.clone();
            view! {
                <li class="member">{m}
                    {can_manage.then(|| view! {
                        <button type="button" class="link danger" aria-label=label on:click=move |_| remove(who.clone())>"Remove"</button>
                    })}
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="panel members-panel" aria-labelledby="members-heading">
            <h2 id="members-heading">"Members"</h2>
            <p class="muted">"Members and admins may switch the provider and set the key."</p>
            {if empty { view! { <p class="empty">"No members yet."</p> }.into_any() } else { view! { <ul class="members">{items}</ul> }.into_any() }}
            {can_manage.then(|| view! {
                <form class="inline-form" on:submit=add>
                    <div class="field"><label for="member-username">"Username"</label>
                        <input id="member-username" name="username" required autocomplete="off"/></div>
                    <button type="submit" class="button">"Add member"</button>
                </form>
            })}
            <FormError error/>
        </section>
    }
    .into_any()
}

/// One history entry. A switch is a divider, since what follows runs on the new provider;
/// it stays a list item, as a `separator` role would hide its text from screen readers.
fn history_item(view: &WorkspaceView, e: &HistoryEntry) -> AnyView {
    let name = |p: &Option<String>| p.as_deref().map(|p| view.display_name(p));
    let on = name(&e.provider).map(|p| format!(" on {p}")).unwrap_or_default();
    let text = match e.kind {
        HistoryKind::Switch => format!("Switched to {}", name(&e.provider).unwrap_or_default()),
        HistoryKind::Created => format!("Created{on}"),
        HistoryKind::Session => format!("Session {} started{on}", e.detail),
        HistoryKind::KeySet => "API key set".to_string(),
        HistoryKind::KeyRemoved => "API key removed".to_string(),
        HistoryKind::Renamed => format!("Renamed to “{}”", e.detail),
        HistoryKind::MemberAdded => format!("{} became a member", e.detail),
        HistoryKind::MemberRemoved => format!("{} is no longer a member", e.detail),
    };
    let when = view! { <time datetime=e.at.clone()>{short_time(&e.at)}</time> };
    if e.kind == HistoryKind::Switch {
        let from = name(&e.from_provider).map(|f| format!("from {f}, ")).unwrap_or_default();
        return view! {
            <li class="divider">
                <span class="divider-text">{text}</span>
                <span class="divider-meta">{format!("{from}by {} on ", e.actor)}{when}</span>
            </li>
        }
        .into_any();
    }
    view! {
        <li class=format!("history-entry history-{}", e.kind.as_str())>
            <span class="history-text">{text}</span>
            <span class="history-meta">{format!(" — {} on ", e.actor)}{when}</span>
        </li>
    }
    .into_any()
}
