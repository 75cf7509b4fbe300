//! The OpenAPI document, built from the handlers' annotations and the shared types.
use super::{audit, plan, risk, stage};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use std::sync::LazyLock;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Runway API",
        version = "1",
        description = "Plans, stages and risks of Runway. Every change carries the plan `version` it was based on; \
            a stale change gets 409 with `current_version`. Errors are `{\"error\":{\"code\",\"message\",\"field\"}}`."
    ),
    paths(
        plan::list, plan::create, plan::get, plan::update, plan::archive,
        stage::list, stage::create, stage::get, stage::update, stage::delete, stage::reorder,
        risk::list, risk::create, risk::get, risk::update, risk::delete,
        audit::list, audit::csv, audit::jsonl,
    ),
    tags((name = "plans"), (name = "stages"), (name = "risks"), (name = "audit"))
)]
pub struct ApiDoc;

static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serialises"));

pub async fn serve() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}
