//! A stage's guards on the plan page: rollback triggers on live metrics, their breaches,
//! and each guard's metric as an SVG chart drawn on the server that reads out values
//! under the pointer or the arrow keys once the page is interactive.
use super::form::{Checkbox, Choice, Field, Kind};
use super::plan_page::use_plan;
use super::{confirm, short_time};
use crate::api;
use crate::gate::{Rollback, RollbackStatus};
use crate::guard::{number, Breach, Comparison, Guard, GuardAction, GuardSeries, NewGuard, ResolveBreach, SeriesPoint, DEFAULT_BASELINE_MINUTES};
use crate::stage::{format_minutes, Stage, StagePatch, StageStatus};
use leptos::prelude::*;

#[allow(clippy::too_many_arguments)]
#[component]
pub fn StageGuards(stage: Stage, series: Vec<GuardSeries>, can_edit: bool, can_run: bool) -> impl IntoView {
    if stage.guards.is_empty() && !can_edit {
        return ().into_any();
    }
    let state = use_plan();
    let plan_id = state.plan_id;
    let stage_id = stage.id;
    let open = !matches!(stage.status, StageStatus::Passed | StageStatus::RolledBack | StageStatus::Aborted);
    let auto = stage.auto_rollback;
    let toggle = move |_| {
        let patch = StagePatch { version: state.version(), auto_rollback: Some(!auto), ..Default::default() };
        state.change(async move { api::update_stage(plan_id, stage_id, &patch).await });
    };
    let auto_text = if auto {
        "Automatic rollback: on — a breaching roll-back guard rolls this stage back without waiting for approval."
    } else {
        "Automatic rollback: off — a breaching roll-back guard asks the rollback authorities."
    };
    let guards = stage
        .guards
        .iter()
        .map(|guard| {
            let chart = series.iter().find(|s| s.guard_id == guard.id).cloned();
            let rollback = guard.open_breach().and_then(|b| b.rollback_id).and_then(|id| stage.rollbacks.iter().find(|r| r.id == id).cloned());
            view! {
                <GuardItem stage_id status=stage.status started=stage.started_at.is_some() guard=guard.clone() series=chart rollback
                    can_edit can_run/>
            }
        })
        .collect_view();
    let name = stage.name.clone();
    view! {
        <div class="guards" role="region" aria-label=format!("Guards of {name}")>
            <h4>"Guards"</h4>
            <div class="auto-rollback">
                <p class="auto-rollback-state">{auto_text}</p>
                {(can_edit && open).then(|| view! {
                    <button type="button" class="button small" on:click=toggle>
                        {if auto { "Turn automatic rollback off" } else { "Turn automatic rollback on" }}
                    </button>
                })}
            </div>
            {guards}
            {(stage.guards.is_empty()).then(|| view! { <p class="muted">"No guards on this stage."</p> })}
            {(can_edit && open).then(|| view! { <AddGuard stage_id/> })}
        </div>
    }
    .into_any()
}

