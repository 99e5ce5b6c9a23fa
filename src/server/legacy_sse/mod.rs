//! The legacy HTTP+SSE transport (MCP 2024-11-05), downstream: an adapter in
//! front of the pipeline for clients that speak nothing newer.
//!
//! ```text
//!  GET  <path>                       admit, authenticate ─► stream (event: endpoint)
//!  POST <messages_path>?sessionId=   admit, authenticate, same principal ─► 202
//!         └─► internal Streamable HTTP POST ─► pipeline::handle ─► event: message …
//! ```
//!
//! Why an adapter and not a second pipeline: every message a legacy client
//! posts becomes the Streamable HTTP request it stands for and goes through
//! [`crate::pipeline::handle`], so admission, authentication, rate limits, scanning,
//! authorization, inspection and audit apply unchanged. The adapter itself
//! admits and authenticates the GET and each POST with the pipeline's own
//! stages before it accepts anything, and a POST is only accepted from the
//! principal that opened the stream (anyone else gets 404, as for a stream
//! that does not exist). The streams live in this replica's memory (see
//! [`streams`]). Off unless `listen.legacy_sse` is configured.

mod body;
mod relay;
pub mod streams;

use crate::authn::certificate::ClientCertificate;
use crate::config::Runtime;
use crate::pipeline::body::{GatewayBody, empty, read_bounded};
use crate::pipeline::context::RequestContext;
use crate::pipeline::respond::{Rejection, reject};
use crate::pipeline::{Shared, admit, authenticate, session, stages};
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::Arc;
use streams::Streams;

/// Which legacy endpoint a request targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// The GET stream.
    Stream,
    /// The POST endpoint.
    Messages,
}

/// The legacy endpoint `request` targets under `rt`, if the transport is on.
pub fn endpoint<B>(request: &Request<B>, rt: &Runtime) -> Option<Endpoint> {
    let settings = rt.listen.legacy_sse.as_ref()?;
    let path = request.uri().path();
    if path == settings.path {
        Some(Endpoint::Stream)
    } else if path == settings.messages_path {
        Some(Endpoint::Messages)
    } else {
        None
    }
}

/// What a legacy request needs besides itself.
pub struct Caller {
    /// The client's address.
    pub peer: SocketAddr,
    /// The connection's verified client certificate, if any.
    pub certificate: Option<Arc<ClientCertificate>>,
    /// State shared by every request.
    pub shared: Arc<Shared>,
    /// The open legacy streams.
    pub streams: Arc<Streams>,
}

/// Serves one request to a legacy endpoint. Never fails: every refusal is a
/// response, and the audit stage records it (an accepted POST is recorded by
/// the pipeline run it starts).
pub async fn serve(
    endpoint: Endpoint,
    request: Request<Incoming>,
    caller: Caller,
) -> Response<GatewayBody> {
    let mut cx = RequestContext::new(caller.peer, request.method().clone(), request.version());
    cx.client_certificate = caller.certificate.clone();
    let shared = Arc::clone(&caller.shared);
    let result = match endpoint {
        Endpoint::Stream => open(&mut cx, request, caller).await,
        Endpoint::Messages => post(&mut cx, request, caller).await,
    };
    let (response, rpc_error) = match result {
        Ok(response) if response.status() == StatusCode::ACCEPTED => return response,
        Ok(response) => (response, None),
        Err(rejection) => {
            tracing::debug!(reason = %rejection, "legacy SSE request refused");
            cx.decision.verdict = crate::audit::Verdict::Denied;
            cx.decision.reason = Some(rejection.to_string().chars().take(160).collect());
            let (response, code) = reject(&rejection, cx.is_http1());
            (response, Some(code))
        }
    };
    stages::audit(&cx, response, rpc_error, &shared).await
}

/// Stages 1 and 2 of the pipeline, as on the main endpoint: the principal.
async fn identify(
    cx: &mut RequestContext,
    parts: &Parts,
    caller: &Caller,
    rt: &Runtime,
) -> Result<Arc<authenticate::Principal>, Rejection> {
    admit::admit_head(parts, rt)?;
    let principal = authenticate::authenticate(cx, parts, rt, &caller.shared).await?;
    cx.principal = Some(Arc::clone(&principal));
    Ok(principal)
}

