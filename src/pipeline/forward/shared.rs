//! One request over a shared connection (a stdio process or an HTTP+SSE
//! session): the multiplexer
//! gives it a fresh upstream id and returns an exchange; notifications and
//! answers go through the same connection.
//!
//! A server-to-client request made during an exchange reaches the client with
//! an id that names its upstream; the client's answer arrives in a later POST,
//! so the handle that answers the server waits in [`ServerRequests`] until then
//! (in this replica: the process lives here too).
//!
//! With tracing on, a request (never a notification or an answer) carries the
//! gateway's upstream-call span as `params._meta.traceparent`: a line on stdin
//! has no headers, and the MCP `_meta` trace context is what an instrumented
//! server reads. See [`with_trace_context`].

use super::super::Shared;
use super::super::authorize::Permit;
use super::super::context::RequestContext;
use super::super::parse::Inbound;
use super::super::respond::Rejection;
use super::{Upstreamed, accepted, upstream_down};
use crate::config::UpstreamSpec;
use crate::protocol::jsonrpc::{self, Kind};
use crate::protocol::{Era, Message};
use crate::upstream::mux::ServerRequest;
use crate::upstream::shared::Connection;
use crate::upstream::supervised::{LinkError, handshake};
use bytes::Bytes;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a server request waits for the client's answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(300);
/// Most server requests waiting at once.
const MAX_WAITING: usize = 1024;

/// Server-to-client requests waiting for the client's answer, by the id the
/// client saw.
#[derive(Debug, Default)]
pub struct ServerRequests {
    waiting: Mutex<HashMap<String, (Instant, ServerRequest)>>,
}

impl ServerRequests {
    /// Keeps `request` until the client answers `client_id`. Expired entries
    /// leave first (a dropped handle answers the server with an error).
    pub fn hold(&self, client_id: String, request: ServerRequest) {
        let Ok(mut waiting) = self.waiting.lock() else {
            return;
        };
        waiting.retain(|_, (since, _)| since.elapsed() < ANSWER_WITHIN);
        if waiting.len() < MAX_WAITING {
            waiting.insert(client_id, (Instant::now(), request));
        }
    }

    /// Takes the handle the client's answer belongs to.
    pub fn take(&self, client_id: &str) -> Option<ServerRequest> {
        self.waiting.lock().ok()?.remove(client_id).map(|(_, r)| r)
    }
}

/// The key of a held server request: the id the client saw, as text.
pub fn client_key(id: &crate::protocol::RequestId) -> String {
    match id {
        crate::protocol::RequestId::String(s) => s.clone(),
        crate::protocol::RequestId::Number(n) => n.to_string(),
    }
}

/// `request` as shared upstream `upstream` should see it: in the era its
/// session speaks (see [`enveloped`]) and with the trace context of the open
/// upstream span when tracing is on.
pub(super) fn for_stdio(
    cx: &RequestContext,
    inbound: &Inbound,
    upstream: &Connection,
    request: Message,
) -> Message {
    if request.kind() != Kind::Request {
        return request;
    }
    let request = match upstream.session() {
        Some(s) if s.era == Era::Modern => {
            enveloped(request, &handshake::envelope(&upstream.offer()))
        }
        _ => request,
    };
    traced(cx, inbound, request)
}

/// A request for a 2026-07-28 server: that era has no session, so every
/// request names its protocol version, the client's capabilities and the
/// client in `params._meta`. A session-era client (whose `initialize` the
/// gateway answered) sends none of these; the gateway's own, from the
/// handshake it made with the server, are added where the request has none.
/// A modern client's own envelope is left as it is.
fn enveloped(request: Message, envelope: &Value) -> Message {
    let Some(envelope) = envelope.as_object() else {
        return request;
    };
    with_meta(request, |meta| {
        for (k, v) in envelope {
            meta.entry(k.clone()).or_insert_with(|| v.clone());
        }
    })
}

/// The trace context of the open upstream span, when tracing is on.
fn traced(cx: &RequestContext, inbound: &Inbound, request: Message) -> Message {
    let Some(traceparent) = super::super::traced::upstream_traceparent(cx) else {
        return request;
    };
    let Ok(traceparent) = traceparent.to_str() else {
        return request;
    };
    let tracestate = inbound
        .parts
        .headers
        .get("tracestate")
        .and_then(|v| v.to_str().ok());
    with_trace_context(request, traceparent, tracestate)
}

/// `request` with `traceparent` in `params._meta`, replacing any the client
/// sent: the upstream's parent is the gateway's upstream-call span (same trace
/// id), never the client's span, which it did not call. The client's
/// `_meta.tracestate` goes on unchanged, as W3C asks of a participant that adds
/// no entry; without one, the client's `tracestate` header (the 2025 eras carry
/// the context in headers) is copied in.
///
/// A request without `params` gets `params: {"_meta": {...}}`: MCP allows
/// `_meta` in the params of every request, and servers read it there. Params
/// that are not an object never get here (parsing refuses them); a `_meta`
/// that is not an object is left as it is, and the request sent unchanged.
fn with_trace_context(request: Message, traceparent: &str, tracestate: Option<&str>) -> Message {
    with_meta(request, |meta| {
        meta.insert("traceparent".into(), Value::from(traceparent));
        if let Some(state) = tracestate {
            meta.entry("tracestate")
                .or_insert_with(|| Value::from(state));
        }
    })
}

