//! Risks of a plan, kept in the order they were written.
use crate::action::Action;
use crate::audit::Entry;
use crate::error::Result;
use crate::service::{decode_enum, Ctx, Service};
use app::error::ApiError;
use app::plan::Plan;
use app::risk::{Level, NewRisk, Risk, RiskPatch};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

fn risk_from_row(r: &AnyRow) -> Result<Risk, sqlx::Error> {
    Ok(Risk {
        id: r.try_get("id")?,
        plan_id: r.try_get("plan_id")?,
        position: r.try_get("position")?,
        risk: r.try_get("risk")?,
        likelihood: decode_enum(r.try_get("likelihood")?, Level::parse, "likelihood")?,
        impact: decode_enum(r.try_get("impact")?, Level::parse, "impact")?,
        mitigation: r.try_get("mitigation")?,
    })
}

pub async fn load_risks(conn: &mut AnyConnection, plan_id: i64) -> Result<Vec<Risk>, sqlx::Error> {
    sqlx::query(
        "SELECT id, plan_id, position, risk, likelihood, impact, mitigation FROM risks
         WHERE plan_id = $1 ORDER BY position, id",
    )
    .bind(plan_id)
    .fetch_all(conn)
    .await?
    .iter()
    .map(risk_from_row)
    .collect()
}

pub(crate) async fn insert_risk(conn: &mut AnyConnection, plan_id: i64, position: i64, r: &NewRisk) -> Result<i64> {
    let id = sqlx::query_scalar(
        "INSERT INTO risks (plan_id, position, risk, likelihood, impact, mitigation)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(plan_id)
    .bind(position)
    .bind(r.risk.trim())
    .bind(r.likelihood.as_str())
    .bind(r.impact.as_str())
    .bind(r.mitigation.trim())
    .fetch_one(conn)
    .await?;
    Ok(id)
}

fn find_risk(plan: &Plan, risk_id: i64) -> Result<&Risk, ApiError> {
    plan.risks.iter().find(|r| r.id == risk_id).ok_or_else(|| ApiError::not_found("Risk"))
}

impl Service {
    pub async fn get_risk(&self, ctx: &Ctx, plan_id: i64, risk_id: i64) -> Result<Risk> {
        let plan = self.get_plan(ctx, plan_id).await?;
        Ok(find_risk(&plan, risk_id)?.clone())
    }

    pub async fn add_risk(&self, ctx: &Ctx, plan_id: i64, new: NewRisk) -> Result<Plan> {
        new.validate()?;
        let mut change = self.open(ctx, Action::RiskCreate, plan_id, new.version, None).await?;
        let next = change.plan.risks.iter().map(|r| r.position + 1).max().unwrap_or(0);
        let risk_id = insert_risk(change.conn(), plan_id, next, &new).await?;
        let entry = Entry::new(Action::RiskCreate, format!("plan:{plan_id}/risk:{risk_id}"), plan_id);
        self.commit(change, ctx, entry).await
    }

    pub async fn update_risk(&self, ctx: &Ctx, plan_id: i64, risk_id: i64, patch: RiskPatch) -> Result<Plan> {
        patch.validate()?;
        let mut change = self.open(ctx, Action::RiskUpdate, plan_id, Some(patch.version), None).await?;
        let old = find_risk(&change.plan, risk_id)?.clone();
        sqlx::query("UPDATE risks SET risk = $1, likelihood = $2, impact = $3, mitigation = $4 WHERE id = $5")
            .bind(patch.risk.as_deref().map(str::trim).unwrap_or(&old.risk))
            .bind(patch.likelihood.unwrap_or(old.likelihood).as_str())
            .bind(patch.impact.unwrap_or(old.impact).as_str())
            .bind(patch.mitigation.as_deref().map(str::trim).unwrap_or(&old.mitigation))
            .bind(risk_id)
            .execute(change.conn())
            .await?;
        let entry = Entry::new(Action::RiskUpdate, format!("plan:{plan_id}/risk:{risk_id}"), plan_id).before(&old);
        self.commit(change, ctx, entry).await
    }

    pub async fn delete_risk(&self, ctx: &Ctx, plan_id: i64, risk_id: i64, version: Option<i64>) -> Result<Plan> {
        let mut change = self.open(ctx, Action::RiskDelete, plan_id, version, None).await?;
        let old = find_risk(&change.plan, risk_id)?.clone();
        sqlx::query("DELETE FROM risks WHERE id = $1").bind(risk_id).execute(change.conn()).await?;
        let entry = Entry::new(Action::RiskDelete, format!("plan:{plan_id}/risk:{risk_id}"), plan_id).before(&old);
        self.commit(change, ctx, entry).await
    }
}
