//! A plan: a migration or rollout with ordered stages and risks.
use crate::error::ApiError;
use crate::person::Person;
use crate::review::{Comment, SignOff};
use crate::risk::{NewRisk, Risk};
use crate::role::{PlanRole, RoleAssignment};
use crate::stage::{NewStage, Stage};
use crate::validate::{check_len, check_required};
use serde::{Deserialize, Serialize};

pub const TITLE_MAX: usize = 200;
pub const SUMMARY_MAX: usize = 1_000;
pub const OWNER_MAX: usize = 200;
pub const MARKDOWN_MAX: usize = 200_000;
pub const PER_PAGE_MAX: i64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Draft,
    InReview,
    Approved,
    Executing,
    Completed,
    RolledBack,
    Aborted,
}

impl PlanStatus {
    pub const ALL: [PlanStatus; 7] = [
        PlanStatus::Draft,
        PlanStatus::InReview,
        PlanStatus::Approved,
        PlanStatus::Executing,
        PlanStatus::Completed,
        PlanStatus::RolledBack,
        PlanStatus::Aborted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Draft => "draft",
            PlanStatus::InReview => "in_review",
            PlanStatus::Approved => "approved",
            PlanStatus::Executing => "executing",
            PlanStatus::Completed => "completed",
            PlanStatus::RolledBack => "rolled_back",
            PlanStatus::Aborted => "aborted",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PlanStatus::Draft => "Draft",
            PlanStatus::InReview => "In review",
            PlanStatus::Approved => "Approved",
            PlanStatus::Executing => "Executing",
            PlanStatus::Completed => "Completed",
            PlanStatus::RolledBack => "Rolled back",
            PlanStatus::Aborted => "Aborted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        PlanStatus::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A whole plan, as `GET /api/v1/plans/{id}` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Plan {
    pub id: i64,
    pub title: String,
    pub summary: String,
    /// Markdown.
    pub description: String,
    pub owner: String,
    pub status: PlanStatus,
    /// Starts at 1; every change to the plan, its stages or its risks adds one.
    pub version: i64,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<String>,
    /// In execution order.
    pub stages: Vec<Stage>,
    pub risks: Vec<Risk>,
    /// Who holds which role on this plan.
    #[serde(default)]
    pub roles: Vec<RoleAssignment>,
    /// Sign-offs given on this plan since it last changed.
    #[serde(default)]
    pub signoffs: Vec<SignOff>,
    /// Why the plan went back to review (what changed after it was approved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_note: Option<String>,
    /// How fast an approved rollback should have the flags back, in seconds.
    #[serde(default = "thirty")]
    pub rollback_target_seconds: i64,
}

fn thirty() -> i64 {
    30
}

impl Plan {
    /// The people holding `role` on this plan.
    pub fn holders(&self, role: PlanRole) -> impl Iterator<Item = &Person> {
        self.roles.iter().filter(move |a| a.role == role).map(|a| &a.person)
    }

    /// The stakeholders who have not signed off what is there now.
    pub fn waiting_for_sign_off(&self) -> Vec<String> {
        self.holders(PlanRole::Stakeholder)
            .filter(|p| !self.signoffs.iter().any(|s| s.person.id == p.id && s.decision == crate::review::Decision::Approved))
            .map(|p| p.name().to_string())
            .collect()
    }

    /// The roles one person holds on this plan.
    pub fn roles_of(&self, person_id: i64) -> Vec<PlanRole> {
        self.roles.iter().filter(|a| a.person.id == person_id).map(|a| a.role).collect()
    }
}

/// A row of the plan list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlanSummary {
    pub id: i64,
    pub title: String,
    pub summary: String,
    pub owner: String,
    pub status: PlanStatus,
    pub version: i64,
    pub stage_count: i64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlanPage {
    /// Most recently changed first.
    pub items: Vec<PlanSummary>,
    /// How many match in all, counted up to 10,000.
    pub total: i64,
    /// There are more than `total` (10,000).
    #[serde(default)]
    pub total_capped: bool,
    /// The `after` of the next page, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Query of the plan list: free-text search over title, summary and owner.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct PlanQuery {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub status: Option<PlanStatus>,
    /// The previous page's `next`.
    #[serde(default)]
    pub after: Option<String>,
    /// 1 to 100; 20 when left out.
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub include_archived: Option<bool>,
}

impl PlanQuery {
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(20).clamp(1, PER_PAGE_MAX)
    }
}

