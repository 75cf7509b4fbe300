//! Guards: rollback triggers on live metrics. A guard watches one metric while its stage
//! is active; when the metric's mean over the evaluation window crosses the threshold
//! (absolute, or a multiple of the baseline) with enough samples, the guard breaches and
//! notifies, pauses the plan (the next gate cannot open) or rolls the stage back.
use crate::error::ApiError;
use crate::validate::check_len;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const METRIC_MAX: usize = 200;
/// Points in one `POST /api/v1/metrics` batch.
pub const BATCH_MAX: usize = 10_000;
/// How far ahead of the server's clock a point's time may be (clock skew, not forecasts).
pub const FUTURE_SKEW_SECONDS: i64 = 300;
pub const LABELS_MAX: usize = 20;
pub const LABEL_KEY_MAX: usize = 100;
pub const LABEL_VALUE_MAX: usize = 200;
pub const WINDOW_SECONDS_MAX: i64 = 24 * 3600;
pub const BASELINE_MINUTES_MAX: i64 = 7 * 24 * 60;
pub const MIN_SAMPLES_MAX: i64 = 100_000;
/// When a baseline comes from data and no window is given.
pub const DEFAULT_BASELINE_MINUTES: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Comparison {
    #[serde(rename = ">")]
    Above,
    #[serde(rename = ">=")]
    AtLeast,
    #[serde(rename = "<")]
    Below,
    #[serde(rename = "<=")]
    AtMost,
}

impl Comparison {
    pub const ALL: [Comparison; 4] = [Comparison::Above, Comparison::AtLeast, Comparison::Below, Comparison::AtMost];

    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Above => ">",
            Comparison::AtLeast => ">=",
            Comparison::Below => "<",
            Comparison::AtMost => "<=",
        }
    }

    /// Read aloud: "above", "at or above", ...
    pub fn words(self) -> &'static str {
        match self {
            Comparison::Above => "above",
            Comparison::AtLeast => "at or above",
            Comparison::Below => "below",
            Comparison::AtMost => "at or below",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Comparison::ALL.into_iter().find(|c| c.as_str() == s.trim())
    }

    /// Whether `value` breaches `threshold`.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Above => value > threshold,
            Comparison::AtLeast => value >= threshold,
            Comparison::Below => value < threshold,
            Comparison::AtMost => value <= threshold,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GuardAction {
    /// Record the breach and tell people (live viewers, webhooks).
    Notify,
    /// As notify, and the next gate cannot open until someone resolves the breach.
    Pause,
    /// Ask for a rollback of the stage; approved by the guard itself when the stage
    /// allows automatic rollback.
    RollBack,
}

impl GuardAction {
    pub const ALL: [GuardAction; 3] = [GuardAction::Notify, GuardAction::Pause, GuardAction::RollBack];

