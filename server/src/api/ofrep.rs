//! OFREP, the OpenFeature Remote Evaluation Protocol: any OpenFeature SDK with an OFREP
//! provider reads Runway's flags. Answers come from the in-memory snapshot.
use crate::service::Caller;
use crate::AppState;
use app::flag::{evaluate, Context, Outcome, Reason, Segments};
use app::token::Scope;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::hash::{Hash, Hasher};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/evaluate/flags/{key}", post(single))
        .route("/evaluate/flags", post(bulk))
        .route("/events", axum::routing::get(events))
        .route("/configuration", axum::routing::get(configuration))
}

/// Where a provider hears of changes: Runway's own event stream, on this server (a provider
/// sends its configured `Authorization` header there too; no secret goes into a URL).
fn event_streams() -> Value {
    json!([{ "type": "sse", "endpoint": { "requestUri": "/ofrep/v1/events" }, "inactivityDelaySec": 120 }])
}

/// `GET /ofrep/v1/configuration`: what this OFREP server does, for providers that ask
/// before they evaluate: the change stream, and that answers carry ETags for caching.
async fn configuration(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = environment(&state, &headers).await {
        return r;
    }
    Json(json!({
        "name": "Runway",
        "capabilities": {
            "cacheInvalidation": { "polling": { "enabled": true, "minPollingIntervalMs": 1000 } },
            "caching": { "etag": true },
            "flagEvaluation": { "supportedTypes": ["boolean", "string"] }
        },
        "eventStreams": event_streams(),
    }))
    .into_response()
}

/// An ETag over the environment's flags (its etag changes with any of them) and the context;
/// with `If-None-Match` holding it, the caller already has the answer. Weak comparison, as
/// for GET: a proxy may have turned the tag into W/"...".
fn etag_for(flags: &crate::evaluate::EnvFlags, salt: &str, ctx: &Context, headers: &HeaderMap) -> (String, bool) {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    salt.hash(&mut hasher);
    serde_json::to_string(&ctx.attributes).unwrap_or_default().hash(&mut hasher);
    let etag = format!("\"{}-{:016x}\"", flags.etag, hasher.finish());
    let matches = |t: &str| t == "*" || t.trim_start_matches("W/") == etag;
    let cached = headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.split(',').any(|t| matches(t.trim())));
    // Answers that change with the clock are never "not modified".
    (etag, cached && !flags.timed)
}

