//! Runbooks in run mode: a stage's forward or rollback runbook split into steps, run one
//! step at a time with who and when, against the time each step was planned to take.
use crate::error::ApiError;
use crate::role::PlanRole;
use crate::validate::{check_len, check_required};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunbookKind {
    Forward,
    Rollback,
}

impl RunbookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunbookKind::Forward => "forward",
            RunbookKind::Rollback => "rollback",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            RunbookKind::Forward => "Forward runbook",
            RunbookKind::Rollback => "Rollback runbook",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [RunbookKind::Forward, RunbookKind::Rollback].into_iter().find(|k| k.as_str() == s)
    }
}

/// One step of a runbook as written: its first line, the whole Markdown, and who and how
/// long when the text says so ("(on-call, 10 min)", "@maria").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunbookStep {
    pub title: String,
    /// Markdown: the step's whole text, code blocks included.
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<PlanRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_seconds: Option<i64>,
}

/// A runbook split into steps; text before the first step is its preface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunbookOutline {
    pub preface: String,
    pub steps: Vec<RunbookStep>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Done,
    Skipped,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Done => "done",
            StepStatus::Skipped => "skipped",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [StepStatus::Pending, StepStatus::Done, StepStatus::Skipped].into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunStep {
    /// 0-based.
    pub position: i64,
    #[serde(flatten)]
    pub step: RunbookStep,
    pub status: StepStatus,
    /// Who checked it off or skipped it, and when (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunNote {
    pub id: i64,
    /// The step it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<i64>,
    pub author: String,
    pub at: String,
    pub text: String,
}

/// One run of a stage's runbook. The steps are copied when the run starts, so later
/// edits of the runbook do not change a run under way or a finished one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunbookRun {
    pub id: i64,
    pub plan_id: i64,
    pub stage_id: i64,
    pub kind: RunbookKind,
    /// For a rollback runbook: the approved rollback it completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_id: Option<i64>,
    pub preface: String,
    pub started_by: String,
    pub started_at: String,
    /// Set when every step is done or skipped; the run is read-only from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    pub steps: Vec<RunStep>,
    pub notes: Vec<RunNote>,
}

impl RunbookRun {
    pub fn planned_seconds(&self) -> Option<i64> {
        let planned: Vec<i64> = self.steps.iter().filter_map(|s| s.step.planned_seconds).collect();
        (!planned.is_empty()).then(|| planned.iter().sum())
    }

    /// When the step at `i` began: when the step before it was finished, else the run's start.
    pub fn step_began(&self, i: usize) -> &str {
        self.steps[..i]
            .iter()
            .rev()
            .find_map(|s| s.done_at.as_deref())
            .unwrap_or(&self.started_at)
    }
}

/// `POST .../stages/{stage_id}/runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewRun {
    pub kind: RunbookKind,
}

/// `PUT .../runs/{run_id}/steps/{position}`: check a step off, or skip it with a reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StepResult {
    pub status: StepStatus,
    #[serde(default)]
    pub reason: String,
}

impl StepResult {
    pub fn validate(&self) -> Result<(), ApiError> {
        match self.status {
            StepStatus::Pending => Err(ApiError::validation("status", "A step is checked off (done) or skipped; it cannot be reopened.")),
            StepStatus::Skipped => {
                check_required("reason", "The reason for skipping", &self.reason)?;
                check_len("reason", "The reason", &self.reason, 1_000)
            }
            StepStatus::Done => check_len("reason", "The reason", &self.reason, 1_000),
        }
    }
}

/// `POST .../runs/{run_id}/notes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewRunNote {
    #[serde(default)]
    pub step: Option<i64>,
    pub text: String,
}

impl NewRunNote {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_required("text", "The note", &self.text)?;
        check_len("text", "The note", &self.text, 2_000)
    }
}

/// "1 h 5 min", "4 min 10 s", "12 s".
pub fn format_seconds(s: i64) -> String {
    let s = s.max(0);
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{sec} s"),
        (0, _) => format!("{m} min {sec} s"),
        _ => format!("{h} h {m} min"),
    }
}

#[cfg(feature = "markdown")]
pub use split::outline;

#[cfg(feature = "markdown")]
mod split {
    use super::*;
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    use std::ops::Range;

