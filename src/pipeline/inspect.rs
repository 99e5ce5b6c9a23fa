//! Stage 8, inspect response: every message the upstream sends back passes here.
//!
//! Contract: a JSON response is read (bounded), parsed strictly and forwarded as
//! the bytes received; an SSE response is forwarded event by event as each event
//! completes (see [`super::sse_body`]); an empty acknowledgement passes as is.
//! A success response the gateway cannot parse is never forwarded (fail closed).
//! Error statuses and their bodies pass through, bounded, so clients see the
//! upstream's 400/404/405 as the spec requires.
//!
//! The [`Observer`] sees each upstream message: it records negotiated sessions and
//! learns tool annotations now; the injection filter and audit hook in here too.

use super::Shared;
use super::body::{GatewayBody, full, read_bounded};
use super::context::RequestContext;
use super::parse::{Inbound, InboundKind};
use super::respond::Rejection;
use super::sse_body::SseBody;
use crate::config::Runtime;
use crate::protocol::jsonrpc::{self, Kind, Message};
use crate::protocol::rpc_error::{self, error_body};
use crate::protocol::{RequestId, Version};
use crate::upstream::headers::response_headers;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use hyper::body::Incoming;
use std::sync::Arc;

/// The response side's view of the request it answers.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The id of the single request the response answers, if any.
    pub request_id: Option<RequestId>,
    /// The method of that request.
    pub method: Option<String>,
    /// The session id the upstream issued on this response (initialize).
    pub new_session: Option<String>,
    /// Whether the stream is not tied to one request (GET, `subscriptions/listen`):
    /// such streams end when the gateway shuts down.
    pub standalone: bool,
    /// Whether the request was a batch (so a batch answer is acceptable).
    pub batch: bool,
}

/// Watches the upstream's messages for one exchange.
#[derive(Debug)]
pub struct Observer {
    exchange: Exchange,
    shared: Arc<Shared>,
    answered: bool,
    /// Filters list answers to what the caller may use (authorization on).
    lister: Option<crate::authz::filter::Lister>,
}

impl Observer {
    /// Looks at one upstream message before it is forwarded; returns the
    /// message to forward instead, when it must change (a filtered list).
    pub fn observe(&mut self, message: &Message) -> Option<Bytes> {
        let is_answer = matches!(message.kind(), Kind::Response | Kind::ErrorResponse)
            && message.id().is_some()
            && message.id() == self.exchange.request_id.as_ref();
        if !is_answer {
            return None;
        }
        self.answered = true;
        let result = message.result()?;
        match self.exchange.method.as_deref() {
            Some("initialize") => {
                let version = result
                    .get("protocolVersion")
                    .and_then(|v| v.as_str())
                    .and_then(Version::parse);
                if let (Some(session), Some(version)) = (&self.exchange.new_session, version) {
                    self.shared.sessions.insert(session, version);
                }
            }
            Some("tools/list") => self.shared.catalog.learn_tools(result),
            Some("server/discover") => self.shared.catalog.learn_versions(result),
            _ => {}
        }
        let (lister, method) = (self.lister.as_ref()?, self.exchange.method.as_deref()?);
        let filtered = lister.rewrite(method, message.as_object())?;
        serde_json::to_vec(&filtered).ok().map(Bytes::from)
    }

    /// When a stream must end early: an error answer for the request, if it has
    /// not been answered yet, framed as one SSE event.
    pub fn failure_event(&self) -> Option<Bytes> {
        if self.answered {
            return None;
        }
        let id = self.exchange.request_id.as_ref()?;
        let body = error_body(
            Some(id),
            rpc_error::INTERNAL_ERROR,
            "Upstream MCP server sent an invalid or oversized message",
            None,
        );
        let mut event = Vec::with_capacity(body.len() + 24);
        event.extend_from_slice(b"event: message\ndata: ");
        event.extend_from_slice(&body);
        event.extend_from_slice(b"\n\n");
        Some(Bytes::from(event))
    }

    /// Whether the stream should end when the gateway drains.
    pub fn standalone(&self) -> bool {
        self.exchange.standalone
    }
}

/// Builds the client's response from the upstream's.
pub async fn response(
    cx: &RequestContext,
    inbound: &Inbound,
    upstream: Response<Incoming>,
    rt: &Runtime,
    shared: &Arc<Shared>,
) -> Result<Response<GatewayBody>, Rejection> {
    let (parts, body) = upstream.into_parts();
    let exchange = exchange(cx, inbound, &parts.headers);
    if let Some(session) = &cx.session {
        let ended = parts.status == StatusCode::NOT_FOUND
            || (inbound.parts.method == Method::DELETE && parts.status.is_success());
        if ended {
            shared.sessions.remove(session);
        }
    }
    let mut observer = Observer {
        exchange,
        shared: Arc::clone(shared),
        answered: false,
        lister: crate::authz::filter::lister_for(cx, rt, shared),
    };
    let mut headers = response_headers(&parts.headers);
    let invalid = |what: String| Rejection::UpstreamInvalid {
        id: cx.rpc_id.clone(),
        what,
    };
    let body = match media_type(&parts.headers).as_deref() {
        Some("text/event-stream") => {
            headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
            SseBody::new(body, observer, rt, shared.draining()).boxed()
        }
        media => {
            let limit = rt.limits.max_response_body;
            let bytes = read_bounded(body, limit, rt.upstream.response_timeout)
                .await
                .map_err(|e| invalid(format!("an unreadable body: {e}")))?;
            if parts.status.is_success() && !bytes.is_empty() {
                if media != Some("application/json") {
                    return Err(invalid(format!("content type {media:?}")));
                }
                let envelope = jsonrpc::parse(bytes.clone(), &rt.limits.parse)
                    .map_err(|e| invalid(format!("an unparseable message: {e}")))?;
                if envelope.is_batch() && !observer.exchange.batch {
                    return Err(invalid("a batch answer to a single request".into()));
                }
                let mut replaced = None;
                for m in envelope.messages() {
                    replaced = observer.observe(m).or(replaced);
                }
                // Only a single message is ever rewritten (lists are refused in batches).
                if let Some(filtered) = replaced.filter(|_| !envelope.is_batch()) {
                    headers.remove(header::CONTENT_LENGTH);
                    return Ok(with_head(full(filtered), parts.status, headers));
                }
            }
            full(bytes)
        }
    };
    Ok(with_head(body, parts.status, headers))
}

fn with_head(body: GatewayBody, status: StatusCode, headers: HeaderMap) -> Response<GatewayBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

fn exchange(cx: &RequestContext, inbound: &Inbound, response_headers: &HeaderMap) -> Exchange {
    let (batch, listen) = match &inbound.kind {
        InboundKind::Messages(env) => (
            env.is_batch(),
            env.single().and_then(Message::method) == Some("subscriptions/listen"),
        ),
        InboundKind::OpenStream => (false, true),
        InboundKind::EndSession => (false, false),
    };
    Exchange {
        request_id: cx.rpc_id.clone(),
        method: cx.rpc_method.clone(),
        new_session: response_headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        standalone: listen,
        batch,
    }
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next()?.trim().to_ascii_lowercase())
}