/// Server-sent events for the token's environment: one OFREP `refetchEvaluation`
/// message each time a flag there changes (its `etag` is the environment's new one).
async fn events(State(state): State<AppState>, headers: HeaderMap) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio_stream::StreamExt;
    let env = match environment(&state, &headers).await {
        Ok(env) => env,
        Err(r) => return r,
    };
    let cache = state.service.flag_cache.clone();
    let etag_of = move |cache: &crate::evaluate::FlagCache| cache.get().environments.get(&env).map(|e| e.etag.clone()).unwrap_or_default();
    let mut last = etag_of(&cache);
    let stream = tokio_stream::wrappers::WatchStream::from_changes(cache.watch()).filter_map(move |_| {
        let now = etag_of(&cache);
        if now == last {
            return None;
        }
        last = now.clone();
        let data = json!({ "type": "refetchEvaluation", "etag": now });
        Some(Ok::<_, std::convert::Infallible>(Event::default().event("message").data(data.to_string())))
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

/// The OFREP endpoints, for the permission table.
pub const ENDPOINTS: [(&str, &str); 4] = [
    ("POST", "/ofrep/v1/evaluate/flags/{key}"),
    ("POST", "/ofrep/v1/evaluate/flags"),
    ("GET", "/ofrep/v1/events"),
    ("GET", "/ofrep/v1/configuration"),
];

fn fail(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// The environment the caller's token evaluates in: a `flags:read` token names one.
async fn environment(state: &AppState, headers: &HeaderMap) -> Result<String, Response> {
    let general = |status, details: &str| fail(status, json!({ "errorDetails": details }));
    let resolved = state.service.resolve(headers).await.map_err(|e| {
        let e = e.into_api();
        general(StatusCode::from_u16(e.status).unwrap_or(StatusCode::UNAUTHORIZED), &e.message)
    })?;
    match resolved.caller {
        Caller::Token(t) if t.scopes.iter().any(|s| s.covers(Scope::FlagsRead)) => t.environment.ok_or_else(|| {
            general(StatusCode::FORBIDDEN, "This token names no environment; create one with --environment.")
        }),
        Caller::Anonymous => Err(general(StatusCode::UNAUTHORIZED, "Send an API token with the flags:read scope as Authorization: Bearer <token>.")),
        _ => Err(general(StatusCode::FORBIDDEN, "Flag evaluation needs an API token with the flags:read scope.")),
    }
}

/// The request's evaluation context, or OFREP's INVALID_CONTEXT / PARSE_ERROR.
fn context(body: &[u8]) -> Result<Context, (&'static str, String)> {
    let value: Value = serde_json::from_slice(body).map_err(|e| ("PARSE_ERROR", format!("The body is not valid JSON: {e}")))?;
    let ctx = match value.get("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(("INVALID_CONTEXT", "context must be a JSON object.".into())),
    };
    match ctx.get("targetingKey") {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(_) => return Err(("INVALID_CONTEXT", "context.targetingKey must be a string.".into())),
    }
    Ok(Context::new(ctx, app::pages::now_ms()))
}

fn reason_name(r: Reason) -> &'static str {
    match r {
        Reason::Static => "STATIC",
        Reason::TargetingMatch => "TARGETING_MATCH",
        Reason::Split => "SPLIT",
        Reason::Disabled => "DISABLED",
    }
}

/// One flag's answer: success, or an evaluation failure (for the bulk list and single 400s).
/// A rule that decided it is named in the metadata.
fn answer(key: &str, state: &app::flag::FlagState, ctx: &Context, segments: &Segments) -> Result<Value, Value> {
    match evaluate(key, state, ctx, segments) {
        Outcome::Value { value, variant, reason, rule, .. } => {
            let mut v = json!({ "key": key, "reason": reason_name(reason), "variant": variant });
            if let Some(value) = value {
                v["value"] = value;
            }
            if let Some(rule) = rule {
                v["metadata"] = json!({ "rule": rule.name, "ruleIndex": rule.index });
            }
            Ok(v)
        }
        Outcome::TargetingKeyMissing => Err(json!({
            "key": key,
            "errorCode": "TARGETING_KEY_MISSING",
            "errorDetails": "This flag is rolled out to a percentage of keys; send context.targetingKey."
        })),
    }
}

/// `POST /ofrep/v1/evaluate/flags/{key}`, with an ETag as the bulk answer has.
async fn single(State(state): State<AppState>, Path(key): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let env = match environment(&state, &headers).await {
        Ok(env) => env,
        Err(r) => return r,
    };
    let ctx = match context(&body) {
        Ok(c) => c,
        Err((code, details)) => return fail(StatusCode::BAD_REQUEST, json!({ "key": key, "errorCode": code, "errorDetails": details })),
    };
    let snapshot = state.service.flag_cache.get();
    let Some((flags, flag)) = snapshot.environments.get(&env).and_then(|e| Some((e, e.get(&key)?))) else {
        return fail(
            StatusCode::NOT_FOUND,
            json!({ "key": key, "errorCode": "FLAG_NOT_FOUND", "errorDetails": format!("Flag '{key}' was not found") }),
        );
    };
    let (etag, cached) = etag_for(flags, &key, &ctx, &headers);
    if cached {
        return (StatusCode::NOT_MODIFIED, [(ETAG, etag)]).into_response();
    }
    match answer(&key, flag, &ctx, &snapshot.segments) {
        Ok(v) if flags.timed => Json(v).into_response(),
        Ok(v) => ([(ETAG, etag)], Json(v)).into_response(),
        Err(v) => fail(StatusCode::BAD_REQUEST, v),
    }
}

/// `POST /ofrep/v1/evaluate/flags`: every flag of the token's environment, with an ETag
/// over the flags and the context, and 304 when the caller already has this answer.
async fn bulk(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let env = match environment(&state, &headers).await {
        Ok(env) => env,
        Err(r) => return r,
    };
    let ctx = match context(&body) {
        Ok(c) => c,
        Err((code, details)) => return fail(StatusCode::BAD_REQUEST, json!({ "errorCode": code, "errorDetails": details })),
    };
    let snapshot = state.service.flag_cache.get();
    let empty = Default::default();
    let flags = snapshot.environments.get(&env).unwrap_or(&empty);
    let (etag, cached) = etag_for(flags, "", &ctx, &headers);
    if cached {
        return (StatusCode::NOT_MODIFIED, [(ETAG, etag)]).into_response();
    }
    let list: Vec<Value> = flags
        .flags
        .iter()
        .map(|(key, s)| answer(key, s, &ctx, &snapshot.segments).unwrap_or_else(|failure| failure))
        .collect();
    let body = Json(json!({ "flags": list, "metadata": { "environment": env }, "eventStreams": event_streams() }));
    if flags.timed {
        return body.into_response();
    }
    ([(ETAG, etag)], body).into_response()
}