#[allow(clippy::too_many_arguments)]
#[component]
fn GuardItem(
    stage_id: i64,
    status: StageStatus,
    started: bool,
    guard: Guard,
    series: Option<GuardSeries>,
    rollback: Option<Rollback>,
    can_edit: bool,
    can_run: bool,
) -> impl IntoView {
    let state = use_plan();
    let plan_id = state.plan_id;
    let guard_id = guard.id;
    let condition = guard.condition();
    let open = guard.open_breach().cloned();
    let (badge_class, badge) = match (&open, status) {
        (Some(_), _) => ("badge guard-breached", "Breached".to_string()),
        (None, StageStatus::Active) => ("badge guard-watching", "Watching".to_string()),
        (None, s) => ("badge guard-idle", format!("Not watching (stage {})", s.label().to_lowercase())),
    };
    let settings = format!(
        "Mean over {}, at least {} · Action: {}",
        duration(guard.window_seconds),
        samples(guard.min_samples),
        guard.action.label()
    );
    let baseline = guard.relative.then(|| baseline_text(&guard, started));
    let now = series.as_ref().and_then(|s| s.current).map(|(mean, count)| format!("Now: {} ({} in the window)", number(mean), samples(count)));
    let breach = open.map(|b| view! { <OpenBreach breach=b comparison=guard.comparison rollback can_run/> });
    let resolved: Vec<Breach> = guard.breaches.iter().filter(|b| b.resolved_at.is_some()).cloned().collect();
    let past = (!resolved.is_empty()).then(|| {
        let items = resolved
            .into_iter()
            .rev()
            .map(|b| {
                let text = format!(
                    "{}: mean {} — resolved by {} at {}",
                    short_time(&b.at),
                    number(b.value),
                    b.resolved_by.clone().unwrap_or_default(),
                    short_time(&b.resolved_at.clone().unwrap_or_default())
                );
                let note = b.resolution.clone().filter(|r| !r.trim().is_empty()).map(|r| format!(": “{r}”")).unwrap_or_default();
                view! { <li class="resolved-breach" data-breach-id=b.id>{text}{note}</li> }
            })
            .collect_view();
        view! {
            <h6>"Resolved breaches"</h6>
            <ul class="resolved-breaches">{items}</ul>
        }
    });
    let chart = match series {
        Some(s) if !s.points.is_empty() => view! { <GuardChart series=s/> }.into_any(),
        _ => view! {
            <p class="empty">{format!("No samples of {} yet. Services send them to POST /api/v1/metrics.", guard.metric)}</p>
        }
        .into_any(),
    };
    let remove_label = format!("Remove guard {condition}");
    let remove = {
        let condition = condition.clone();
        move |_| {
            if confirm(&format!("Remove the guard {condition}? Its breaches are kept in the history.")) {
                let version = state.version();
                state.change(async move { api::delete_guard(plan_id, stage_id, guard_id, version).await });
            }
        }
    };
    let breached = guard.open_breach().is_some();
    view! {
        <article class=if breached { "guard breached" } else { "guard" } data-guard-id=guard_id aria-label=format!("Guard {condition}")>
            <div class="guard-head">
                <h5 class="guard-condition"><code>{condition.clone()}</code></h5>
                <span class=badge_class>{badge}</span>
                {can_edit.then(|| view! {
                    <button type="button" class="link danger" aria-label=remove_label on:click=remove>"Remove"</button>
                })}
            </div>
            <p class="guard-settings">{settings}</p>
            {baseline.map(|b| view! { <p class="guard-baseline">{b}</p> })}
            {now.map(|n| view! { <p class="guard-now">{n}</p> })}
            {breach}
            {chart}
            {past}
        </article>
    }
    .into_any()
}

#[component]
fn OpenBreach(breach: Breach, comparison: Comparison, rollback: Option<Rollback>, can_run: bool) -> impl IntoView {
    let state = use_plan();
    let plan_id = state.plan_id;
    let breach_id = breach.id;
    let mut text = format!(
        "Breached at {}: mean {} over {} {} {}",
        short_time(&breach.at),
        number(breach.value),
        samples(breach.samples),
        comparison.words(),
        number(breach.threshold)
    );
    if let Some(b) = breach.baseline {
        text.push_str(&format!(" (baseline {})", number(b)));
    }
    text.push('.');
    let outcome = match (breach.action, breach.rollback_id) {
        (GuardAction::RollBack, Some(id)) => match rollback {
            Some(r) if r.automatic => "Rolled back automatically by the guard.".to_string(),
            Some(r) if r.status == RollbackStatus::Pending => "Rollback requested; awaiting a rollback authority.".to_string(),
            Some(r) => format!("Rollback {}.", r.status.label().to_lowercase()),
            None => format!("Rollback #{id} requested."),
        },
        (GuardAction::RollBack, None) => "People were notified; no rollback was requested.".to_string(),
        (GuardAction::Pause, _) => "The plan is paused: the next gate cannot open until this breach is resolved.".to_string(),
        (GuardAction::Notify, _) => "People were notified.".to_string(),
    };
    let note = RwSignal::new(String::new());
    let form = state.form("breach", breach_id);
    let resolve = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = ResolveBreach { note: note.get_untracked() };
        if let Err(e) = body.validate() {
            return form.show(e);
        }
        state.submit(form, async move { api::resolve_breach(plan_id, breach_id, &body).await });
    };
    view! {
        <div class="breach" role="alert" data-breach-id=breach_id>
            <p class="breach-what"><strong>{text}</strong></p>
            <p class="breach-outcome">{outcome}</p>
            {can_run.then(|| view! {
                <form class="breach-resolve" novalidate on:submit=resolve>
                    <Field label="What was done about it" name="note" value=note form kind=Kind::Area rows=2/>
                    <button type="submit" class="button small">"Resolve breach"</button>
                </form>
            })}
        </div>
    }
    .into_any()
}

