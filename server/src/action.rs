//! Every change to a plan is one `Action`. Each declares, in the one exhaustive `match`
//! of `Action::rules`, its audit name, its webhook event, who may do it, how it meets the
//! plan version and what it does to the review; `Service::open` is the only way to start
//! one and `Service::commit` the only way to end it, so no change can forget a rule.
use crate::audit::{self, Entry};
use crate::db::{now, WriteTx};
use crate::error::Result;
use crate::event::Change;
use crate::plan::load_plan;
use crate::service::{forbidden, missing_scope, Caller, Ctx, Service};
use app::error::ApiError;
use app::plan::{Abilities, Plan};
use app::role::PlanRole;
use app::token::Scope;
use sqlx::AnyConnection;

macro_rules! actions {
    ($($variant:ident),* $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action { $($variant),* }

        impl Action {
            /// Every action, for the tests that walk them all.
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];
        }
    };
}

actions! {
    PlanCreate, PlanUpdate, PlanArchive, PlanRestore,
    ReviewRequest, SignOff, RequestChanges, Comment,
    RoleAssign, RoleRemove,
    StageCreate, StageUpdate, StageDelete, StageReorder, StageFlags,
    ChecklistCreate, ChecklistDelete, ChecklistCopy, CheckResult,
    RiskCreate, RiskUpdate, RiskDelete,
    GuardCreate, GuardUpdate, GuardDelete, GuardBreach, GuardResolve,
    GateRequest, GateVote, StagePass, StageAbort,
    RollbackRequest, RollbackApprove, RollbackReject, RollbackDone,
    RunbookStart, RunbookStep, RunbookNote,
}

/// Who may take an action on a plan, from their plan roles (checked on the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// People, and tokens with `plans:write`: anyone may start a plan of their own.
    Authors,
    /// The plan's migration leads, admins, and `plans:write` tokens.
    Editors,
    /// Migration leads and admins, in person: a request someone answers for.
    Leads,
    /// People holding any role on the plan, and admins.
    Members,
    /// The plan's stakeholders.
    Stakeholders,
    /// The people who run the plan: migration leads, on-call, rollback authorities, admins.
    Runners,
    /// On-call, migration leads and admins: they ask for a rollback.
    Responders,
    /// The plan's rollback authorities (admins are not, unless they hold the role).
    RollbackAuthorities,
    /// People; the gate itself names the roles whose holders vote.
    Voters,
    /// Runway itself: guards and timers.
    Runway,
}

/// How a change meets the plan version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versioning {
    /// Made against the version sent; a stale one is refused (409) and the version moves on.
    Checked,
    /// Many people may do it at once: no version is sent, but the version moves on.
    Bumped,
    /// Side by side with others: takes the plan's row lock, leaves the version alone.
    Held,
}

/// What an action does to what the stakeholders signed off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Review {
    /// Changes what will run: the sign-offs are void, a plan in review or approved goes back
    /// to review and its open gate requests are withdrawn; while it runs, the stages it
    /// touches wait for a new sign-off. Refused on a stage that has started (`stage_frozen`).
    Voids,
    /// Runs the plan or records what happened; what was signed off stays signed off.
    Keeps,
}

pub struct Rules {
    pub audit: &'static str,
    /// The webhook event it sends, if any.
    pub event: Option<&'static str>,
    pub who: Who,
    pub version: Versioning,
    pub review: Review,
    /// Only restoring works on an archived plan; everything else is refused there.
    pub on_archived: bool,
}