/// `GET <path>`: opens a stream and tells the client where to post.
async fn open(
    cx: &mut RequestContext,
    request: Request<Incoming>,
    caller: Caller,
) -> Result<Response<GatewayBody>, Rejection> {
    let snapshot = caller.shared.snapshot();
    let rt = &snapshot.config;
    let Some(settings) = &rt.listen.legacy_sse else {
        return Err(Rejection::UnknownPath);
    };
    let (parts, _) = request.into_parts();
    if parts.method != Method::GET {
        return Err(Rejection::MethodNotAllowed);
    }
    let principal = identify(cx, &parts, &caller, rt).await?;
    if !accepts_event_stream(&parts.headers) {
        return Ok(status(StatusCode::NOT_ACCEPTABLE));
    }
    let opened = caller.streams.open(
        session::binding(&principal),
        streams::Caps {
            total: settings.max_streams,
            per_principal: settings.max_streams_per_principal,
            queue: settings.max_queued_messages,
        },
    );
    let (stream, events) = match opened {
        Ok(pair) => pair,
        Err(streams::OpenError::PrincipalFull) => {
            return Err(principal_full(cx, &caller.shared));
        }
        Err(streams::OpenError::Full) => {
            return Err(replica_full(cx, &caller.shared));
        }
        Err(e) => {
            tracing::warn!(error = %e, "legacy SSE stream refused");
            return Ok(status(StatusCode::SERVICE_UNAVAILABLE));
        }
    };
    let endpoint = format!("{}?sessionId={}", settings.messages_path, stream.id);
    stream.send(bytes::Bytes::from(format!(
        "event: endpoint\ndata: {endpoint}\n\n"
    )));
    let drain = caller.shared.draining();
    let body = body::EventBody::new(Arc::clone(&caller.streams), stream, events, drain);
    let mut response = Response::new(body.boxed_unsync());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// The refusal of a stream over the principal's cap, as the pipeline's own
/// limits refuse (429, metric, audit event naming the cap).
fn principal_full(cx: &RequestContext, shared: &Shared) -> Rejection {
    tracing::warn!("legacy SSE stream refused: the principal holds too many");
    // A stream frees its slot when its client leaves, which cannot be
    // foreseen: the hint is short.
    crate::ratelimit::refuse(
        cx,
        shared,
        "listen.legacy_sse.max_streams_per_principal",
        "principal",
        std::time::Duration::from_secs(5),
    )
}

/// The refusal of a stream over the replica's cap: 503 with `Retry-After`,
/// counted and audited as the limits are (the event names the cap).
fn replica_full(cx: &RequestContext, shared: &Shared) -> Rejection {
    const LIMIT: &str = "listen.legacy_sse.max_streams";
    let retry_after = std::time::Duration::from_secs(5);
    tracing::warn!("legacy SSE stream refused: the replica holds {LIMIT} streams");
    crate::ratelimit::record(cx, shared, LIMIT, "replica", retry_after);
    Rejection::Overloaded {
        id: cx.rpc_id.clone(),
        limit: LIMIT.to_owned(),
        retry_after,
    }
}

/// `POST <messages_path>?sessionId=`: accepts a message for the pipeline.
async fn post(
    cx: &mut RequestContext,
    request: Request<Incoming>,
    caller: Caller,
) -> Result<Response<GatewayBody>, Rejection> {
    let snapshot = caller.shared.snapshot();
    let rt = &snapshot.config;
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST {
        return Err(Rejection::MethodNotAllowed);
    }
    let principal = identify(cx, &parts, &caller, rt).await?;
    let binding = session::binding(&principal);
    let stream = session_id(parts.uri.query())
        .and_then(|id| caller.streams.find(id, &binding))
        .ok_or(Rejection::UnknownSession { id: None })?;
    let body = read_bounded(
        body,
        rt.limits.max_request_body,
        rt.limits.body_read_timeout,
    )
    .await?;
    let id = relay::request_id(&body);
    let initialized = relay::is_initialized(&body);
    let internal = match relay::internal_request(&parts, &rt.listen.path, stream.session(), body) {
        Ok(request) => request,
        Err(e) => {
            tracing::warn!(error = %e, "legacy SSE: cannot build the internal request");
            return Ok(status(StatusCode::INTERNAL_SERVER_ERROR));
        }
    };
    // Once the session is initialized, its standalone stream carries what
    // upstreams send outside any request.
    let standalone = initialized
        .then(|| stream.session())
        .flatten()
        .and_then(|session| relay::standalone_request(&parts, &rt.listen.path, &session).ok());
    tokio::spawn(async move {
        relay::relay(
            internal,
            caller.peer,
            caller.certificate.clone(),
            Arc::clone(&caller.shared),
            Arc::clone(&stream),
            id,
        )
        .await;
        if let Some(request) = standalone {
            relay::listen(
                request,
                caller.peer,
                caller.certificate,
                caller.shared,
                stream,
            )
            .await;
        }
    });
    Ok(status(StatusCode::ACCEPTED))
}

/// The `sessionId` query parameter.
fn session_id(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("sessionId="))
        .filter(|id| !id.is_empty())
}

fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|media| media.split(';').next().unwrap_or_default().trim())
        .any(|media| {
            media.eq_ignore_ascii_case("text/event-stream")
                || media == "*/*"
                || media.eq_ignore_ascii_case("text/*")
        })
}

fn status(code: StatusCode) -> Response<GatewayBody> {
    let mut response = Response::new(empty());
    *response.status_mut() = code;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_id_is_read_from_the_query() {
        assert_eq!(session_id(Some("sessionId=ab12")), Some("ab12"));
        assert_eq!(session_id(Some("x=1&sessionId=ab12")), Some("ab12"));
        assert_eq!(session_id(Some("sessionId=")), None);
        assert_eq!(session_id(None), None);
    }
}
