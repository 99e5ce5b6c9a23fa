//! The HTTP client authentication uses to talk to authorization servers: JWKS,
//! discovery metadata, token endpoints. Bounded in time and in bytes read.
//!
//! Invariant: URLs come from the configuration or from the issuer's metadata,
//! never from a token; `https` is required except on loopback (checked where
//! URLs are compiled and where metadata is read, see [`allowed_url`]).

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;

/// Why a fetch failed (logged; never shown to clients).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connecting or sending failed.
    #[error("request to {url} failed: {source}")]
    Send {
        /// The URL.
        url: String,
        /// Why.
        source: hyper_util::client::legacy::Error,
    },
    /// No complete answer in time.
    #[error("no answer from {0} in time")]
    Timeout(String),
    /// The body could not be read or was too large.
    #[error("reading the answer from {0} failed or it exceeded the size bound")]
    Body(String),
    /// A status other than 200.
    #[error("{url} answered {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: StatusCode,
    },
    /// The request could not be built.
    #[error("invalid request to {0}")]
    Request(String),
}

/// An answer read in full.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// A small HTTPS client with a timeout and a body bound.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    max_body: usize,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

/// Whether `url` may be fetched: `https`, or `http` to a loopback host.
pub fn allowed_url(url: &Uri) -> bool {
    match (url.scheme_str(), url.host()) {
        (Some("https"), Some(_)) => true,
        (Some("http"), Some(host)) => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

impl HttpClient {
    /// A client using the system's CA certificates (none if they cannot be
    /// loaded: `https` fetches then fail and say so in the log). Fails only if
    /// the TLS provider cannot be set up.
    pub fn new(timeout: Duration, max_body: usize) -> Result<HttpClient, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match builder.with_provider_and_native_roots(Arc::clone(&provider)) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "no system CA certificates: https fetches will fail");
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| format!("TLS client configuration: {e}"))?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
            }
        };
        let connector = builder.https_or_http().enable_http1().build();
        Ok(HttpClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
            max_body,
        })
    }

    /// GETs `url` expecting 200 and JSON.
    pub async fn get(&self, url: &Uri) -> Result<Answer, FetchError> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(url.clone())
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|_| FetchError::Request(url.to_string()))?;
        let answer = self.send(request).await?;
        if answer.status != StatusCode::OK {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: answer.status,
            });
        }
        Ok(answer)
    }

    /// POSTs a form to `url` with optional HTTP Basic client credentials.
    /// Any status is returned (token endpoints answer errors as 400 JSON).
    pub async fn post_form(
        &self,
        url: &Uri,
        form: &[(&str, &str)],
        basic: Option<&HeaderValue>,
    ) -> Result<Answer, FetchError> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(url.clone())
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(b) = basic {
            builder = builder.header(header::AUTHORIZATION, b);
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| FetchError::Request(url.to_string()))?;
        self.send(request).await
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<Answer, FetchError> {
        let url = request.uri().to_string();
        let work = async {
            let response =
                self.client
                    .request(request)
                    .await
                    .map_err(|source| FetchError::Send {
                        url: url.clone(),
                        source,
                    })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, self.max_body)
                .collect()
                .await
                .map_err(|_| FetchError::Body(url.clone()))?
                .to_bytes();
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| FetchError::Timeout(url.clone()))?
    }
}

/// `application/x-www-form-urlencoded` encoding of one component.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The `max-age` of a `Cache-Control` header; `Some(0)` for `no-cache`/`no-store`.
pub fn max_age(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(header::CACHE_CONTROL)?.to_str().ok()?;
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Some(0);
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse().ok();
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_may_be_fetched() {
        let ok = |s: &str| allowed_url(&s.parse().unwrap());
        assert!(ok("https://idp.example.com/jwks"));
        assert!(ok("http://127.0.0.1:4000/jwks"));
        assert!(ok("http://localhost/jwks"));
        assert!(ok("http://[::1]:80/jwks"));
        assert!(!ok("http://idp.example.com/jwks"));
        assert!(!ok("http://10.0.0.1/jwks"));
        assert!(!ok("/jwks"));
    }

    #[test]
    fn cache_control_gives_max_age_and_no_cache_means_zero() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::CACHE_CONTROL, v.parse().unwrap());
            max_age(&m)
        };
        assert_eq!(h("public, max-age=600"), Some(600));
        assert_eq!(h("no-cache"), Some(0));
        assert_eq!(h("public"), None);
        assert_eq!(urlencode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
