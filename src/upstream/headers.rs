//! Which headers cross the gateway, in each direction.
//!
//! Hop-by-hop headers (RFC 9110 §7.6.1, and any header the `Connection` header
//! nominates) belong to one connection and are never copied. Framing headers are
//! never copied either: hyper re-frames every message it sends, so a smuggled
//! `Content-Length`/`Transfer-Encoding` pair cannot reach the upstream. The client's
//! credentials (`Authorization`, `Cookie`) are not forwarded: the MCP authorization
//! spec forbids passing a client's token through, and upstream credentials come
//! from the gateway's own configuration. Headers a client could use to claim
//! another address, host or scheme (`Forwarded`, every `X-Forwarded-*`, and the
//! client-IP headers CDNs and proxies use, such as `True-Client-IP`) are
//! dropped: the gateway adds none of its own, so the upstream never sees a
//! client's claim as if a proxy had vouched for it. `Host` is rewritten to
//! the upstream's, and a client `Origin` (already checked by admission) is rewritten
//! to the upstream's origin, because the upstream's own rebinding check would
//! otherwise refuse the gateway.

use crate::config::HttpSettings;
use http::HeaderMap;
use http::header::{self, HeaderName};

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
];

const NEVER_FORWARDED_UP: [&str; 5] = [
    "host",
    "content-length",
    "authorization",
    "cookie",
    "forwarded",
];

/// Headers that carry a client address some proxy or CDN vouches for. A client
/// can send any of them; only a trusted proxy in front could make them true.
const CLAIMED_ADDRESS: [&str; 6] = [
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "x-cluster-client-ip",
    "fastly-client-ip",
];

/// `X-Forwarded-For`, `-Host`, `-Proto`, `-Port`, `-Prefix`, `-Server`, ...
const FORWARDED_PREFIX: &str = "x-forwarded-";

const NEVER_FORWARDED_DOWN: [&str; 2] = ["content-length", "set-cookie"];

/// Headers named by `Connection` (they are hop-by-hop too).
fn nominated(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect()
}

fn copy_except(src: &HeaderMap, dst: &mut HeaderMap, extra: &[&str], claims: bool) {
    let nominated = nominated(src);
    for (name, value) in src {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n)
            || extra.contains(&n)
            || (claims && (CLAIMED_ADDRESS.contains(&n) || n.starts_with(FORWARDED_PREFIX)))
            || nominated.contains(name)
        {
            continue;
        }
        dst.append(name.clone(), value.clone());
    }
}

/// The headers sent upstream for a client request.
pub fn request_headers(client: &HeaderMap, upstream: &HttpSettings) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(client.len() + 1 + upstream.headers.len());
    copy_except(client, &mut out, &NEVER_FORWARDED_UP, true);
    out.insert(header::HOST, upstream.host.clone());
    if out.contains_key(header::ORIGIN) {
        out.insert(header::ORIGIN, upstream.origin.clone());
    }
    // The upstream's own credentials, from configuration.
    for (name, value) in &upstream.headers {
        out.insert(name.clone(), value.clone());
    }
    out
}

/// The headers sent to the client for an upstream response.
pub fn response_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(upstream.len() + 1);
    copy_except(upstream, &mut out, &NEVER_FORWARDED_DOWN, false);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn settings() -> HttpSettings {
        HttpSettings {
            headers: vec![(
                http::HeaderName::from_static("authorization"),
                HeaderValue::from_static("Bearer upstream-own"),
            )],
            oauth: None,
            tls: std::sync::Arc::new(
                rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                    rustls::crypto::aws_lc_rs::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
            ),
            url: "http://127.0.0.1:3000/mcp".parse().unwrap(),
            host: HeaderValue::from_static("127.0.0.1:3000"),
            origin: HeaderValue::from_static("http://127.0.0.1:3000"),
            connect_timeout: std::time::Duration::from_secs(1),
            response_timeout: std::time::Duration::from_secs(1),
            http2: false,
        }
    }

    #[test]
    fn hop_by_hop_credentials_and_spoofable_headers_are_not_forwarded() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("host", "gw.example"),
            ("connection", "keep-alive, x-secret"),
            ("x-secret", "1"),
            ("transfer-encoding", "chunked"),
            ("content-length", "5"),
            ("authorization", "Bearer client-token"),
            ("cookie", "a=b"),
            ("x-forwarded-for", "1.2.3.4"),
            ("forwarded", "for=1.2.3.4"),
            ("x-real-ip", "1.2.3.4"),
            ("x-forwarded-port", "6666"),
            ("x-forwarded-prefix", "/evil"),
            ("true-client-ip", "1.2.3.4"),
            ("cf-connecting-ip", "1.2.3.4"),
            ("mcp-session-id", "abc"),
            ("mcp-protocol-version", "2025-11-25"),
            ("last-event-id", "7"),
            ("mcp-param-region", "eu"),
            ("origin", "http://localhost:5173"),
        ] {
            h.append(k, HeaderValue::from_static(v));
        }
        let out = request_headers(&h, &settings());
        let names: Vec<_> = out.keys().map(|k| k.as_str()).collect();
        for gone in [
            "connection",
            "x-secret",
            "transfer-encoding",
            "content-length",
            "cookie",
            "x-forwarded-for",
            "forwarded",
            "x-real-ip",
            "x-forwarded-port",
            "x-forwarded-prefix",
            "true-client-ip",
            "cf-connecting-ip",
        ] {
            assert!(!names.contains(&gone), "{gone} forwarded");
        }
        for kept in [
            "mcp-session-id",
            "mcp-protocol-version",
            "last-event-id",
            "mcp-param-region",
        ] {
            assert!(names.contains(&kept), "{kept} dropped");
        }
        assert_eq!(out["host"], "127.0.0.1:3000");
        assert_eq!(
            out["authorization"], "Bearer upstream-own",
            "the upstream's own credential, not the client's"
        );
        assert_eq!(out["origin"], "http://127.0.0.1:3000");
    }

    #[test]
    fn response_headers_keep_mcp_headers_and_drop_framing() {
        let mut h = HeaderMap::new();
        h.append("mcp-session-id", HeaderValue::from_static("s"));
        h.append(
            "content-type",
            HeaderValue::from_static("text/event-stream"),
        );
        h.append("transfer-encoding", HeaderValue::from_static("chunked"));
        h.append("content-length", HeaderValue::from_static("3"));
        h.append("set-cookie", HeaderValue::from_static("track=1"));
        let out = response_headers(&h);
        assert_eq!(out.len(), 2);
        assert!(out.contains_key("mcp-session-id"));
    }
}
