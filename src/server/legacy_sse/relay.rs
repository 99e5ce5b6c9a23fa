//! One accepted legacy POST, run through the pipeline as the Streamable HTTP
//! POST it stands for, and its answer written to the client's GET stream.
//!
//! The internal request keeps every header the client sent (its token, Host,
//! Origin, trace context) so every stage decides exactly as it would on the main
//! endpoint; the adapter only replaces `Mcp-Session-Id` with the session the
//! stream holds (a legacy client has no such header, and must not choose one)
//! and asks for JSON or SSE. Every JSON-RPC message of the answer becomes an
//! `event: message`.

use super::streams::Stream;
use crate::pipeline::{self, Shared};
use crate::protocol::sse::Decoder;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

/// The Streamable HTTP request a legacy POST stands for, or why it cannot be built.
pub fn internal_request(
    parts: &Parts,
    mcp_path: &str,
    session: Option<String>,
    body: Bytes,
) -> Result<Request<Full<Bytes>>, http::Error> {
    let mut uri = parts.uri.clone().into_parts();
    uri.path_and_query = Some(PathAndQuery::try_from(mcp_path)?);
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(Uri::from_parts(uri)?)
        .version(parts.version)
        .body(Full::new(body))?;
    let headers = request.headers_mut();
    *headers = parts.headers.clone();
    headers.remove("mcp-session-id");
    headers.remove("last-event-id");
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    if let Some(session) = session {
        headers.insert("mcp-session-id", HeaderValue::try_from(session)?);
    }
    Ok(request)
}

/// Runs `request` through the pipeline and writes its answer to `stream`.
/// `id` is the JSON-RPC id of the posted request, if it was one.
pub async fn relay(
    request: Request<Full<Bytes>>,
    peer: SocketAddr,
    certificate: Option<Arc<crate::authn::certificate::ClientCertificate>>,
    shared: Arc<Shared>,
    stream: Arc<Stream>,
    id: Option<Value>,
) {
    let limits = shared.snapshot().config.limits.clone();
    let response = pipeline::handle(request, peer, certificate, shared).await;
    // Kept before any message is written: the client's next POST follows
    // the answer to its `initialize`.
    if let Some(session) = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
    {
        stream.set_session(session.to_owned());
    }
    let status = response.status();
    let media = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut body = response.into_body();
    let mut delivered = false;
    if media.starts_with("text/event-stream") {
        let mut decoder = Decoder::new(limits.max_sse_event);
        while let Some(Ok(frame)) = body.frame().await {
            let Ok(data) = frame.into_data() else {
                continue;
            };
            match forward(&mut decoder, &data, &stream) {
                Some(sent) => delivered |= sent,
                None => return,
            }
        }
    } else if media.starts_with("application/json") {
        // The pipeline bounded this body already; the bound here is a backstop.
        let mut bytes = Vec::new();
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                bytes.extend_from_slice(&data);
            }
            if bytes.len() > limits.max_response_body {
                bytes.clear();
                break;
            }
        }
        if let Ok(text) = std::str::from_utf8(&bytes)
            && !text.trim().is_empty()
        {
            delivered = stream.send(message(text.trim()));
        }
    }
    if !delivered
        && !status.is_success()
        && let Some(id) = id
    {
        // A refusal without a JSON-RPC body (rate limit, ...): the client
        // would otherwise wait for an answer that never comes.
        let error = json!({"jsonrpc": "2.0", "id": id, "error": {
            "code": crate::protocol::rpc_error::INTERNAL_ERROR,
            "message": format!("the gateway refused the request (HTTP {})", status.as_u16()),
        }});
        stream.send(message(&error.to_string()));
    }
    if status == StatusCode::NOT_FOUND {
        // The session behind the stream is gone (expired): the client must
        // open a new stream and initialize again.
        stream.close();
    }
}

