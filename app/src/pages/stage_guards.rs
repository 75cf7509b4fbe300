//! A stage's guards on the plan page: rollback triggers on live metrics, their breaches,
//! and each guard's metric as an SVG chart drawn on the server that reads out values
//! under the pointer or the arrow keys once the page is interactive.
use super::chart::{self, axis, clock, num, Axes, Chart, Frame, Reading, Scale};
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

/// "14:03:05 UTC — 7.2 (12 samples)".
pub fn reading(p: &SeriesPoint) -> String {
    format!("{} UTC — {} ({})", clock(p.at_ms, true), number(p.value), samples(p.samples))
}

/// A guard's metric over its chart's time range: the bucket means as a line with a point
/// each (its reading as its tooltip), the threshold, the baseline, when the stage started
/// and the breaches.
#[component]
fn GuardChart(series: GuardSeries) -> impl IntoView {
    let mut points = series.points.clone();
    points.sort_by_key(|p| p.at_ms);
    let (Some(first), Some(last)) = (points.first().copied(), points.last().copied()) else {
        return ().into_any();
    };
    let (t0, t1) = (series.from_ms.min(first.at_ms), series.to_ms.max(last.at_ms));
    let mut values: Vec<f64> = points.iter().map(|p| p.value).collect();
    values.extend(series.threshold);
    values.extend(series.baseline);
    values.extend(series.breaches.iter().map(|b| b.1));
    let ax = axis(&values);
    let s = Scale::new(Frame::STANDARD, (t0, t1), &ax);
    let f = s.frame;
    let seconds = t1 - t0 < 10 * 60_000;

    let line = chart::points(points.iter().map(|p| (s.x(p.at_ms), s.y(p.value))));
    let dots = points
        .iter()
        .map(|p| {
            view! {
                <circle class="point" cx=num(s.x(p.at_ms)) cy=num(s.y(p.value)) data-value=chart::data_value(p.value)>
                    <title>{reading(p)}</title>
                </circle>
            }
        })
        .collect_view();
    let level = move |v: f64, name: &str, x: f64| {
        let y = s.y(v);
        view! {
            <line class=format!("{name}-line") x1=num(f.plot_left()) y1=num(y) x2=num(f.plot_right()) y2=num(y)/>
            <text class=format!("{name}-label") x=num(x) y=num(y - 4.0)>{format!("{name} {}", number(v))}</text>
        }
    };
    let threshold = series.threshold.map(|v| level(v, "threshold", f.plot_right() - 4.0));
    let baseline = series.baseline.map(|v| level(v, "baseline", f.plot_left() + 4.0));
    let started = series.started_ms.filter(|t| (t0..=t1).contains(t)).map(|t| {
        let x = s.x(t);
        view! {
            <line class="started-line" x1=num(x) y1=num(f.plot_top()) x2=num(x) y2=num(f.plot_bottom())/>
            <text class="started-label" x=num(x + 4.0) y=num(f.plot_top() - 6.0)>"stage started"</text>
        }
    });
    let breaches = series
        .breaches
        .iter()
        .filter(|(t, _)| (t0..=t1).contains(t))
        .map(|&(t, v)| {
            view! {
                <circle class="breach-point" cx=num(s.x(t)) cy=num(s.y(v)) data-value=chart::data_value(v)>
                    <title>{format!("Breach at {}: {}", clock(t, true), number(v))}</title>
                </circle>
            }
        })
        .collect_view();

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
    let readings = points.iter().map(|p| Reading { x: s.x(p.at_ms), ys: vec![s.y(p.value)], text: reading(p) }).collect();
    view! {
        <Chart name="guard" frame=f label readings>
            <Axes scale=s ticks=ax.labelled() start=clock(t0, seconds) end=clock(t1, seconds) time_title="Time (UTC)" value_title=series.metric.clone()/>
            {started}
            {baseline}
            {threshold}
            <polyline class="series-line" stroke=chart::color(0) points=line/>
            {dots}
            {breaches}
        </Chart>
    }
    .into_any()
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_name_the_time_value_and_samples() {
        let ms = crate::pages::rfc3339_ms("2026-11-21T14:03:05Z").unwrap();
        assert_eq!(reading(&SeriesPoint { at_ms: ms, value: 7.2, samples: 12 }), "14:03:05 UTC — 7.2 (12 samples)");
        assert_eq!(reading(&SeriesPoint { at_ms: ms, value: 0.5, samples: 1 }), "14:03:05 UTC — 0.5 (1 sample)");
    }

    /// Half an hour in 15 s buckets, with a threshold, a baseline, the stage's start and a breach.
    fn half_hour() -> GuardSeries {
        let t0 = crate::pages::rfc3339_ms("2026-11-21T14:00:00Z").unwrap();
        let points = (0..120).map(|i| SeriesPoint { at_ms: t0 + i * 15_000, value: 1.0 + ((i * 37) % 17) as f64 * 0.37, samples: 3 + i % 5 }).collect();
        GuardSeries {
            guard_id: 1,
            metric: "error_rate".into(),
            from_ms: t0,
            to_ms: t0 + 120 * 15_000,
            started_ms: Some(t0 + 600_000),
            points,
            threshold: Some(5.0),
            baseline: Some(2.5),
            breaches: vec![(t0 + 1_200_000, 6.75)],
            current: None,
        }
    }

    #[test]
    fn a_guard_chart_of_120_points_reads_each_point_in_little_markup() {
        let series = half_hour();
        let html = Owner::new().with(|| view! { <GuardChart series=series.clone()/> }.to_html());
        assert!(html.contains(r#"aria-label="error_rate from 14:00 to 14:30 UTC; threshold 5; baseline 2.5; 1 breach; latest 1 at 14:29:45 UTC""#), "{html}");
        assert!(html.contains(r#"class="guard-chart""#) && html.contains(r#"class="threshold-line""#));
        assert!(html.contains(r#"<circle cx="437.3" cy="50.9" data-value="6.75" class="breach-point"><title>Breach at 14:20:00: 6.75"#), "{html}");
        assert_eq!(html.matches(r#"class="point""#).count(), 120);
        for p in &series.points {
            assert!(html.contains(&format!(r#"data-value="{}" class="point"><title>{}"#, chart::data_value(p.value), reading(p))), "{p:?}");
        }
        // It was 23,313 bytes with its colours, fonts and sizes on every element.
        assert!(html.len() < 18_000, "{} bytes", html.len());
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