    /// Splits a runbook into steps: by its sub-headings if it has any, else by the items
    /// of its lists (text between items stays with the item above), else one step.
    pub fn outline(md: &str) -> RunbookOutline {
        let md = md.trim();
        if md.is_empty() {
            return RunbookOutline::default();
        }
        // Top-level blocks: (range, heading level, list items).
        let mut blocks: Vec<(Range<usize>, Option<u8>, Vec<Range<usize>>)> = Vec::new();
        let mut depth = 0usize;
        let mut lists = 0usize;
        for (event, range) in Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS).into_offset_iter() {
            match event {
                Event::Start(tag) => {
                    if depth == 0 {
                        let level = if let Tag::Heading { level, .. } = &tag { Some(*level as u8) } else { None };
                        blocks.push((range.clone(), level, vec![]));
                    }
                    match tag {
                        Tag::List(_) => lists += 1,
                        Tag::Item if lists == 1 => {
                            if let Some(b) = blocks.last_mut() {
                                b.2.push(range);
                            }
                        }
                        _ => {}
                    }
                    depth += 1;
                }
                Event::End(end) => {
                    depth = depth.saturating_sub(1);
                    if let TagEnd::List(_) = end {
                        lists = lists.saturating_sub(1);
                    }
                }
                _ if depth == 0 => blocks.push((range, None, vec![])),
                _ => {}
            }
        }
        let mut out = RunbookOutline::default();
        let mut preface_end = 0usize;
        let mut cuts: Vec<usize> = Vec::new();
        if let Some(top) = blocks.iter().filter_map(|b| b.1).min() {
            cuts.extend(blocks.iter().filter(|b| b.1 == Some(top)).map(|b| b.0.start));
        } else if blocks.iter().any(|b| !b.2.is_empty()) {
            for b in &blocks {
                cuts.extend(b.2.iter().map(|r| r.start));
            }
        } else {
            cuts.push(0);
        }
        if let Some(first) = cuts.first() {
            preface_end = *first;
        }
        out.preface = md[..preface_end].trim().to_string();
        for (n, start) in cuts.iter().enumerate() {
            let end = cuts.get(n + 1).copied().unwrap_or(md.len());
            let body = md[*start..end].trim();
            if body.is_empty() {
                continue;
            }
            out.steps.push(step(body));
        }
        out
    }

    fn step(body: &str) -> RunbookStep {
        let first = body.lines().next().unwrap_or("").trim();
        let title = strip_marker(first);
        let title = if title.is_empty() { "Step".to_string() } else { title.chars().take(200).collect() };
        let lower = title.to_lowercase();
        let person = title
            .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | ','))
            .find_map(|w| w.strip_prefix('@'))
            .map(|w| w.trim_end_matches(['.', ':', ';']).to_string())
            .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')));
        let role = [
            ("rollback authority", PlanRole::RollbackAuthority),
            ("on-call", PlanRole::OnCall),
            ("on call", PlanRole::OnCall),
            ("migration lead", PlanRole::MigrationLead),
            ("(lead", PlanRole::MigrationLead),
            ("[lead", PlanRole::MigrationLead),
            ("stakeholder", PlanRole::Stakeholder),
        ]
        .into_iter()
        .find(|(w, _)| lower.contains(w))
        .map(|(_, r)| r);
        let planned_seconds = bracketed(&title).iter().find_map(|inner| crate::plan_markdown::parse_duration_seconds(inner));
        RunbookStep { title, body: body.to_string(), role, person, planned_seconds }
    }

    /// The texts inside ( ) and [ ] of a line.
    fn bracketed(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur: Option<String> = None;
        for c in s.chars() {
            match (c, cur.as_mut()) {
                ('(' | '[', _) => cur = Some(String::new()),
                (')' | ']', Some(_)) => out.extend(cur.take()),
                (_, Some(t)) => t.push(c),
                _ => {}
            }
        }
        out
    }

    /// "1. Do it" → "Do it"; "- [ ] Do it" → "Do it"; "### Do it" → "Do it".
    fn strip_marker(line: &str) -> String {
        let mut s = line.trim_start_matches('#').trim();
        if let Some(rest) = s.strip_prefix(['-', '*', '+']) {
            s = rest.trim_start();
        } else {
            let digits = s.chars().take_while(|c| c.is_ascii_digit()).count();
            if digits > 0 {
                if let Some(rest) = s[digits..].strip_prefix(['.', ')']) {
                    s = rest.trim_start();
                }
            }
        }
        for mark in ["[ ]", "[x]", "[X]"] {
            if let Some(rest) = s.strip_prefix(mark) {
                s = rest.trim_start();
            }
        }
        s.trim_end_matches(':').trim().to_string()
    }
}

#[cfg(all(test, feature = "markdown"))]
mod tests {
    use super::*;

    #[test]
    fn numbered_items_are_steps_and_code_stays_with_its_step() {
        let o = outline("Before you start:\n\n1. Stop the workers (on-call, 5 min)\n\n   ```sh\n   systemctl stop w\n   ```\n\n2. Run the migration @maria (30 min)\n3. Check\n");
        assert_eq!(o.preface, "Before you start:");
        assert_eq!(o.steps.len(), 3);
        assert_eq!(o.steps[0].title, "Stop the workers (on-call, 5 min)");
        assert!(o.steps[0].body.contains("systemctl stop w"));
        assert_eq!(o.steps[0].role, Some(PlanRole::OnCall));
        assert_eq!(o.steps[0].planned_seconds, Some(300));
        assert_eq!(o.steps[1].person.as_deref(), Some("maria"));
        assert_eq!(o.steps[1].planned_seconds, Some(1800));
        assert_eq!(o.steps[2].planned_seconds, None);
    }

    #[test]
    fn sub_headings_are_steps_when_there_are_any() {
        let o = outline("If it breaks:\n\n##### Immediate Rollback (< 5 minutes)\n\n1. a\n2. b\n\n##### Data Recovery\n\nText\n");
        assert_eq!(o.steps.len(), 2);
        assert_eq!(o.steps[0].title, "Immediate Rollback (< 5 minutes)");
        assert_eq!(o.steps[0].planned_seconds, Some(300));
        assert!(o.steps[0].body.contains("2. b"));
    }

    #[test]
    fn a_runbook_without_lists_or_headings_is_one_step() {
        let o = outline("```sql\nDROP TABLE x;\n```");
        assert_eq!(o.steps.len(), 1);
        assert_eq!(o.steps[0].body, "```sql\nDROP TABLE x;\n```");
        assert_eq!(outline("  ").steps.len(), 0);
    }
}
