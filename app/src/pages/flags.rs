//! Feature flags: the list with each environment's state, and a flag's page with its
//! rollout controls, a "test a key" box, its history and its rollout over time.
use super::chart::{axis, color, moment, points, tick_label, Axes, Chart, Frame, Legend, Reading, Scale};
use super::{confirm, rfc3339_ms, short_time, ErrorPanel, Ready};
use crate::api;
use crate::error::ApiError;
use crate::flag::{
    bucket, describe_serve, describe_state, describe_when, evaluate, get_flag_view, list_flags, Flag, FlagChange, FlagPatch, FlagState, FlagStateInput, FlagView, NewEnvironment, NewFlag, Outcome,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

#[component]
pub fn FlagList() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let flags = super::resource(move || reload.get(), |_| list_flags());
    // Flags change by hand, by the kill switch and by stages' gates and rollbacks.
    crate::live::on_live_change(|_| true, move || reload.update(|n| *n += 1));
    let error = RwSignal::new(None::<ApiError>);
    let key = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let env_name = RwSignal::new(String::new());
    let add_env = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewEnvironment { name: env_name.get_untracked().trim().to_string() };
        if let Err(e) = new.validate() {
            error.set(Some(e));
            return;
        }
        error.set(None);
        spawn_local(async move {
            match api::add_environment(&new).await {
                Ok(_) => reload.update(|n| *n += 1),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let navigate = use_navigate();
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewFlag { key: key.get_untracked().trim().to_string(), description: description.get_untracked(), ..Default::default() };
        if let Err(e) = new.validate() {
            error.set(Some(e));
            return;
        }
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::create_flag(&new).await {
                Ok(f) => navigate(&format!("/flags/{}", super::encode(&f.key)), Default::default()),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <Title text="Flags · Runway"/>
        <Transition fallback=|| view! { <p aria-busy="true">"Loading flags…"</p> }>
            {move || {
                let create = create.clone();
                Suspend::new(async move {
                match flags.await {
                    Ok((list, can)) => {
                        let envs: Vec<String> = list.first().map(|f| f.environments.iter().map(|s| s.environment.clone()).collect()).unwrap_or_default();
                        let heads = envs.iter().map(|e| view! { <th scope="col">{e.clone()}</th> }).collect_view();
                        let empty = list.is_empty();
                        let rows = list.into_iter().map(|f| {
                            let href = format!("/flags/{}", super::encode(&f.key));
                            let cells = f.environments.iter().map(|s| {
                                let class = if s.enabled { "badge flag-on" } else { "badge flag-off" };
                                view! { <td><span class=class>{describe_state(s)}</span></td> }
                            }).collect_view();
                            view! {
                                <tr class="flag-row" data-key=f.key.clone()>
                                    <td><a class="flag-key" href=href><code>{f.key.clone()}</code></a>
                                        {f.killed_at.is_some().then(|| view! { " " <span class="badge killed">"Killed"</span> })}
                                        <p class="muted">{f.description.clone()}</p></td>
                                    {cells}
                                </tr>
                            }
                        }).collect_view();
                        view! {
                            <h1>"Feature flags"</h1>
                            {empty.then(|| view! { <p class="empty">"No flags yet."</p> })}
                            <table class="flags">
                                <thead><tr><th scope="col">"Flag"</th>{heads}</tr></thead>
                                <tbody>{rows}</tbody>
                            </table>
                            {can.manage.then(|| view! {
                                <section class="panel" aria-labelledby="new-flag-heading">
                                    <h2 id="new-flag-heading">"New flag"</h2>
                                    {move || error.get().map(|e| view! { <p class="error-box" role="alert">{e.message}</p> })}
                                    <form class="inline-form" on:submit=create>
                                        <div class="field"><label for="flag-key">"Key"</label>
                                            <input id="flag-key" required placeholder="USE_STANDALONE_MCP" on:input=move |ev| key.set(event_target_value(&ev))/></div>
                                        <div class="field"><label for="flag-description">"Description"</label>
                                            <input id="flag-description" on:input=move |ev| description.set(event_target_value(&ev))/></div>
                                        <button type="submit" class="button primary">"Create flag"</button>
                                    </form>
                                    <form class="inline-form" on:submit=add_env>
                                        <div class="field"><label for="env-name">"New environment"</label>
                                            <input id="env-name" required placeholder="canary" on:input=move |ev| env_name.set(event_target_value(&ev))/></div>
                                        <button type="submit" class="button">"Add environment"</button>
                                    </form>
                                </section>
                            })}
                            <Ready/>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}}
        </Transition>
    }
}

#[component]
pub fn FlagPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || params.read().get("key").unwrap_or_default();
    let reload = RwSignal::new(0u32);
    let view_data = super::resource(move || (key(), reload.get()), |(k, _)| get_flag_view(k));
    crate::live::on_live_change(|seen| seen.plan_id.is_none() || seen.action.starts_with("gate.") || seen.action.starts_with("rollback."), move || reload.update(|n| *n += 1));
    // Outside the Transition: a refetch (often our own save coming back on the live
    // stream) re-creates the body, and must not clear the key being tested.
    let probe = Probe { key: RwSignal::new(String::new()), env: RwSignal::new(None) };
    view! {
        <Transition fallback=|| view! { <p aria-busy="true">"Loading the flag…"</p> }>
            {move || Suspend::new(async move {
                match view_data.await {
                    Ok(v) => view! { <FlagBody view=v reload probe/><Ready/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn FlagBody(view: FlagView, reload: RwSignal<u32>, probe: Probe) -> impl IntoView {
    let FlagView { flag, history, can, segments } = view;
    let error = RwSignal::new(None::<ApiError>);
    let key = StoredValue::new(flag.key.clone());
    let kill = move |_| {
        if !confirm(&format!("Turn {} off in every environment now?", key.get_value())) {
            return;
        }
        error.set(None);
        spawn_local(async move {
            match api::kill_flag(&key.get_value()).await {
                Ok(_) => reload.update(|n| *n += 1),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let version = flag.version;
    let navigate = use_navigate();
    let archive = move |_| {
        if !confirm(&format!("Archive {}? Services will get FLAG_NOT_FOUND for it.", key.get_value())) {
            return;
        }
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::archive_flag(&key.get_value(), version).await {
                Ok(_) => navigate("/flags", Default::default()),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let (description, owner, tags_text) =
        (RwSignal::new(flag.description.clone()), RwSignal::new(flag.owner.clone()), RwSignal::new(flag.tags.join(", ")));
    let responders_text = RwSignal::new(flag.responders.join(", "));
    let save_meta = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let list = |text: String| text.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect::<Vec<_>>();
        let patch = FlagPatch {
            version,
            description: Some(description.get_untracked()),
            owner: Some(owner.get_untracked()),
            tags: Some(list(tags_text.get_untracked())),
            responders: Some(list(responders_text.get_untracked())),
        };
        if let Err(e) = patch.validate() {
            error.set(Some(e));
            return;
        }
        spawn_local(async move {
            match api::update_flag(&key.get_value(), &patch).await {
                Ok(_) => reload.update(|n| *n += 1),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let envs: Vec<String> = flag.environments.iter().map(|s| s.environment.clone()).collect();
    let cards = flag
        .environments
        .iter()
        .cloned()
        .map(|s| view! { <EnvCard flag_key=flag.key.clone() version=flag.version state=s can_manage=can.manage reload error/> })
        .collect_view();
    let tags = flag.tags.join(", ");
    let responders = flag.responders.join(", ");
    view! {
        <Title text=format!("{} · Flags · Runway", flag.key)/>
        <article class="flag" data-version=flag.version>
            <div class="page-head">
                <div>
                    <h1><code>{flag.key.clone()}</code></h1>
                    <p class="summary">{flag.description.clone()}</p>
                </div>
                <div class="head-actions">
                    {can.kill.then(|| view! {
                        <button type="button" class="button danger" on:click=kill>"Kill switch: turn off everywhere"</button>
                    })}
                    {can.manage.then(|| view! {
                        <button type="button" class="button" on:click=archive>"Archive"</button>
                    })}
                </div>
            </div>
            {flag.killed_at.clone().map(|at| view! {
                <p class="error-box killed" role="status">
                    {format!("Killed by {} on {}: off in every environment until someone turns it on again.", flag.killed_by.clone().unwrap_or_default(), short_time(&at))}
                </p>
            })}
            <dl class="facts">
                <div><dt>"Owner"</dt><dd>{if flag.owner.is_empty() { "—".to_string() } else { flag.owner.clone() }}</dd></div>
                <div><dt>"Tags"</dt><dd>{if tags.is_empty() { "—".to_string() } else { tags }}</dd></div>
                <div><dt>"Responders (may use the kill switch)"</dt>
                    <dd class="responders">{if responders.is_empty() { "—".to_string() } else { responders }}</dd></div>
                <div><dt>"Version"</dt><dd>{flag.version}</dd></div>
            </dl>
            {move || error.get().map(|e| view! { <p class="error-box" role="alert">{e.message}</p> })}
            {can.manage.then(|| view! {
                <details class="md-section">
                    <summary>"Edit description, owner, tags and responders"</summary>
                    <form class="inline-form" on:submit=save_meta>
                        <div class="field"><label for="meta-description">"Description"</label>
                            <input id="meta-description" prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev))/></div>
                        <div class="field"><label for="meta-owner">"Owner"</label>
                            <input id="meta-owner" prop:value=move || owner.get() on:input=move |ev| owner.set(event_target_value(&ev))/></div>
                        <div class="field"><label for="meta-tags">"Tags (comma-separated)"</label>
                            <input id="meta-tags" prop:value=move || tags_text.get() on:input=move |ev| tags_text.set(event_target_value(&ev))/></div>
                        <div class="field"><label for="meta-responders">"Responders (comma-separated usernames)"</label>
                            <input id="meta-responders" prop:value=move || responders_text.get() on:input=move |ev| responders_text.set(event_target_value(&ev))/></div>
                        <button type="submit" class="button">"Save details"</button>
                    </form>
                </details>
            })}
            <div class="env-cards">{cards}</div>
            <TestKey flag=flag.clone() segments probe/>
            <RolloutChart history=history.clone() envs=envs/>
            <History history/>
        </article>
    }
    .into_any()
}

/// "claude=3" per line into variants; a line without a weight weighs 1.
fn parse_variants(text: &str) -> Result<Vec<crate::flag::Variant>, ApiError> {
    lines(text)
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let (name, weight) = line.split_once('=').unwrap_or((line.as_str(), "1"));
            let weight = weight.trim().parse().map_err(|_| {
                ApiError::validation(format!("variants[{i}].weight"), format!("{:?}: the weight after '=' is a whole number.", line))
            })?;
            Ok(crate::flag::Variant { name: name.trim().to_string(), weight })
        })
        .collect()
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

#[component]
fn EnvCard(
    flag_key: String,
    version: i64,
    state: FlagState,
    can_manage: bool,
    reload: RwSignal<u32>,
    error: RwSignal<Option<ApiError>>,
) -> impl IntoView {
    let env = state.environment.clone();
    let enabled = RwSignal::new(state.enabled);
    let percentage = RwSignal::new(state.percentage);
    let allow = RwSignal::new(state.allow.join("\n"));
    let deny = RwSignal::new(state.deny.join("\n"));
    let variants = RwSignal::new(state.variants.iter().map(|v| format!("{}={}", v.name, v.weight)).collect::<Vec<_>>().join("\n"));
    let id = |what: &str| format!("{what}-{}", state.environment);
    // Rules are edited as the JSON the API takes (Unleash's constraint shape); the server
    // reads them and names the place of a mistake.
    let rules_text = RwSignal::new(if state.rules.is_empty() { String::new() } else { serde_json::to_string_pretty(&state.rules).unwrap_or_default() });
    let save = {
        let (flag_key, env) = (flag_key.clone(), env.clone());
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let input = FlagStateInput {
                version,
                enabled: enabled.get_untracked(),
                percentage: percentage.get_untracked(),
                allow: lines(&allow.get_untracked()),
                deny: lines(&deny.get_untracked()),
                variants: match parse_variants(&variants.get_untracked()) {
                    Ok(v) => v,
                    Err(e) => {
                        error.set(Some(e));
                        return;
                    }
                },
                rules: match rules_text.get_untracked().trim() {
                    "" => serde_json::Value::Array(vec![]),
                    text => match serde_json::from_str(text) {
                        Ok(v) => v,
                        Err(e) => {
                            error.set(Some(ApiError::validation("rules", format!("The rules are not valid JSON: {e}"))));
                            return;
                        }
                    },
                },
            };
            if let Err(e) = input.validate() {
                error.set(Some(e));
                return;
            }
            let (flag_key, env) = (flag_key.clone(), env.clone());
            error.set(None);
            spawn_local(async move {
                match api::set_flag_state(&flag_key, &env, &input).await {
                    Ok(_) => reload.update(|n| *n += 1),
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    };
    let (on_id, pct_id, allow_id, deny_id) = (id("enabled"), id("percentage"), id("allow"), id("deny"));
    let (on_for, pct_for, allow_for, deny_for) = (on_id.clone(), pct_id.clone(), allow_id.clone(), deny_id.clone());
    let (var_id, var_for) = (id("variants"), id("variants"));
    let (rules_id, rules_for) = (id("rules"), id("rules"));
    let rules = state
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            view! {
                <li class="rule">
                    <strong>{r.label(i)}</strong>": if "{describe_when(r)}", serve "{describe_serve(r)}
                </li>
            }
        })
        .collect_view();
    let has_rules = !state.rules.is_empty();
    view! {
        <section class=format!("panel env-card env-{}", state.environment) aria-labelledby=format!("env-{}-heading", state.environment)>
            <h2 id=format!("env-{}-heading", state.environment)>{state.environment.clone()}</h2>
            <p class="env-state">{describe_state(&state)}</p>
            {has_rules.then(|| view! {
                <h3 class="rules-heading">"Rules, in the order they are tried"</h3>
                <ol class="rules">{rules}</ol>
                <p class="small muted">"After the deny and allow lists; a context no rule matches gets the rollout above."</p>
            })}
            <form class="form" on:submit=save>
                <fieldset disabled=!can_manage>
                    <div class="field checkbox">
                        <input type="checkbox" id=on_id prop:checked=move || enabled.get() on:change=move |ev| enabled.set(event_target_checked(&ev))/>
                        <label for=on_for>"On"</label>
                    </div>
                    <div class="field">
                        <label for=pct_for>{move || format!("Rollout: {}% of targeting keys", percentage.get())}</label>
                        <input type="range" id=pct_id min="0" max="100" step="1" prop:value=move || percentage.get().to_string()
                            on:input=move |ev| percentage.set(event_target_value(&ev).parse().unwrap_or(0))/>
                    </div>
                    <div class="field">
                        <label for=allow_for>"Always on for (one targeting key per line)"</label>
                        <textarea id=allow_id rows="2" prop:value=move || allow.get() on:input=move |ev| allow.set(event_target_value(&ev))></textarea>
                    </div>
                    <div class="field">
                        <label for=deny_for>"Never on for (wins over the list above)"</label>
                        <textarea id=deny_id rows="2" prop:value=move || deny.get() on:input=move |ev| deny.set(event_target_value(&ev))></textarea>
                    </div>
                    <div class="field">
                        <label for=var_for>"Variants (name=weight per line; empty for a plain on/off flag)"</label>
                        <textarea id=var_id rows="2" prop:value=move || variants.get() on:input=move |ev| variants.set(event_target_value(&ev))></textarea>
                    </div>
                    <div class="field">
                        <label for=rules_for>"Targeting rules (JSON, tried in order; empty for none)"</label>
                        <textarea id=rules_id rows="4" class="code" spellcheck="false" prop:value=move || rules_text.get()
                            on:input=move |ev| rules_text.set(event_target_value(&ev))></textarea>
                    </div>
                    <button type="submit" class="button primary">{format!("Save {}", env)}</button>
                </fieldset>
            </form>
        </section>
    }
    .into_any()
}

/// What the "Test a key" panel holds; `env` is None until the user picks one.
#[derive(Clone, Copy)]
struct Probe {
    key: RwSignal<String>,
    env: RwSignal<Option<String>>,
}

/// Evaluates in the browser with the same code the server runs, for a targeting key and
/// any other attributes of a context.
#[component]
fn TestKey(flag: Flag, segments: crate::flag::Segments, probe: Probe) -> impl IntoView {
    let Probe { key, env: picked } = probe;
    let context = RwSignal::new(String::new());
    let first = flag.environments.first().map(|s| s.environment.clone()).unwrap_or_default();
    let env = Signal::derive(move || picked.get().unwrap_or_else(|| first.clone()));
    let flag = StoredValue::new(flag);
    let segments = StoredValue::new(segments);
    let result = move || {
        let k = key.get();
        let f = flag.get_value();
        let state = f.state(&env.get())?.clone();
        let targeting = Some(k.trim()).filter(|k| !k.is_empty());
        let mut ctx = crate::flag::key_context(targeting);
        match context.get().trim() {
            "" => {}
            text => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::Object(attributes)) => ctx.attributes.extend(attributes.into_iter().filter(|(k, _)| k != "targetingKey")),
                _ => return Some("The context is a JSON object of attributes, as {\"region\": \"eu\", \"plan\": \"enterprise\"}.".to_string()),
            },
        }
        let text = match segments.with_value(|segments| evaluate(&f.key, &state, &ctx, segments)) {
            Outcome::Value { value, variant, reason, rule, .. } => {
                let value = value.map(|v| v.to_string()).unwrap_or_else(|| "the code default".into());
                let bucket = targeting.map(|t| format!(", bucket {}", bucket(&f.key, t))).unwrap_or_default();
                let rule = rule.map(|r| format!(", by rule {}: {}", r.index + 1, r.name)).unwrap_or_default();
                format!("{value} (variant {variant}, {reason:?}{rule}{bucket})")
            }
            Outcome::TargetingKeyMissing => "Needs a targeting key: this flag is on for a percentage of keys.".into(),
        };
        Some(text)
    };
    let envs = flag.get_value().environments.iter().map(|s| s.environment.clone()).collect::<Vec<_>>();
    view! {
        <section class="panel test-key" aria-labelledby="test-key-heading">
            <h2 id="test-key-heading">"Test a key"</h2>
            <div class="inline-form">
                <div class="field"><label for="test-key">"Targeting key"</label>
                    <input id="test-key" placeholder="workspace id" prop:value=move || key.get() on:input=move |ev| key.set(event_target_value(&ev))/></div>
                <div class="field"><label for="test-env">"Environment"</label>
                    <select id="test-env" on:change=move |ev| picked.set(Some(event_target_value(&ev)))>
                        {envs.into_iter().map(|e| { let selected = { let e = e.clone(); move || env.get() == e }; view! { <option value=e.clone() selected=selected>{e.clone()}</option> } }).collect_view()}
                    </select></div>
            </div>
            <div class="field"><label for="test-context">"Other attributes of the context (JSON)"</label>
                <textarea id="test-context" rows="2" class="code" spellcheck="false" placeholder="{\"region\": \"eu\", \"plan\": \"enterprise\"}"
                    prop:value=move || context.get() on:input=move |ev| context.set(event_target_value(&ev))></textarea></div>
            <p class="test-result" aria-live="polite">{result}</p>
        </section>
    }
    .into_any()
}

#[component]
fn History(history: Vec<FlagChange>) -> impl IntoView {
    let rows = history
        .into_iter()
        .rev()
        .map(|c| {
            view! {
                <tr class="flag-change">
                    <td><time datetime=c.at.clone()>{short_time(&c.at)}</time></td>
                    <td>{c.actor}</td>
                    <td>{c.action}</td>
                    <td>{c.environment.unwrap_or_default()}</td>
                    <td>{c.before.unwrap_or_default()}</td>
                    <td>{c.after.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section aria-labelledby="history-heading">
            <h2 id="history-heading">"History"</h2>
            <table class="history">
                <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"Change"</th>
                    <th scope="col">"Environment"</th><th scope="col">"From"</th><th scope="col">"To"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
    .into_any()
}

/// One change that moved a charted environment's effective rollout (0 when off): when,
/// every environment's level after it, and whether it was the kill switch.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    at: i64,
    levels: Vec<i64>,
    kill: bool,
}

/// The history's changes to `envs`' rollout, oldest first; every level is 0 before them.
fn rollout_steps(history: &[FlagChange], envs: &[String]) -> Vec<Step> {
    let mut levels = vec![0; envs.len()];
    let mut steps = vec![];
    for c in history {
        let Some(at) = rfc3339_ms(&c.at) else { continue };
        let kill = c.environment.is_none() && c.action == "flag.kill";
        match c.environment.as_ref().and_then(|e| envs.iter().position(|x| x == e)) {
            Some(i) => levels[i] = c.rollout_after.unwrap_or(levels[i]),
            None if kill => levels.iter_mut().for_each(|l| *l = 0),
            None => continue,
        }
        steps.push(Step { at, levels: levels.clone(), kill });
    }
    steps
}

/// "2026-11-21 10:29 UTC — production 25%, staging 0%".
fn step_reading(step: &Step, envs: &[String]) -> String {
    let levels: Vec<String> = envs.iter().zip(&step.levels).map(|(e, l)| format!("{e} {l}%")).collect();
    format!("{} UTC — {}{}", moment(step.at), if step.kill { "kill switch: " } else { "" }, levels.join(", "))
}

/// Each environment's effective rollout over the flag's history, as a step line; the
/// pointer and the arrow keys read out every environment's level after each change.
#[component]
fn RolloutChart(history: Vec<FlagChange>, envs: Vec<String>) -> impl IntoView {
    let times: Vec<i64> = history.iter().filter_map(|c| rfc3339_ms(&c.at)).collect();
    let chart = match (times.iter().min(), times.iter().max()) {
        (Some(&t0), Some(&t1)) => {
            let steps = rollout_steps(&history, &envs);
            let ax = axis(&[0.0, 100.0]);
            let s = Scale::new(Frame { height: 200.0, ..Frame::WITH_LEGEND }, (t0, t1), &ax);
            let now: Vec<i64> = steps.last().map(|s| s.levels.clone()).unwrap_or_else(|| vec![0; envs.len()]);
            let lines = (0..envs.len())
                .map(|i| {
                    let mut level = 0;
                    let mut xy = vec![(s.x(t0), s.y(0.0))];
                    for step in &steps {
                        if step.levels[i] != level {
                            xy.push((s.x(step.at), s.y(level as f64)));
                            level = step.levels[i];
                            xy.push((s.x(step.at), s.y(level as f64)));
                        }
                    }
                    xy.push((s.frame.plot_right(), s.y(level as f64)));
                    view! { <polyline class="rollout-line" data-environment=envs[i].clone() stroke=color(i) points=points(xy)/> }
                })
                .collect_view();
            let readings = steps
                .iter()
                .map(|st| Reading { x: s.x(st.at), ys: st.levels.iter().map(|l| s.y(*l as f64)).collect(), text: step_reading(st, &envs) })
                .collect();
            let levels: Vec<String> = envs.iter().zip(&now).map(|(e, l)| format!("{e} {l}%")).collect();
            let label = format!("Rollout over time for {}, from {} to {} UTC; now {}", envs.join(", "), moment(t0), moment(t1), levels.join(", "));
            view! {
                <Chart name="rollout" frame=s.frame label readings>
                    <Axes scale=s ticks=ax.labelled_with(|v| format!("{}%", tick_label(v, ax.step))) start=moment(t0) end=moment(t1)
                        time_title="Time (UTC)" value_title="Rollout".into()/>
                    {lines}
                    <Legend frame=s.frame names=levels/>
                </Chart>
            }
            .into_any()
        }
        _ => view! { <p class="empty">"No changes yet."</p> }.into_any(),
    };
    view! {
        <section aria-labelledby="chart-heading">
            <h2 id="chart-heading">"Rollout over time"</h2>
            {chart}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(at: &str, action: &str, environment: Option<&str>, rollout_after: Option<i64>) -> FlagChange {
        FlagChange {
            at: at.into(),
            actor: "admin".into(),
            action: action.into(),
            environment: environment.map(Into::into),
            before: None,
            after: None,
            rollout_after,
        }
    }

    #[test]
    fn the_rollout_steps_follow_each_environment_and_the_kill_switch() {
        let envs = vec!["production".to_string(), "staging".to_string()];
        let history = [
            change("2026-11-21T10:00:00.000Z", "flag.create", None, None),
            change("2026-11-21T10:05:00.000Z", "flag.set", Some("staging"), Some(100)),
            change("2026-11-21T10:10:00.000Z", "flag.set", Some("production"), Some(25)),
            change("2026-11-21T10:12:00.000Z", "flag.set", Some("qa"), Some(50)),
            change("2026-11-21T10:15:00.000Z", "flag.kill", None, None),
        ];
        let steps = rollout_steps(&history, &envs);
        assert_eq!(steps.iter().map(|s| s.levels.clone()).collect::<Vec<_>>(), [vec![0, 100], vec![25, 100], vec![0, 0]]);
        assert_eq!(steps[0].at, rfc3339_ms("2026-11-21T10:05:00Z").unwrap());
        assert_eq!(step_reading(&steps[1], &envs), "2026-11-21 10:10 UTC — production 25%, staging 100%");
        assert_eq!(step_reading(&steps[2], &envs), "2026-11-21 10:15 UTC — kill switch: production 0%, staging 0%");
    }
}
