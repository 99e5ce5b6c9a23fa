//! Stage 7, forward: send the request where its route says.
//!
//! Contract: needs the [`Permit`] from authorization. A request routed to one
//! upstream goes out as the bytes received unless something had to change (a
//! redaction, the upstream-side name of a prefixed tool, the upstream-side id
//! of an answer to a server request); over Streamable HTTP with the filtered
//! headers of [`crate::upstream::headers`] and the upstream's own session, over
//! a shared connection (stdio) through its multiplexer. A fan-out (lists,
//! `initialize`, `server/discover`, notifications, streams) asks every upstream
//! and merges (`fanout`). Failures name the request's id and, in a federation,
//! the upstream; nothing about the upstream's internals reaches the client.

mod fanout;
mod http;
mod shared;
mod streams;

use super::Shared;
use super::Snapshot;
use super::answer_back::AnswerTo;
use super::authorize::Permit;
use super::body::{GatewayBody, full};
use super::context::RequestContext;
use super::parse::{Inbound, InboundKind};
use super::respond::Rejection;
use crate::federation::route::{FanOut, Rewrite, Route};
use crate::protocol::rpc_error::error_body;
use crate::upstream::mux::Exchange;
use ::http::{HeaderValue, Response, StatusCode, header};
use bytes::Bytes;
use hyper::body::Incoming;
use serde_json::{Map, Value};
use std::sync::Arc;

pub use fanout::Joins;
pub use http::upstream_session;
pub use shared::ServerRequests;

/// What came back from upstream, for stage 8.
#[derive(Debug)]
pub enum Upstreamed {
    /// One HTTP upstream's response, to inspect as it streams.
    Http {
        /// The upstream's index.
        upstream: usize,
        /// Its response.
        response: Response<Incoming>,
        /// Where the gateway answers the server requests it withholds from
        /// the client (an SSE response only).
        answer_to: Option<Box<AnswerTo>>,
    },
    /// One request over a shared connection (stdio).
    Shared {
        /// The upstream's index.
        upstream: usize,
        /// The request in flight.
        exchange: Exchange,
    },
    /// A response the gateway composed (fan-outs, local answers), already
    /// inspected message by message.
    Composed(Response<GatewayBody>),
}

/// Forwards the request and returns what came back.
pub async fn forward(
    permit: &Permit,
    cx: &mut RequestContext,
    inbound: &mut Inbound,
    snapshot: &Snapshot,
    shared: &Arc<Shared>,
) -> Result<Upstreamed, Rejection> {
    let initialize = matches!(&inbound.kind, InboundKind::Messages(env)
        if env.single().and_then(|m| m.method()) == Some("initialize"));
    if !initialize {
        // HTTP upstreams that were down when the session opened join it now.
        let joined = fanout::missing(permit, cx, inbound, snapshot, shared).await;
        if let Some(state) = inbound.session.as_mut() {
            state.upstreams.extend(joined);
        }
    }
    let inbound = &*inbound;
    // A fan-out's upstream time is its wall time (the upstreams are asked
    // together; each one's own time goes to the upstream histogram).
    let asked = std::time::Instant::now();
    if initialize {
        // Every `initialize` creates a sealed session, whatever the route.
        let composed = fanout::run(permit, cx, inbound, snapshot, shared, FanOut::Initialize).await;
        cx.upstream_time = Some(asked.elapsed());
        return composed.map(Upstreamed::Composed);
    }
    match &inbound.route {
        Route::One { upstream, rewrite } => {
            one(permit, cx, inbound, snapshot, shared, *upstream, rewrite).await
        }
        Route::All(fan) => {
            let composed = fanout::run(permit, cx, inbound, snapshot, shared, *fan).await;
            cx.upstream_time = Some(asked.elapsed());
            composed.map(Upstreamed::Composed)
        }
        Route::Local => Ok(Upstreamed::Composed(json_response(
            StatusCode::OK,
            &serde_json::json!({"jsonrpc": "2.0", "id": cx.rpc_id.as_ref().map(|i| i.to_json()), "result": {}}),
        ))),
        Route::Unknown(what) => Err(Rejection::Unroutable {
            id: cx.rpc_id.clone(),
            what: what.clone(),
            modern: cx.era == Some(crate::protocol::Era::Modern),
        }),
    }
}

