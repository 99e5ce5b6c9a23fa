//! Stage 7, forward: send the request to the upstream.
//!
//! Contract: needs the [`Permit`] from authorization. Sends the body bytes exactly
//! as received (no re-serialisation) with the filtered headers of
//! [`crate::upstream::headers`], and returns the upstream's response head. Failures
//! become a refusal that names the request's id and nothing about the upstream.

use super::authorize::Permit;
use super::context::RequestContext;
use super::parse::{Inbound, InboundKind};
use super::respond::Rejection;
use crate::upstream::{Upstream, headers};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;

/// Forwards the request and returns the upstream's response.
pub async fn forward(
    permit: &Permit,
    cx: &RequestContext,
    inbound: &Inbound,
    upstream: &Upstream,
) -> Result<Response<Incoming>, Rejection> {
    let settings = upstream.settings();
    let body = match &inbound.kind {
        InboundKind::Messages(envelope) => inbound
            .forward_body
            .clone()
            .unwrap_or_else(|| envelope.raw().clone()),
        InboundKind::OpenStream | InboundKind::EndSession => Bytes::new(),
    };
    let mut request = Request::builder()
        .method(inbound.parts.method.clone())
        .uri(settings.url.clone())
        .body(Full::new(body))
        .map_err(|e| Rejection::Upstream {
            id: cx.rpc_id.clone(),
            error: e.into(),
        })?;
    *request.headers_mut() = headers::request_headers(&inbound.parts.headers, settings);
    upstream
        .send(permit, request)
        .await
        .map_err(|error| Rejection::Upstream {
            id: cx.rpc_id.clone(),
            error,
        })
}
