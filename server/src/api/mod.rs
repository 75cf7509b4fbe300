//! The machine API under `/api/v1`: JSON in, JSON out, one error shape.
pub mod audit;
pub mod checklist;
pub mod flag;
pub mod guard;
pub mod ofrep;
pub mod openapi;
pub mod person;
pub mod plan;
pub mod review;
pub mod risk;
pub mod role;
pub mod runbook;
pub mod session;
pub mod stage;
pub mod token;
pub mod webhook;
pub mod workspace;

use crate::error::{respond, Error};
use crate::service::{Caller, Ctx};
use crate::AppState;
use app::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request, State};
use axum::handler::Handler;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

/// One endpoint of the API: method and path under `/api/v1`.
pub type Endpoint = (Method, &'static str);

/// Builds the router and, from the same calls, the list of its endpoints, so the
/// permission table test notices an endpoint it has no row for.
struct Api {
    router: Router<AppState>,
    endpoints: Vec<Endpoint>,
}

impl Api {
    fn at<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Api
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a routable method");
        self.endpoints.push((method, path));
        self.router = self.router.route(path, on(filter, handler));
        self
    }
}

fn api() -> Api {
    use Method as M;
    Api { router: Router::new(), endpoints: vec![] }
        .at(M::POST, "/session", session::sign_in)
        .at(M::GET, "/session", session::current)
        .at(M::DELETE, "/session", session::sign_out)
        .at(M::GET, "/users", person::list)
        .at(M::POST, "/users", person::create)
        .at(M::PUT, "/users/{username}/password", person::set_password)
        .at(M::GET, "/tokens", token::list)
        .at(M::POST, "/tokens", token::create)
        .at(M::DELETE, "/tokens/{token_id}", token::revoke)
        .at(M::GET, "/webhooks", webhook::list)
        .at(M::POST, "/webhooks", webhook::create)
        .at(M::DELETE, "/webhooks/{webhook_id}", webhook::delete)
        .at(M::GET, "/webhooks/deliveries", webhook::deliveries)
        .at(M::GET, "/plans", plan::list)
        .at(M::POST, "/plans", plan::create)
        .at(M::POST, "/plans/import", runbook::import)
        .at(M::GET, "/plans/{id}/export.md", runbook::export)
        .at(M::POST, "/plans/{id}/stages/{stage_id}/runs", runbook::start)
        .at(M::GET, "/plans/{id}/stages/{stage_id}/runbooks/{kind}", runbook::outline)
        .at(M::GET, "/plans/{id}/runs/{run_id}", runbook::get)
        .at(M::PUT, "/plans/{id}/runs/{run_id}/steps/{position}", runbook::step)
        .at(M::POST, "/plans/{id}/runs/{run_id}/notes", runbook::note)
        .at(M::GET, "/plans/{id}", plan::get)
        .at(M::PATCH, "/plans/{id}", plan::update)
        .at(M::DELETE, "/plans/{id}", plan::archive)
        .at(M::GET, "/plans/{id}/stages", stage::list)
        .at(M::POST, "/plans/{id}/stages", stage::create)
        .at(M::PUT, "/plans/{id}/stages/order", stage::reorder)
        .at(M::GET, "/plans/{id}/stages/{stage_id}", stage::get)
        .at(M::PATCH, "/plans/{id}/stages/{stage_id}", stage::update)
        .at(M::DELETE, "/plans/{id}/stages/{stage_id}", stage::delete)
        .at(M::PUT, "/plans/{id}/stages/{stage_id}/flags", stage::set_flags)
        .at(M::POST, "/plans/{id}/stages/{stage_id}/gate", stage::request_gate)
        .at(M::POST, "/plans/{id}/stages/{stage_id}/pass", stage::pass)
        .at(M::POST, "/plans/{id}/stages/{stage_id}/abort", stage::abort)
        .at(M::POST, "/plans/{id}/stages/{stage_id}/rollback", stage::rollback)
        .at(M::POST, "/plans/{id}/gates/{gate_id}/votes", stage::vote)
        .at(M::POST, "/plans/{id}/rollbacks/{rollback_id}/decision", stage::decide_rollback)
        .at(M::POST, "/plans/{id}/stages/{stage_id}/guards", guard::add)
        .at(M::PUT, "/plans/{id}/stages/{stage_id}/guards/{guard_id}", guard::update)
        .at(M::DELETE, "/plans/{id}/stages/{stage_id}/guards/{guard_id}", guard::delete)
        .at(M::POST, "/plans/{id}/breaches/{breach_id}/resolve", guard::resolve)
        .at(M::GET, "/plans/{id}/guards/series", guard::series)
        .at(M::POST, "/metrics", guard::ingest)
        .at(M::POST, "/plans/{id}/stages/{stage_id}/checklist", checklist::add)
        .at(M::POST, "/plans/{id}/stages/{stage_id}/checklist/copy", checklist::copy)
        .at(M::DELETE, "/plans/{id}/stages/{stage_id}/checklist/{item_id}", checklist::remove)
        .at(M::PUT, "/plans/{id}/stages/{stage_id}/checklist/{item_id}/result", checklist::record)
        .at(M::GET, "/plans/{id}/risks", risk::list)
        .at(M::POST, "/plans/{id}/risks", risk::create)
        .at(M::GET, "/plans/{id}/risks/{risk_id}", risk::get)
        .at(M::PATCH, "/plans/{id}/risks/{risk_id}", risk::update)
        .at(M::DELETE, "/plans/{id}/risks/{risk_id}", risk::delete)
        .at(M::GET, "/plans/{id}/roles", role::list)
        .at(M::POST, "/plans/{id}/roles", role::assign)
        .at(M::DELETE, "/plans/{id}/roles/{role_id}", role::remove)
        .at(M::POST, "/plans/{id}/review", review::request)
        .at(M::POST, "/plans/{id}/signoffs", review::sign_off)
        .at(M::GET, "/plans/{id}/comments", review::comments)
        .at(M::POST, "/plans/{id}/comments", review::comment)
        .at(M::GET, "/flags", flag::list)
        .at(M::POST, "/flags", flag::create)
        .at(M::GET, "/flags/{key}", flag::get)
        .at(M::PATCH, "/flags/{key}", flag::update)
        .at(M::DELETE, "/flags/{key}", flag::archive)
        .at(M::PUT, "/flags/{key}/environments/{env}", flag::set_state)
        .at(M::POST, "/flags/{key}/kill", flag::kill)
        .at(M::GET, "/segments", flag::segments)
        .at(M::POST, "/segments", flag::create_segment)
        .at(M::GET, "/segments/{name}", flag::segment)
        .at(M::PUT, "/segments/{name}", flag::update_segment)
        .at(M::DELETE, "/segments/{name}", flag::delete_segment)
        .at(M::GET, "/environments", flag::environments)
        .at(M::POST, "/environments", flag::add_environment)
        .at(M::GET, "/workspaces", workspace::list)
        .at(M::POST, "/workspaces", workspace::create)
        .at(M::GET, "/workspaces/export.csv", workspace::export)
        .at(M::GET, "/workspaces/adoption", workspace::adoption)
        .at(M::POST, "/workspaces/imports", workspace::import)
        .at(M::GET, "/workspaces/imports/{import_id}", workspace::import_report)
        .at(M::GET, "/workspaces/{workspace_id}", workspace::get)
        .at(M::PATCH, "/workspaces/{workspace_id}", workspace::rename)
        .at(M::PUT, "/workspaces/{workspace_id}/provider", workspace::choose_provider)
        .at(M::PUT, "/workspaces/{workspace_id}/api-key", workspace::set_key)
        .at(M::DELETE, "/workspaces/{workspace_id}/api-key", workspace::remove_key)
        .at(M::PUT, "/workspaces/{workspace_id}/members/{username}", workspace::add_member)
        .at(M::DELETE, "/workspaces/{workspace_id}/members/{username}", workspace::remove_member)
        .at(M::GET, "/workspaces/{workspace_id}/history", workspace::history)
        .at(M::GET, "/workspaces/{workspace_id}/agent-provider", workspace::agent_provider)
        .at(M::POST, "/workspaces/{workspace_id}/sessions", workspace::record_session)
        .at(M::GET, "/providers", workspace::providers)
        .at(M::POST, "/providers", workspace::add_provider)
        .at(M::GET, "/inbox", inbox)
        .at(M::GET, "/audit", audit::list)
        .at(M::GET, "/audit/export.csv", audit::csv)
        .at(M::GET, "/audit/export.jsonl", audit::jsonl)
        .at(M::GET, "/events", events)
        .at(M::GET, "/openapi.json", openapi::serve)
}