/// Sends the request to upstream `index`.
async fn one(
    permit: &Permit,
    cx: &mut RequestContext,
    inbound: &Inbound,
    snapshot: &Snapshot,
    shared: &Arc<Shared>,
    index: usize,
    rewrite: &Rewrite,
) -> Result<Upstreamed, Rejection> {
    let rt = &snapshot.config;
    let spec = rt
        .federation
        .upstreams
        .get(index)
        .ok_or_else(|| Rejection::UpstreamInvalid {
            id: cx.rpc_id.clone(),
            what: format!("route to a missing upstream #{index}"),
        })?;
    let body = body(inbound, rewrite);
    match snapshot.http(index) {
        Some(client) => {
            let asked = std::time::Instant::now();
            let sent = http::send(permit, cx, inbound, client, spec, body, rewrite, rt).await;
            // To the response head: the body streams through stage 8.
            let took = asked.elapsed();
            cx.upstream_time = Some(took);
            shared.metrics.upstream_time(&spec.name, took);
            let response = sent?;
            let streamed = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
            let answer_to = streamed.then(|| {
                Box::new(AnswerTo::new(
                    permit,
                    &inbound.parts.headers,
                    client,
                    inbound.session.as_ref(),
                    &spec.name,
                    !rt.federation.naming.is_identity(),
                ))
            });
            Ok(Upstreamed::Http {
                upstream: index,
                response,
                answer_to,
            })
        }
        None => shared::send(permit, cx, inbound, shared, index, spec, body).await,
    }
}

/// The body to send: as received (or as redacted), with the upstream-side name
/// or id when the route rewrites one.
fn body(inbound: &Inbound, rewrite: &Rewrite) -> Bytes {
    let InboundKind::Messages(envelope) = &inbound.kind else {
        return Bytes::new();
    };
    let received = inbound
        .forward_body
        .clone()
        .unwrap_or_else(|| envelope.raw().clone());
    if *rewrite == Rewrite::None {
        return received;
    }
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(&received) else {
        return received;
    };
    apply(&mut object, rewrite);
    Bytes::from(Value::Object(object).to_string())
}

/// Rewrites the name (`params.name`, or `params.ref.name` in completions) or the id.
fn apply(object: &mut Map<String, Value>, rewrite: &Rewrite) {
    match rewrite {
        Rewrite::None => {}
        Rewrite::Id(id) => {
            object.insert("id".into(), id.clone());
        }
        Rewrite::Name(inner) => {
            let Some(params) = object.get_mut("params").and_then(Value::as_object_mut) else {
                return;
            };
            let slot = if params.contains_key("name") {
                params.get_mut("name")
            } else {
                params.get_mut("ref").and_then(|r| r.get_mut("name"))
            };
            if let Some(slot) = slot {
                *slot = Value::String(inner.clone());
            }
        }
    }
}

/// A JSON response with a body.
pub(super) fn json_response(status: StatusCode, value: &Value) -> Response<GatewayBody> {
    let mut response = Response::new(full(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `202 Accepted` with no body (notifications and answers).
pub(super) fn accepted() -> Response<GatewayBody> {
    let mut response = Response::new(super::body::empty());
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

/// A JSON-RPC error response for a request routed to an upstream that is down:
/// only that upstream's tools fail; the session goes on.
pub(super) fn upstream_down(cx: &RequestContext, name: &str) -> Response<GatewayBody> {
    let body = error_body(
        cx.rpc_id.as_ref(),
        crate::protocol::rpc_error::INTERNAL_ERROR,
        &format!("Upstream `{name}` is unavailable"),
        Some(serde_json::json!({"upstream": name})),
    );
    let mut response = Response::new(full(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
