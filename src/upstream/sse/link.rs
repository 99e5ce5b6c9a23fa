//! One HTTP+SSE session (MCP 2024-11-05) turned into a mux [`Link`].
//!
//! ```text
//!  GET <url> (Accept: text/event-stream) ──▶ `endpoint` event ──▶ POST URI
//!  Link.outgoing ──▶ writer task ──▶ POST <endpoint> (application/json), 200/202
//!  reader task ◀── `message` events ◀── the GET stream ──▶ Link.incoming
//! ```
//!
//! Invariants:
//! - Only the upstream's configured headers (its credentials) are sent, never a
//!   client's; the endpoint must be on the configured origin (see [`endpoint`]).
//! - Each event is bounded by the decoder (`limits.max_sse_event`); a larger one
//!   ends the session (fail closed), as does a POST the server refuses: a lost
//!   message would leave a request hanging until its deadline.
//! - A `message` event that is not a JSON-RPC message is dropped and logged.
//! - The session ends when the stream ends or fails; [`Session::ended`] says why,
//!   and the incoming side stays open until the session is dropped, so the mux
//!   learns the reason from the supervisor rather than from a bare end of stream.

use super::endpoint;
use crate::config::HttpSettings;
use crate::protocol::ParseLimits;
use crate::protocol::jsonrpc::parse_message;
use crate::protocol::sse::{Decoder, Event};
use crate::upstream::PooledClient;
use crate::upstream::mux::{Frame, Link};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Queued messages between the mux and the session, each way.
const QUEUE: usize = 64;
/// Most bytes read from a POST's answer (servers send `Accepted` or nothing).
const ACK_BODY: usize = 64 << 10;

/// An open HTTP+SSE session. Dropping it closes the stream and stops its tasks.
#[derive(Debug)]
pub struct Session {
    ended: mpsc::Receiver<String>,
    /// See the module invariants.
    _frames: mpsc::Sender<Frame>,
    tasks: [JoinHandle<()>; 2],
}

impl Session {
    /// Resolves when the session ends, with the reason.
    pub async fn ended(&mut self) -> String {
        self.ended
            .recv()
            .await
            .unwrap_or_else(|| "the session's tasks stopped".into())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What the reader needs: the stream and its decoder.
struct Stream {
    body: Incoming,
    decoder: Decoder,
}

impl Stream {
    /// The next complete event; `Ok(None)` at the end of the stream.
    async fn next(&mut self) -> Result<Option<Event>, String> {
        loop {
            if let Some(event) = self.decoder.next_event().map_err(|e| e.to_string())? {
                return Ok(Some(event));
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(format!("the event stream failed: {e}")),
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        self.decoder.push(data);
                    }
                }
            }
        }
    }
}

/// Opens the event stream, waits (until `deadline`) for the `endpoint` event,
/// and starts the reader and writer. Fails with a reason for the health state.
pub async fn open(
    name: &Arc<str>,
    client: &PooledClient,
    settings: &HttpSettings,
    parse: ParseLimits,
    max_event: usize,
    deadline: Instant,
) -> Result<(Session, Link), String> {
    let opening = async {
        let mut request = Request::builder()
            .method(Method::GET)
            .uri(settings.url.clone())
            .header(header::ACCEPT, "text/event-stream")
            .body(Full::new(Bytes::new()))
            .map_err(|e| format!("cannot build the GET: {e}"))?;
        add_credentials(&mut request, settings);
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("cannot open the event stream: {e}"))?;
        let status = response.status();
        let is_sse = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
        if !status.is_success() || !is_sse {
            return Err(format!(
                "GET {} answered {status}, not an event stream",
                settings.url
            ));
        }
        let mut stream = Stream {
            body: response.into_body(),
            decoder: Decoder::new(max_event),
        };
        loop {
            match stream.next().await? {
                Some(e) if e.event.as_deref() == Some("endpoint") => {
                    let uri =
                        endpoint::resolve(&settings.url, &e.data).map_err(|e| e.to_string())?;
                    return Ok((stream, uri));
                }
                Some(_) => {}
                None => return Err("the event stream ended before its `endpoint` event".into()),
            }
        }
    };
    let (stream, endpoint) = tokio::time::timeout_at(deadline, opening)
        .await
        .map_err(|_| "no `endpoint` event in time".to_owned())??;
    tracing::debug!(upstream = %name, endpoint = %shown(&endpoint), "HTTP+SSE session open");
    let (outgoing, messages) = mpsc::channel(QUEUE);
    let (frames, incoming) = mpsc::channel(QUEUE);
    let (end, ended) = mpsc::channel(2);
    let reader = tokio::spawn(read(
        name.clone(),
        stream,
        frames.clone(),
        parse,
        end.clone(),
    ));
    let writer = tokio::spawn(write(
        client.clone(),
        settings.clone(),
        endpoint,
        messages,
        end,
    ));
    let session = Session {
        ended,
        _frames: frames,
        tasks: [reader, writer],
    };
    Ok((session, Link { outgoing, incoming }))
}