/// Every endpoint the API serves.
pub fn endpoints() -> Vec<Endpoint> {
    api().endpoints
}

/// Endpoints that answer without credentials: signing in, and the API's description.
fn is_public(method: &Method, path: &str) -> bool {
    matches!((method, path), (&Method::POST, "/session") | (&Method::GET, "/openapi.json"))
}

pub fn routes(state: AppState) -> Router<AppState> {
    api()
        .router
        .fallback(|| async { respond(ApiError::new(404, "not_found", "No such API endpoint.")) })
        .method_not_allowed_fallback(|| async {
            respond(ApiError::new(405, "method_not_allowed", "This endpoint does not take that method."))
        })
        .layer(axum::middleware::from_fn_with_state(state, authenticate))
}

/// Works out who is calling before anything else runs: 401 for no or bad credentials
/// (except on the public endpoints), 403 when a cookie-authenticated write lacks the
/// session's CSRF token.
async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let public = is_public(req.method(), req.uri().path());
    let caller = match state.service.resolve(req.headers()).await {
        Ok(resolved) => {
            if let Some(expected) = &resolved.csrf {
                if let Err(e) = check_csrf(req.method(), req.headers(), expected) {
                    return respond(e);
                }
            }
            resolved.caller
        }
        Err(_) if public => Caller::Anonymous,
        Err(e) => return e.into_response(),
    };
    if matches!(caller, Caller::Anonymous) && !public {
        return respond(crate::service::unauthenticated());
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// A browser request that changes something must prove it comes from Runway's own
/// pages: they send the session's token in `X-CSRF-Token`; another site cannot read it.
pub fn check_csrf(method: &Method, headers: &axum::http::HeaderMap, expected: &str) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    if constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(403, "csrf_failed", "This request lacks the page's CSRF token; reload the page and try again."))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Everything waiting for the signed-in person's decision, oldest first.
#[utoipa::path(get, path = "/api/v1/inbox", tag = "gates",
    responses((status = 200, body = Vec<app::inbox::InboxItem>), (status = 401, body = app::error::ErrorBody)))]