/// `POST /api/v1/plans`. Stages and risks may come along in one go.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPlan {
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub status: Option<PlanStatus>,
    #[serde(default)]
    pub stages: Vec<NewStage>,
    #[serde(default)]
    pub risks: Vec<NewRisk>,
}

impl NewPlan {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_plan_fields(Some(&self.title), Some(&self.summary), Some(&self.description), Some(&self.owner))?;
        for (i, s) in self.stages.iter().enumerate() {
            s.validate().map_err(|e| prefix_field(e, &format!("stages[{i}]")))?;
        }
        for (i, r) in self.risks.iter().enumerate() {
            r.validate().map_err(|e| prefix_field(e, &format!("risks[{i}]")))?;
        }
        Ok(())
    }
}

/// `PATCH /api/v1/plans/{id}`: fields left out stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanPatch {
    /// The version this edit was based on.
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PlanStatus>,
    /// `false` restores an archived plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_target_seconds: Option<i64>,
}

impl PlanPatch {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_plan_fields(
            self.title.as_ref(),
            self.summary.as_ref(),
            self.description.as_ref(),
            self.owner.as_ref(),
        )?;
        match self.rollback_target_seconds {
            Some(t) if !(1..=86_400).contains(&t) => {
                Err(ApiError::validation("rollback_target_seconds", "The rollback target is from 1 second to 1 day (86400)."))
            }
            _ => Ok(()),
        }
    }
}

fn check_plan_fields(
    title: Option<&String>,
    summary: Option<&String>,
    description: Option<&String>,
    owner: Option<&String>,
) -> Result<(), ApiError> {
    if let Some(t) = title {
        check_required("title", "Title", t)?;
        check_len("title", "Title", t, TITLE_MAX)?;
    }
    if let Some(s) = summary {
        check_len("summary", "Summary", s, SUMMARY_MAX)?;
    }
    if let Some(d) = description {
        check_len("description", "Description", d, MARKDOWN_MAX)?;
    }
    if let Some(o) = owner {
        check_len("owner", "Owner", o, OWNER_MAX)?;
    }
    Ok(())
}

/// The `?version=N` of the DELETE calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct VersionQuery {
    /// The plan version this change was based on.
    pub version: Option<i64>,
}

/// Puts a field path under `prefix`: `name` in `stages[1]` becomes `stages[1].name`.
pub fn prefix_field(mut e: ApiError, prefix: &str) -> ApiError {
    e.field = Some(match e.field.take() {
        Some(f) => format!("{prefix}.{f}"),
        None => prefix.to_string(),
    });
    e
}

/// What the plan page shows: the plan, and its Markdown already rendered and sanitised
/// on the server (the browser never needs a Markdown parser).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanView {
    pub plan: Plan,
    pub comments: Vec<Comment>,
    /// What the signed-in person may do here; the server checks each action again.
    pub can: Abilities,
    pub description_html: String,
    /// One per stage, in the same order as `plan.stages`.
    pub stages_html: Vec<StageHtml>,
    /// Every live flag's key, for choosing a stage's flag changes.
    pub flag_keys: Vec<String>,
    /// Flags this plan's stages use that the kill switch turned off: (key, by whom, when).
    pub killed_flags: Vec<(String, String, String)>,
    /// Stages (of any plan) with a checklist to copy: (stage id, "plan — stage (n checks)").
    pub checklist_sources: Vec<(i64, String)>,
    /// Who is looking, to offer them the votes and decisions that are theirs.
    pub me: Option<crate::person::Person>,
    /// For a plan whose stages flip a provider's availability flag: how many workspaces
    /// use each provider, now and over time.
    pub adoption: Option<crate::workspace::Adoption>,
    /// Each guard's metric over time, for its chart (guards of every stage).
    #[serde(default)]
    pub guard_series: Vec<crate::guard::GuardSeries>,
    /// Set in the copy the page's hydration data carries (see [`PlanView::without_html`]).
    #[serde(default)]
    pub html_elided: bool,
}

