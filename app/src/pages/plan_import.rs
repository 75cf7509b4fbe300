//! Importing a Markdown plan: choose a file, see what it would become (stages, checklists,
//! risks, runbooks, and what stays in the description), then create it.
use super::admin::FormError;
use super::{chosen_file, ChosenFile, Ready};
use crate::error::ApiError;
use crate::plan_markdown::{ImportPreview, Imported, IMPORT_MAX_BYTES};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

#[component]
pub fn PlanImport() -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let preview = RwSignal::new(None::<ImportPreview>);
    let busy = RwSignal::new(false);
    // The file shown in the preview, sent again (as it is) when the plan is created.
    let file: StoredValue<Option<ChosenFile>, LocalStorage> = StoredValue::new_local(None);
    let navigate = use_navigate();

    let show = move |ev: SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        preview.set(None);
        let Some(chosen) = chosen_file(&ev) else {
            error.set(Some(ApiError::validation("file", "Choose a Markdown file first.")));
            return;
        };
        if too_large(&chosen) {
            error.set(Some(ApiError::validation("file", "The file is over 5 MB; plans are imported up to 5 MB.")));
            return;
        }
        file.set_value(Some(chosen.clone()));
        busy.set(true);
        spawn_local(async move {
            let answer = send::<ImportPreview>(chosen, true).await;
            let _ = busy.try_set(false);
            match answer {
                Ok(p) => {
                    let _ = preview.try_set(Some(p));
                }
                Err(e) => {
                    let _ = error.try_set(Some(e));
                }
            }
        });
    };
    let create = move |_| {
        let Some(chosen) = file.get_value() else { return };
        let navigate = navigate.clone();
        busy.set(true);
        spawn_local(async move {
            match send::<Imported>(chosen, false).await {
                Ok(done) => navigate(&format!("/plans/{}", done.plan.id), Default::default()),
                Err(e) => {
                    let _ = busy.try_set(false);
                    let _ = error.try_set(Some(e));
                }
            }
        });
    };

    view! {
        <Title text="Import a plan · Runway"/>
        <div class="page-head"><h1>"Import a Markdown plan"</h1></div>
        <section class="panel import" aria-labelledby="import-heading">
            <h2 id="import-heading">"Upload a plan document"</h2>
            <p class="muted">
                "The first heading is the title. Headings such as “Phase 2: Feature Flag Integration”, “Stage 0” or “Week 1” become stages; "
                <code>"- [ ]"</code>" and "<code>"- [x]"</code>" items their checklists; a table with risk, likelihood (or probability), impact and mitigation "
                "columns the risks; sections about rollback the rollback runbooks. Everything else stays in the description. Nothing is saved until you create the plan."
            </p>
            <form class="inline-form" on:submit=show>
                <div class="field">
                    <label for="plan-file">"Markdown file"</label>
                    <input id="plan-file" name="file" type="file" accept=".md,.markdown,text/markdown,text/plain" required/>
                </div>
                <button type="submit" class="button" disabled=move || busy.get()>"Preview"</button>
            </form>
            <FormError error/>
        </section>
        {move || preview.get().map(|p| view! {
            <PreviewPanel preview=p/>
            <p class="form-actions">
                <button type="button" class="button primary" disabled=move || busy.get() on:click=create.clone()>"Create plan"</button>
            </p>
        })}
        <Ready/>
    }
}

