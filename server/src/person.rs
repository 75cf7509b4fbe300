//! People: accounts, passwords (argon2id) and their global role.
use crate::audit::Entry;
use crate::db::now;
use crate::error::Result;
use crate::service::{decode_enum, Ctx, Service};
use app::error::ApiError;
use app::person::{check_password, GlobalRole, NewPerson, Person};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

pub const COLUMNS: &str = "u.id, u.username, u.display_name, u.contact, u.role, u.created_at";

pub fn person_from_row(r: &AnyRow) -> Result<Person, sqlx::Error> {
    Ok(Person {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        contact: r.try_get("contact")?,
        role: decode_enum(r.try_get("role")?, GlobalRole::parse, "role")?,
        created_at: r.try_get("created_at")?,
    })
}

/// argon2id with the crate's defaults (OWASP's minimum: 19 MiB, 2 passes). Slow on
/// purpose, so it runs off the async threads.
pub async fn hash_password(password: String) -> Result<String> {
    let hashed = tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await;
    match hashed {
        Ok(Ok(h)) => Ok(h),
        _ => Err(ApiError::internal().into()),
    }
}

/// Whether `password` matches the stored hash.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

pub async fn find_by_username(conn: &mut AnyConnection, username: &str) -> Result<Option<(Person, String)>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS}, u.password_hash FROM users u WHERE u.username = $1"))
        .bind(username)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((person_from_row(&r)?, r.try_get("password_hash")?))).transpose()
}

impl Service {
    /// Everyone with an account, by username. Any signed-in person may see who can be
    /// given a plan role.
    pub async fn list_people(&self, ctx: &Ctx) -> Result<Vec<Person>> {
        ctx.require_signed_in()?;
        if ctx.person().is_none() && !ctx.is_admin() {
            return Err(crate::service::forbidden("API tokens cannot list people.").into());
        }
        let mut conn = self.db.read().await?;
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM users u ORDER BY u.username"))
            .fetch_all(&mut *conn)
            .await?;
        Ok(rows.iter().map(person_from_row).collect::<Result<_, _>>()?)
    }

    pub async fn add_person(&self, ctx: &Ctx, new: NewPerson) -> Result<Person> {
        ctx.require_admin()?;
        new.validate()?;
        let hash = hash_password(new.password.clone()).await?;
        let mut tx = self.db.write().await?;
        if find_by_username(tx.conn(), &new.username).await?.is_some() {
            return Err(ApiError::new(409, "username_taken", format!("There is already a person named {:?}.", new.username))
                .with_field("username")
                .into());
        }
        let role = if new.admin { GlobalRole::Admin } else { GlobalRole::Member };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, display_name, contact, role, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&new.username)
        .bind(new.display_name.trim())
        .bind(new.contact.trim())
        .bind(role.as_str())
        .bind(&hash)
        .bind(now())
        .fetch_one(tx.conn())
        .await?;
        let person = find_by_username(tx.conn(), &new.username).await?.ok_or_else(ApiError::internal)?.0;
        self.record(tx, ctx, Entry::global("person.create", format!("person:{id}")).after(&person)).await?;
        Ok(person)
    }

    /// Sets a new password and ends the person's sessions.
    pub async fn reset_password(&self, ctx: &Ctx, username: &str, password: String) -> Result<Person> {
        ctx.require_admin()?;
        check_password("password", &password)?;
        let hash = hash_password(password).await?;
        let mut tx = self.db.write().await?;
        let (person, _) = find_by_username(tx.conn(), username)
            .await?
            .ok_or_else(|| ApiError::not_found("Person").with_field("username"))?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(&hash)
            .bind(person.id)
            .execute(tx.conn())
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(person.id).execute(tx.conn()).await?;
        self.record(tx, ctx, Entry::global("person.reset_password", format!("person:{}", person.id))).await?;
        Ok(person)
    }

    pub async fn count_people(&self) -> Result<i64> {
        let mut conn = self.db.read().await?;
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&mut *conn).await?)
    }
}
