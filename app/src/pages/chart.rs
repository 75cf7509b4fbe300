//! The charts of the plan and flag pages (a guard's metric, provider adoption, a flag's
//! rollout): one frame, the value and time axes, scaling, and the figure that reads values
//! out under the pointer or the arrow keys. Each chart only describes its data. The look
//! lives in `style/main.css` under `.chart`, so the markup carries geometry and text.
use crate::guard::number;
use leptos::prelude::*;

/// Line colours, told apart also by their legend's order.
pub const COLORS: [&str; 6] = ["#1d4ed8", "#b45309", "#15803d", "#7c3aed", "#be123c", "#0e7490"];

/// The colour of the `i`th line.
pub fn color(i: usize) -> &'static str {
    COLORS[i % COLORS.len()]
}

/// The viewBox and the margins around the plot, in viewBox units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Frame {
    /// Room for tick labels on the left and the time axis below.
    pub const STANDARD: Frame = Frame { width: 640.0, height: 240.0, left: 64.0, right: 16.0, top: 24.0, bottom: 44.0 };
    /// With a legend above the plot.
    pub const WITH_LEGEND: Frame = Frame { top: 36.0, ..Frame::STANDARD };

    pub fn plot_left(&self) -> f64 {
        self.left
    }
    pub fn plot_right(&self) -> f64 {
        self.width - self.right
    }
    pub fn plot_top(&self) -> f64 {
        self.top
    }
    pub fn plot_bottom(&self) -> f64 {
        self.height - self.bottom
    }
}

/// A value axis: its ends and its ticks, a round step apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub step: f64,
    pub ticks: Vec<f64>,
}

impl Axis {
    /// Each tick with its label, as many decimals as the step needs.
    pub fn labelled(&self) -> Vec<(f64, String)> {
        self.labelled_with(|v| tick_label(v, self.step))
    }

    pub fn labelled_with(&self, label: impl Fn(f64) -> String) -> Vec<(f64, String)> {
        self.ticks.iter().map(|&v| (v, label(v))).collect()
    }
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

/// An axis covering every value given (the points, a threshold, a baseline), so each of
/// them is drawn inside the chart.
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

/// A time range (ms since 1970) and a value axis mapped onto a frame's plot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub frame: Frame,
    pub t0: i64,
    pub t1: i64,
    pub lo: f64,
    pub hi: f64,
}

impl Scale {
    pub fn new(frame: Frame, (t0, t1): (i64, i64), axis: &Axis) -> Self {
        Scale { frame, t0, t1, lo: axis.lo, hi: axis.hi }
    }

    /// A time's x; a range of one instant draws at the left edge.
    pub fn x(&self, t: i64) -> f64 {
        let f = &self.frame;
        if self.t1 <= self.t0 {
            return f.plot_left();
        }
        f.plot_left() + (t - self.t0) as f64 / (self.t1 - self.t0) as f64 * (f.plot_right() - f.plot_left())
    }

    pub fn y(&self, v: f64) -> f64 {
        let f = &self.frame;
        let span = if self.hi > self.lo { self.hi - self.lo } else { 1.0 };
        f.plot_top() + (self.hi - v) / span * (f.plot_bottom() - f.plot_top())
    }
}

/// A coordinate for the markup: a tenth of a unit is finer than a 640-wide chart shows,
/// and whole numbers lose their ".0".
pub fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 { format!("{}", r as i64) } else { format!("{r:.1}") }
}

/// A value for a `data-value`: six significant digits, as short as they go ("3.22", not
/// "3.2199999999999998"); the readout shows fewer.
pub fn data_value(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return v.to_string();
    }
    format!("{v:.5e}").parse::<f64>().unwrap_or(v).to_string()
}

/// A polyline's `points`: "60,174.5 64.7,150", without a point that repeats the one before.
pub fn points(xy: impl IntoIterator<Item = (f64, f64)>) -> String {
    let mut out: Vec<String> = vec![];
    for (x, y) in xy {
        let point = format!("{},{}", num(x), num(y));
        if out.last() != Some(&point) {
            out.push(point);
        }
    }
    out.join(" ")
}

/// Milliseconds since 1970 as the UTC time of day: "14:03:05", or "14:03" without seconds.
pub fn clock(ms: i64, with_seconds: bool) -> String {
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if with_seconds { format!("{h:02}:{m:02}:{sec:02}") } else { format!("{h:02}:{m:02}") }
}

/// Milliseconds since 1970 as the UTC date and time of day: "2026-11-21 14:03".
pub fn moment(ms: i64) -> String {
    // The civil date of a day number (Howard Hinnant's algorithm).
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {}", clock(ms, false))
}

/// The index of the x nearest to `x`.
pub fn nearest(xs: &[f64], x: f64) -> Option<usize> {
    xs.iter()
        .enumerate()
        .min_by(|a, b| (a.1 - x).abs().total_cmp(&(b.1 - x).abs()))
        .map(|(i, _)| i)
}

/// The selection after a key press on the chart, or `None` for keys the chart leaves alone.
/// With nothing selected, the arrows start at the latest reading.
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