#[component]
fn AddGuard(stage_id: i64) -> impl IntoView {
    let state = use_plan();
    let plan_id = state.plan_id;
    let form = state.form("guard", stage_id);
    let metric = RwSignal::new(String::new());
    let labels = RwSignal::new(String::new());
    let comparison = RwSignal::new(Comparison::Above.as_str().to_string());
    let threshold = RwSignal::new(String::new());
    let relative = RwSignal::new(false);
    let baseline = RwSignal::new(String::new());
    let baseline_window = RwSignal::new(DEFAULT_BASELINE_MINUTES.to_string());
    let window = RwSignal::new("300".to_string());
    let min_samples = RwSignal::new("5".to_string());
    let action = RwSignal::new(GuardAction::Notify.as_str().to_string());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut new = new_guard(
            state.version(),
            &metric.get_untracked(),
            &comparison.get_untracked(),
            &threshold.get_untracked(),
            relative.get_untracked(),
            &baseline.get_untracked(),
            &baseline_window.get_untracked(),
            &window.get_untracked(),
            &min_samples.get_untracked(),
            &action.get_untracked(),
        );
        match crate::guard::parse_labels(&labels.get_untracked()) {
            Ok(l) => new.labels = l,
            Err(e) => return form.show(e),
        }
        if let Err(e) = new.validate() {
            return form.show(e);
        }
        state.submit(form, async move { api::add_guard(plan_id, stage_id, &new).await });
    };
    let comparisons = Comparison::ALL.into_iter().map(|c| (c.as_str().to_string(), format!("{} ({})", c.as_str(), c.words()))).collect();
    let actions = GuardAction::ALL.into_iter().map(|a| (a.as_str().to_string(), a.label().to_string())).collect();
    view! {
        <details class="add-guard">
            <summary>"Add a guard"</summary>
            // novalidate: the messages come from NewGuard::validate, next to their field.
            <form class="guard-form" novalidate on:submit=submit>
                <div class="guard-fields">
                    <Field label="Metric" name="metric" value=metric form hint="As services send it, e.g. error_rate"/>
                    <Field label="Labels" name="labels" value=labels form hint="Only samples with all of these count, e.g. service=git, region=eu"/>
                    <Choice label="Comparison" name="comparison" value=comparison options=comparisons form/>
                    <Field label="Threshold" name="threshold" value=threshold form kind=Kind::Decimal/>
                </div>
                <Checkbox label="Threshold is a multiple of the baseline" name="relative" value=relative form/>
                <div class="guard-fields">
                    <Field label="Baseline value" name="baseline_value" value=baseline form kind=Kind::Decimal
                        hint="Leave empty to measure it before the stage starts."/>
                    <Field label="Baseline window (minutes)" name="baseline_window_minutes" value=baseline_window form kind=Kind::Number/>
                </div>
                <div class="guard-fields">
                    <Field label="Evaluation window (seconds)" name="window_seconds" value=window form kind=Kind::Number/>
                    <Field label="Minimum samples" name="min_samples" value=min_samples form kind=Kind::Number/>
                    <Choice label="Action" name="action" value=action options=actions form/>
                </div>
                <button type="submit" class="button primary">"Add guard"</button>
            </form>
        </details>
    }
    .into_any()
}

