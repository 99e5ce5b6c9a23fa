//! One request over a shared connection (a stdio process): the multiplexer
//! gives it a fresh upstream id and returns an exchange; notifications and
//! answers go through the same connection.
//!
//! A server-to-client request made during an exchange reaches the client with
//! an id that names its upstream; the client's answer arrives in a later POST,
//! so the handle that answers the server waits in [`ServerRequests`] until then
//! (in this replica: the process lives here too).

use super::super::Shared;
use super::super::authorize::Permit;
use super::super::context::RequestContext;
use super::super::parse::Inbound;
use super::super::respond::Rejection;
use super::{Upstreamed, accepted, upstream_down};
use crate::config::UpstreamSpec;
use crate::protocol::jsonrpc::{self, Kind};
use crate::upstream::mux::ServerRequest;
use crate::upstream::shared::Connection;
use crate::upstream::stdio::StdioError;
use bytes::Bytes;
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
    let Some(Connection::Stdio(upstream)) = shared.connections.get(&spec.name) else {
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
    let down = |e: StdioError| match e {
        StdioError::Unavailable { .. } => Ok(Upstreamed::Composed(upstream_down(cx, &spec.name))),
        StdioError::Mux(e) => Err(Rejection::Upstream {
            id: cx.rpc_id.clone(),
            error: crate::upstream::UpstreamError::Shared(e.to_string()),
        }),
    };
    let _ = inbound;
    match message.kind() {
        Kind::Request => match upstream.request(&message).await {
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