/// `request` with `edit` applied to its `params._meta` (created if absent).
fn with_meta(request: Message, edit: impl FnOnce(&mut Map<String, Value>)) -> Message {
    let mut object = request.as_object().clone();
    let params = object
        .entry("params")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(meta) = params
        .as_object_mut()
        .map(|p| {
            p.entry("_meta")
                .or_insert_with(|| Value::Object(Map::new()))
        })
        .and_then(Value::as_object_mut)
    else {
        return request;
    };
    edit(meta);
    // Re-read so the message is exactly what will be written; a request at the
    // depth limit, which two more levels would exceed, goes unchanged.
    match serde_json::to_vec(&object) {
        Ok(bytes) => jsonrpc::parse_message(&bytes, &Default::default()).unwrap_or(request),
        Err(_) => request,
    }
}

/// Sends `body` over upstream `index`'s shared connection.
pub async fn send(
    _permit: &Permit,
    cx: &RequestContext,
    inbound: &Inbound,
    shared: &Arc<Shared>,
    index: usize,
    spec: &UpstreamSpec,
    body: Bytes,
) -> Result<Upstreamed, Rejection> {
    let Some(upstream) = shared.connections.get(&spec.name) else {
        return Ok(Upstreamed::Composed(upstream_down(cx, &spec.name)));
    };
    if body.is_empty() {
        // A GET or DELETE: a shared connection has no per-client stream or session.
        return Err(Rejection::NoStreamsOnSharedUpstream);
    }
    let message = jsonrpc::parse_message(&body, &Default::default()).map_err(Rejection::Parse)?;
    if let Err(e) = upstream.ready().await {
        tracing::debug!(upstream = %spec.name, error = %e, "shared upstream not ready");
    }
    let down = |e: LinkError| match e {
        LinkError::Unavailable { .. } => Ok(Upstreamed::Composed(upstream_down(cx, &spec.name))),
        LinkError::Mux(e) => Err(Rejection::Upstream {
            id: cx.rpc_id.clone(),
            error: crate::upstream::UpstreamError::Shared(e.to_string()),
        }),
    };
    match message.kind() {
        Kind::Request => match upstream
            .request(&for_stdio(cx, inbound, &upstream, message))
            .await
        {
            Ok(exchange) => Ok(Upstreamed::Shared {
                upstream: index,
                exchange,
            }),
            Err(e) => down(e),
        },
        Kind::Notification => match upstream.notify(&message).await {
            Ok(()) => Ok(Upstreamed::Composed(accepted())),
            Err(e) => down(e),
        },
        Kind::Response | Kind::ErrorResponse => {
            let key = cx.rpc_id.as_ref().map(client_key).unwrap_or_default();
            let Some(request) = shared.server_requests.take(&key) else {
                return Err(Rejection::Unroutable {
                    id: None,
                    what: crate::federation::route::Unroutable::Answer,
                    modern: false,
                });
            };
            request
                .respond(&message)
                .await
                .map_err(|e| Rejection::Upstream {
                    id: None,
                    error: crate::upstream::UpstreamError::Shared(e.to_string()),
                })?;
            Ok(Upstreamed::Composed(accepted()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01";

    fn traced(body: Value, tracestate: Option<&str>) -> Value {
        let message =
            jsonrpc::parse_message(body.to_string().as_bytes(), &Default::default()).unwrap();
        Value::Object(
            with_trace_context(message, PARENT, tracestate)
                .as_object()
                .clone(),
        )
    }

    #[test]
    fn the_gateways_traceparent_replaces_the_clients_and_the_rest_of_meta_stays() {
        let out = traced(
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t",
                "_meta":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "tracestate":"client=1","progressToken":5}}}),
            Some("header=1"),
        );
        let meta = &out["params"]["_meta"];
        assert_eq!(meta["traceparent"], PARENT);
        assert_eq!(
            meta["tracestate"], "client=1",
            "the message's own state wins"
        );
        assert_eq!(meta["progressToken"], 5);
        assert_eq!(out["params"]["name"], "t");
    }

    #[test]
    fn a_request_without_params_or_meta_gets_them() {
        let out = traced(json!({"jsonrpc":"2.0","id":1,"method":"ping"}), None);
        assert_eq!(out["params"], json!({"_meta": {"traceparent": PARENT}}));
        let out = traced(
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"c"}}),
            Some("vendor=1"),
        );
        assert_eq!(
            out["params"],
            json!({"cursor":"c","_meta":{"traceparent":PARENT,"tracestate":"vendor=1"}})
        );
    }

    #[test]
    fn a_meta_that_is_not_an_object_goes_unchanged() {
        let body = json!({"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":5}});
        assert_eq!(traced(body.clone(), None), body);
    }
}
