//! One request to one Streamable HTTP upstream.

use super::super::authorize::Permit;
use super::super::context::RequestContext;
use super::super::parse::Inbound;
use super::super::respond::Rejection;
use crate::config::{Runtime, UpstreamSpec};
use crate::federation::route::Rewrite;
use crate::protocol::mirrored::MCP_NAME;
use crate::session::SessionState;
use crate::upstream::{HttpUpstream, headers};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;

/// The header carrying a legacy session id.
pub const SESSION_HEADER: &str = "mcp-session-id";

/// Sends `body` to `client` with the headers this upstream should see.
#[allow(clippy::too_many_arguments)]
pub async fn send(
    permit: &Permit,
    cx: &RequestContext,
    inbound: &Inbound,
    client: &HttpUpstream,
    spec: &UpstreamSpec,
    body: Bytes,
    rewrite: &Rewrite,
    rt: &Runtime,
) -> Result<Response<Incoming>, Rejection> {
    let mut headers = headers::request_headers(&inbound.parts.headers, client.settings());
    upstream_session(
        &mut headers,
        inbound.session.as_ref(),
        &spec.name,
        !rt.federation.naming.is_identity(),
    );
    if let (Rewrite::Name(inner), true) = (rewrite, headers.contains_key(MCP_NAME))
        && let Ok(value) = HeaderValue::from_str(inner)
    {
        // The mirrored name must match the upstream-side body.
        headers.insert(MCP_NAME, value);
    }
    send_with(
        permit,
        cx,
        client,
        inbound.parts.method.clone(),
        headers,
        body,
    )
    .await
}

/// Sends a request with exactly these headers.
pub async fn send_with(
    permit: &Permit,
    cx: &RequestContext,
    client: &HttpUpstream,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response<Incoming>, Rejection> {
    let mut request = Request::builder()
        .method(method)
        .uri(client.settings().url.clone())
        .body(Full::new(body))
        .map_err(|e| Rejection::Upstream {
            id: cx.rpc_id.clone(),
            error: e.into(),
        })?;
    *request.headers_mut() = headers;
    // With tracing on, the upstream's parent is the gateway's upstream span (same
    // trace id as the client's); off, the client's `traceparent` goes as received.
    if let Some(traceparent) = super::super::traced::upstream_traceparent(cx) {
        request.headers_mut().insert("traceparent", traceparent);
    }
    client
        .send(permit, request)
        .await
        .map_err(|error| Rejection::Upstream {
            id: cx.rpc_id.clone(),
            error,
        })
}

/// Replaces the client's (sealed) session id by the upstream's own session,
/// and, in a federation, the protocol version by the one this upstream
/// negotiated. Without a session for this upstream, no session header goes.
pub fn upstream_session(
    headers: &mut HeaderMap,
    state: Option<&SessionState>,
    upstream: &str,
    federated: bool,
) {
    headers.remove(SESSION_HEADER);
    let Some(own) = state.and_then(|s| s.upstream(upstream)) else {
        return;
    };
    if let Some(id) = own.session.as_deref()
        && let Ok(value) = HeaderValue::from_str(id)
    {
        headers.insert(SESSION_HEADER, value);
    }
    if federated
        && headers.contains_key("mcp-protocol-version")
        && let Ok(value) = HeaderValue::from_str(&own.version)
    {
        headers.insert("mcp-protocol-version", value);
    }
}