    pub fn as_str(self) -> &'static str {
        match self {
            GuardAction::Notify => "notify",
            GuardAction::Pause => "pause",
            GuardAction::RollBack => "roll_back",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            GuardAction::Notify => "Notify",
            GuardAction::Pause => "Pause the plan",
            GuardAction::RollBack => "Roll back",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        GuardAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A guard as stored, with its breaches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Guard {
    pub id: i64,
    pub stage_id: i64,
    pub metric: String,
    /// Only samples carrying every one of these labels count (`{"service": "git"}`); empty: all.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub comparison: Comparison,
    /// An absolute value, or (when `relative`) a multiple of the baseline.
    pub threshold: f64,
    pub relative: bool,
    /// The baseline the lead entered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_value: Option<f64>,
    /// Otherwise the baseline is the metric's mean over this many minutes before the stage started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_window_minutes: Option<i64>,
    /// The measured baseline, once the stage has started and samples from before it exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_measured: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_samples: Option<i64>,
    /// The mean over the last this many seconds is compared.
    pub window_seconds: i64,
    /// No breach with fewer samples than this in the window.
    pub min_samples: i64,
    pub action: GuardAction,
    pub created_by: String,
    pub created_at: String,
    /// Oldest first.
    #[serde(default)]
    pub breaches: Vec<Breach>,
}

impl Guard {
    /// The baseline in use: the lead's number, else the measured one.
    pub fn baseline(&self) -> Option<f64> {
        self.baseline_value.or(self.baseline_measured)
    }

    /// The value the mean is compared with; `None` while a relative guard has no baseline.
    pub fn effective_threshold(&self) -> Option<f64> {
        if self.relative {
            self.baseline().map(|b| b * self.threshold)
        } else {
            Some(self.threshold)
        }
    }

    pub fn open_breach(&self) -> Option<&Breach> {
        self.breaches.iter().find(|b| b.resolved_at.is_none())
    }

    /// "error_rate > 5", "p95_latency_ms > 2× baseline", "errors{service=git} > 5".
    pub fn condition(&self) -> String {
        let metric = format!("{}{}", self.metric, label_text(&self.labels));
        if self.relative {
            format!("{metric} {} {}× baseline", self.comparison.as_str(), number(self.threshold))
        } else {
            format!("{metric} {} {}", self.comparison.as_str(), number(self.threshold))
        }
    }
}

/// One time a guard's condition held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Breach {
    pub id: i64,
    pub guard_id: i64,
    /// The mean over the window when the guard breached.
    pub value: f64,
    pub samples: i64,
    /// The threshold it crossed (after applying the baseline).
    pub threshold: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    pub action: GuardAction,
    /// The rollback the guard asked for (and approved, when the stage allows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_id: Option<i64>,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
}

/// `POST .../stages/{stage_id}/guards` and `PUT .../guards/{guard_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewGuard {
    pub version: i64,
    pub metric: String,
    pub comparison: Comparison,
    pub threshold: f64,
    /// The threshold is a multiple of the baseline ("p95 latency > 2× the baseline").
    #[serde(default)]
    pub relative: bool,
    /// A relative guard's baseline as a number; without it, the mean over
    /// `baseline_window_minutes` (30 when left out) before the stage started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_window_minutes: Option<i64>,
    #[serde(default = "default_window")]
    pub window_seconds: i64,
    #[serde(default = "default_min_samples")]
    pub min_samples: i64,
    pub action: GuardAction,
    /// Label matchers: only samples whose labels hold every one of these pairs count.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `{service=git, region=eu}`, or nothing for no labels.
pub fn label_text(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// The stage form's `service=git, region=eu` as label matchers.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let mut labels = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(ApiError::validation("labels", format!("{pair:?}: write each label as name=value, e.g. service=git.")));
        };
        if labels.insert(k.trim().to_string(), v.trim().to_string()).is_some() {
            return Err(ApiError::validation("labels", format!("The label {:?} is given twice.", k.trim())));
        }
    }
    Ok(labels)
}

/// Label matchers as a guard keeps them: as many as a sample may carry, each name and value
/// within a sample's limits, and no empty value (it would match nothing sent).
pub fn check_labels(field: &str, labels: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if labels.len() > LABELS_MAX {
        return Err(ApiError::validation(field, format!("At most {LABELS_MAX} labels.")));
    }
    for (k, v) in labels {
        if k.trim().is_empty() || k.chars().count() > LABEL_KEY_MAX || k.trim() != k {
            return Err(ApiError::validation(field, format!("Label names are 1 to {LABEL_KEY_MAX} characters, without spaces around them.")));
        }
        if v.is_empty() || v.chars().count() > LABEL_VALUE_MAX {
            return Err(ApiError::validation(field, format!("The label {k:?} needs a value of 1 to {LABEL_VALUE_MAX} characters.")));
        }
    }
    Ok(())
}

fn default_window() -> i64 {
    300
}

fn default_min_samples() -> i64 {
    5
}