/// One thing the pointer and the arrow keys read out: where it is drawn (an x, and a y on
/// each line) and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub x: f64,
    pub ys: Vec<f64>,
    pub text: String,
}

pub const HINT: &str = "Hover over or focus the chart and use the arrow keys to read values.";

/// The accessible figure around a chart: an image named by `label` (also its tooltip),
/// focusable, whose `readings` (left to right) the pointer and the arrow keys read out
/// into a live region. `name` "guard" gives `figure.chart.guard-figure > svg.guard-chart`.
#[component]
pub fn Chart(
    name: &'static str,
    frame: Frame,
    label: String,
    readings: Vec<Reading>,
    #[prop(optional)] caption: Option<&'static str>,
    children: Children,
) -> impl IntoView {
    let count = readings.len();
    let xs = StoredValue::new(readings.iter().map(|r| r.x).collect::<Vec<f64>>());
    let readings = StoredValue::new(readings);
    let selected = RwSignal::new(None::<usize>);
    let svg = NodeRef::<leptos::svg::Svg>::new();
    let width = frame.width;
    let on_move = move |ev: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        if let Some(px) = svg.get_untracked().and_then(|el| pointer_x(&el, ev.client_x() as f64, width)) {
            let i = xs.with_value(|xs| nearest(xs, px));
            if i != selected.get_untracked() {
                selected.set(i);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, xs, svg, width);
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if let Some(next) = next_selection(selected.get_untracked(), count, &ev.key()) {
            ev.prevent_default();
            selected.set(next);
        }
    };
    let (top, bottom) = (num(frame.plot_top()), num(frame.plot_bottom()));
    let highlight = move || {
        let r = readings.with_value(|r| selected.get().and_then(|i| r.get(i).cloned()))?;
        let x = num(r.x);
        let rings = r.ys.iter().map(|y| view! { <circle class="selected-point" cx=x.clone() cy=num(*y)/> }).collect_view();
        Some(view! {
            <g class="selection" aria-hidden="true">
                <line class="guide-line" x1=x.clone() y1=top.clone() x2=x.clone() y2=bottom.clone()/>
                {rings}
            </g>
        })
    };
    let readout = move || readings.with_value(|r| selected.get().and_then(|i| r.get(i)).map(|r| r.text.clone())).unwrap_or_else(|| HINT.to_string());
    let title = label.clone();
    view! {
        <figure class=format!("chart {name}-figure")>
            <svg node_ref=svg class=format!("{name}-chart") viewBox=format!("0 0 {} {}", num(frame.width), num(frame.height))
                role="img" aria-label=label tabindex=(count > 0).then_some("0")
                on:mousemove=on_move on:mouseleave=move |_| selected.set(None) on:keydown=on_key on:blur=move |_| selected.set(None)>
                <title>{title}</title>
                {children()}
                {highlight}
            </svg>
            {(count > 0).then(|| view! { <p class="chart-readout" aria-live="polite">{readout}</p> })}
            {caption.map(|c| view! { <figcaption class="muted">{c}</figcaption> })}
        </figure>
    }
}

/// The value axis (grid lines at its ticks, their labels and its title) and the time axis
/// (the labels of its two ends, one when they are the same, and its title).
#[component]
pub fn Axes(scale: Scale, ticks: Vec<(f64, String)>, start: String, end: String, time_title: &'static str, value_title: String) -> impl IntoView {
    let f = scale.frame;
    let (l, r, t, b) = (f.plot_left(), f.plot_right(), f.plot_top(), f.plot_bottom());
    // One path for every grid line rather than an element each.
    let grid: String = ticks.iter().map(|(v, _)| format!("M{} {}H{}", num(l), num(scale.y(*v)), num(r))).collect();
    let labels = ticks
        .into_iter()
        .map(|(v, text)| view! { <text class="tick-label" x=num(l - 6.0) y=num(scale.y(v) + 4.0)>{text}</text> })
        .collect_view();
    let below = num(b + 16.0);
    let end = (end != start).then(|| view! { <text class="time-end" x=num(r) y=below.clone()>{end}</text> });
    view! {
        <path class="grid" d=grid/>
        {labels}
        <path class="axes" d=format!("M{} {}V{}H{}", num(l), num(t), num(b), num(r))/>
        <text x=num(l) y=below.clone()>{start}</text>
        {end}
        <text class="axis-title" x=num((l + r) / 2.0) y=num(f.height - 6.0)>{time_title}</text>
        <text class="axis-title" transform=format!("translate(14 {}) rotate(-90)", num((t + b) / 2.0))>{value_title}</text>
    }
}

