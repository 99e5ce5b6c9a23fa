//! Authentication: who is calling, from a short-lived bearer token.
//!
//! The gateway is an OAuth 2.1 resource server (MCP authorization spec): it
//! validates JWT access tokens issued for its own resource URI by configured
//! issuers, answers missing or invalid tokens with `401` and a challenge
//! pointing at its RFC 9728 metadata, and never forwards the client's token.
//!
//! - [`token`]: reading a compact JWS with size bounds, strictly (pure).
//! - [`keys`]: JWKS documents into keys pinned to one algorithm (pure).
//! - [`jwks`]: remote key sets with rotation-safe refresh.
//! - [`claims`]: registered-claim checks, lifetime and age bounds (pure).
//! - [`principal`]: the identity later stages read (pure).
//! - [`cache`]: validated tokens until they expire.
//! - [`revocation`]: revoked `jti`s; [`shared_revocations`]: shared through Redis.
//! - [`metadata`]: protected resource metadata and challenges (pure).
//! - [`authenticator`]: the above, in order, for one token.
//! - [`upstream_token`]: tokens the gateway itself obtains for upstreams
//!   (client credentials, RFC 8693 token exchange), cached until near expiry.
//! - [`http`]: the bounded HTTPS client for authorization servers.
//! - [`certificate`]: the identity of a mutual-TLS client certificate (pure).
//!
//! Invariant: with `authentication: { mode: jwt }` no request reaches a later
//! stage without a [`Principal`] built from a verified, unexpired, unrevoked
//! token for this resource (and, if the token is certificate-bound, presented
//! over a connection with that client certificate); with `mode: mtls`, without
//! a client certificate verified by the configured CA. Anonymous principals exist only under the explicit
//! `mode: none`.

pub mod authenticator;
pub mod cache;
pub mod certificate;
pub mod claims;
pub mod http;
pub mod jwks;
pub mod keys;
pub mod metadata;
pub mod principal;
pub mod reason;
pub mod revocation;
pub mod shared_revocations;
pub mod token;
pub mod upstream_token;

pub use authenticator::Authenticator;
pub use principal::Principal;
pub use reason::Reason;

use ::http::HeaderMap;
use ::http::header::AUTHORIZATION;
use std::sync::Arc;

/// The authentication a configuration asks for.
#[derive(Debug, Clone)]
pub enum Authn {
    /// `mode: none`: every caller is anonymous (logged loudly at start-up).
    None,
    /// `mode: jwt`: bearer JWTs from the configured issuers.
    Jwt(Arc<Authenticator>),
    /// `mode: mtls`: the verified client certificate is the caller.
    Certificate,
}

/// The bearer token of a request head, or why there is none usable.
///
/// Refused: a token in the query string (`access_token`, RFC 6750 §2.3 and the
/// MCP spec forbid it, whatever the header says); several `Authorization`
/// headers; a scheme other than `Bearer`; a value longer than `max_bytes`
/// plus the scheme; characters outside RFC 6750's `b64token`.
pub fn bearer<'h>(
    headers: &'h HeaderMap,
    query: Option<&str>,
    max_bytes: usize,
) -> Result<&'h str, Reason> {
    if query.is_some_and(has_access_token) {
        return Err(Reason::TokenInQuery);
    }
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Err(Reason::MissingToken),
        (Some(_), Some(_)) => return Err(Reason::Malformed),
        (Some(v), None) => v,
    };
    if value.len() > max_bytes.saturating_add(16) {
        return Err(Reason::Oversized);
    }
    let value = value.to_str().map_err(|_| Reason::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(Reason::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Reason::Malformed);
    }
    let token = token.trim_start_matches(' ');
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    if token.is_empty() || !token.chars().all(b64token) {
        return Err(Reason::Malformed);
    }
    if token.len() > max_bytes {
        return Err(Reason::Oversized);
    }
    Ok(token)
}

fn has_access_token(query: &str) -> bool {
    query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or("");
        name.eq_ignore_ascii_case("access_token") || name.eq_ignore_ascii_case("access%5Ftoken")
    })
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_bearer_token_is_taken_from_the_one_authorization_header() {
        assert_eq!(
            bearer(&headers(&["Bearer abc.def.ghi"]), None, 100),
            Ok("abc.def.ghi")
        );
        assert_eq!(
            bearer(&headers(&["bearer  a-b_c"]), Some("x=1"), 100),
            Ok("a-b_c")
        );
    }

    #[test]
    fn everything_else_is_refused_with_its_reason() {
        let cases: [(&[&str], Option<&str>, Reason); 7] = [
            (&[], None, Reason::MissingToken),
            (&["Bearer a"], Some("access_token=a"), Reason::TokenInQuery),
            (&[], Some("x=1&ACCESS_TOKEN=a"), Reason::TokenInQuery),
            (&["Bearer a", "Bearer b"], None, Reason::Malformed),
            (&["Basic dXNlcjpwYXNz"], None, Reason::Malformed),
            (&["Bearer a b"], None, Reason::Malformed),
            (
                &["Bearer aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
                None,
                Reason::Oversized,
            ),
        ];
        for (h, q, reason) in cases {
            assert_eq!(bearer(&headers(h), q, 8), Err(reason), "{h:?} {q:?}");
        }
    }
}
