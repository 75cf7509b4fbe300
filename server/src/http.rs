//! The whole HTTP surface: health, the JSON API, the pages and their assets.
use crate::error::Error;
use crate::service::Service;
use crate::AppState;
use app::audit::{AuditPage, AuditQuery};
use app::backend::{Backend, SharedBackend};
use app::error::ApiError;
use app::flag::{Flag, FlagAbilities, FlagView};
use app::person::{Person, Viewer};
use app::plan::{Abilities, Plan, PlanPage, PlanQuery};
use app::review::Comment;
use app::token::Token;
use app::workspace::{Adoption, ImportReport, Provider, WorkspacePage, WorkspaceQuery, WorkspaceView};
use crate::service::{Caller, Ctx};
use crate::session::{clear_cookie, is_https, session_cookie, Client, Resolved};
use axum::http::request::Parts;
use axum::extract::Form;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, Method, Uri};
use axum::middleware::Next;
use axum::response::Redirect;
use serde::Deserialize;
use app::{shell, App};
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

/// The pages' routes, worked out once per process. Working them out runs the app with
/// resource loading suspended process-wide (leptos' `SuppressResourceLoad`), so doing it
/// again while another router renders a page (tests start many) could leave that page's
/// resources pending for ever.
fn page_routes() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn router(state: AppState) -> Router {
    let routes = page_routes();
    let backend: SharedBackend = Arc::new(state.service.clone());
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request<Body>| {
            let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id)
        })
        .on_request(())
        .on_response(|res: &Response<Body>, latency: Duration, _: &Span| {
            tracing::info!(status = res.status().as_u16(), latency_ms = latency.as_secs_f64() * 1000.0, "answered");
        })
        .on_failure(());
    Router::new()
        .route("/healthz", get(healthz))
        .route("/auth/sign-in", post(sign_in_form))
        .route("/auth/sign-out", post(sign_out_form))
        .nest("/api/v1", crate::api::routes(state.clone()))
        .nest_service("/pkg", crate::assets::pkg(&state.leptos.site_root))
        .leptos_routes_with_context(&state, routes, move || provide_context(backend.clone()), {
            let options = state.leptos.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), pages_need_sign_in))
        .layer(CatchPanicLayer::custom(|_| {
            crate::error::respond(ApiError::internal())
        }))
        .layer(axum::middleware::map_response(security_headers))
        // Pages and API answers, compressed as they go out (brotli or gzip, as the client
        // accepts); /pkg is already compressed, and event streams are left alone. Level 4:
        // brotli's default is its slowest (11), meant for files compressed once.
        .layer(CompressionLayer::new().quality(tower_http::CompressionLevel::Precise(4)))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(trace)
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::map_request(clean_request_id))
        .merge(ofrep())
        .with_state(state)
}

/// Flag evaluation is the hot path: services call it all the time, so its requests
/// are logged at debug level (server errors still at error) and skip the page layers.
fn ofrep() -> Router<AppState> {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request<Body>| tracing::debug_span!("ofrep", method = %req.method(), path = %req.uri().path()))
        .on_request(())
        .on_response(|res: &Response<Body>, latency: Duration, _: &Span| {
            tracing::debug!(status = res.status().as_u16(), latency_ms = latency.as_secs_f64() * 1000.0, "answered");
        });
    Router::new()
        .nest("/ofrep/v1", crate::api::ofrep::routes())
        .layer(CatchPanicLayer::custom(|_| crate::error::respond(ApiError::internal())))
        .layer(axum::middleware::map_response(security_headers))
        .layer(trace)
}

/// A client's `X-Request-Id` is kept only when short and plain, since logs and the audit
/// log record it; anything else is dropped so a fresh one is made.
async fn clean_request_id(mut req: Request<Body>) -> Request<Body> {
    let keep = req.headers().get("x-request-id").map(|v| v.to_str().is_ok_and(plain_request_id));
    if keep == Some(false) {
        req.headers_mut().remove("x-request-id");
    }
    req
}

pub fn plain_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Every answer: no content sniffing, no referrer to other sites. Pages set their own
/// policy with the hydration script's nonce (app `shell`); other HTML gets it without
/// one, and API answers may load nothing and be framed nowhere.
async fn security_headers(mut res: Response<Body>) -> Response<Body> {
    use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};
    use axum::http::HeaderValue;
    let h = res.headers_mut();
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(CONTENT_SECURITY_POLICY) {
        let html = h.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
        let policy = if html { app::content_security_policy(None) } else { "default-src 'none'; frame-ancestors 'none'".into() };
        if let Ok(v) = HeaderValue::from_str(&policy) {
            h.insert(CONTENT_SECURITY_POLICY, v);
        }
    }
    res
}

