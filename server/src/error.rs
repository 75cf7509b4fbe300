//! One error type for the server: it becomes `{"error":{...}}` with the right status,
//! and database failures are logged, never shown.
use app::error::{ApiError, ErrorBody};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Api(ApiError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(e)
    }
}

impl Error {
    /// What a client may see.
    pub fn into_api(self) -> ApiError {
        match self {
            Error::Api(e) => e,
            Error::Db(e) => {
                if let Some(db) = e.as_database_error() {
                    // Rules the database enforces that validation should have caught first.
                    if db.is_unique_violation() {
                        return ApiError::new(409, "conflict", "That would duplicate an existing entry.");
                    }
                    if db.is_check_violation() || db.is_foreign_key_violation() {
                        return ApiError::new(422, "validation", "The database refused a value.");
                    }
                }
                if crate::db::unreachable(&e) {
                    tracing::error!(error = %e, "database unavailable");
                    return ApiError::new(503, "unavailable", "The database is busy or unreachable; try again.");
                }
                tracing::error!(error = %e, "database error");
                ApiError::internal()
            }
        }
    }
}

pub fn respond(e: ApiError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(ErrorBody { error: e })).into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        respond(self.into_api())
    }
}
