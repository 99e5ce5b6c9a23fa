//! Where an HTTP+SSE server wants its messages POSTed: the URI of its
//! `endpoint` event, resolved against the SSE URL (RFC 3986, section 5).
//!
//! The gateway refuses an endpoint on another origin (scheme, host, port) than
//! the configured URL: the server must not redirect the gateway, with the
//! upstream's credentials headers and the clients' messages, to a host the
//! operator never configured. Pure: takes values, returns values.

use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme};

/// Why an `endpoint` event is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The event's data is not a URI reference.
    #[error("the endpoint `{0}` is not a valid URI reference")]
    Invalid(String),
    /// It names another scheme, host or port than the configured URL.
    #[error(
        "the endpoint `{endpoint}` is on another origin than the configured URL ({origin}); \
         refused: a server may not redirect the gateway elsewhere"
    )]
    ForeignOrigin {
        /// The endpoint as the server sent it.
        endpoint: String,
        /// The configured origin.
        origin: String,
    },
}

/// Resolves `endpoint` (the `endpoint` event's data) against `base` (the SSE
/// URL). A relative reference keeps the base's origin; an absolute one (or a
/// network-path `//host/...`) must have the base's origin. A fragment is dropped.
pub fn resolve(base: &Uri, endpoint: &str) -> Result<Uri, EndpointError> {
    let invalid = || EndpointError::Invalid(endpoint.to_owned());
    let reference = endpoint.trim();
    let reference = reference.split('#').next().unwrap_or_default();
    if reference.is_empty() || reference.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return Err(invalid());
    }
    let (Some(scheme), Some(authority)) = (base.scheme(), base.authority()) else {
        return Err(invalid());
    };
    let (scheme_of, authority_of, path) = if let Some(rest) = reference.strip_prefix("//") {
        let (authority, path) = split_authority(rest);
        (
            scheme.clone(),
            parse_authority(authority).ok_or_else(invalid)?,
            path.to_owned(),
        )
    } else if has_scheme(reference) {
        let uri: Uri = reference.parse().map_err(|_| invalid())?;
        let (Some(s), Some(a)) = (uri.scheme(), uri.authority()) else {
            return Err(invalid());
        };
        let path = uri.path_and_query().map_or("/", PathAndQuery::as_str);
        (s.clone(), a.clone(), path.to_owned())
    } else if reference.starts_with('/') {
        (scheme.clone(), authority.clone(), reference.to_owned())
    } else {
        (
            scheme.clone(),
            authority.clone(),
            merge(base.path(), reference),
        )
    };
    if !same_origin((scheme, authority), (&scheme_of, &authority_of)) {
        return Err(EndpointError::ForeignOrigin {
            endpoint: endpoint.to_owned(),
            origin: format!("{scheme}://{authority}"),
        });
    }
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    Uri::builder()
        .scheme(scheme_of)
        .authority(authority_of)
        .path_and_query(path)
        .build()
        .map_err(|_| invalid())
}

/// Whether `reference` starts with `scheme:` (RFC 3986 section 3.1).
fn has_scheme(reference: &str) -> bool {
    let head = reference.split(['/', '?']).next().unwrap_or_default();
    match head.split_once(':') {
        Some((scheme, _)) => {
            let mut chars = scheme.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

fn split_authority(rest: &str) -> (&str, &str) {
    match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    }
}

fn parse_authority(text: &str) -> Option<Authority> {
    text.parse().ok()
}

/// A relative path reference merged with the base path (its last segment replaced).
fn merge(base_path: &str, reference: &str) -> String {
    let dir = base_path.rfind('/').map_or("/", |i| &base_path[..=i]);
    format!("{dir}{reference}")
}

/// Same scheme, host (case-insensitive) and port (the scheme's default when absent).
fn same_origin(a: (&Scheme, &Authority), b: (&Scheme, &Authority)) -> bool {
    let port = |s: &Scheme, x: &Authority| {
        x.port_u16().or(if *s == Scheme::HTTPS {
            Some(443)
        } else {
            Some(80)
        })
    };
    a.0 == b.0 && a.1.host().eq_ignore_ascii_case(b.1.host()) && port(a.0, a.1) == port(b.0, b.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Uri {
        "http://127.0.0.1:3001/mcp/sse".parse().unwrap()
    }

    fn resolved(endpoint: &str) -> Result<String, EndpointError> {
        resolve(&base(), endpoint).map(|u| u.to_string())
    }

    #[test]
    fn an_absolute_path_keeps_the_configured_origin() {
        assert_eq!(
            resolved("/message?sessionId=abc").unwrap(),
            "http://127.0.0.1:3001/message?sessionId=abc"
        );
    }

    #[test]
    fn a_relative_path_resolves_against_the_sse_urls_folder() {
        assert_eq!(
            resolved("messages/?session_id=1").unwrap(),
            "http://127.0.0.1:3001/mcp/messages/?session_id=1"
        );
    }

    #[test]
    fn an_absolute_url_on_the_same_origin_is_accepted() {
        assert_eq!(
            resolved("http://127.0.0.1:3001/message?x=1#frag").unwrap(),
            "http://127.0.0.1:3001/message?x=1"
        );
        let https: Uri = "https://Example.com/sse".parse().unwrap();
        assert_eq!(
            resolve(&https, "https://example.com:443/m")
                .unwrap()
                .to_string(),
            "https://example.com:443/m"
        );
    }

    #[test]
    fn an_endpoint_on_another_origin_is_refused() {
        for foreign in [
            "http://evil.example/message",
            "http://127.0.0.1:3002/message",
            "https://127.0.0.1:3001/message",
            "//evil.example/message",
        ] {
            assert!(
                matches!(resolved(foreign), Err(EndpointError::ForeignOrigin { .. })),
                "{foreign}: {:?}",
                resolved(foreign)
            );
        }
    }

    #[test]
    fn garbage_is_not_an_endpoint() {
        for bad in ["", "  ", "/a b", "http://", "/x\u{7f}"] {
            assert!(
                matches!(resolved(bad), Err(EndpointError::Invalid(_))),
                "{bad:?}"
            );
        }
    }
}