/// 200 "ok" once the database answers (migrations ran before the server started listening);
/// 200 "degraded" while it does not and flags are served from the last snapshot.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let (status, report) = state.service.health_check().await;
    (StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE), Json(report))
}

/// Anonymous visitors see the sign-in page and nothing else: every other page sends
/// them there, and comes back after signing in.
/// A page's caller is resolved here once and kept in the request's extensions, where the
/// page's server functions (and those the browser calls) find it.
async fn pages_need_sign_in(State(state): State<AppState>, mut req: Request<Body>, next: Next) -> Response<Body> {
    let path = req.uri().path();
    if path.starts_with("/_fn/") {
        // A failed resolution is left to the server function, which answers with its error.
        if let Ok(resolved) = state.service.resolve(req.headers()).await {
            req.extensions_mut().insert(resolved);
        }
        return next.run(req).await;
    }
    let open = path == "/login"
        || ["/api/", "/ofrep/", "/auth/", "/pkg/", "/healthz"].iter().any(|p| path.starts_with(p))
        || path.rsplit('/').next().is_some_and(|last| last.contains('.'));
    if open || req.method() != Method::GET {
        return next.run(req).await;
    }
    match state.service.resolve(req.headers()).await {
        Ok(r) if matches!(r.caller, Caller::Person(_)) => {
            req.extensions_mut().insert(r);
            next.run(req).await
        }
        outcome => {
            let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let expired = if outcome.is_err() { "&expired=1" } else { "" };
            Redirect::to(&format!("/login?next={}{expired}", app::pages::encode(target))).into_response()
        }
    }
}

