//! Plan roles: who holds what on a plan. Migration leads and admins assign them.
use crate::audit::Entry;
use crate::db::now;
use crate::error::Result;
use crate::person::{find_by_username, person_from_row};
use crate::action::Action;
use crate::service::{decode_enum, Ctx, Service};
use app::error::ApiError;
use app::plan::Plan;
use app::review::SignOff;
use app::role::{NewRoleAssignment, PlanRole, RoleAssignment};
use sqlx::{AnyConnection, Row};

/// A plan's role assignments and its current (not voided) sign-offs, in one statement:
/// both are people on the plan, read with the same person columns. Review builds the
/// sign-offs from their rows.
pub async fn load_roles_and_sign_offs(
    conn: &mut AnyConnection,
    plan_id: i64,
) -> Result<(Vec<RoleAssignment>, Vec<SignOff>), sqlx::Error> {
    let person = crate::person::COLUMNS;
    let rows = sqlx::query(&format!(
        "SELECT 'role' AS kind, r.id AS entry_id, r.role AS plan_role, r.assigned_at AS at,
                NULL AS decision, NULL AS comment, NULL AS plan_version, {person}
         FROM plan_roles r JOIN users u ON u.id = r.user_id WHERE r.plan_id = $1
         UNION ALL
         SELECT 'sign_off', s.id, NULL, s.created_at, s.decision, s.comment, s.plan_version, {person}
         FROM signoffs s JOIN users u ON u.id = s.user_id WHERE s.plan_id = $1 AND s.voided_at IS NULL
         ORDER BY kind, entry_id"
    ))
    .bind(plan_id)
    .fetch_all(conn)
    .await?;
    let (mut roles, mut sign_offs) = (vec![], vec![]);
    for r in &rows {
        if r.try_get::<String, _>("kind")? == "sign_off" {
            sign_offs.push(crate::review::sign_off_from_row(r)?);
            continue;
        }
        roles.push(RoleAssignment {
            id: r.try_get("entry_id")?,
            role: decode_enum(r.try_get("plan_role")?, PlanRole::parse, "plan_role")?,
            person: person_from_row(r)?,
            assigned_at: r.try_get("at")?,
        });
    }
    roles.sort_by_key(|a| a.role);
    Ok((roles, sign_offs))
}

pub async fn insert_role(conn: &mut AnyConnection, plan_id: i64, user_id: i64, role: PlanRole) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO plan_roles (plan_id, user_id, role, assigned_at) VALUES ($1, $2, $3, $4)")
        .bind(plan_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(now())
        .execute(conn)
        .await?;
    Ok(())
}

impl Service {
    pub async fn assign_role(&self, ctx: &Ctx, plan_id: i64, new: NewRoleAssignment) -> Result<Plan> {
        let mut change = self.open(ctx, Action::RoleAssign, plan_id, None, None).await?;
        let before = change.plan.clone();
        let (person, _) = find_by_username(change.conn(), new.username.trim()).await?.ok_or_else(|| {
            ApiError::new(422, "unknown_person", format!("Nobody is called {:?}.", new.username)).with_field("username")
        })?;
        if ctx.person().is_some_and(|me| me.id == person.id) {
            return Err(ApiError::new(
                403,
                "self_grant",
                "Nobody gives a plan role to themselves; another migration lead or admin must.",
            )
            .with_field("username")
            .into());
        }
        let held = before.roles_of(person.id);
        let clash = match new.role {
            PlanRole::Stakeholder => held.contains(&PlanRole::MigrationLead),
            PlanRole::MigrationLead => held.contains(&PlanRole::Stakeholder),
            _ => false,
        };
        if clash {
            return Err(ApiError::new(
                409,
                "conflicting_roles",
                format!("{} cannot both lead this plan and sign it off: its migration lead is never its stakeholder.", person.name()),
            )
            .with_field("role")
            .into());
        }
        if before.roles.iter().any(|a| a.person.id == person.id && a.role == new.role) {
            return Err(ApiError::new(
                409,
                "already_assigned",
                format!("{} is already {} on this plan.", person.name(), new.role.label()),
            )
            .with_field("role")
            .into());
        }
        insert_role(change.conn(), plan_id, person.id, new.role).await?;
        if new.role == PlanRole::Stakeholder {
            let why = format!("{} was added as a stakeholder.", person.name());
            crate::review::settle(change.conn(), plan_id, Some(why), false).await?;
        }
        let entry = Entry::new(Action::RoleAssign, format!("plan:{plan_id}/person:{}", person.id), plan_id)
            .before(&before.roles)
            .after(&serde_json::json!({ "username": person.username, "role": new.role }));
        self.commit(change, ctx, entry).await
    }

    pub async fn remove_role(&self, ctx: &Ctx, plan_id: i64, assignment_id: i64) -> Result<Plan> {
        let mut change = self.open(ctx, Action::RoleRemove, plan_id, None, None).await?;
        let gone = change.plan.roles.iter().find(|a| a.id == assignment_id).ok_or_else(|| ApiError::not_found("Role assignment"))?;
        let gone = gone.clone();
        sqlx::query("DELETE FROM plan_roles WHERE id = $1").bind(assignment_id).execute(change.conn()).await?;
        if gone.role == PlanRole::Stakeholder {
            // Never approves: a plan is approved by a sign-off, not by who is left.
            crate::review::settle(change.conn(), plan_id, None, false).await?;
        }
        let entry = Entry::new(Action::RoleRemove, format!("plan:{plan_id}/person:{}", gone.person.id), plan_id)
            .before(&serde_json::json!({ "username": gone.person.username, "role": gone.role }));
        self.commit(change, ctx, entry).await
    }
}