impl Action {
    pub const fn rules(self) -> Rules {
        use Review::*;
        use Versioning::*;
        use Who::*;
        const fn r(audit: &'static str, event: Option<&'static str>, who: Who, version: Versioning, review: Review) -> Rules {
            Rules { audit, event, who, version, review, on_archived: false }
        }
        match self {
            Action::PlanCreate => r("plan.create", None, Authors, Checked, Keeps),
            Action::PlanUpdate => r("plan.update", None, Editors, Checked, Voids),
            Action::PlanArchive => r("plan.archive", None, Editors, Checked, Keeps),
            Action::PlanRestore => Rules { on_archived: true, ..r("plan.restore", None, Editors, Checked, Keeps) },
            Action::ReviewRequest => r("plan.request_review", None, Editors, Checked, Keeps),
            Action::SignOff => r("plan.sign_off", None, Stakeholders, Held, Keeps),
            Action::RequestChanges => r("plan.request_changes", None, Stakeholders, Held, Keeps),
            Action::Comment => r("comment.create", None, Members, Held, Keeps),
            Action::RoleAssign => r("role.assign", None, Editors, Held, Keeps),
            Action::RoleRemove => r("role.remove", None, Editors, Held, Keeps),
            Action::StageCreate => r("stage.create", None, Editors, Checked, Voids),
            Action::StageUpdate => r("stage.update", None, Editors, Checked, Voids),
            Action::StageDelete => r("stage.delete", None, Editors, Checked, Voids),
            Action::StageReorder => r("stage.reorder", None, Editors, Checked, Voids),
            Action::StageFlags => r("stage.flags", None, Editors, Checked, Voids),
            Action::ChecklistCreate => r("checklist.create", None, Editors, Checked, Voids),
            Action::ChecklistDelete => r("checklist.delete", None, Editors, Checked, Voids),
            Action::ChecklistCopy => r("checklist.copy", None, Editors, Checked, Voids),
            Action::CheckResult => r("checklist.result", None, Runners, Held, Keeps),
            Action::RiskCreate => r("risk.create", None, Editors, Checked, Voids),
            Action::RiskUpdate => r("risk.update", None, Editors, Checked, Voids),
            Action::RiskDelete => r("risk.delete", None, Editors, Checked, Voids),
            Action::GuardCreate => r("guard.create", None, Editors, Checked, Voids),
            Action::GuardUpdate => r("guard.update", None, Editors, Checked, Voids),
            Action::GuardDelete => r("guard.delete", None, Editors, Checked, Voids),
            Action::GuardBreach => r("guard.breach", Some("guard.breached"), Runway, Bumped, Keeps),
            Action::GuardResolve => r("guard.resolve", Some("guard.resolved"), Runners, Bumped, Keeps),
            Action::GateRequest => r("gate.request", Some("gate.requested"), Leads, Checked, Keeps),
            Action::GateVote => r("gate.vote", Some("gate.decided"), Voters, Bumped, Keeps),
            Action::StagePass => r("stage.pass", None, Editors, Checked, Keeps),
            Action::StageAbort => r("stage.abort", None, Editors, Checked, Keeps),
            Action::RollbackRequest => r("rollback.request", Some("rollback.requested"), Responders, Bumped, Keeps),
            Action::RollbackApprove => r("rollback.approve", Some("rollback.approved"), RollbackAuthorities, Bumped, Keeps),
            Action::RollbackReject => r("rollback.reject", Some("rollback.rejected"), RollbackAuthorities, Bumped, Keeps),
            Action::RollbackDone => r("rollback.done", Some("rollback.done"), Runway, Bumped, Keeps),
            Action::RunbookStart => r("runbook.start", None, Runners, Held, Keeps),
            Action::RunbookStep => r("runbook.step", None, Runners, Held, Keeps),
            Action::RunbookNote => r("runbook.note", None, Runners, Held, Keeps),
        }
    }

    pub const fn audit(self) -> &'static str {
        self.rules().audit
    }

    pub fn voids_sign_offs(self) -> bool {
        self.rules().review == Review::Voids
    }
}