pub async fn inbox(State(s): State<AppState>, ctx: Ctx) -> crate::error::Result<axum::Json<Vec<app::inbox::InboxItem>>> {
    Ok(axum::Json(s.service.inbox(&ctx).await?))
}

/// Server-sent events: one `change` event (with an id) per committed change. A client
/// reconnecting with `Last-Event-ID` first gets the changes it missed, or a `resync`
/// event when they are no longer known (it should then reload what it shows); a client
/// too slow to keep up gets `resync` too, never a silent gap. Tokens need `plans:read`;
/// each caller may keep `STREAMS_PER_CALLER` streams open (then 429).
async fn events(State(state): State<AppState>, ctx: Ctx, headers: axum::http::HeaderMap) -> Result<Response, Error> {
    use crate::event::{CatchUp, Numbered, STREAMS_PER_CALLER};
    ctx.require_read(app::token::Scope::PlansRead)?;
    let caller = match &ctx.caller {
        Caller::Person(p) => format!("person:{}", p.id),
        Caller::Token(t) => format!("token:{}", t.id),
        _ => ctx.actor(),
    };
    let slot = state.service.streams.open(&caller).ok_or_else(|| {
        ApiError::new(
            429,
            "too_many_streams",
            format!("At most {STREAMS_PER_CALLER} event streams may be open at once; close one first."),
        )
    })?;
    let events = state.service.events.clone();
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let (catch_up, rx) = events.resume(last);
    let ids = events.clone();
    let to_event = move |n: &Numbered| Event::default().event("change").id(ids.id(n.seq)).json_data(&n.change).ok();
    let first: Vec<Event> = match catch_up {
        CatchUp::Missed(missed) => missed.iter().filter_map(&to_event).collect(),
        CatchUp::Resync => vec![Event::default().event("resync").data("{}")],
    };
    let live = BroadcastStream::new(rx).filter_map(move |c| match c {
        Ok(n) => to_event(&n),
        Err(_) => Some(Event::default().event("resync").data("{}")),
    });
    // The slot lives as long as the stream: it is freed when the client goes away.
    let stream = tokio_stream::iter(first).chain(live).map(move |e| {
        let _held = &slot;
        Ok::<_, Infallible>(e)
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// A JSON body whose errors say which field is wrong: `400 malformed_json` when it is
/// not JSON at all, `422` with the field's path when a field is missing, unknown or of
/// the wrong type, `415` when it is not sent as JSON.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| {
                let v = v.trim();
                v.eq_ignore_ascii_case("application/json") || v.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(415, "unsupported_media_type", "Send a JSON body with Content-Type: application/json.").into());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let status = e.status().as_u16();
            let code = if status == 413 { "too_large" } else { "bad_request" };
            ApiError::new(status, code, e.body_text())
        })?;
        parse_json(&bytes).map(ApiJson).map_err(Error::from)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    use serde_json::error::Category;
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::new(400, "malformed_json", format!("The body is not valid JSON: {inner}."))
            }
            Category::Data => {
                let message = inner.to_string();
                let field = field_of(&path, &message);
                ApiError::new(422, "invalid_field", format!("{field}: {}", strip_position(&message))).with_field(field)
            }
        }
    })?;
    de.end().map_err(|e| ApiError::new(400, "malformed_json", format!("The body is not valid JSON: {e}.")))?;
    Ok(value)
}

