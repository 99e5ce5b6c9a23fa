//! Answering an upstream on the client's behalf.
//!
//! A server-to-client request the injection filter withholds (a sampling
//! request carrying an injection, an elicitation asking the user for a
//! password) never reaches the client, so the client never answers it. Left
//! alone, the server would wait for that answer until its own timeout, with the
//! tool call that asked held open meanwhile. The gateway answers in the
//! client's place instead, at once, with a JSON-RPC error that says the request
//! was withheld and why: never a made-up result (no "declined" the user did not
//! choose, no sampled text the model did not write).
//!
//! Over a shared connection (stdio, HTTP+SSE) the multiplexer's handle for the
//! request takes the error. Over Streamable HTTP the error is POSTed to the
//! upstream in the session the request came from, as the client's answer would
//! have been: [`AnswerTo`] keeps what that POST needs.

use super::authorize::Permit;
use crate::protocol::RequestId;
use crate::protocol::rpc_error::{CONTENT_BLOCKED, error_body};
use crate::session::SessionState;
use crate::upstream::{HttpUpstream, headers};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, header};
use http_body_util::Full;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Most gateway answers in flight at once: an upstream that floods a stream
/// with withheld requests is not answered past this (it waits, as it would
/// for a silent client).
const MAX_IN_FLIGHT: usize = 64;
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// A server-to-client request the client will not see.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// The id the upstream gave it (not the id a federated client would see).
    pub id: RequestId,
    /// Why, for the upstream and its logs.
    pub reason: String,
}

impl Refused {
    /// The JSON-RPC error the upstream gets.
    pub fn body(&self) -> Bytes {
        error_body(Some(&self.id), CONTENT_BLOCKED, &self.reason, None)
    }
}

/// Where a Streamable HTTP upstream takes an answer: its client, and the
/// headers of a POST in the upstream's own session.
#[derive(Clone)]
pub struct AnswerTo {
    client: HttpUpstream,
    headers: HeaderMap,
    /// The caller's token, for an upstream whose token is exchanged for it.
    subject: Option<Arc<str>>,
}

impl std::fmt::Debug for AnswerTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials are marked sensitive in the headers; the caller's token
        // is not shown at all.
        f.debug_struct("AnswerTo")
            .field("url", &self.client.settings().url)
            .field("headers", &self.headers)
            .field("subject", &self.subject.as_ref().map(|_| "<token>"))
            .finish()
    }
}

impl AnswerTo {
    /// For answers in the session of the client request with `received`
    /// headers: the upstream's credentials and session id (see
    /// [`headers::request_headers`], [`super::forward::upstream_session`]),
    /// without what only described the client's request.
    pub fn new(
        permit: &Permit,
        received: &HeaderMap,
        client: &HttpUpstream,
        session: Option<&SessionState>,
        upstream: &str,
        federated: bool,
    ) -> AnswerTo {
        let mut headers = headers::request_headers(received, client.settings());
        super::forward::upstream_session(&mut headers, session, upstream, federated);
        let described: Vec<_> = headers
            .keys()
            .filter(|k| k.as_str().starts_with("mcp-param-"))
            .cloned()
            .collect();
        for name in described {
            headers.remove(name);
        }
        for name in ["mcp-method", "mcp-name", "last-event-id", "traceparent"] {
            headers.remove(name);
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        AnswerTo {
            client: client.clone(),
            headers,
            subject: permit.subject_owned(),
        }
    }

    /// POSTs the error for `refused` to the upstream, without waiting for it.
    pub fn send(&self, refused: &Refused) {
        if IN_FLIGHT.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
            IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(id = ?refused.id, "too many gateway answers in flight; this withheld request goes unanswered");
            return;
        }
        let client = self.client.clone();
        let mut request = match Request::builder()
            .method(Method::POST)
            .uri(client.settings().url.clone())
            .body(Full::new(refused.body()))
        {
            Ok(r) => r,
            Err(e) => {
                IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
                tracing::warn!(error = %e, "the gateway's answer could not be built");
                return;
            }
        };
        *request.headers_mut() = self.headers.clone();
        let id = refused.id.clone();
        let permit = Permit::gateway_answer(self.subject.clone());
        tokio::spawn(async move {
            match client.send(&permit, request).await {
                Ok(r) if r.status().is_success() => {
                    tracing::debug!(?id, "answered a withheld server request for the client");
                }
                Ok(r) => {
                    tracing::warn!(?id, status = %r.status(), "the upstream refused the gateway's answer to a withheld request");
                }
                Err(e) => {
                    tracing::warn!(?id, error = %e, "the gateway's answer to a withheld request was not delivered");
                }
            }
            IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
        });
    }
}
