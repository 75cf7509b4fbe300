//! People: accounts with a username and password, and who is signed in.
use crate::error::ApiError;
use crate::validate::{check_len, check_required, check_slug};
use serde::{Deserialize, Serialize};

pub const USERNAME_MAX: usize = 64;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 1_000;
pub const NAME_MAX: usize = 200;

/// Global role: admins manage people, tokens and every plan; members work on the
/// plans where they hold a plan role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GlobalRole {
    Admin,
    Member,
}

impl GlobalRole {
    pub fn as_str(self) -> &'static str {
        match self {
            GlobalRole::Admin => "admin",
            GlobalRole::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [GlobalRole::Admin, GlobalRole::Member].into_iter().find(|r| r.as_str() == s)
    }
}

/// A person as others see them: never with a password hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Person {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// Email, phone or chat handle, shown on the plans where they hold a role.
    pub contact: String,
    pub role: GlobalRole,
    pub created_at: String,
}

impl Person {
    pub fn name(&self) -> &str {
        if self.display_name.is_empty() {
            &self.username
        } else {
            &self.display_name
        }
    }
}

/// `POST /api/v1/users` (admins).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPerson {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub contact: String,
    #[serde(default)]
    pub admin: bool,
}

impl NewPerson {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_username(&self.username)?;
        check_password("password", &self.password)?;
        check_len("display_name", "Display name", &self.display_name, NAME_MAX)?;
        check_len("contact", "Contact", &self.contact, NAME_MAX)
    }
}

/// Letters, digits, `.`, `_` and `-`: usernames appear in URLs, logs and the audit log.
pub fn check_username(name: &str) -> Result<(), ApiError> {
    check_required("username", "Username", name)?;
    check_len("username", "Username", name, USERNAME_MAX)?;
    check_slug("username", "Username", name)
}

pub fn check_password(field: &str, password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if n < PASSWORD_MIN {
        return Err(ApiError::validation(field, format!("The password needs at least {PASSWORD_MIN} characters.")));
    }
    if n > PASSWORD_MAX {
        return Err(ApiError::validation(field, format!("The password is longer than {PASSWORD_MAX} characters.")));
    }
    Ok(())
}

/// `POST /api/v1/session`: sign in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

/// The signed-in person, as the pages and `GET /api/v1/session` see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Viewer {
    pub person: Person,
    /// Sent back in `X-CSRF-Token` with every state-changing request made with the cookie.
    pub csrf_token: String,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.person.role == GlobalRole::Admin
    }
}

use leptos::prelude::*;

/// Who is signed in, for the header and for showing only the actions a person may take
/// (the server checks every action again).
#[server(prefix = "/_fn")]
pub async fn current_viewer() -> Result<Option<Viewer>, ApiError> {
    let backend = crate::backend::backend()?;
    crate::backend::answer(backend.viewer(&crate::backend::request()).await)
}

/// Everyone with an account, for choosing whom to give a plan role.
#[server(prefix = "/_fn")]
pub async fn list_people() -> Result<Vec<Person>, ApiError> {
    let backend = crate::backend::backend()?;
    crate::backend::answer(backend.list_people(&crate::backend::request()).await)
}
