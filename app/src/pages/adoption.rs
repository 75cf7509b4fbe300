//! Provider adoption on the plan page: how many workspaces use each provider now, and
//! each provider's workspaces over time as an SVG line chart drawn on the server.
use super::{rfc3339_ms, short_time, thousands, CHART_COLORS};
use crate::workspace::Adoption;
use leptos::prelude::*;

/// One provider's line: its id, display name and workspaces at each of the chart's times.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub provider: String,
    pub name: String,
    pub values: Vec<i64>,
}

/// The samples' distinct times (ms, ascending) and one line per provider, in catalog
/// order. Samples come only for hours with changes, so a provider keeps its last count
/// until its next sample (0 before its first).
pub fn chart_lines(adoption: &Adoption) -> (Vec<i64>, Vec<Line>) {
    let mut times: Vec<i64> = adoption.series.iter().filter_map(|s| rfc3339_ms(&s.at)).collect();
    times.sort_unstable();
    times.dedup();
    let mut providers: Vec<(String, String)> = adoption.current.iter().map(|(id, name, _)| (id.clone(), name.clone())).collect();
    for s in &adoption.series {
        if !providers.iter().any(|(id, _)| *id == s.provider) {
            providers.push((s.provider.clone(), s.provider.clone()));
        }
    }
    let lines = providers
        .into_iter()
        .map(|(provider, name)| {
            let mut samples: Vec<(i64, i64)> =
                adoption.series.iter().filter(|s| s.provider == provider).filter_map(|s| Some((rfc3339_ms(&s.at)?, s.workspaces))).collect();
            samples.sort_unstable();
            let values = times
                .iter()
                .map(|t| samples.iter().take_while(|(at, _)| at <= t).last().map(|(_, n)| *n).unwrap_or(0))
                .collect();
            Line { provider, name, values }
        })
        .collect();
    (times, lines)
}

/// The smallest 1, 2 or 5 times a power of ten that is at least `n` (and at least 1).
fn nice_ceiling(n: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= n {
                return m * step;
            }
        }
        step *= 10;
    }
}

fn percent(count: i64, total: i64) -> String {
    if total <= 0 {
        return "0%".into();
    }
    format!("{:.1}%", count as f64 * 100.0 / total as f64)
}