impl NewGuard {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_metric_name("metric", &self.metric)?;
        check_labels("labels", &self.labels)?;
        if !self.threshold.is_finite() {
            return Err(ApiError::validation("threshold", "The threshold is a finite number."));
        }
        if self.relative && self.threshold <= 0.0 {
            return Err(ApiError::validation("threshold", "A multiple of the baseline is more than 0 (2 means twice the baseline)."));
        }
        if !(1..=WINDOW_SECONDS_MAX).contains(&self.window_seconds) {
            return Err(ApiError::validation("window_seconds", format!("The evaluation window is from 1 to {WINDOW_SECONDS_MAX} seconds.")));
        }
        if !(1..=MIN_SAMPLES_MAX).contains(&self.min_samples) {
            return Err(ApiError::validation("min_samples", format!("The minimum number of samples is from 1 to {MIN_SAMPLES_MAX}.")));
        }
        if !self.relative && (self.baseline_value.is_some() || self.baseline_window_minutes.is_some()) {
            let field = if self.baseline_value.is_some() { "baseline_value" } else { "baseline_window_minutes" };
            return Err(ApiError::validation(field, "A baseline is only used when the threshold is a multiple of it (relative)."));
        }
        if self.baseline_value.is_some() && self.baseline_window_minutes.is_some() {
            return Err(ApiError::validation("baseline_value", "Give the baseline as a number or as a window before the stage, not both."));
        }
        if let Some(b) = self.baseline_value {
            if !b.is_finite() {
                return Err(ApiError::validation("baseline_value", "The baseline is a finite number."));
            }
        }
        if let Some(m) = self.baseline_window_minutes {
            if !(1..=BASELINE_MINUTES_MAX).contains(&m) {
                return Err(ApiError::validation(
                    "baseline_window_minutes",
                    format!("The baseline window is from 1 to {BASELINE_MINUTES_MAX} minutes."),
                ));
            }
        }
        Ok(())
    }

    /// The window a relative guard measures its baseline over, when it has no number.
    pub fn baseline_window(&self) -> Option<i64> {
        (self.relative && self.baseline_value.is_none()).then(|| self.baseline_window_minutes.unwrap_or(DEFAULT_BASELINE_MINUTES))
    }
}

/// `POST .../breaches/{breach_id}/resolve`: someone on the plan has dealt with it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResolveBreach {
    pub note: String,
}

impl ResolveBreach {
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.note.trim().is_empty() {
            return Err(ApiError::validation("note", "Say what was done about the breach."));
        }
        check_len("note", "The note", &self.note, crate::gate::RATIONALE_MAX)
    }
}

/// Metric names as Prometheus, StatsD and OpenTelemetry write them: letters, digits and `_ . : / -`.
pub fn check_metric_name(field: &str, name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::validation(field, "The metric name is required."));
    }
    check_len(field, "The metric name", name, METRIC_MAX)?;
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '-')) {
        return Err(ApiError::validation(field, "A metric name holds only letters, digits and _ . : / -."));
    }
    Ok(())
}

/// The answer to `POST /api/v1/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IngestReport {
    pub accepted: i64,
    /// The points refused, by their index in the batch; the others were stored.
    pub rejected: Vec<RejectedPoint>,
    /// Breaches this batch caused.
    pub breaches: Vec<BreachNotice>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RejectedPoint {
    pub index: usize,
    pub error: ApiError,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BreachNotice {
    pub plan_id: i64,
    pub stage_id: i64,
    pub guard_id: i64,
    pub breach_id: i64,
    pub action: GuardAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_id: Option<i64>,
}

/// A guard's metric over time, for its chart: bucket means, the threshold and baseline,
/// the breaches, and the window's mean now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GuardSeries {
    pub guard_id: i64,
    pub metric: String,
    /// Milliseconds since the epoch: the chart's left and right edges.
    pub from_ms: i64,
    pub to_ms: i64,
    /// When the stage started (the baseline window ends here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<i64>,
    pub points: Vec<SeriesPoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// (time in ms, mean at the breach)
    pub breaches: Vec<(i64, f64)>,
    /// The mean and sample count over the evaluation window now (while the stage is active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<(f64, i64)>,
}

/// The mean of the samples in one slice of the chart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeriesPoint {
    pub at_ms: i64,
    pub value: f64,
    pub samples: i64,
}