/// The form's text as a guard to send. Numbers that do not parse become values
/// `NewGuard::validate` refuses, so its message names the field.
#[allow(clippy::too_many_arguments)]
fn new_guard(
    version: i64,
    metric: &str,
    comparison: &str,
    threshold: &str,
    relative: bool,
    baseline: &str,
    baseline_window: &str,
    window: &str,
    min_samples: &str,
    action: &str,
) -> NewGuard {
    let float = |s: &str| s.trim().parse::<f64>().unwrap_or(f64::NAN);
    let int = |s: &str| s.trim().parse::<i64>().unwrap_or(0);
    let baseline_value = (!baseline.trim().is_empty()).then(|| float(baseline));
    NewGuard {
        version,
        metric: metric.trim().to_string(),
        comparison: Comparison::parse(comparison).unwrap_or(Comparison::Above),
        threshold: float(threshold),
        relative,
        baseline_value,
        // The window only matters for a relative guard measuring its own baseline.
        baseline_window_minutes: (relative && baseline_value.is_none()).then(|| int(baseline_window)),
        window_seconds: int(window),
        min_samples: int(min_samples),
        action: GuardAction::parse(action).unwrap_or(GuardAction::Notify),
        labels: Default::default(),
    }
}

fn baseline_text(guard: &Guard, started: bool) -> String {
    let minutes = format_minutes(guard.baseline_window_minutes.unwrap_or(DEFAULT_BASELINE_MINUTES));
    let text = match (guard.baseline_value, guard.baseline_measured) {
        (Some(v), _) => format!("Baseline: {} (entered)", number(v)),
        (None, Some(m)) => format!(
            "Baseline: {}, mean of {} in the {minutes} before the stage started",
            number(m),
            samples(guard.baseline_samples.unwrap_or(0))
        ),
        (None, None) if !started => format!("Baseline: measured when the stage starts (mean over the {minutes} before)"),
        (None, None) => format!("Baseline: none — no samples in the {minutes} before the stage started, so the guard cannot breach"),
    };
    match guard.effective_threshold() {
        Some(t) => format!("{text} · threshold now {}", number(t)),
        None => text,
    }
}

fn samples(n: i64) -> String {
    if n == 1 { "1 sample".into() } else { format!("{n} samples") }
}

/// "45 s", "90 s", "5 min", "2 min 30 s", "1 h", "1 h 30 min".
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    if s < 120 {
        return format!("{s} s");
    }
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    match (h, m, sec) {
        (0, m, 0) => format!("{m} min"),
        (0, m, sec) => format!("{m} min {sec} s"),
        (h, 0, 0) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// Milliseconds since 1970 as the UTC time of day: "14:03:05", or "14:03" without seconds.
pub fn clock(ms: i64, with_seconds: bool) -> String {
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if with_seconds { format!("{h:02}:{m:02}:{sec:02}") } else { format!("{h:02}:{m:02}") }
}

/// A y axis: its ends and its ticks, a round step apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub step: f64,
    pub ticks: Vec<f64>,
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let m = if norm <= 1.0 + 1e-9 {
        1.0
    } else if norm <= 2.0 + 1e-9 {
        2.0
    } else if norm <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    m * magnitude
}

/// An axis covering every value given (the points, the threshold, the baseline), so
/// each of them is drawn inside the chart.
pub fn axis(values: &[f64]) -> Axis {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (mut lo, mut hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        (lo, hi) = (0.0, 1.0);
    }
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo, hi) = (lo - pad, hi + pad);
    }
    // Rates and latencies read best from 0 when 0 is near.
    if lo > 0.0 && lo < hi - lo {
        lo = 0.0;
    }
    if hi < 0.0 && -hi < hi - lo {
        hi = 0.0;
    }
    let step = nice_step((hi - lo) / 5.0);
    let first = (lo / step + 1e-9).floor();
    let last = (hi / step - 1e-9).ceil();
    let count = ((last - first).round().max(1.0) as usize).min(20);
    let ticks: Vec<f64> = (0..=count).map(|i| (first + i as f64) * step).collect();
    Axis { lo: ticks[0], hi: ticks[count], step, ticks }
}

/// A tick's label with as many decimals as its step needs: "0.002", "2.5", "5000".
pub fn tick_label(v: f64, step: f64) -> String {
    if !(1e-6..1e9).contains(&step) || v.abs() >= 1e9 {
        return number(v);
    }
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let s = format!("{v:.decimals$}");
    if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') { "0".into() } else { s }
}

/// The index of the x nearest to `x`.
pub fn nearest(xs: &[f64], x: f64) -> Option<usize> {
    xs.iter()
        .enumerate()
        .min_by(|a, b| (a.1 - x).abs().total_cmp(&(b.1 - x).abs()))
        .map(|(i, _)| i)
}

