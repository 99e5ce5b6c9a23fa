//! Stage 2, authenticate: who is calling.
//!
//! Contract: returns the [`Principal`] every later stage keys on, or a rejection
//! before any body is read: `401` with a `WWW-Authenticate` challenge pointing at
//! the protected resource metadata when the token is missing or invalid, `403`
//! `insufficient_scope` when it lacks a required scope. The failure's category is
//! put in the context for the access record and counted; the client learns only
//! `invalid_token`. With `authentication: { mode: none }` every caller is the
//! anonymous principal; with `mode: mtls`, the principal is the connection's
//! verified client certificate. A certificate-bound token (RFC 8705) is refused
//! on a connection without that certificate.
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
        Authn::Certificate => return certificate(cx, shared),
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
    let outcome = outcome.and_then(|p| bound(&p, cx).map(|()| p));
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

/// RFC 8705: a token bound to a client certificate (`cnf.x5t#S256`) is only
/// accepted on a connection that presented that certificate.
fn bound(principal: &Principal, cx: &RequestContext) -> Result<(), Reason> {
    let Some(expected) = principal.certificate_binding.as_deref() else {
        return Ok(());
    };
    match &cx.client_certificate {
        Some(cert) if cert.thumbprint == expected => Ok(()),
        _ => Err(Reason::CertificateMismatch),
    }
}

/// `mode: mtls`: the connection's verified client certificate is the caller.
fn certificate(cx: &mut RequestContext, shared: &Shared) -> Result<Arc<Principal>, Rejection> {
    match &cx.client_certificate {
        Some(cert) => Ok(Arc::new(cert.principal())),
        None => {
            // Unreachable with client_auth: required (checked at load), kept fail-closed.
            cx.auth_reason = Some(Reason::MissingCertificate);
            shared.auth_failures.record(Reason::MissingCertificate);
            Err(Rejection::Unauthenticated {
                reason: Reason::MissingCertificate,
                challenge: None,
            })
        }
    }
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
            challenge: Some(metadata.challenge(None)),
        },
        Reason::TokenInQuery | Reason::Malformed => Rejection::Unauthenticated {
            reason,
            challenge: Some(metadata.challenge(Some("invalid_request"))),
        },
        _ => Rejection::Unauthenticated {
            reason,
            challenge: Some(metadata.challenge(Some("invalid_token"))),
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
