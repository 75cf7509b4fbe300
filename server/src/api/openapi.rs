//! The OpenAPI document, built from the handlers' annotations and the shared types.
use super::{audit, checklist, guard, runbook, flag, person, plan, review, risk, role, session, stage, token, webhook, workspace};
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
            a stale change gets 409 with `current_version`. Services authenticate with `Authorization: Bearer <token>` \
            (scopes such as `plans:read`, `plans:write`); the browser uses the session cookie from `POST /api/v1/session` \
            and sends its CSRF token in `X-CSRF-Token` with every change. Errors are `{\"error\":{\"code\",\"message\",\"field\"}}`."
    ),
    paths(
        plan::list, plan::create, plan::get, plan::update, plan::archive,
        stage::list, stage::create, stage::get, stage::update, stage::delete, stage::reorder, stage::set_flags, stage::pass, stage::abort,
        stage::request_gate, stage::vote, stage::rollback, stage::decide_rollback, super::inbox,
        risk::list, risk::create, risk::get, risk::update, risk::delete,
        audit::list, audit::csv, audit::jsonl,
        session::sign_in, session::current, session::sign_out,
        person::list, person::create, person::set_password,
        token::list, token::create, token::revoke,
        webhook::list, webhook::create, webhook::delete, webhook::deliveries,
        role::list, role::assign, role::remove,
        review::request, review::sign_off, review::comments, review::comment,
        flag::list, flag::create, flag::get, flag::update, flag::archive, flag::set_state, flag::kill,
        flag::environments, flag::add_environment,
        flag::segments, flag::create_segment, flag::segment, flag::update_segment, flag::delete_segment,
        checklist::add, checklist::copy, checklist::remove, checklist::record,
        guard::add, guard::update, guard::delete, guard::resolve, guard::series, guard::ingest,
        runbook::import, runbook::export, runbook::start, runbook::outline, runbook::get, runbook::step, runbook::note,
        workspace::list, workspace::create, workspace::get, workspace::rename, workspace::choose_provider,
        workspace::set_key, workspace::remove_key, workspace::add_member, workspace::remove_member, workspace::history,
        workspace::agent_provider, workspace::record_session, workspace::import, workspace::import_report,
        workspace::export, workspace::adoption, workspace::providers, workspace::add_provider,
    ),
    tags((name = "plans"), (name = "stages"), (name = "gates"), (name = "risks"), (name = "roles"), (name = "review"),
        (name = "people"), (name = "tokens"), (name = "webhooks"), (name = "flags"), (name = "checklists"), (name = "runbooks"), (name = "guards"), (name = "workspaces"), (name = "audit"))
)]
pub struct ApiDoc;

static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serialises"));

pub async fn serve() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}
