//! Feature flags: the list with each environment's state, and a flag's page with its
//! rollout controls, a "test a key" box, its history and its rollout over time.
use super::{confirm, short_time, ErrorPanel, Ready};
use crate::api;
use crate::error::ApiError;
use crate::flag::{
    bucket, describe_state, evaluate, get_flag_view, list_flags, Flag, FlagChange, FlagPatch, FlagState, FlagStateInput, FlagView, NewEnvironment, NewFlag, Outcome,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

#[component]
pub fn FlagList() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let flags = Resource::new(move || reload.get(), |_| list_flags());
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
    let view_data = Resource::new(move || (key(), reload.get()), |(k, _)| get_flag_view(k));
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
    let FlagView { flag, history, can } = view;
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
            <TestKey flag=flag.clone() probe/>
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
    view! {
        <section class=format!("panel env-card env-{}", state.environment) aria-labelledby=format!("env-{}-heading", state.environment)>
            <h2 id=format!("env-{}-heading", state.environment)>{state.environment.clone()}</h2>
            <p class="env-state">{describe_state(&state)}</p>
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

/// Evaluates in the browser with the same code the server runs.
#[component]
fn TestKey(flag: Flag, probe: Probe) -> impl IntoView {
    let Probe { key, env: picked } = probe;
    let first = flag.environments.first().map(|s| s.environment.clone()).unwrap_or_default();
    let env = Signal::derive(move || picked.get().unwrap_or_else(|| first.clone()));
    let flag = StoredValue::new(flag);
    let result = move || {
        let k = key.get();
        let f = flag.get_value();
        let state = f.state(&env.get())?.clone();
        let targeting = Some(k.trim()).filter(|k| !k.is_empty());
        let text = match evaluate(&f.key, &state, targeting) {
            Outcome::Value { value, variant, reason, .. } => {
                let value = value.map(|v| v.to_string()).unwrap_or_else(|| "the code default".into());
                let bucket = targeting.map(|t| format!(", bucket {}", bucket(&f.key, t))).unwrap_or_default();
                format!("{value} (variant {variant}, {reason:?}{bucket})")
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

/// The effective rollout (0 when off) per environment over time, as a step chart.
#[component]
fn RolloutChart(history: Vec<FlagChange>, envs: Vec<String>) -> impl IntoView {
    const W: f64 = 640.0;
    const H: f64 = 160.0;
    let times: Vec<f64> = history.iter().filter_map(|c| parse_secs(&c.at)).collect();
    let (t0, t1) = (times.first().copied().unwrap_or(0.0), times.last().copied().unwrap_or(1.0));
    let span = (t1 - t0).max(1.0);
    let x = move |t: f64| 40.0 + (t - t0) / span * (W - 60.0);
    let y = |pct: i64| 10.0 + (100 - pct) as f64 / 100.0 * (H - 30.0);
    let series = envs
        .iter()
        .enumerate()
        .map(|(i, env)| {
            let mut points = vec![];
            let mut last = 0;
            for c in &history {
                let Some(t) = parse_secs(&c.at) else { continue };
                let next = match (&c.environment, c.action.as_str()) {
                    (Some(e), _) if e == env => c.rollout_after.unwrap_or(last),
                    (None, "flag.kill") => 0,
                    _ => continue,
                };
                points.push(format!("{:.1},{:.1}", x(t), y(last)));
                points.push(format!("{:.1},{:.1}", x(t), y(next)));
                last = next;
            }
            points.push(format!("{:.1},{:.1}", W - 20.0, y(last)));
            let color = super::CHART_COLORS[i % super::CHART_COLORS.len()];
            view! {
                <polyline fill="none" stroke=color stroke-width="2" points=points.join(" ")/>
                <text x=W - 18.0 y=y(last) + 4.0 font-size="11" fill=color>{format!("{env} {last}%")}</text>
            }
        })
        .collect_view();
    let label = format!("Rollout over time for {}", envs.join(", "));
    view! {
        <section aria-labelledby="chart-heading">
            <h2 id="chart-heading">"Rollout over time"</h2>
            <svg class="rollout-chart" viewBox=format!("0 0 {} {H}", W + 80.0) role="img" aria-label=label>
                <line x1="40" y1=y(0) x2=W - 20.0 y2=y(0) stroke="#d1d5db"/>
                <line x1="40" y1=y(100) x2=W - 20.0 y2=y(100) stroke="#e5e7eb"/>
                <text x="4" y=y(100) + 4.0 font-size="11" fill="#4b5563">"100%"</text>
                <text x="4" y=y(0) + 4.0 font-size="11" fill="#4b5563">"0%"</text>
                {series}
            </svg>
        </section>
    }
    .into_any()
}

/// Seconds since the epoch from "2026-11-21T10:00:00.000Z" (no date crate in the browser bundle).
fn parse_secs(at: &str) -> Option<f64> {
    let n = |r: std::ops::Range<usize>| at.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, s) = (n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?, n(17..19)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3_600 + mi * 60 + s) as f64)
}