#[component]
fn PreviewPanel(preview: ImportPreview) -> impl IntoView {
    let ImportPreview { plan, described, thresholds, notes, steps } = preview;
    let stage_count = plan.stages.len();
    let check_count: usize = plan.stages.iter().map(|s| s.checklist.len()).sum();
    let stages = plan
        .stages
        .iter()
        .zip(steps.iter().copied().chain(std::iter::repeat(Default::default())))
        .enumerate()
        .map(|(i, (s, n))| {
            let done = s.checklist.iter().filter(|c| c.done).count();
            let checks = match (s.checklist.len(), done) {
                (0, _) => "—".to_string(),
                (n, 0) => format!("{n}"),
                (n, d) => format!("{n} ({d} done)"),
            };
            let flags = s.flag_changes.iter().map(|c| c.flag.clone()).collect::<Vec<_>>().join(", ");
            view! {
                <tr>
                    <td>{i + 1}</td>
                    <th scope="row">{s.name.clone()}</th>
                    <td>{if s.goal.is_empty() { "—".to_string() } else { s.goal.clone() }}</td>
                    <td>{checks}</td>
                    <td>{n.forward}</td>
                    <td>{n.rollback}</td>
                    <td>{if flags.is_empty() { "—".to_string() } else { flags }}</td>
                </tr>
            }
        })
        .collect_view();
    let risks = plan
        .risks
        .iter()
        .map(|r| view! {
            <tr><td>{r.risk.clone()}</td><td>{r.likelihood.label()}</td><td>{r.impact.label()}</td><td>{r.mitigation.clone()}</td></tr>
        })
        .collect_view();
    let risk_count = plan.risks.len();
    view! {
        <section class="panel import-preview" aria-labelledby="preview-heading">
            <h2 id="preview-heading">{format!("Preview: {}", plan.title)}</h2>
            <p class="import-counts" role="status">
                {format!("{stage_count} stages, {check_count} checklist items, {risk_count} risks. Nothing is saved yet.")}
            </p>
            {(!notes.is_empty()).then(|| view! {
                <ul class="import-notes" aria-label="Notes on the import">
                    {notes.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}
                </ul>
            })}
            <h3>"Stages"</h3>
            {if stage_count == 0 {
                view! { <p class="empty">"No stage headings were found; the plan will have no stages."</p> }.into_any()
            } else {
                view! {
                    <table class="preview-stages">
                        <thead><tr>
                            <th scope="col">"#"</th><th scope="col">"Stage"</th><th scope="col">"Goal"</th><th scope="col">"Checklist"</th>
                            <th scope="col">"Runbook steps"</th><th scope="col">"Rollback steps"</th><th scope="col">"Flags"</th>
                        </tr></thead>
                        <tbody>{stages}</tbody>
                    </table>
                }.into_any()
            }}
            <h3>"Risks"</h3>
            {if risk_count == 0 {
                view! { <p class="empty">"No risk table was found."</p> }.into_any()
            } else {
                view! {
                    <table class="risks preview-risks">
                        <thead><tr><th scope="col">"Risk"</th><th scope="col">"Likelihood"</th><th scope="col">"Impact"</th><th scope="col">"Mitigation"</th></tr></thead>
                        <tbody>{risks}</tbody>
                    </table>
                }.into_any()
            }}
            <h3>"Kept in the description"</h3>
            {if described.is_empty() {
                view! { <p class="empty">"Nothing: every part of the document found a place."</p> }.into_any()
            } else {
                view! { <ul class="preview-described">{described.into_iter().map(|d| view! { <li>{d}</li> }).collect_view()}</ul> }.into_any()
            }}
            {(!plan.description.is_empty()).then(|| {
                let summary = format!("The description as it will be saved ({} characters)", plan.description.chars().count());
                view! {
                    <details class="preview-description">
                        <summary>{summary}</summary>
                        <pre>{plan.description.clone()}</pre>
                    </details>
                }
            })}
            {(!thresholds.is_empty()).then(|| view! {
                <h3>"Thresholds found"</h3>
                <ul class="preview-thresholds">
                    {thresholds.into_iter().map(|t| {
                        let place = t.stage.map(|s| format!("in {s}")).unwrap_or_else(|| "in the description".into());
                        view! { <li><code>{t.text}</code>" — "{place}</li> }
                    }).collect_view()}
                </ul>
            })}
        </section>
    }
    .into_any()
}

fn too_large(file: &ChosenFile) -> bool {
    #[cfg(feature = "hydrate")]
    {
        file.size() > IMPORT_MAX_BYTES as f64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (file, IMPORT_MAX_BYTES);
        false
    }
}

async fn send<R: serde::de::DeserializeOwned>(file: ChosenFile, dry_run: bool) -> Result<R, ApiError> {
    #[cfg(feature = "hydrate")]
    {
        crate::api::import_plan(&file, dry_run).await
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (file, dry_run);
        Err(ApiError::new(0, "client", "This action needs the browser."))
    }
}