#[component]
pub fn AdoptionPanel(adoption: Adoption) -> impl IntoView {
    let total = adoption.total();
    let rows = adoption
        .current
        .iter()
        .enumerate()
        .map(|(i, (id, name, count))| {
            let color = CHART_COLORS[i % CHART_COLORS.len()];
            view! {
                <tr class="adoption-row" data-provider=id.clone()>
                    <th scope="row"><span class="swatch" style=format!("background:{color}") aria-hidden="true"></span>{name.clone()}</th>
                    <td class="number">{thousands(*count)}</td>
                    <td class="number">{percent(*count, total)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="panel adoption" aria-labelledby="adoption-heading">
            <h2 id="adoption-heading">"Provider adoption"</h2>
            <table class="adoption-counts">
                <caption class="visually-hidden">"Workspaces per agent provider now"</caption>
                <thead><tr><th scope="col">"Provider"</th><th scope="col">"Workspaces"</th><th scope="col">"Share"</th></tr></thead>
                <tbody>{rows}</tbody>
                <tfoot><tr><th scope="row">"All"</th><td class="number">{thousands(total)}</td><td class="number">"100%"</td></tr></tfoot>
            </table>
            <AdoptionChart adoption/>
        </section>
    }
    .into_any()
}

#[component]
fn AdoptionChart(adoption: Adoption) -> impl IntoView {
    const W: f64 = 640.0;
    const H: f64 = 240.0;
    const LEFT: f64 = 64.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 36.0;
    const BOTTOM: f64 = 48.0;
    let (times, lines) = chart_lines(&adoption);
    if times.is_empty() {
        return view! { <p class="empty">"No switches recorded yet: the chart starts with the first one."</p> }.into_any();
    }
    let top = nice_ceiling(lines.iter().flat_map(|l| l.values.iter().copied()).max().unwrap_or(0));
    let (t0, t1) = (times[0], *times.last().unwrap_or(&times[0]));
    let span = (t1 - t0).max(1) as f64;
    let x = move |t: i64| if t1 == t0 { LEFT } else { LEFT + (t - t0) as f64 / span * (W - LEFT - RIGHT) };
    let y = move |n: i64| TOP + (top - n) as f64 / top as f64 * (H - TOP - BOTTOM);
    let step = (top / 5).max(1);
    let ticks = (0..=top)
        .step_by(step as usize)
        .map(|n| {
            view! {
                <line x1=LEFT y1=y(n) x2=W - RIGHT y2=y(n) stroke="#e5e7eb"/>
                <text x=LEFT - 6.0 y=y(n) + 4.0 font-size="11" text-anchor="end" fill="#4b5563">{thousands(n)}</text>
            }
        })
        .collect_view();
    let series = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let color = CHART_COLORS[i % CHART_COLORS.len()];
            let mut points: Vec<String> = times.iter().zip(&line.values).map(|(t, n)| format!("{:.1},{:.1}", x(*t), y(*n))).collect();
            // A single sample still reads as a level, not a dot.
            if times.len() == 1 {
                points.push(format!("{:.1},{:.1}", W - RIGHT, y(line.values[0])));
            }
            view! { <polyline class="adoption-line" data-provider=line.provider.clone() fill="none" stroke=color stroke-width="2" points=points.join(" ")/> }
        })
        .collect_view();
    let legend = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let color = CHART_COLORS[i % CHART_COLORS.len()];
            let lx = LEFT + i as f64 * 130.0;
            view! {
                <line x1=lx y1="14" x2=lx + 18.0 y2="14" stroke=color stroke-width="3"/>
                <text x=lx + 24.0 y="18" font-size="12" fill="#111827">{line.name.clone()}</text>
            }
        })
        .collect_view();
    let (first, last) = (adoption.series.iter().map(|s| s.at.as_str()).min().unwrap_or(""), adoption.series.iter().map(|s| s.at.as_str()).max().unwrap_or(""));
    let now = lines.iter().map(|l| format!("{} {}", l.name, thousands(*l.values.last().unwrap_or(&0)))).collect::<Vec<_>>().join(", ");
    let label = format!("Workspaces per provider, hourly from {} to {}; at the end: {now}", short_time(first), short_time(last));
    let (bottom, title) = (H - BOTTOM, label.clone());
    view! {
        <figure class="adoption-figure">
            <svg class="adoption-chart" viewBox=format!("0 0 {W} {H}") role="img" aria-label=label>
                <title>{title}</title>
                {ticks}
                <line x1=LEFT y1=TOP x2=LEFT y2=bottom stroke="#9ca3af"/>
                <line x1=LEFT y1=bottom x2=W - RIGHT y2=bottom stroke="#9ca3af"/>
                <text x=LEFT y=bottom + 16.0 font-size="11" fill="#4b5563">{short_time(first)}</text>
                {(first != last).then(|| view! {
                    <text x=W - RIGHT y=bottom + 16.0 font-size="11" text-anchor="end" fill="#4b5563">{short_time(last)}</text>
                })}
                <text x=LEFT + (W - LEFT - RIGHT) / 2.0 y=H - 6.0 font-size="12" text-anchor="middle" fill="#111827">"Time (hourly, UTC)"</text>
                <text x="14" y=TOP + (bottom - TOP) / 2.0 font-size="12" text-anchor="middle" fill="#111827"
                    transform=format!("rotate(-90 14 {})", TOP + (bottom - TOP) / 2.0)>"Workspaces"</text>
                {series}
                {legend}
            </svg>
            <figcaption class="muted">"Workspaces on each provider, one point per hour with a change."</figcaption>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::AdoptionSample;

    fn sample(at: &str, provider: &str, workspaces: i64) -> AdoptionSample {
        AdoptionSample { at: at.into(), provider: provider.into(), workspaces }
    }

    #[test]
    fn providers_keep_their_count_between_samples() {
        let adoption = Adoption {
            current: vec![("claude".into(), "Claude".into(), 7), ("codex".into(), "Codex".into(), 3)],
            series: vec![
                sample("2026-11-21T10:00:00Z", "claude", 10),
                sample("2026-11-21T11:00:00Z", "claude", 8),
                sample("2026-11-21T11:00:00Z", "codex", 2),
                sample("2026-11-21T12:00:00Z", "codex", 3),
            ],
        };
        let (times, lines) = chart_lines(&adoption);
        assert_eq!(times.len(), 3);
        assert_eq!(lines[0], Line { provider: "claude".into(), name: "Claude".into(), values: vec![10, 8, 8] });
        assert_eq!(lines[1].values, vec![0, 2, 3]);
    }

    #[test]
    fn the_y_axis_ends_on_a_round_number() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(12), 20);
        assert_eq!(nice_ceiling(100_000), 100_000);
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(0, 0), "0%");
    }
}
