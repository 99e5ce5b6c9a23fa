//! A Streamable HTTP client for `scan server`, on the gateway's own pooled
//! upstream client (`crate::upstream::client`): POST one JSON-RPC request,
//! read the answer as JSON or as an event stream (the server chooses), keep the
//! `Mcp-Session-Id` it assigns, and `DELETE` the session at the end.
//!
//! Invariants: each exchange (connect, headers and the whole body) ends within
//! the timeout; a body or event larger than [`MAX_BODY`] is refused; server
//! requests and notifications on the stream are skipped (the scan declared no
//! client capabilities), only the response with the request's id is taken.

use super::transport::{Hello, ProbeError, initialize_params, one_line, outcome};
use crate::config::HttpSettings;
use crate::protocol::sse::Decoder;
use crate::upstream::PooledClient;
use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Most bytes read from one answer (JSON body or event stream).
pub const MAX_BODY: usize = 32 << 20;

/// The protocol version offered in `initialize`.
const OFFERED_VERSION: &str = "2025-11-25";
const SESSION_ID: &str = "mcp-session-id";
const PROTOCOL_VERSION: &str = "mcp-protocol-version";

/// One Streamable HTTP session.
pub struct HttpClient {
    client: PooledClient,
    url: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    session: Option<HeaderValue>,
    version: Option<HeaderValue>,
    timeout: Duration,
    next_id: u64,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers stay out: they usually carry credentials.
        f.debug_struct("HttpClient")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Parses `Name: value` (from `--header`).
pub fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), ProbeError> {
    let usage = || ProbeError::Usage(format!("--header `{text}`: expected `Name: value`"));
    let (name, value) = text.split_once(':').ok_or_else(usage)?;
    let name = HeaderName::try_from(name.trim()).map_err(|_| usage())?;
    let mut value = HeaderValue::try_from(value.trim()).map_err(|_| usage())?;
    value.set_sensitive(true);
    Ok((name, value))
}

/// The upstream settings for `url`: the system's CA certificates, the scan's
/// timeout for connecting and for response headers, HTTP/1.1 (or h2 by ALPN).
fn settings(
    url: &str,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
) -> Result<HttpSettings, ProbeError> {
    let bad = || {
        ProbeError::Usage(format!(
            "`{url}` is not an absolute http:// or https:// URL"
        ))
    };
    let uri: Uri = url.parse().map_err(|_| bad())?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(bad());
    };
    if !matches!(scheme, "http" | "https") {
        return Err(bad());
    }
    let mut roots = rustls::RootCertStore::empty();
    if scheme == "https" {
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ProbeError::Usage(format!("TLS client configuration: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let header = |v: String| HeaderValue::try_from(v).map_err(|_| bad());
    Ok(HttpSettings {
        host: header(authority.to_string())?,
        origin: header(format!("{scheme}://{authority}"))?,
        url: uri,
        headers,
        oauth: None,
        tls: Arc::new(tls),
        connect_timeout: timeout,
        response_timeout: timeout,
        http2: false,
    })
}

impl HttpClient {
    /// Connects to `url` and opens a session (`initialize`, then
    /// `notifications/initialized`).
    pub async fn open(
        url: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        timeout: Duration,
    ) -> Result<(HttpClient, Hello), ProbeError> {
        let settings = settings(url, headers, timeout)?;
        let mut client = HttpClient {
            client: crate::upstream::client(&settings),
            url: settings.url,
            headers: settings.headers,
            session: None,
            version: None,
            timeout,
            next_id: 0,
        };
        let (head, result) = client
            .exchange("initialize", initialize_params(OFFERED_VERSION), true)
            .await?;
        client.session = head.get(SESSION_ID).cloned();
        let hello = Hello {
            protocol_version: result
                .get("protocolVersion")
                .and_then(Value::as_str)
                .ok_or_else(|| ProbeError::bad("initialize", "no protocolVersion"))?
                .to_owned(),
            capabilities: result.get("capabilities").cloned().unwrap_or(json!({})),
            server_info: result.get("serverInfo").cloned().unwrap_or(Value::Null),
            instructions: result.get("instructions").cloned(),
        };
        client.version = HeaderValue::try_from(hello.protocol_version.as_str()).ok();
        client
            .exchange("notifications/initialized", json!({}), false)
            .await?;
        Ok((client, hello))
    }

    /// Sends `method` and returns its result.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, ProbeError> {
        Ok(self.exchange(method, params, true).await?.1)
    }

    /// Deletes the session, if the server gave one (a server may refuse with
    /// 405; nothing more can be done either way).
    pub async fn close(self) {
        let Some(session) = &self.session else { return };
        let mut builder = Request::builder()
            .method(Method::DELETE)
            .uri(self.url.clone())
            .header(SESSION_ID, session);
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        if let Some(v) = &self.version {
            builder = builder.header(PROTOCOL_VERSION, v);
        }
        if let Ok(request) = builder.body(Full::new(Bytes::new())) {
            let _ = tokio::time::timeout(self.timeout, self.client.request(request)).await;
        }
    }

    /// One POST: a request (`expect_answer`) or a notification, within the timeout.
    async fn exchange(
        &mut self,
        method: &str,
        params: Value,
        expect_answer: bool,
    ) -> Result<(http::HeaderMap, Value), ProbeError> {
        let id = self.next_id;
        self.next_id += 1;
        let body = if expect_answer {
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        } else {
            json!({"jsonrpc": "2.0", "method": method, "params": params})
        };
        let request = self.post(&body, method)?;
        let timeout = self.timeout;
        let work = async {
            let response = self.client.request(request).await.map_err(|e| {
                if e.is_connect() {
                    ProbeError::Connect(cause_chain(&e))
                } else {
                    ProbeError::bad(method, cause_chain(&e))
                }
            })?;
            answer(response, method, expect_answer.then_some(id)).await
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| ProbeError::Timeout {
                method: method.to_owned(),
                after: timeout,
            })?
    }

    fn post(&self, body: &Value, method: &str) -> Result<Request<Full<Bytes>>, ProbeError> {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream");
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        if let Some(s) = &self.session {
            builder = builder.header(SESSION_ID, s);
        }
        if let Some(v) = &self.version {
            builder = builder.header(PROTOCOL_VERSION, v);
        }
        builder
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| ProbeError::Usage(format!("{method}: cannot build the request: {e}")))
    }
}