impl Who {
    /// 403 (or 401 for nobody) with the reason, unless `ctx` holding `roles` on the plan may act.
    pub fn check(self, ctx: &Ctx, roles: &[PlanRole]) -> Result<(), ApiError> {
        ctx.require_signed_in()?;
        let has = |r: PlanRole| roles.contains(&r);
        let admin = ctx.is_admin();
        let in_person = |why: &str| -> Result<(), ApiError> {
            ctx.require_person()?;
            Err(forbidden(why))
        };
        let allowed = match self {
            Who::Authors => ctx.person().is_some() || admin || ctx.has_scope(Scope::PlansWrite),
            Who::Editors => admin || has(PlanRole::MigrationLead) || ctx.has_scope(Scope::PlansWrite),
            Who::Leads => ctx.person().is_some() && (admin || has(PlanRole::MigrationLead)),
            Who::Members => ctx.person().is_some() && (admin || !roles.is_empty()),
            Who::Stakeholders => ctx.person().is_some() && has(PlanRole::Stakeholder),
            Who::Runners => {
                ctx.person().is_some()
                    && (admin || has(PlanRole::MigrationLead) || has(PlanRole::OnCall) || has(PlanRole::RollbackAuthority))
            }
            Who::Responders => ctx.person().is_some() && (admin || has(PlanRole::OnCall) || has(PlanRole::MigrationLead)),
            Who::RollbackAuthorities => ctx.person().is_some() && has(PlanRole::RollbackAuthority),
            Who::Voters => ctx.person().is_some(),
            Who::Runway => matches!(ctx.caller, Caller::System(_)),
        };
        if allowed {
            return Ok(());
        }
        match self {
            Who::Authors | Who::Editors if matches!(ctx.caller, Caller::Token(_)) => Err(missing_scope(Scope::PlansWrite)),
            Who::Authors => Err(forbidden("Only people and plans:write tokens create plans.")),
            Who::Editors => Err(forbidden("Only the plan's migration leads and admins may change it.")),
            Who::Leads => in_person("Only the plan's migration leads and admins may ask for this."),
            Who::Members => in_person("Only people holding a role on this plan, and admins, may comment."),
            Who::Stakeholders => in_person("Only the plan's stakeholders may sign it off."),
            Who::Runners => in_person("Only the plan's leads, on-call, rollback authorities and admins run it."),
            Who::Responders => in_person("Only the plan's on-call and migration leads may ask for a rollback."),
            Who::RollbackAuthorities => in_person("Only the plan's rollback authorities may decide a rollback."),
            Who::Voters => in_person("Only people vote on gates."),
            Who::Runway => Err(forbidden("Only Runway itself does this.")),
        }
    }
}

/// The roles `ctx`'s person holds on `plan`.
pub fn roles_on(ctx: &Ctx, plan: &Plan) -> Vec<PlanRole> {
    ctx.person().map(|p| plan.roles_of(p.id)).unwrap_or_default()
}

/// What the caller may do on a plan: the same checks the actions make.
pub fn abilities(ctx: &Ctx, roles: &[PlanRole]) -> Abilities {
    let may = |who: Who| who.check(ctx, roles).is_ok();
    Abilities {
        edit: may(Who::Editors),
        assign: may(Who::Editors),
        comment: may(Who::Members),
        sign_off: may(Who::Stakeholders),
        history: ctx.is_admin() && ctx.person().is_some(),
        run: may(Who::Runners),
    }
}

/// Which stages a content change touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Touched {
    /// The stages named (a stage edited, or just added).
    Stages(Vec<i64>),
    /// The whole plan: every stage that has not started.
    Plan,
}

/// An open change to one plan: its transaction, holding the plan's row lock, and the
/// plan as it was when the lock was taken.
pub(crate) struct PlanChange {
    pub tx: WriteTx,
    pub plan: Plan,
    pub action: Action,
    pub(crate) touched: Touched,
    announced: bool,
}

impl PlanChange {
    /// A plan just written in `tx` (its creation), to end like any other change.
    pub async fn created(mut tx: WriteTx, plan_id: i64) -> Result<PlanChange> {
        let plan = load_plan(tx.conn(), plan_id).await?.ok_or_else(ApiError::internal)?;
        Ok(PlanChange { tx, plan, action: Action::PlanCreate, touched: Touched::Plan, announced: false })
    }

    pub fn conn(&mut self) -> &mut AnyConnection {
        self.tx.conn()
    }

    /// A stage this change added: it waits for a sign-off like an edited one.
    pub fn touch(&mut self, stage_id: i64) {
        match &mut self.touched {
            Touched::Stages(ids) => ids.push(stage_id),
            Touched::Plan => {}
        }
    }

    /// The change reaches beyond one stage (a stage removed, the order changed).
    pub fn touch_plan(&mut self) {
        self.touched = Touched::Plan;
    }

    /// Queues `action`'s webhook event in this change's transaction.
    pub async fn announce(&mut self, action: Action, payload: serde_json::Value) -> Result<()> {
        let event = action.rules().event.ok_or_else(ApiError::internal)?;
        crate::webhook::enqueue(self.tx.conn(), event, payload).await?;
        self.announced = true;
        Ok(())
    }
}

fn archived() -> ApiError {
    ApiError::new(409, "archived", "This plan is archived and read-only; restore it before changing it.").with_field("archived")
}