#[derive(Deserialize)]
struct SignInForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// The sign-in page's form, which works without JavaScript: success goes on to `next`
/// (only a path on this site), failure back to the form with the reason.
async fn sign_in_form(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<SignInForm>,
) -> Response<Body> {
    let next = app::pages::after_sign_in(&form.next).to_string();
    if let Err(e) = same_origin(&headers) {
        return crate::error::respond(e);
    }
    let ctx = Ctx::anonymous(headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string));
    let sign_in = app::person::SignIn { username: form.username.clone(), password: form.password };
    match state.service.sign_in(&ctx, sign_in, client).await {
        Ok(session) => {
            let cookie = session_cookie(&session.secret, is_https(&headers, &uri));
            ([(SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
        }
        Err(e) => {
            let e = e.into_api();
            let back = format!(
                "/login?error={}&username={}&next={}",
                app::pages::encode(&e.code),
                app::pages::encode(&form.username),
                app::pages::encode(&next)
            );
            Redirect::to(&back).into_response()
        }
    }
}

#[derive(Deserialize)]
struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

/// The header's sign-out button: a form carrying the session's CSRF token.
async fn sign_out_form(State(state): State<AppState>, headers: HeaderMap, uri: Uri, Form(form): Form<SignOutForm>) -> Response<Body> {
    let resolved = match state.service.resolve(&headers).await {
        Ok(r) => r,
        Err(_) => return Redirect::to("/login").into_response(),
    };
    let mut with_token = headers.clone();
    if let Ok(v) = form.csrf.parse() {
        with_token.insert("x-csrf-token", v);
    }
    if let Some(expected) = &resolved.csrf {
        if let Err(e) = crate::api::check_csrf(&Method::POST, &with_token, expected) {
            return crate::error::respond(e);
        }
    }
    let ctx = Ctx::new(resolved.caller, None);
    if let Err(e) = state.service.sign_out(&ctx, &headers).await {
        return e.into_response();
    }
    ([(SET_COOKIE, clear_cookie(is_https(&headers, &uri)))], Redirect::to("/login?signed_out=1")).into_response()
}

/// Refuses a form posted from another site (browsers send `Origin` with form posts).
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split("://").nth(1).unwrap_or("");
    if origin == "null" || origin_host != host {
        return Err(ApiError::new(403, "cross_origin", "Sign in from Runway's own sign-in page."));
    }
    Ok(())
}

/// What the pages' server functions read, from the same service the API uses. Each call
/// works out the caller from the request's headers; the service checks permissions.
#[cfg(test)]
mod tests {
    #[test]
    fn only_short_plain_request_ids_are_kept() {
        assert!(super::plain_request_id("deploy-42_a.b"));
        assert!(super::plain_request_id(&"a".repeat(64)));
        for bad in ["", "a b", "x\ny", "é", "<script>", &"a".repeat(65)] {
            assert!(!super::plain_request_id(bad), "{bad:?}");
        }
    }
}

#[async_trait::async_trait]
impl Backend for Service {
    async fn viewer(&self, req: &Parts) -> Result<Option<Viewer>, ApiError> {
        match req.extensions.get::<Resolved>() {
            Some(resolved) => Ok(resolved.viewer()),
            None => Service::viewer(self, &req.headers).await.map_err(Error::into_api),
        }
    }

    async fn list_people(&self, req: &Parts) -> Result<Vec<Person>, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::list_people(self, &ctx).await.map_err(Error::into_api)
    }

    async fn list_tokens(&self, req: &Parts) -> Result<Vec<Token>, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::list_tokens(self, &ctx).await.map_err(Error::into_api)
    }

    async fn list_plans(&self, req: &Parts, query: PlanQuery) -> Result<PlanPage, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::list_plans(self, &ctx, &query).await.map_err(Error::into_api)
    }

    async fn get_plan(&self, req: &Parts, id: i64) -> Result<Plan, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::get_plan(self, &ctx, id).await.map_err(Error::into_api)
    }

    async fn list_comments(&self, req: &Parts, plan: &Plan) -> Result<Vec<Comment>, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::comments_of(self, &ctx, plan).await.map_err(Error::into_api)
    }

    async fn abilities(&self, req: &Parts, plan: &Plan) -> Result<Abilities, ApiError> {
        let ctx = ctx_of(self, req).await?;
        ctx.require_signed_in()?;
        Ok(ctx.abilities(plan))
    }

    async fn list_audit(&self, req: &Parts, query: AuditQuery) -> Result<AuditPage, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::list_audit(self, &ctx, &query).await.map_err(Error::into_api)
    }

    async fn list_flags(&self, req: &Parts) -> Result<Vec<Flag>, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::list_flags(self, &ctx, false).await.map_err(Error::into_api)
    }

    async fn flag_abilities(&self, req: &Parts) -> Result<FlagAbilities, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::flag_abilities(self, &ctx, None).await.map_err(Error::into_api)
    }

    async fn checklist_sources(&self, req: &Parts) -> Result<Vec<(i64, String)>, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::checklist_sources(self, &ctx).await.map_err(Error::into_api)
    }

    async fn flag_view(&self, req: &Parts, key: &str) -> Result<FlagView, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::flag_view(self, &ctx, key).await.map_err(Error::into_api)
    }

    async fn inbox(&self, req: &Parts) -> Result<Vec<app::inbox::InboxItem>, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::inbox(self, &ctx).await.map_err(Error::into_api)
    }

    async fn webhooks(&self, req: &Parts) -> Result<app::webhook::WebhookView, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::webhook_view(self, &ctx).await.map_err(Error::into_api)
    }

    async fn list_workspaces(&self, req: &Parts, query: WorkspaceQuery) -> Result<WorkspacePage, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::list_workspaces(self, &ctx, &query).await.map_err(Error::into_api)
    }

    async fn workspace_view(&self, req: &Parts, id: &str) -> Result<WorkspaceView, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::workspace_view(self, &ctx, id).await.map_err(Error::into_api)
    }

    async fn list_providers(&self, req: &Parts) -> Result<Vec<Provider>, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::list_providers(self, &ctx).await.map_err(Error::into_api)
    }

    async fn import_report(&self, req: &Parts, id: i64) -> Result<ImportReport, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::import_report(self, &ctx, id).await.map_err(Error::into_api)
    }

    async fn adoption(&self, req: &Parts, providers: &[Provider]) -> Result<Adoption, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::adoption_of(self, &ctx, providers).await.map_err(Error::into_api)
    }

    async fn guard_series(&self, req: &Parts, plan: &Plan) -> Result<Vec<app::guard::GuardSeries>, ApiError> {
        let ctx = ctx_of(self, req).await?;
        Service::series_of(self, &ctx, plan).await.map_err(Error::into_api)
    }
}

/// Server functions only read, so they need no CSRF token; credentials are checked as for the API.
async fn ctx_of(service: &Service, req: &Parts) -> Result<Ctx, ApiError> {
    let request_id = req.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(resolved) = req.extensions.get::<Resolved>() {
        return Ok(Ctx::new(resolved.caller.clone(), request_id));
    }
    let resolved = service.resolve(&req.headers).await.map_err(Error::into_api)?;
    Ok(Ctx::new(resolved.caller, request_id))
}
