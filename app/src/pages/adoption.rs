//! Provider adoption on the plan page: how many workspaces use each provider now, and
//! each provider's workspaces over time as an SVG line chart drawn on the server.
use super::chart::{axis, color, moment, points, Axes, Axis, Chart, Frame, Legend, Reading, Scale};
use super::{rfc3339_ms, thousands};
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

/// The count axis: whole round steps, at least 0 to 5 so a handful of workspaces still
/// reads on whole numbers.
fn count_axis(max: i64) -> Axis {
    axis(&[0.0, max.max(5) as f64])
}

/// "2026-11-21 11:00 UTC — Claude 8, Codex 2": every provider at the `k`th time.
fn at_time(t: i64, lines: &[Line], k: usize) -> String {
    let counts: Vec<String> = lines.iter().map(|l| format!("{} {}", l.name, thousands(l.values.get(k).copied().unwrap_or(0)))).collect();
    format!("{} UTC — {}", moment(t), counts.join(", "))
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
            view! {
                <tr class="adoption-row" data-provider=id.clone()>
                    <th scope="row"><span class="swatch" style=format!("background:{}", color(i)) aria-hidden="true"></span>{name.clone()}</th>
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

/// Each provider's workspaces over the hours with changes, one line each; the pointer and
/// the arrow keys read out every provider's count at an hour.
#[component]
fn AdoptionChart(adoption: Adoption) -> impl IntoView {
    let (times, lines) = chart_lines(&adoption);
    let (Some(&t0), Some(&t1)) = (times.first(), times.last()) else {
        return view! { <p class="empty">"No switches recorded yet: the chart starts with the first one."</p> }.into_any();
    };
    let ax = count_axis(lines.iter().flat_map(|l| l.values.iter().copied()).max().unwrap_or(0));
    let s = Scale::new(Frame::WITH_LEGEND, (t0, t1), &ax);
    let series = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let mut xy: Vec<(f64, f64)> = times.iter().zip(&line.values).map(|(t, n)| (s.x(*t), s.y(*n as f64))).collect();
            // A single sample still reads as a level, not a dot.
            if times.len() == 1 {
                xy.push((s.frame.plot_right(), s.y(line.values[0] as f64)));
            }
            view! { <polyline class="adoption-line" data-provider=line.provider.clone() stroke=color(i) points=points(xy)/> }
        })
        .collect_view();
    let readings = times
        .iter()
        .enumerate()
        .map(|(k, &t)| Reading { x: s.x(t), ys: lines.iter().map(|l| s.y(l.values[k] as f64)).collect(), text: at_time(t, &lines, k) })
        .collect();
    let now = lines.iter().map(|l| format!("{} {}", l.name, thousands(*l.values.last().unwrap_or(&0)))).collect::<Vec<_>>().join(", ");
    let label = format!("Workspaces per provider, hourly from {} to {} UTC; at the end: {now}", moment(t0), moment(t1));
    let names = lines.iter().map(|l| l.name.clone()).collect();
    view! {
        <Chart name="adoption" frame=s.frame label readings caption="Workspaces on each provider, one point per hour with a change.">
            <Axes scale=s ticks=ax.labelled_with(|v| thousands(v as i64)) start=moment(t0) end=moment(t1)
                time_title="Time (hourly, UTC)" value_title="Workspaces".into()/>
            {series}
            <Legend frame=s.frame names/>
        </Chart>
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
    fn the_count_axis_has_whole_round_steps() {
        assert_eq!(count_axis(0).ticks, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(count_axis(12).ticks, [0.0, 5.0, 10.0, 15.0]);
        let a = count_axis(100_000);
        assert_eq!((a.hi, a.step), (100_000.0, 20_000.0));
        assert_eq!(a.labelled_with(|v| thousands(v as i64))[1].1, "20,000");
    }

    #[test]
    fn a_reading_names_every_providers_count_at_that_hour() {
        let lines = [
            Line { provider: "claude".into(), name: "Claude".into(), values: vec![10, 8] },
            Line { provider: "codex".into(), name: "Codex".into(), values: vec![0, 1200] },
        ];
        let t = rfc3339_ms("2026-11-21T11:00:00Z").unwrap();
        assert_eq!(at_time(t, &lines, 1), "2026-11-21 11:00 UTC — Claude 8, Codex 1,200");
    }

    #[test]
    fn shares_are_percentages_of_all_workspaces() {
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(0, 0), "0%");
    }
}