/// Each line's colour and name in a row above the plot (a `Frame::WITH_LEGEND`).
#[component]
pub fn Legend(frame: Frame, names: Vec<String>) -> impl IntoView {
    let mut x = frame.plot_left();
    let entries = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let at = x;
            // About 7 units a character at the legend's 12px.
            x += 48.0 + 7.0 * name.chars().count() as f64;
            view! {
                <line x1=num(at) y1="14" x2=num(at + 18.0) y2="14" stroke=color(i)/>
                <text x=num(at + 24.0) y="18">{name}</text>
            }
        })
        .collect_view();
    view! { <g class="legend">{entries}</g> }
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
        assert_eq!(a.labelled().into_iter().map(|(_, l)| l).collect::<Vec<_>>(), ["0", "1000", "2000", "3000", "4000", "5000"]);
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
    fn counts_get_whole_round_steps() {
        let a = axis(&[0.0, 3.0]);
        assert_eq!((a.lo, a.hi, a.step), (0.0, 3.0, 1.0));
        let a = axis(&[0.0, 12.0]);
        assert_eq!(a.ticks, [0.0, 5.0, 10.0, 15.0]);
        let a = axis(&[0.0, 100.0]);
        assert_eq!(a.labelled_with(|v| format!("{v}%")).last().map(|(_, l)| l.as_str()), Some("100%"));
    }

    #[test]
    fn tick_labels_show_the_decimals_their_step_needs() {
        assert_eq!(tick_label(2.5, 0.5), "2.5");
        assert_eq!(tick_label(3.0000000000000004, 1.0), "3");
        assert_eq!(tick_label(-0.0000001, 0.1), "0");
        assert_eq!(tick_label(0.30000000000000004, 0.1), "0.3");
    }

    #[test]
    fn the_scale_puts_the_time_range_and_the_axis_on_the_plot() {
        let s = Scale::new(Frame::STANDARD, (1_000, 61_000), &axis(&[0.0, 10.0]));
        assert_eq!((s.x(1_000), s.x(61_000), s.x(31_000)), (64.0, 624.0, 344.0));
        assert_eq!((s.y(10.0), s.y(0.0), s.y(5.0)), (24.0, 196.0, 110.0));
        let one_instant = Scale::new(Frame::STANDARD, (5_000, 5_000), &axis(&[1.0]));
        assert_eq!(one_instant.x(5_000), 64.0);
    }

    #[test]
    fn coordinates_keep_at_most_one_decimal() {
        assert_eq!(num(60.0), "60");
        assert_eq!(num(142.25), "142.3");
        assert_eq!(num(174.4999), "174.5");
        assert_eq!(num(-0.04), "0");
        assert_eq!(num(-3.26), "-3.3");
        assert_eq!(points([(60.0, 174.5), (64.7, 150.02)]), "60,174.5 64.7,150");
        assert_eq!(points([(624.0, 36.0), (624.0, 156.0), (624.02, 155.98)]), "624,36 624,156");
        assert_eq!(points([]), "");
    }

    #[test]
    fn data_values_keep_six_significant_digits() {
        assert_eq!(data_value(3.2199999999999998), "3.22");
        assert_eq!(data_value(6.75), "6.75");
        assert_eq!(data_value(1.4966536933235586), "1.49665");
        assert_eq!(data_value(0.000123456789), "0.000123457");
        assert_eq!(data_value(183_456.789), "183457");
        assert_eq!(data_value(0.0), "0");
    }

    #[test]
    fn times_read_as_utc_clock_times() {
        assert_eq!(clock(0, true), "00:00:00");
        let ms = crate::pages::rfc3339_ms("2026-11-21T14:03:05.500Z").unwrap();
        assert_eq!(clock(ms, true), "14:03:05");
        assert_eq!(clock(ms, false), "14:03");
        assert_eq!(clock(-1000, true), "23:59:59");
    }

    #[test]
    fn moments_read_as_the_utc_date_and_time_of_day() {
        assert_eq!(moment(0), "1970-01-01 00:00");
        for at in ["2026-11-21T14:03:05Z", "2000-02-29T23:59:00Z", "2024-03-01T00:00:00Z", "1999-12-31T12:30:00Z"] {
            let ms = crate::pages::rfc3339_ms(at).unwrap();
            assert_eq!(moment(ms), format!("{} {}", &at[..10], &at[11..16]), "{at}");
        }
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
    fn the_figure_is_a_named_focusable_image_with_a_live_readout() {
        let html = Owner::new().with(|| {
            let readings = vec![Reading { x: 64.0, ys: vec![24.0], text: "a".into() }];
            view! { <Chart name="test" frame=Frame::STANDARD label="Things over time".into() readings caption="Per hour"><path d="M0 0"/></Chart> }.to_html()
        });
        assert!(html.starts_with(r#"<figure class="chart test-figure"><svg viewBox="0 0 640 240" role="img" aria-label="Things over time" tabindex="0" class="test-chart"><title>Things over time"#), "{html}");
        assert!(html.contains(&format!(r#"<p aria-live="polite" class="chart-readout">{HINT}"#)), "{html}");
        assert!(html.contains(r#"<figcaption class="muted">Per hour"#), "{html}");
        let nothing = Owner::new().with(|| view! { <Chart name="test" frame=Frame::STANDARD label="Empty".into() readings=vec![]>{()}</Chart> }.to_html());
        assert!(!nothing.contains("tabindex") && !nothing.contains("chart-readout"), "{nothing}");
    }
}
