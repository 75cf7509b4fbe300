//! The one error shape every client sees: `{"error":{"code","message","field"}}`.
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiError {
    /// Machine-readable: `validation`, `not_found`, `version_conflict`, `malformed_json`, ...
    pub code: String,
    /// A sentence for a person.
    pub message: String,
    /// The request field at fault, when there is one (`title`, `stages[1].name`, `version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// On `version_conflict`: the version the plan is at now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// HTTP status; carried in the response line, not the body.
    #[serde(skip)]
    pub status: u16,
}

/// The JSON body around an [`ApiError`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ApiError,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            code: code.to_string(),
            message: message.into(),
            field: None,
            current_version: None,
            status,
        }
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::new(422, "validation", message).with_field(field)
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(404, "not_found", format!("{what} not found"))
    }

    pub fn conflict(current_version: i64) -> Self {
        let mut e = ApiError::new(
            409,
            "version_conflict",
            format!(
                "This plan was changed by someone else while you were editing; it is now at version {current_version}. Reload to see the changes, then edit again."
            ),
        )
        .with_field("version");
        e.current_version = Some(current_version);
        e
    }

    pub fn internal() -> Self {
        ApiError::new(500, "internal", "Something went wrong on the server; it has been logged.")
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn is_conflict(&self) -> bool {
        self.code == "version_conflict"
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

// Server functions carry the same error type to the browser.
impl leptos::server_fn::error::FromServerFnError for ApiError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        let e = match &value {
            // The caller sent something the function cannot take: their mistake, not ours.
            E::Args(_) | E::MissingArg(_) | E::Deserialization(_) => ApiError::new(400, "bad_request", value.to_string()),
            E::Registration(_) => ApiError::new(404, "not_found", value.to_string()),
            E::UnsupportedRequestMethod(_) => ApiError::new(405, "method_not_allowed", value.to_string()),
            _ => ApiError::new(500, "server_fn", value.to_string()),
        };
        #[cfg(feature = "ssr")]
        crate::backend::set_page_status(&e);
        e
    }
}
