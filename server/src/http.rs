//! The whole HTTP surface: health, the JSON API, the pages and their assets.
use crate::error::Error;
use crate::service::Service;
use crate::AppState;
use app::audit::{AuditPage, AuditQuery};
use app::backend::{Backend, SharedBackend};
use app::error::ApiError;
use app::plan::{Plan, PlanPage, PlanQuery};
use app::{shell, App};
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
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
        .nest("/api/v1", crate::api::routes())
        .leptos_routes_with_context(&state, routes, move || provide_context(backend.clone()), {
            let options = state.leptos.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(CatchPanicLayer::custom(|_| {
            crate::error::respond(ApiError::internal())
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(trace)
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// 200 once the database answers (migrations ran before the server started listening).
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.service.db.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({ "status": "ok" }))),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "status": "database unreachable" })))
        }
    }
}

/// What the pages' server functions read, from the same service the API uses.
#[async_trait::async_trait]
impl Backend for Service {
    async fn list_plans(&self, query: PlanQuery) -> Result<PlanPage, ApiError> {
        Service::list_plans(self, &query).await.map_err(Error::into_api)
    }

    async fn get_plan(&self, id: i64) -> Result<Plan, ApiError> {
        Service::get_plan(self, id).await.map_err(Error::into_api)
    }

    async fn list_audit(&self, query: AuditQuery) -> Result<AuditPage, ApiError> {
        Service::list_audit(self, &query).await.map_err(Error::into_api)
    }
}