/// Short numbers for labels: 5, 0.1, 99.99, 1234.5, 1.5e-7.
pub fn number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() >= 1e9 || v.abs() < 1e-4 {
        return format!("{v:.3e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> NewGuard {
        NewGuard {
            version: 1,
            metric: "error_rate".into(),
            comparison: Comparison::Above,
            threshold: 5.0,
            relative: false,
            baseline_value: None,
            baseline_window_minutes: None,
            window_seconds: 60,
            min_samples: 3,
            action: GuardAction::RollBack,
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn each_comparison_breaches_on_its_side_of_the_threshold() {
        assert!(Comparison::Above.holds(5.1, 5.0) && !Comparison::Above.holds(5.0, 5.0));
        assert!(Comparison::AtLeast.holds(5.0, 5.0) && !Comparison::AtLeast.holds(4.9, 5.0));
        assert!(Comparison::Below.holds(99.98, 99.99) && !Comparison::Below.holds(99.99, 99.99));
        assert!(Comparison::AtMost.holds(99.99, 99.99) && !Comparison::AtMost.holds(100.0, 99.99));
    }

    #[test]
    fn comparisons_read_and_write_as_their_symbols() {
        let json = serde_json::to_string(&Comparison::AtLeast).unwrap();
        assert_eq!(json, "\">=\"");
        assert_eq!(serde_json::from_str::<Comparison>("\"<\"").unwrap(), Comparison::Below);
        assert_eq!(Comparison::parse("<="), Some(Comparison::AtMost));
    }

    #[test]
    fn a_relative_guard_compares_with_a_multiple_of_its_baseline() {
        let mut g = Guard {
            id: 1,
            stage_id: 1,
            metric: "p95_latency_ms".into(),
            labels: BTreeMap::new(),
            comparison: Comparison::Above,
            threshold: 2.0,
            relative: true,
            baseline_value: None,
            baseline_window_minutes: Some(30),
            baseline_measured: None,
            baseline_samples: None,
            window_seconds: 60,
            min_samples: 3,
            action: GuardAction::Notify,
            created_by: "lee".into(),
            created_at: String::new(),
            breaches: vec![],
        };
        assert_eq!(g.effective_threshold(), None);
        g.baseline_measured = Some(120.0);
        assert_eq!(g.effective_threshold(), Some(240.0));
        g.baseline_value = Some(100.0);
        assert_eq!(g.effective_threshold(), Some(200.0));
        assert_eq!(g.condition(), "p95_latency_ms > 2× baseline");
        g.labels = parse_labels("service=git, region=eu").unwrap();
        assert_eq!(g.condition(), "p95_latency_ms{region=eu, service=git} > 2× baseline");
    }

    #[test]
    fn labels_are_written_as_name_value_pairs_and_checked() {
        let labels = parse_labels(" service = git ,region=eu,").unwrap();
        assert_eq!(labels.into_iter().collect::<Vec<_>>(), [("region".into(), "eu".into()), ("service".into(), "git".into())]);
        assert!(parse_labels("").unwrap().is_empty());
        assert_eq!(parse_labels("service").unwrap_err().field.as_deref(), Some("labels"));
        assert_eq!(parse_labels("a=1, a=2").unwrap_err().field.as_deref(), Some("labels"));
        let field = |text: &str| NewGuard { labels: parse_labels(text).unwrap(), ..guard() }.validate().unwrap_err().field.unwrap();
        assert_eq!(field("service="), "labels");
        assert_eq!(field("=git"), "labels");
        assert!(NewGuard { labels: parse_labels("service=git").unwrap(), ..guard() }.validate().is_ok());
    }

    #[test]
    fn guard_settings_out_of_range_are_refused_with_their_field() {
        assert!(guard().validate().is_ok());
        let field = |g: NewGuard| g.validate().unwrap_err().field.unwrap();
        assert_eq!(field(NewGuard { metric: "error rate".into(), ..guard() }), "metric");
        assert_eq!(field(NewGuard { threshold: f64::NAN, ..guard() }), "threshold");
        assert_eq!(field(NewGuard { relative: true, threshold: 0.0, ..guard() }), "threshold");
        assert_eq!(field(NewGuard { window_seconds: 0, ..guard() }), "window_seconds");
        assert_eq!(field(NewGuard { min_samples: 0, ..guard() }), "min_samples");
        assert_eq!(field(NewGuard { baseline_value: Some(3.0), ..guard() }), "baseline_value");
        assert_eq!(field(NewGuard { relative: true, baseline_window_minutes: Some(0), ..guard() }), "baseline_window_minutes");
        assert_eq!(NewGuard { relative: true, ..guard() }.baseline_window(), Some(DEFAULT_BASELINE_MINUTES));
        assert_eq!(NewGuard { relative: true, baseline_value: Some(1.0), ..guard() }.baseline_window(), None);
    }

    #[test]
    fn numbers_on_labels_are_short() {
        assert_eq!(number(5.0), "5");
        assert_eq!(number(99.99), "99.99");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(1234.56789), "1234.5679");
        assert_eq!(number(0.0), "0");
    }
}