/// Stands for rendered Markdown left out of the hydration data: the page holds that HTML
/// already, and the browser keeps it. Non-empty, so the page takes the same shape.
pub const ELIDED_HTML: &str = "…";

impl PlanView {
    /// This view without its rendered Markdown, for the page's hydration data: otherwise
    /// every description and runbook would be in the page twice, once as HTML and once as
    /// an escaped string. The browser, hydrating, leaves the server's HTML in place.
    pub fn without_html(&self) -> PlanView {
        fn elide(html: &str) -> String {
            if html.trim().is_empty() { String::new() } else { ELIDED_HTML.to_string() }
        }
        let stages_html = self.stages_html.iter().map(|h| StageHtml { elided: true, ..h.map(elide) }).collect();
        PlanView { description_html: elide(&self.description_html), stages_html, html_elided: true, ..self.clone() }
    }

    /// The plan roles the viewer holds.
    pub fn my_roles(&self) -> Vec<PlanRole> {
        self.me.as_ref().map(|me| self.plan.roles_of(me.id)).unwrap_or_default()
    }

    pub fn my_name(&self) -> &str {
        self.me.as_ref().map(|p| p.username.as_str()).unwrap_or("")
    }

    pub fn i_am_admin(&self) -> bool {
        self.me.as_ref().is_some_and(|p| p.role == crate::person::GlobalRole::Admin)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Abilities {
    /// Edit the plan, its stages and risks, and send it for review.
    pub edit: bool,
    /// Give and take plan roles.
    pub assign: bool,
    pub comment: bool,
    pub sign_off: bool,
    /// Read the plan's history in the audit log (admins).
    pub history: bool,
    /// Record checklist results while the plan runs (leads, on-call, rollback authorities, admins).
    pub run: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StageHtml {
    pub description: String,
    pub forward_runbook: String,
    pub rollback_runbook: String,
    /// For each of the stage's runs, in the same order: its preface and each step's text.
    #[serde(default)]
    pub runs: Vec<RunHtml>,
    /// The texts stand for what the page already shows ([`PlanView::without_html`]).
    #[serde(default)]
    pub elided: bool,
}

impl StageHtml {
    /// Moves the stage's Markdown texts out, each into the place its HTML goes.
    pub fn take_sources(s: &mut Stage) -> StageHtml {
        use std::mem::take;
        StageHtml {
            description: take(&mut s.description),
            forward_runbook: take(&mut s.forward_runbook),
            rollback_runbook: take(&mut s.rollback_runbook),
            runs: s
                .runs
                .iter_mut()
                .map(|r| RunHtml { preface: take(&mut r.preface), steps: r.steps.iter_mut().map(|st| take(&mut st.step.body)).collect() })
                .collect(),
            elided: false,
        }
    }

    /// Every text through `f`.
    pub fn map(&self, f: impl Fn(&str) -> String) -> StageHtml {
        StageHtml {
            description: f(&self.description),
            forward_runbook: f(&self.forward_runbook),
            rollback_runbook: f(&self.rollback_runbook),
            runs: self.runs.iter().map(|r| RunHtml { preface: f(&r.preface), steps: r.steps.iter().map(|s| f(s)).collect() }).collect(),
            elided: self.elided,
        }
    }
}

/// A copy left out of the hydration data equals any other: the HTML on the page is that
/// stage's, and a stage whose text changes shows it in its revision, so it redraws anyway.
impl PartialEq for StageHtml {
    fn eq(&self, other: &Self) -> bool {
        self.elided
            || other.elided
            || (self.description == other.description
                && self.forward_runbook == other.forward_runbook
                && self.rollback_runbook == other.rollback_runbook
                && self.runs == other.runs)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunHtml {
    pub preface: String,
    pub steps: Vec<String>,
}

use leptos::prelude::*;

/// The plan list, for the list page. Empty strings mean "no filter".
#[server(prefix = "/_fn")]
pub async fn list_plans(q: String, status: String, after: String) -> Result<PlanPage, ApiError> {
    let query = PlanQuery {
        q: Some(q).filter(|q| !q.trim().is_empty()),
        status: PlanStatus::parse(&status),
        after: Some(after).filter(|a| !a.is_empty()),
        ..Default::default()
    };
    crate::backend::answer(crate::backend::backend()?.list_plans(&crate::backend::request(), query).await)
}

/// One plan, for the edit forms.
#[server(prefix = "/_fn")]
pub async fn get_plan(id: i64) -> Result<Plan, ApiError> {
    let result = crate::backend::backend()?.get_plan(&crate::backend::request(), id).await;
    if let Err(e) = &result {
        crate::backend::set_page_status(e);
    }
    result
}

/// One plan with rendered Markdown, for the plan page.
#[server(prefix = "/_fn")]
pub async fn get_plan_view(id: i64) -> Result<PlanView, ApiError> {
    use crate::markdown::to_html;
    let (backend, headers) = (crate::backend::backend()?, crate::backend::request());
    let mut plan = backend.get_plan(&headers, id).await.inspect_err(crate::backend::set_page_status)?;
    let comments = crate::backend::answer(backend.list_comments(&headers, &plan).await)?;
    let can = crate::backend::answer(backend.abilities(&headers, &plan).await)?;
    // The page shows the rendered Markdown; the source stays on the edit pages and in the
    // API. Sending both would double what the page carries for hydration.
    let stages_html = plan.stages.iter_mut().map(|s| StageHtml::take_sources(s).map(to_html)).collect();
    let description_html = to_html(&std::mem::take(&mut plan.description));
    // Tokens without flags:read still see the plan, without flag details.
    let flags = backend.list_flags(&headers).await.unwrap_or_default();
    let used = |key: &str| plan.stages.iter().any(|s| s.flag_changes.iter().any(|c| c.flag == key));
    let killed_flags = flags
        .iter()
        .filter(|f| f.killed_at.is_some() && used(&f.key))
        .map(|f| (f.key.clone(), f.killed_by.clone().unwrap_or_default(), f.killed_at.clone().unwrap_or_default()))
        .collect();
    // Only editors choose flags for a stage.
    let flag_keys = if can.edit { flags.into_iter().map(|f| f.key).collect() } else { vec![] };
    let checklist_sources = if can.edit { backend.checklist_sources(&headers).await.unwrap_or_default() } else { vec![] };
    let me = backend.viewer(&headers).await.ok().flatten().map(|v| v.person);
    let providers = backend.list_providers(&headers).await.unwrap_or_default();
    let flips_provider = providers.iter().filter_map(|p| p.flag.as_deref()).any(used);
    let adoption = if flips_provider { backend.adoption(&headers, &providers).await.ok() } else { None };
    let guard_series = if plan.stages.iter().any(|s| !s.guards.is_empty()) {
        crate::backend::answer(backend.guard_series(&headers, &plan).await)?
    } else {
        vec![]
    };
    Ok(PlanView {
        me,
        guard_series,
        adoption,
        description_html,
        stages_html,
        plan,
        comments,
        can,
        flag_keys,
        killed_flags,
        checklist_sources,
        html_elided: false,
    })
}
