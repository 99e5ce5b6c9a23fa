//! Stage 8, inspect response: every message the upstream sends back passes here.
//!
//! Contract: a JSON response is read (bounded), parsed strictly, shown to the
//! [`Observer`] and delivered as the bytes received unless the observer rewrote
//! it; an SSE response is delivered event by event as each event completes (see
//! [`super::sse_body`]); an empty acknowledgement passes as is. A success
//! response the gateway cannot parse is never forwarded (fail closed). Error
//! statuses and their bodies pass through, bounded, so clients see the
//! upstream's 400/404/405 as the spec requires. A request over a shared
//! connection (stdio) is answered from its exchange (`exchanged`).

#[path = "exchanged.rs"]
mod exchanged;

use super::Shared;
use super::answer_back::AnswerTo;
use super::body::{GatewayBody, full, read_bounded};
use super::context::RequestContext;
use super::forward::Upstreamed;
use super::observer::{Delivery, Exchange, Observer};
use super::parse::{Inbound, InboundKind};
use super::record::{self, Facts};
use super::respond::Rejection;
use super::sse_body::SseBody;
use crate::config::Runtime;
use crate::protocol::jsonrpc::{self, Message};
use crate::upstream::headers::response_headers;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use hyper::body::Incoming;
use std::sync::Arc;

/// Builds the client's response from what came back from upstream.
pub async fn response(
    cx: &mut RequestContext,
    inbound: &Inbound,
    upstreamed: Upstreamed,
    rt: &Arc<Runtime>,
    shared: &Arc<Shared>,
) -> Result<Response<GatewayBody>, Rejection> {
    match upstreamed {
        Upstreamed::Composed(response) => Ok(response),
        Upstreamed::Http {
            upstream,
            response,
            answer_to,
        } => http(cx, inbound, upstream, response, answer_to, rt, shared).await,
        Upstreamed::Shared { upstream, exchange } => {
            exchanged::response(cx, inbound, upstream, exchange, rt, shared).await
        }
    }
}

/// One HTTP upstream's response.
async fn http(
    cx: &mut RequestContext,
    inbound: &Inbound,
    index: usize,
    upstream: Response<Incoming>,
    answer_to: Option<Box<AnswerTo>>,
    rt: &Arc<Runtime>,
    shared: &Arc<Shared>,
) -> Result<Response<GatewayBody>, Rejection> {
    let (parts, body) = upstream.into_parts();
    let exchange = exchange(cx, inbound, index, rt);
    let mut headers = response_headers(&parts.headers);
    // The client holds a sealed session id; the upstream's own never leaves.
    headers.remove("mcp-session-id");
    let request_id = cx.rpc_id.clone();
    let invalid = |what: String| Rejection::UpstreamInvalid {
        id: request_id.clone(),
        what,
    };
    let streamed = media_type(&parts.headers).as_deref() == Some("text/event-stream");
    let mut observer = Observer::new(
        exchange.clone(),
        Arc::clone(shared),
        Arc::clone(rt),
        Facts::of(cx),
        cx.started,
        pending(cx, &exchange, streamed, parts.status),
    )
    .with_lister(crate::authz::filter::lister_for(cx, rt, shared, index));
    let body = if streamed {
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        SseBody::new(body, observer, rt, shared.draining())
            .with_answer_to(answer_to.map(|a| *a))
            .boxed()
    } else {
        let media = media_type(&parts.headers);
        let limit = rt.limits.max_response_body;
        let within = rt
            .federation
            .upstreams
            .get(index)
            .and_then(|u| match &u.transport {
                crate::config::Transport::Http(h) => Some(h.response_timeout),
                _ => None,
            })
            .unwrap_or(std::time::Duration::from_secs(60));
        let bytes = read_bounded(body, limit, within)
            .await
            .map_err(|e| invalid(format!("an unreadable body: {e}")))?;
        if !parts.status.is_success() || bytes.is_empty() {
            full(bytes)
        } else {
            if media.as_deref() != Some("application/json") {
                return Err(invalid(format!("content type {media:?}")));
            }
            let envelope = jsonrpc::parse(bytes.clone(), &rt.limits.parse)
                .map_err(|e| invalid(format!("an unparseable message: {e}")))?;
            if envelope.is_batch() && !inbound_is_batch(inbound) {
                return Err(invalid("a batch answer to a single request".into()));
            }
            let delivered = deliver_json(&mut observer, envelope.messages(), bytes, cx)?;
            observer.settle(cx);
            if delivered.len() != envelope.raw().len() || delivered != *envelope.raw() {
                headers.remove(header::CONTENT_LENGTH);
            }
            full(delivered)
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = parts.status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// A streamed answer to a request is recorded when it passes, with its
/// outcome; everything else is recorded by stage 9 at the response head.
pub(super) fn pending(
    cx: &mut RequestContext,
    exchange: &Exchange,
    streamed: bool,
    status: StatusCode,
) -> Option<crate::audit::AuditRecord> {
    (streamed && !exchange.standalone && exchange.request_id.is_some()).then(|| {
        cx.recorded_by_stream = true;
        let outcome = crate::audit::Outcome {
            http_status: Some(status.as_u16()),
            ..Default::default()
        };
        record::operation(cx, outcome)
    })
}

/// Shows each message of a JSON body to the observer and returns the body to
/// deliver: the bytes received, or the messages as the observer rewrote them.
fn deliver_json(
    observer: &mut Observer,
    messages: &[Message],
    raw: Bytes,
    cx: &RequestContext,
) -> Result<Bytes, Rejection> {
    let refuse = |_| Rejection::AuditUnavailable {
        id: cx.rpc_id.clone(),
    };
    let mut out: Vec<Option<Bytes>> = Vec::with_capacity(messages.len());
    let mut changed = false;
    for m in messages {
        // Receipts of JSON answers are awaited by stage 9 with the response.
        let observed = observer.observe(m).map_err(refuse)?;
        match observed.delivery {
            Delivery::Forward => out.push(None),
            Delivery::Replace(bytes) => {
                out.push(Some(bytes));
                changed = true;
            }
            Delivery::Drop => changed = true,
        }
    }
    if !changed {
        return Ok(raw);
    }
    if let [Some(single)] = out.as_slice() {
        return Ok(single.clone());
    }
    // A batch answer: rebuild the array from originals and replacements.
    let mut array = Vec::with_capacity(out.len());
    for (m, replaced) in messages.iter().zip(out) {
        let item = match replaced {
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
            None => serde_json::Value::Object(m.as_object().clone()),
        };
        array.push(item);
    }
    Ok(Bytes::from(serde_json::Value::Array(array).to_string()))
}

fn inbound_is_batch(inbound: &Inbound) -> bool {
    matches!(&inbound.kind, InboundKind::Messages(env) if env.is_batch())
}

/// The response side's view of the request, for upstream `index`.
pub(super) fn exchange(
    cx: &RequestContext,
    inbound: &Inbound,
    index: usize,
    rt: &Runtime,
) -> Exchange {
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
        target: cx.target.clone(),
        upstream: rt
            .federation
            .upstreams
            .get(index)
            .map(|u| u.name.clone())
            .unwrap_or_default(),
        index,
        federated: !rt.federation.naming.is_identity(),
        drop_acks: false,
        new_session: None,
        standalone: listen,
        batch,
        owner: super::tasks::owner(cx),
    }
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next()?.trim().to_ascii_lowercase())
}
