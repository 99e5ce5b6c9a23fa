//! Stage 2, authenticate: who is calling.
//!
//! Contract: returns the [`Principal`] every later stage keys on, or a rejection
//! before any body is read: `401` with a `WWW-Authenticate` challenge pointing at
//! the protected resource metadata when the token is missing or invalid, `403`
//! `insufficient_scope` when it lacks a required scope. The failure's category is
//! put in the context for the access record and counted; the client learns only
//! `invalid_token`. With `authentication: { mode: none }` every caller is the
//! anonymous principal.
//!
//! Also here: the RFC 9728 metadata document, served on the MCP listener at the
//! well-known URIs without a token (clients need it to obtain one).

use super::Shared;
use super::body::{GatewayBody, full};
use super::context::RequestContext;
use super::respond::Rejection;
use crate::authn::{self, Authn, Reason};
use crate::config::Runtime;
use http::request::Parts;
use http::{HeaderValue, Method, Response, header};
use std::sync::{Arc, OnceLock};

pub use crate::authn::Principal;

/// The one anonymous principal shared by every request under `mode: none`.
fn anonymous() -> Arc<Principal> {
    static ANONYMOUS: OnceLock<Arc<Principal>> = OnceLock::new();
    Arc::clone(ANONYMOUS.get_or_init(|| Arc::new(Principal::anonymous())))
}

/// Identifies the caller of a request.
pub async fn authenticate(
    cx: &mut RequestContext,
    parts: &Parts,
    rt: &Runtime,
    shared: &Shared,
) -> Result<Arc<Principal>, Rejection> {
    let authenticator = match &rt.authentication.authn {
        Authn::None => return Ok(anonymous()),
        Authn::Jwt(a) => a,
    };
    let outcome = match authn::bearer(
        &parts.headers,
        parts.uri.query(),
        authenticator.max_token_bytes,
    ) {
        Ok(token) => {
            authenticator
                .validate(token, authn::now(), &shared.revocations)
                .await
        }
        Err(reason) => Err(reason),
    };
    let principal = match outcome {
        Ok(p) if authenticator.has_required_scopes(&p) => p,
        Ok(p) => {
            cx.principal = Some(p);
            return Err(refuse(cx, shared, Reason::InsufficientScope, authenticator));
        }
        Err(reason) => return Err(refuse(cx, shared, reason, authenticator)),
    };
    Ok(principal)
}

fn refuse(
    cx: &mut RequestContext,
    shared: &Shared,
    reason: Reason,
    authenticator: &authn::Authenticator,
) -> Rejection {
    cx.auth_reason = Some(reason);
    shared.auth_failures.record(reason);
    let metadata = &authenticator.metadata;
    match reason {
        Reason::InsufficientScope => Rejection::InsufficientScope {
            challenge: metadata.challenge(Some("insufficient_scope")),
        },
        Reason::MissingToken => Rejection::Unauthenticated {
            reason,
            challenge: metadata.challenge(None),
        },
        Reason::TokenInQuery | Reason::Malformed => Rejection::Unauthenticated {
            reason,
            challenge: metadata.challenge(Some("invalid_request")),
        },
        _ => Rejection::Unauthenticated {
            reason,
            challenge: metadata.challenge(Some("invalid_token")),
        },
    }
}

/// The protected resource metadata, if `parts` asks for it (a GET of one of the
/// well-known paths with `mode: jwt`). Public and cacheable for a short while.
pub fn metadata(parts: &Parts, rt: &Runtime) -> Option<Response<GatewayBody>> {
    let Authn::Jwt(authenticator) = &rt.authentication.authn else {
        return None;
    };
    let metadata = &authenticator.metadata;
    if parts.method != Method::GET || !metadata.serves(parts.uri.path()) {
        return None;
    }
    let mut response = Response::new(full(metadata.document.clone()));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    // Browser-based MCP clients read it cross-origin; it holds nothing secret.
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Some(response)
}