/// Feeds `data` of an SSE answer to `decoder` and writes every JSON-RPC
/// message it completes to `stream`: `Some(whether one was written)`, or
/// `None` once the stream is gone or the answer unreadable (then closed).
fn forward(decoder: &mut Decoder, data: &[u8], stream: &Stream) -> Option<bool> {
    decoder.push(data);
    let mut sent = false;
    loop {
        match decoder.next_event() {
            Ok(Some(event)) if is_message(event.event.as_deref(), &event.data) => {
                if !stream.send(message(&event.data)) {
                    return None;
                }
                sent = true;
            }
            Ok(Some(_)) => {}
            Ok(None) => return Some(sent),
            Err(e) => {
                tracing::debug!(error = %e, "legacy SSE relay: answer stream unreadable");
                stream.close();
                return None;
            }
        }
    }
}

/// The standalone stream a legacy client's session gets once it is
/// initialized: `GET` on the main endpoint with the client's headers (its
/// token) and the stream's session, so the notifications upstreams send
/// outside any request (`list_changed`, resource updates, logs) reach the
/// client as the main endpoint's GET stream would carry them.
pub fn standalone_request(
    parts: &Parts,
    mcp_path: &str,
    session: &str,
) -> Result<Request<Full<Bytes>>, http::Error> {
    let mut request = internal_request(parts, mcp_path, Some(session.to_owned()), Bytes::new())?;
    *request.method_mut() = Method::GET;
    let headers = request.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    headers.remove(header::CONTENT_LENGTH);
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("text/event-stream"),
    );
    Ok(request)
}

/// Runs the standalone `request` through the pipeline and writes its events
/// to `stream` until either ends (the client leaving is noticed within a
/// second, and drops the pipeline's stream and the upstreams' with it).
pub async fn listen(
    request: Request<Full<Bytes>>,
    peer: SocketAddr,
    certificate: Option<Arc<crate::authn::certificate::ClientCertificate>>,
    shared: Arc<Shared>,
    stream: Arc<Stream>,
) {
    let limits = shared.snapshot().config.limits.clone();
    let response = pipeline::handle(request, peer, certificate, shared).await;
    let streaming = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| m.to_ascii_lowercase().starts_with("text/event-stream"));
    if !response.status().is_success() || !streaming {
        tracing::debug!(status = %response.status(), "legacy SSE: no standalone stream for this session");
        return;
    }
    let mut body = response.into_body();
    let mut decoder = Decoder::new(limits.max_sse_event);
    let mut check = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            frame = body.frame() => match frame {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && forward(&mut decoder, &data, &stream).is_none()
                    {
                        return;
                    }
                }
                _ => return,
            },
            _ = check.tick() => {
                if stream.is_gone() {
                    return;
                }
            }
        }
    }
}

/// Whether a posted body is the client's `notifications/initialized`.
pub fn is_initialized(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("method").and_then(Value::as_str).map(str::to_owned))
        .is_some_and(|m| m == "notifications/initialized")
}

fn is_message(event: Option<&str>, data: &str) -> bool {
    !data.is_empty() && matches!(event, None | Some("message"))
}

/// One `event: message` carrying `data` (one `data:` line per line of it).
pub fn message(data: &str) -> Bytes {
    let mut event = String::with_capacity(data.len() + 32);
    event.push_str("event: message\n");
    for line in data.split('\n') {
        event.push_str("data: ");
        event.push_str(line.strip_suffix('\r').unwrap_or(line));
        event.push('\n');
    }
    event.push('\n');
    Bytes::from(event)
}

/// The `id` of a posted JSON-RPC request (`None` for notifications, responses
/// and what does not parse: the pipeline answers those itself).
pub fn request_id(body: &[u8]) -> Option<Value> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    object.get("method")?;
    object.get("id").filter(|id| !id.is_null()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_framed_one_data_line_per_line() {
        assert_eq!(
            message("{\"a\":\n1}"),
            Bytes::from_static(b"event: message\ndata: {\"a\":\ndata: 1}\n\n")
        );
        assert_eq!(
            request_id(br#"{"jsonrpc":"2.0","id":3,"method":"x"}"#),
            Some(json!(3))
        );
        assert_eq!(request_id(br#"{"jsonrpc":"2.0","method":"x"}"#), None);
        assert_eq!(request_id(br#"{"jsonrpc":"2.0","id":3,"result":{}}"#), None);
    }
}