/// Reads the answer to the request with `id` (`None`: a notification, which
/// wants only a success status).
async fn answer(
    response: Response<Incoming>,
    method: &str,
    id: Option<u64>,
) -> Result<(http::HeaderMap, Value), ProbeError> {
    let (head, body) = response.into_parts();
    if head.status.is_redirection() {
        // Not followed: the scan is of the server named, and following could
        // send the --header credentials to another host. Say where it points.
        let to = head
            .headers
            .get(http::header::LOCATION)
            .map(|l| one_line(&String::from_utf8_lossy(l.as_bytes())));
        return Err(ProbeError::Status {
            method: method.to_owned(),
            status: head.status,
            detail: match to {
                Some(to) => format!(
                    ": a redirect to {to} (not followed: scan that URL if it is the server)"
                ),
                None => ": a redirect without a Location".to_owned(),
            },
        });
    }
    if !head.status.is_success() {
        let text = read_all(body, method, 4096).await.unwrap_or_default();
        let text = one_line(&String::from_utf8_lossy(&text));
        return Err(ProbeError::Status {
            method: method.to_owned(),
            status: head.status,
            detail: if text.is_empty() {
                String::new()
            } else {
                format!(": {text}")
            },
        });
    }
    let Some(id) = id else {
        return Ok((head.headers, Value::Null));
    };
    if head.status == StatusCode::ACCEPTED {
        return Err(ProbeError::bad(method, "202 Accepted without a response"));
    }
    let event_stream = head
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
    let response = if event_stream {
        from_event_stream(body, method, id).await?
    } else {
        let bytes = read_all(body, method, MAX_BODY).await?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ProbeError::bad(method, format!("the body is not JSON: {e}")))?;
        if value.get("id") != Some(&json!(id)) {
            return Err(ProbeError::bad(method, "the response has another id"));
        }
        value
    };
    Ok((head.headers, outcome(method, &response)?))
}

/// Reads events until the response with `id` arrives.
async fn from_event_stream(mut body: Incoming, method: &str, id: u64) -> Result<Value, ProbeError> {
    let mut decoder = Decoder::new(MAX_BODY);
    let mut read = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ProbeError::bad(method, cause_chain(&e)))?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        read += data.len();
        if read > MAX_BODY {
            return Err(ProbeError::bad(
                method,
                format!("the event stream exceeds {MAX_BODY} bytes"),
            ));
        }
        decoder.push(data);
        while let Some(event) = decoder
            .next_event()
            .map_err(|e| ProbeError::bad(method, e.to_string()))?
        {
            if event.data.is_empty() {
                continue;
            }
            let message: Value = serde_json::from_str(&event.data)
                .map_err(|e| ProbeError::bad(method, format!("an event is not JSON: {e}")))?;
            let is_response = message.get("result").is_some() || message.get("error").is_some();
            if is_response && message.get("id") == Some(&json!(id)) {
                return Ok(message);
            }
        }
    }
    Err(ProbeError::bad(
        method,
        "the event stream ended before the response",
    ))
}

/// The whole body, at most `max` bytes.
async fn read_all(body: Incoming, method: &str, max: usize) -> Result<Bytes, ProbeError> {
    http_body_util::Limited::new(body, max)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| ProbeError::bad(method, format!("reading the body failed: {e}")))
}

/// An error and its sources on one line ("client error (Connect): tcp connect
/// error: Connection refused (os error 111)").
fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_as_name_colon_value() {
        let (n, v) = parse_header("Authorization: Bearer a:b").unwrap();
        assert_eq!(n, "authorization");
        assert_eq!(v, "Bearer a:b");
        assert!(v.is_sensitive());
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
    }

    #[test]
    fn only_absolute_http_urls_are_accepted() {
        assert!(settings("http://127.0.0.1:1/mcp", Vec::new(), Duration::from_secs(1)).is_ok());
        for url in ["ftp://x/", "/mcp", "127.0.0.1:80"] {
            assert!(
                settings(url, Vec::new(), Duration::from_secs(1)).is_err(),
                "{url}"
            );
        }
    }
}