impl Service {
    /// Opens `action` on plan `plan_id`: takes the plan's row lock, then checks the caller
    /// may take the action, the plan's state allows it, the version where the action
    /// carries one, and (for a change to what will run) that the stage has not started.
    pub(crate) async fn open(&self, ctx: &Ctx, action: Action, plan_id: i64, version: Option<i64>, stage: Option<i64>) -> Result<PlanChange> {
        let rules = action.rules();
        ctx.require_signed_in()?;
        let version = match rules.version {
            Versioning::Checked => {
                Some(version.ok_or_else(|| ApiError::validation("version", "Send the plan version this change is based on."))?)
            }
            _ => None,
        };
        let mut tx = self.db.write().await?;
        // The lock comes before the read: changes to one plan take turns, and each reads
        // what the one before it wrote (on PostgreSQL as on SQLite).
        let locked = match rules.version {
            Versioning::Held => sqlx::query("UPDATE plans SET version = version WHERE id = $1").bind(plan_id),
            _ => sqlx::query("UPDATE plans SET version = version + 1, updated_at = $2 WHERE id = $1").bind(plan_id).bind(now()),
        }
        .execute(tx.conn())
        .await?;
        if locked.rows_affected() == 0 {
            return Err(ApiError::not_found("Plan").into());
        }
        let mut plan = load_plan(tx.conn(), plan_id).await?.ok_or_else(|| ApiError::not_found("Plan"))?;
        if rules.version != Versioning::Held {
            // The plan as it was, before this change's own bump.
            plan.version -= 1;
        }
        rules.who.check(ctx, &roles_on(ctx, &plan))?;
        match (plan.archived_at.is_some(), rules.on_archived) {
            (true, false) => return Err(archived().into()),
            (false, true) => return Err(ApiError::new(409, "not_archived", "This plan is not archived.").into()),
            _ => {}
        }
        if let Some(v) = version {
            if plan.version != v {
                return Err(ApiError::conflict(plan.version).into());
            }
        }
        if let Some(stage_id) = stage {
            let s = crate::stage::find_stage(&plan, stage_id)?;
            if rules.review == Review::Voids {
                check_not_frozen(s)?;
            }
        }
        let touched = match stage {
            Some(id) => Touched::Stages(vec![id]),
            None if action == Action::StageCreate => Touched::Stages(vec![]),
            None => Touched::Plan,
        };
        Ok(PlanChange { tx, plan, action, touched, announced: false })
    }

    /// Ends a change: what it does to the review, the audit entry, the commit, then the
    /// event for live viewers. Returns the plan as it is now.
    pub(crate) async fn commit(&self, mut change: PlanChange, ctx: &Ctx, entry: Entry) -> Result<Plan> {
        let plan_id = change.plan.id;
        if change.action.voids_sign_offs() {
            crate::review::content_changed(&mut change, ctx, &entry).await?;
        }
        let after = load_plan(change.conn(), plan_id).await?.ok_or_else(|| ApiError::not_found("Plan"))?;
        let entry = if entry.after.is_none() { entry.after(&after) } else { entry };
        audit::append(change.conn(), ctx, &entry).await?;
        change.tx.commit().await?;
        self.events.publish(Change {
            action: entry.action.to_string(),
            plan_id: Some(plan_id),
            version: Some(after.version),
            request_id: ctx.request_id.clone(),
        });
        if change.announced {
            self.webhooks_wake();
        }
        Ok(after)
    }
}

/// A stage that has started runs as it was signed off: only a rollback acts on it.
pub(crate) fn check_not_frozen(stage: &app::stage::Stage) -> Result<(), ApiError> {
    if stage.is_frozen() {
        return Err(ApiError::new(
            409,
            "stage_frozen",
            format!("{} is {}; it runs as it was signed off, and only a rollback acts on it now.", stage.name, stage.status.label().to_lowercase()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_its_own_audit_name() {
        let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.audit()).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "{names:?}");
    }

    #[test]
    fn changes_to_what_runs_are_checked_against_the_version() {
        for a in Action::ALL {
            let r = a.rules();
            if r.review == Review::Voids {
                assert_eq!(r.version, Versioning::Checked, "{a:?}");
                assert_eq!(r.who, Who::Editors, "{a:?}");
            }
        }
    }
}