/// The selection after a key press on the chart, or `None` for keys the chart leaves alone.
/// With nothing selected, the arrows start at the latest point.
pub fn next_selection(current: Option<usize>, len: usize, key: &str) -> Option<Option<usize>> {
    if len == 0 {
        return None;
    }
    let last = len - 1;
    match key {
        "ArrowLeft" => Some(Some(current.map_or(last, |i| i.saturating_sub(1)))),
        "ArrowRight" => Some(Some(current.map_or(last, |i| (i + 1).min(last)))),
        "Home" => Some(Some(0)),
        "End" => Some(Some(last)),
        "Escape" => Some(None),
        _ => None,
    }
}

/// "14:03:05 UTC — 7.2 (12 samples)".
pub fn reading(p: &SeriesPoint) -> String {
    format!("{} UTC — {} ({})", clock(p.at_ms, true), number(p.value), samples(p.samples))
}

const HINT: &str = "Hover over or focus the chart and use the arrow keys to read values.";

#[component]
fn GuardChart(series: GuardSeries) -> impl IntoView {
    const W: f64 = 640.0;
    const H: f64 = 240.0;
    const LEFT: f64 = 60.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 24.0;
    const BOTTOM: f64 = 44.0;
    let mut points = series.points.clone();
    points.sort_by_key(|p| p.at_ms);
    if points.is_empty() {
        return ().into_any();
    }
    let (t0, t1) = (series.from_ms.min(points[0].at_ms), series.to_ms.max(points[points.len() - 1].at_ms));
    let span = (t1 - t0).max(1) as f64;
    let mut values: Vec<f64> = points.iter().map(|p| p.value).collect();
    values.extend(series.threshold);
    values.extend(series.baseline);
    values.extend(series.breaches.iter().map(|b| b.1));
    let ax = axis(&values);
    let bottom = H - BOTTOM;
    let x = move |t: i64| LEFT + (t - t0) as f64 / span * (W - LEFT - RIGHT);
    let (lo, hi) = (ax.lo, ax.hi);
    let y = move |v: f64| TOP + (hi - v) / (hi - lo) * (bottom - TOP);
    let seconds = t1 - t0 < 10 * 60_000;

    let ticks = ax
        .ticks
        .iter()
        .map(|&v| {
            view! {
                <line class="tick" x1=LEFT y1=y(v) x2=W - RIGHT y2=y(v) stroke="#e5e7eb"/>
                <text x=LEFT - 6.0 y=y(v) + 4.0 font-size="11" text-anchor="end" fill="#4b5563">{tick_label(v, ax.step)}</text>
            }
        })
        .collect_view();
    let line = points.iter().map(|p| format!("{:.1},{:.1}", x(p.at_ms), y(p.value))).collect::<Vec<_>>().join(" ");
    let dots = points
        .iter()
        .map(|p| {
            view! {
                <circle class="point" cx=format!("{:.1}", x(p.at_ms)) cy=format!("{:.1}", y(p.value)) r="2.5"
                    data-value=p.value.to_string() data-time=p.at_ms>
                    <title>{reading(p)}</title>
                </circle>
            }
        })
        .collect_view();
    let threshold = series.threshold.map(|v| {
        view! {
            <line class="threshold-line" x1=LEFT y1=y(v) x2=W - RIGHT y2=y(v) stroke="#b91c1c" stroke-width="1.5" stroke-dasharray="6 4"/>
            <text class="threshold-label" x=W - RIGHT - 4.0 y=y(v) - 4.0 font-size="11" text-anchor="end" fill="#b91c1c">{format!("threshold {}", number(v))}</text>
        }
    });
    let baseline = series.baseline.map(|v| {
        view! {
            <line class="baseline-line" x1=LEFT y1=y(v) x2=W - RIGHT y2=y(v) stroke="#6b7280" stroke-width="1.5" stroke-dasharray="2 4"/>
            <text class="baseline-label" x=LEFT + 4.0 y=y(v) - 4.0 font-size="11" fill="#4b5563">{format!("baseline {}", number(v))}</text>
        }
    });
    let started = series.started_ms.filter(|s| (t0..=t1).contains(s)).map(|s| {
        view! {
            <line class="started-line" x1=x(s) y1=TOP x2=x(s) y2=bottom stroke="#1d4ed8" stroke-dasharray="4 3"/>
            <text class="started-label" x=x(s) + 4.0 y=TOP - 6.0 font-size="11" fill="#1d4ed8">"stage started"</text>
        }
    });
    let breaches = series
        .breaches
        .iter()
        .filter(|(t, _)| (t0..=t1).contains(t))
        .map(|&(t, v)| {
            view! {
                <circle class="breach-point" cx=format!("{:.1}", x(t)) cy=format!("{:.1}", y(v)) r="5" fill="#b91c1c" stroke="#ffffff" stroke-width="1.5"
                    data-value=v.to_string() data-time=t>
                    <title>{format!("Breach at {}: {}", clock(t, true), number(v))}</title>
                </circle>
            }
        })
        .collect_view();

    let last = points[points.len() - 1];
    let mut label = format!("{} from {} to {} UTC", series.metric, clock(t0, seconds), clock(t1, seconds));
    if let Some(v) = series.threshold {
        label.push_str(&format!("; threshold {}", number(v)));
    }
    if let Some(v) = series.baseline {
        label.push_str(&format!("; baseline {}", number(v)));
    }
    let n = series.breaches.len();
    label.push_str(&format!("; {n} {}", if n == 1 { "breach" } else { "breaches" }));
    label.push_str(&format!("; latest {} at {} UTC", number(last.value), clock(last.at_ms, true)));
    let title = label.clone();

    // For the pointer and the keys: where each point is drawn and what it reads.
    let xs = StoredValue::new(points.iter().map(|p| x(p.at_ms)).collect::<Vec<f64>>());
    let spots = StoredValue::new(points.iter().map(|p| (x(p.at_ms), y(p.value), reading(p))).collect::<Vec<_>>());
    let count = points.len();
    let selected = RwSignal::new(None::<usize>);
    let svg = NodeRef::<leptos::svg::Svg>::new();
    let on_move = move |ev: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        if let Some(px) = svg.get_untracked().and_then(|el| pointer_x(&el, ev.client_x() as f64, W)) {
            let i = xs.with_value(|xs| nearest(xs, px));
            if i != selected.get_untracked() {
                selected.set(i);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, xs, svg);
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if let Some(next) = next_selection(selected.get_untracked(), count, &ev.key()) {
            ev.prevent_default();
            selected.set(next);
        }
    };
    let highlight = move || {
        selected.get().and_then(|i| spots.with_value(|s| s.get(i).map(|(x, y, _)| (*x, *y)))).map(|(cx, cy)| {
            view! {
                <g class="selection" aria-hidden="true">
                    <line class="guide-line" x1=cx y1=TOP x2=cx y2=bottom stroke="#111827" stroke-width="1"/>
                    <circle class="selected-point" cx=cx cy=cy r="6" fill="none" stroke="#111827" stroke-width="2"/>
                </g>
            }
        })
    };
    let readout = move || match selected.get() {
        Some(i) => spots.with_value(|s| s.get(i).map(|(_, _, text)| text.clone())).unwrap_or_else(|| HINT.to_string()),
        None => HINT.to_string(),
    };
    view! {
        <figure class="guard-figure">
            <svg node_ref=svg class="guard-chart" viewBox=format!("0 0 {W} {H}") role="img" aria-label=label tabindex="0"
                on:mousemove=on_move on:mouseleave=move |_| selected.set(None) on:keydown=on_key on:blur=move |_| selected.set(None)>
                <title>{title}</title>
                {ticks}
                <line x1=LEFT y1=TOP x2=LEFT y2=bottom stroke="#9ca3af"/>
                <line x1=LEFT y1=bottom x2=W - RIGHT y2=bottom stroke="#9ca3af"/>
                <text x=LEFT y=bottom + 16.0 font-size="11" fill="#4b5563">{clock(t0, seconds)}</text>
                <text x=W - RIGHT y=bottom + 16.0 font-size="11" text-anchor="end" fill="#4b5563">{clock(t1, seconds)}</text>
                <text x=LEFT + (W - LEFT - RIGHT) / 2.0 y=H - 6.0 font-size="12" text-anchor="middle" fill="#111827">"Time (UTC)"</text>
                <text x="14" y=TOP + (bottom - TOP) / 2.0 font-size="12" text-anchor="middle" fill="#111827"
                    transform=format!("rotate(-90 14 {})", TOP + (bottom - TOP) / 2.0)>{series.metric.clone()}</text>
                {started}
                {baseline}
                {threshold}
                <polyline class="series-line" fill="none" stroke="#1d4ed8" stroke-width="2" points=line/>
                {dots}
                {breaches}
                {highlight}
            </svg>
            <p class="chart-readout" aria-live="polite">{readout}</p>
        </figure>
    }
    .into_any()
}

