//! OFREP, the OpenFeature Remote Evaluation Protocol: any OpenFeature SDK with an OFREP
//! provider reads Runway's flags. Answers come from the in-memory snapshot.
use crate::service::Caller;
use crate::AppState;
use app::flag::{decide, Context, Reason, Segments, Served};
use app::token::Scope;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::hash::{Hash, Hasher};
use std::io::Write;

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
    serde_json::from_str(EVENT_STREAMS).unwrap_or_default()
}

const EVENT_STREAMS: &str = r#"[{"type":"sse","endpoint":{"requestUri":"/ofrep/v1/events"},"inactivityDelaySec":120}]"#;

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
    hash_value(&mut hasher, &ctx.attributes);
    let etag = format!("\"{}-{:016x}\"", flags.etag, hasher.finish());
    let matches = |t: &str| t == "*" || t.trim_start_matches("W/") == etag;
    let cached = headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.split(',').any(|t| matches(t.trim())));
    // Answers that change with the clock are never "not modified".
    (etag, cached && !flags.timed)
}

/// Hashes a JSON object's keys and values in their (sorted) order, without writing it out.
fn hash_value(hasher: &mut impl Hasher, attributes: &Map<String, Value>) {
    fn walk(h: &mut impl Hasher, v: &Value) {
        match v {
            Value::Null => h.write_u8(0),
            Value::Bool(b) => h.write_u8(1 + u8::from(*b)),
            // 1 and 1.0 stay different contexts.
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => (3u8, i).hash(h),
                (_, Some(u)) => (4u8, u).hash(h),
                _ => (5u8, n.as_f64().unwrap_or_default().to_bits()).hash(h),
            },
            Value::String(s) => (6u8, s).hash(h),
            Value::Array(a) => {
                (7u8, a.len()).hash(h);
                a.iter().for_each(|v| walk(h, v));
            }
            Value::Object(o) => object(h, o),
        }
    }
    fn object(h: &mut impl Hasher, o: &Map<String, Value>) {
        (8u8, o.len()).hash(h);
        for (k, v) in o {
            k.hash(h);
            walk(h, v);
        }
    }
    object(hasher, attributes)
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
    let context = match value {
        Value::Object(mut body) => body.remove("context"),
        _ => None,
    };
    let ctx = match context {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
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

/// One flag's answer written out as JSON: its value, or (false) an evaluation failure, for
/// the bulk list and single 400s. A rule that decided it is named in the metadata. Written
/// straight from the decision: a bulk answer is most of what a busy service asks for.
fn write_answer(out: &mut Vec<u8>, key: &str, state: &app::flag::FlagState, ctx: &Context, segments: &Segments) -> bool {
    let string = |out: &mut Vec<u8>, s: &str| {
        let _ = serde_json::to_writer(&mut *out, s);
    };
    out.extend_from_slice(b"{\"key\":");
    string(out, key);
    let Some(d) = decide(key, state, ctx, segments) else {
        out.extend_from_slice(
            b",\"errorCode\":\"TARGETING_KEY_MISSING\",\"errorDetails\":\"This flag is rolled out to a percentage of keys; send context.targetingKey.\"}",
        );
        return false;
    };
    out.extend_from_slice(b",\"reason\":\"");
    out.extend_from_slice(reason_name(d.reason).as_bytes());
    out.extend_from_slice(b"\",\"variant\":");
    string(out, d.served.variant());
    match d.served {
        Served::Bool(on) => out.extend_from_slice(if on { b",\"value\":true" } else { b",\"value\":false" }),
        Served::Variant(v) => {
            out.extend_from_slice(b",\"value\":");
            string(out, v);
        }
        Served::Default => {}
    }
    if let Some((index, rule)) = d.rule {
        out.extend_from_slice(b",\"metadata\":{\"rule\":");
        string(out, &rule.label(index));
        let _ = write!(out, ",\"ruleIndex\":{index}}}");
    }
    out.push(b'}');
    true
}

fn json_body(status: StatusCode, etag: Option<String>, body: Vec<u8>) -> Response {
    let mut response = (status, [(CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(tag) = etag.and_then(|t| axum::http::HeaderValue::from_str(&t).ok()) {
        response.headers_mut().insert(ETAG, tag);
    }
    response
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
    let mut out = Vec::with_capacity(256);
    if !write_answer(&mut out, &key, flag, &ctx, &snapshot.segments) {
        return json_body(StatusCode::BAD_REQUEST, None, out);
    }
    json_body(StatusCode::OK, (!flags.timed).then_some(etag), out)
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
    // About 110 bytes a flag.
    let mut out = Vec::with_capacity(256 + flags.flags.len() * 128);
    out.extend_from_slice(b"{\"flags\":[");
    for (i, (key, s)) in flags.flags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_answer(&mut out, key, s, &ctx, &snapshot.segments);
    }
    out.extend_from_slice(b"],\"metadata\":{\"environment\":");
    let _ = serde_json::to_writer(&mut out, &env);
    out.extend_from_slice(b"},\"eventStreams\":");
    out.extend_from_slice(EVENT_STREAMS.as_bytes());
    out.push(b'}');
    json_body(StatusCode::OK, (!flags.timed).then_some(etag), out)
}