/// The endpoint without its query, for logs and health reasons: servers put
/// their session id there, which lets anyone who has it post into the session.
fn shown(endpoint: &Uri) -> String {
    match (endpoint.scheme_str(), endpoint.authority()) {
        (Some(scheme), Some(authority)) => format!("{scheme}://{authority}{}", endpoint.path()),
        _ => endpoint.path().to_owned(),
    }
}

/// The upstream's configured headers (its credentials), never a client's.
fn add_credentials(request: &mut Request<Full<Bytes>>, settings: &HttpSettings) {
    let headers = request.headers_mut();
    for (name, value) in &settings.headers {
        headers.insert(name.clone(), value.clone());
    }
}

async fn read(
    name: Arc<str>,
    mut stream: Stream,
    frames: mpsc::Sender<Frame>,
    parse: ParseLimits,
    end: mpsc::Sender<String>,
) {
    let reason = loop {
        let event = match stream.next().await {
            Ok(Some(event)) => event,
            Ok(None) => break "the event stream ended".to_owned(),
            Err(e) => break e,
        };
        // An event without a type is a `message` (WHATWG HTML, dispatching);
        // one without data (a keep-alive or priming event) carries nothing.
        if !matches!(event.event.as_deref(), None | Some("message")) || event.data.is_empty() {
            continue;
        }
        let data = Bytes::from(event.data);
        match parse_message(&data, &parse) {
            Ok(message) => {
                if frames.send(Frame::new(data, message)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(upstream = %name, error = %e, "dropped an SSE message that is not JSON-RPC")
            }
        }
    };
    let _ = end.send(reason).await;
}

async fn write(
    client: PooledClient,
    settings: HttpSettings,
    endpoint: Uri,
    mut messages: mpsc::Receiver<Bytes>,
    end: mpsc::Sender<String>,
) {
    let json = HeaderValue::from_static("application/json");
    let shown = shown(&endpoint);
    while let Some(body) = messages.recv().await {
        let request = Request::builder()
            .method(Method::POST)
            .uri(endpoint.clone())
            .header(header::CONTENT_TYPE, json.clone())
            .body(Full::new(body));
        let mut request = match request {
            Ok(request) => request,
            Err(e) => {
                let _ = end.send(format!("cannot build a POST: {e}")).await;
                return;
            }
        };
        add_credentials(&mut request, &settings);
        let sent = tokio::time::timeout(settings.response_timeout, client.request(request)).await;
        let failure = match sent {
            Ok(Ok(response)) if response.status().is_success() => {
                // Read the (usually empty, bounded) body so the connection
                // returns to the pool.
                let _ = http_body_util::Limited::new(response.into_body(), ACK_BODY)
                    .collect()
                    .await;
                continue;
            }
            Ok(Ok(response)) => format!("POST {shown} answered {}", response.status()),
            Ok(Err(e)) => format!("POST {shown} failed: {e}"),
            Err(_) => format!(
                "POST {shown} not answered within {:?}",
                settings.response_timeout
            ),
        };
        let _ = end.send(failure).await;
        return;
    }
}
