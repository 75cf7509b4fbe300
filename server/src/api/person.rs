use super::{created, ApiJson};
use crate::error::Result;
use crate::service::Ctx;
use crate::AppState;
use app::error::ErrorBody;
use app::person::{NewPerson, Person};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;

/// Everyone with an account (for choosing whom to give a plan role). People only.
#[utoipa::path(get, path = "/api/v1/users", tag = "people",
    responses((status = 200, body = Vec<Person>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, ctx: Ctx) -> Result<Json<Vec<Person>>> {
    Ok(Json(s.service.list_people(&ctx).await?))
}

/// Add a person (admins).
#[utoipa::path(post, path = "/api/v1/users", tag = "people", request_body = NewPerson,
    responses((status = 201, body = Person), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(State(s): State<AppState>, ctx: Ctx, ApiJson(new): ApiJson<NewPerson>) -> Result<Response> {
    let person = s.service.add_person(&ctx, new).await?;
    Ok(created(format!("/api/v1/users/{}", person.username), person))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    pub password: String,
}

/// Set a person's password (admins). Their sessions end.
#[utoipa::path(put, path = "/api/v1/users/{username}/password", tag = "people", request_body = NewPassword,
    params(("username" = String, Path)),
    responses((status = 200, body = Person), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_password(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<NewPassword>,
) -> Result<Json<Person>> {
    Ok(Json(s.service.reset_password(&ctx, &username, body.password).await?))
}