/// serde reports a missing or unknown field at its parent; name the field itself.
fn field_of(path: &str, message: &str) -> String {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    match (path, named) {
        (".", Some(name)) => name.to_string(),
        (_, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => path.to_string(),
        (_, Some(name)) => format!("{path}.{name}"),
        (".", None) => "body".to_string(),
        (_, None) => path.to_string(),
    }
}

fn strip_position(message: &str) -> &str {
    message.find(" at line ").map(|i| &message[..i]).unwrap_or(message)
}

/// Query parameters with the same error shape as bodies.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|err| {
            let field = err.path().to_string();
            let message = err.into_inner().to_string();
            let field = field_of(&field, &message);
            ApiError::new(422, "invalid_query", format!("{field}: {message}")).with_field(field).into()
        })
    }
}

/// The ids in the path: `{id}` and, under it, `{stage_id}` or `{risk_id}`.
/// Anything that is not a positive number names nothing, so it is a 404.
pub struct Ids {
    pub plan: i64,
    pub sub: i64,
    /// `{item_id}`, under a stage.
    pub item: i64,
}

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found("Resource"))?;
        let mut ids = Ids { plan: 0, sub: 0, item: 0 };
        for (name, value) in &params {
            let (slot, what) = match name {
                "id" => (&mut ids.plan, "Plan"),
                "stage_id" => (&mut ids.sub, "Stage"),
                "risk_id" => (&mut ids.sub, "Risk"),
                "role_id" => (&mut ids.sub, "Role assignment"),
                "token_id" => (&mut ids.sub, "Token"),
                "gate_id" => (&mut ids.sub, "Gate"),
                "rollback_id" => (&mut ids.sub, "Rollback"),
                "webhook_id" => (&mut ids.sub, "Webhook"),
                "item_id" => (&mut ids.item, "Checklist item"),
                "run_id" => (&mut ids.sub, "Run"),
                "guard_id" => (&mut ids.item, "Guard"),
                "breach_id" => (&mut ids.sub, "Breach"),
                "position" => {
                    // Step positions start at 0.
                    ids.item = value.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| ApiError::not_found("Step"))?;
                    continue;
                }
                _ => continue,
            };
            *slot = value.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| ApiError::not_found(what))?;
        }
        Ok(ids)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Infallible;

    /// The caller `authenticate` found.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let request_id = parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
        let caller = parts.extensions.get::<Caller>().cloned().unwrap_or(Caller::Anonymous);
        Ok(Ctx::new(caller, request_id))
    }
}

/// `201 Created` with a `Location`.
pub fn created<T: serde::Serialize>(location: String, body: T) -> Response {
    (
        axum::http::StatusCode::CREATED,
        [(axum::http::header::LOCATION, location)],
        axum::Json(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::plan::NewPlan;

    #[test]
    fn a_missing_field_is_named() {
        let e = parse_json::<NewPlan>(br#"{"summary":"x"}"#).unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (422, Some("title")));
    }

    #[test]
    fn a_wrong_type_names_the_nested_field() {
        let e = parse_json::<NewPlan>(br#"{"title":"t","stages":[{"name":5}]}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("stages[0].name"));
    }

    #[test]
    fn broken_json_is_a_400() {
        let e = parse_json::<NewPlan>(br#"{"title":"#).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "malformed_json"));
    }

    #[test]
    fn an_unknown_field_is_named() {
        let e = parse_json::<NewPlan>(br#"{"title":"t","titel":"x"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("titel"));
    }
}