/// The pointer's x in the chart's viewBox units. `getBoundingClientRect` through
/// `Reflect`, as web-sys's `DomRect` is not among the bundle's features.
#[cfg(feature = "hydrate")]
fn pointer_x(svg: &web_sys::SvgElement, client_x: f64, view_width: f64) -> Option<f64> {
    use wasm_bindgen::JsCast;
    let rect_fn = js_sys::Reflect::get(svg, &"getBoundingClientRect".into()).ok()?.dyn_into::<js_sys::Function>().ok()?;
    let rect = rect_fn.call0(svg).ok()?;
    let get = |k: &str| js_sys::Reflect::get(&rect, &k.into()).ok()?.as_f64();
    let (left, width) = (get("left")?, get("width")?);
    (width > 0.0).then(|| (client_x - left) / width * view_width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_cover_the_values_and_the_threshold() {
        let a = axis(&[1.2, 3.4, 2.0, 5.0]);
        assert!(a.lo <= 1.2 && a.hi >= 5.0);
        assert_eq!(a.lo, 0.0);
        assert_eq!(a.ticks.first(), Some(&a.lo));
        assert_eq!(a.ticks.last(), Some(&a.hi));
        // A threshold far above every point still gets a tick range reaching it.
        let a = axis(&[0.1, 0.2, 50.0]);
        assert!(a.hi >= 50.0 && a.ticks.len() <= 8, "{a:?}");
    }

    #[test]
    fn steps_are_round_for_tiny_and_large_values() {
        let a = axis(&[0.001, 0.0012, 0.0015]);
        assert!(a.lo <= 0.001 && a.hi >= 0.0015);
        assert!((a.step - 0.0001).abs() < 1e-12, "{a:?}");
        assert_eq!(a.ticks.len(), 6);
        assert_eq!(tick_label(a.ticks[1], a.step), "0.0011");
        let a = axis(&[1200.0, 5000.0, 4100.0]);
        assert_eq!(a.step, 1000.0);
        assert_eq!((a.lo, a.hi), (0.0, 5000.0));
        assert_eq!(a.ticks.iter().map(|v| tick_label(*v, a.step)).collect::<Vec<_>>(), ["0", "1000", "2000", "3000", "4000", "5000"]);
    }

    #[test]
    fn a_flat_series_still_gets_a_range_around_it() {
        let a = axis(&[7.0, 7.0]);
        assert!(a.lo < 7.0 && a.hi > 7.0, "{a:?}");
        let a = axis(&[0.0]);
        assert!(a.lo < 0.0 || a.hi > 0.0);
        assert!(a.ticks.len() >= 2);
        let a = axis(&[-3.0, -3.0]);
        assert!(a.lo < -3.0 && a.hi > -3.0 && a.hi <= 0.0, "{a:?}");
        let a = axis(&[]);
        assert_eq!((a.lo, a.hi), (0.0, 1.0));
    }

    #[test]
    fn the_baseline_widens_the_range() {
        let a = axis(&[118.0, 121.0, 240.0, 120.0]);
        assert!(a.lo <= 118.0 && a.hi >= 240.0);
        let a = axis(&[500.0, 510.0, 490.0]);
        assert!(a.lo > 0.0, "a range far from 0 does not stretch to it: {a:?}");
    }

    #[test]
    fn tick_labels_show_the_decimals_their_step_needs() {
        assert_eq!(tick_label(2.5, 0.5), "2.5");
        assert_eq!(tick_label(3.0000000000000004, 1.0), "3");
        assert_eq!(tick_label(-0.0000001, 0.1), "0");
        assert_eq!(tick_label(0.30000000000000004, 0.1), "0.3");
    }

    #[test]
    fn the_nearest_point_to_the_pointer_is_chosen() {
        let xs = [60.0, 100.0, 200.0, 400.0];
        assert_eq!(nearest(&xs, 0.0), Some(0));
        assert_eq!(nearest(&xs, 140.0), Some(1));
        assert_eq!(nearest(&xs, 160.0), Some(2));
        assert_eq!(nearest(&xs, 1000.0), Some(3));
        assert_eq!(nearest(&[], 10.0), None);
    }

    #[test]
    fn arrow_keys_move_the_selection_and_stop_at_the_ends() {
        assert_eq!(next_selection(None, 4, "ArrowLeft"), Some(Some(3)));
        assert_eq!(next_selection(None, 4, "ArrowRight"), Some(Some(3)));
        assert_eq!(next_selection(Some(2), 4, "ArrowLeft"), Some(Some(1)));
        assert_eq!(next_selection(Some(0), 4, "ArrowLeft"), Some(Some(0)));
        assert_eq!(next_selection(Some(3), 4, "ArrowRight"), Some(Some(3)));
        assert_eq!(next_selection(Some(2), 4, "Home"), Some(Some(0)));
        assert_eq!(next_selection(Some(0), 4, "End"), Some(Some(3)));
        assert_eq!(next_selection(Some(1), 4, "Escape"), Some(None));
        assert_eq!(next_selection(Some(1), 4, "Tab"), None);
        assert_eq!(next_selection(None, 0, "ArrowLeft"), None);
    }

    #[test]
    fn times_read_as_utc_clock_times() {
        assert_eq!(clock(0, true), "00:00:00");
        // 2026-11-21T14:03:05.500Z
        let ms = crate::pages::rfc3339_ms("2026-11-21T14:03:05.500Z").unwrap();
        assert_eq!(clock(ms, true), "14:03:05");
        assert_eq!(clock(ms, false), "14:03");
        assert_eq!(clock(-1000, true), "23:59:59");
    }

    #[test]
    fn readings_name_the_time_value_and_samples() {
        let ms = crate::pages::rfc3339_ms("2026-11-21T14:03:05Z").unwrap();
        assert_eq!(reading(&SeriesPoint { at_ms: ms, value: 7.2, samples: 12 }), "14:03:05 UTC — 7.2 (12 samples)");
        assert_eq!(reading(&SeriesPoint { at_ms: ms, value: 0.5, samples: 1 }), "14:03:05 UTC — 0.5 (1 sample)");
    }

    #[test]
    fn windows_read_in_seconds_minutes_or_hours() {
        assert_eq!(duration(60), "60 s");
        assert_eq!(duration(300), "5 min");
        assert_eq!(duration(150), "2 min 30 s");
        assert_eq!(duration(3600), "1 h");
        assert_eq!(duration(5400), "1 h 30 min");
    }

    #[test]
    fn the_form_sends_the_baseline_window_only_when_it_is_measured() {
        let g = new_guard(3, " error_rate ", ">=", "5", false, "", "30", "60", "5", "roll_back");
        assert_eq!((g.metric.as_str(), g.comparison, g.threshold, g.action), ("error_rate", Comparison::AtLeast, 5.0, GuardAction::RollBack));
        assert_eq!((g.baseline_value, g.baseline_window_minutes), (None, None));
        assert!(g.validate().is_ok());
        let g = new_guard(3, "p95", ">", "2", true, "", "30", "60", "5", "notify");
        assert_eq!(g.baseline_window_minutes, Some(30));
        assert!(g.validate().is_ok());
        let g = new_guard(3, "p95", ">", "2", true, "120", "30", "60", "5", "notify");
        assert_eq!((g.baseline_value, g.baseline_window_minutes), (Some(120.0), None));
        assert!(g.validate().is_ok());
        let bad = new_guard(3, "p95", ">", "lots", false, "", "30", "60", "5", "notify");
        assert_eq!(bad.validate().unwrap_err().field.as_deref(), Some("threshold"));
        let bad = new_guard(3, "p95", ">", "1", false, "", "30", "", "5", "notify");
        assert_eq!(bad.validate().unwrap_err().field.as_deref(), Some("window_seconds"));
    }
}
