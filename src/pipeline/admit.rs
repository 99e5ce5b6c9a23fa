//! Stage 1, admit: HTTP-level checks that cost nothing and need no identity.
//!
//! Contract: the request targets the MCP endpoint with a method it serves; it names
//! exactly one allowed host (DNS-rebinding protection: `421` otherwise, as the MCP
//! SDKs answer); any `Origin` is allowed (`403` otherwise); its framing is
//! unambiguous; a POST declares a JSON body. Nothing is read from the body here.

use super::respond::Rejection;
use crate::config::Runtime;
use http::header::{self, HeaderMap};
use http::request::Parts;
use http::{Method, Version};

/// Marks a request whose head carried both `Content-Length` and
/// `Transfer-Encoding` on the wire, as the server's framing watcher saw it (a
/// request extension: hyper drops `Content-Length` before the gateway sees the
/// head).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BothLengths;

/// Admits or rejects the request head.
pub fn admit(parts: &Parts, rt: &Runtime) -> Result<(), Rejection> {
    if parts.uri.path() != rt.listen.path {
        return Err(Rejection::UnknownPath);
    }
    if !matches!(parts.method, Method::GET | Method::POST | Method::DELETE) {
        return Err(Rejection::MethodNotAllowed);
    }
    admit_head(parts, rt)
}

/// The checks of [`admit`] that do not depend on the endpoint: Host, Origin,
/// framing and media type. The legacy HTTP+SSE endpoints, which have paths of
/// their own, apply exactly these.
pub fn admit_head(parts: &Parts, rt: &Runtime) -> Result<(), Rejection> {
    let host = authority(parts)?;
    if !rt.admission.host_allowed(host) {
        return Err(Rejection::HostNotAllowed);
    }
    let mut origins = parts.headers.get_all(header::ORIGIN).iter();
    match (origins.next(), origins.next()) {
        (None, _) => {}
        (Some(origin), None) => match origin.to_str() {
            Ok(o) if rt.admission.origin_allowed(o) => {}
            _ => return Err(Rejection::OriginNotAllowed),
        },
        (Some(_), Some(_)) => return Err(Rejection::OriginNotAllowed),
    }
    if parts.extensions.get::<BothLengths>().is_some()
        || (parts.headers.contains_key(header::TRANSFER_ENCODING)
            && parts.headers.contains_key(header::CONTENT_LENGTH))
    {
        // A front proxy may have read this by length: refuse instead of guessing.
        // hyper 1.x's HTTP/1 parser drops Content-Length when Transfer-Encoding
        // is present, so the marker set from the wire (server::framing) is what
        // catches it; h2 refuses Transfer-Encoding; the header check is the
        // backstop for a parser that would pass both.
        return Err(Rejection::AmbiguousFraming);
    }
    if parts.method == Method::POST && !is_json(&parts.headers) {
        return Err(Rejection::UnsupportedMediaType);
    }
    Ok(())
}

/// The one authority the request names: HTTP/1.1 `Host` (exactly one), or the
/// HTTP/2 `:authority` (which must agree with a `Host` header if both are sent).
fn authority(parts: &Parts) -> Result<&str, Rejection> {
    let mut hosts = parts.headers.get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err(Rejection::BadHost),
        (Some(h), None) => Some(h.to_str().map_err(|_| Rejection::BadHost)?),
        (None, _) => None,
    };
    let uri_authority = parts.uri.authority().map(|a| a.as_str());
    match (parts.version >= Version::HTTP_2, uri_authority, host) {
        (true, Some(a), Some(h)) if !a.eq_ignore_ascii_case(h) => Err(Rejection::BadHost),
        (true, Some(a), _) => Ok(a),
        (_, _, Some(h)) => Ok(h),
        _ => Err(Rejection::BadHost),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;
    use http::Request;
    use std::path::Path;

    fn rt() -> Runtime {
        load_str(
            "listen:\n  address: 127.0.0.1:0\nupstream:\n  url: http://127.0.0.1:1/mcp\nauthentication:\n  mode: none\naudit:\n  disabled: true\n",
            Path::new("t.yaml"),
        )
        .unwrap()
    }

    fn head(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut b = Request::builder().method(method).uri("/mcp");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn rebinding_hosts_and_origins_are_refused() {
        let rt = rt();
        let json = ("content-type", "application/json");
        let ok = head(Method::POST, &[("host", "127.0.0.1:8080"), json]);
        assert!(admit(&ok, &rt).is_ok());
        let evil = head(Method::POST, &[("host", "evil.example.com"), json]);
        assert!(matches!(admit(&evil, &rt), Err(Rejection::HostNotAllowed)));
        let origin = head(
            Method::POST,
            &[
                ("host", "localhost:1"),
                ("origin", "http://evil.example.com"),
                json,
            ],
        );
        assert!(matches!(
            admit(&origin, &rt),
            Err(Rejection::OriginNotAllowed)
        ));
        let null = head(
            Method::POST,
            &[("host", "localhost:1"), ("origin", "null"), json],
        );
        assert!(matches!(
            admit(&null, &rt),
            Err(Rejection::OriginNotAllowed)
        ));
        let good = head(
            Method::POST,
            &[
                ("host", "localhost:1"),
                ("origin", "http://localhost:5173"),
                json,
            ],
        );
        assert!(admit(&good, &rt).is_ok());
        let two = head(
            Method::POST,
            &[("host", "localhost:1"), ("host", "localhost:2"), json],
        );
        assert!(matches!(admit(&two, &rt), Err(Rejection::BadHost)));
        let none = head(Method::POST, &[json]);
        assert!(matches!(admit(&none, &rt), Err(Rejection::BadHost)));
    }

    #[test]
    fn framing_method_path_and_media_type_are_checked() {
        let rt = rt();
        let h = ("host", "localhost");
        let smuggle = head(
            Method::POST,
            &[
                h,
                ("content-type", "application/json"),
                ("content-length", "5"),
                ("transfer-encoding", "chunked"),
            ],
        );
        assert!(matches!(
            admit(&smuggle, &rt),
            Err(Rejection::AmbiguousFraming)
        ));
        assert!(matches!(
            admit(&head(Method::PUT, &[h]), &rt),
            Err(Rejection::MethodNotAllowed)
        ));
        assert!(matches!(
            admit(
                &head(Method::POST, &[h, ("content-type", "text/plain")]),
                &rt
            ),
            Err(Rejection::UnsupportedMediaType)
        ));
        assert!(
            admit(
                &head(
                    Method::POST,
                    &[h, ("content-type", "Application/JSON; charset=utf-8")]
                ),
                &rt
            )
            .is_ok()
        );
        assert!(admit(&head(Method::GET, &[h]), &rt).is_ok());
        let mut other = head(Method::GET, &[h]);
        other.uri = "/other".parse().unwrap();
        assert!(matches!(admit(&other, &rt), Err(Rejection::UnknownPath)));
    }
}
