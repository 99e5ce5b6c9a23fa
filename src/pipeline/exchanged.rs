//! Answering a request that went over a shared connection (a stdio process):
//! the multiplexer's exchange yields the upstream's notifications, its
//! server-to-client requests and finally the answer. An answer that comes
//! first is delivered as JSON; otherwise everything is delivered as SSE events
//! as it arrives. Each message passes the observer like any other upstream
//! message. A server-to-client request reaches the client with an id that names
//! its upstream, and waits in the gateway for the client's answer; one the
//! observer withholds is answered by the gateway at once.

use super::super::Shared;
use super::super::answer_back::Refused;
use super::super::body::{BodyError, GatewayBody, full};
use super::super::context::RequestContext;
use super::super::observer::{Delivery, Observer};
use super::super::parse::Inbound;
use super::super::record::Facts;
use super::super::respond::Rejection;
use crate::config::Runtime;
use crate::federation::route::encode_id;
use crate::protocol::rpc_error::CONTENT_BLOCKED;
use crate::upstream::UpstreamError;
use crate::upstream::mux::{Event, Exchange, Frame};
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use serde_json::Value;
use std::sync::Arc;

/// Builds the client's response from the exchange.
pub async fn response(
    cx: &mut RequestContext,
    inbound: &Inbound,
    index: usize,
    mut exchange: Exchange,
    rt: &Arc<Runtime>,
    shared: &Arc<Shared>,
) -> Result<Response<GatewayBody>, Rejection> {
    let watch = super::exchange(cx, inbound, index, rt);
    let failed = |e: String| Rejection::Upstream {
        id: cx.rpc_id.clone(),
        error: UpstreamError::Shared(e),
    };
    // Upstream time over stdio: from here (the request is already written) to
    // its first message, usually the answer.
    let asked = std::time::Instant::now();
    let next = exchange.next().await;
    let took = asked.elapsed();
    cx.upstream_time = Some(took);
    shared.metrics.upstream_time(&watch.upstream, took);
    let first = match next {
        None => return Err(failed("the exchange ended without an answer".into())),
        Some(Err(e)) => return Err(failed(e.to_string())),
        Some(Ok(event)) => event,
    };
    if let Event::Response(frame) = first {
        let mut observer = Observer::new(
            watch,
            Arc::clone(shared),
            Arc::clone(rt),
            Facts::of(cx),
            cx.started,
            None,
        )
        .with_lister(crate::authz::filter::lister_for(cx, rt, shared, index));
        let observed =
            observer
                .observe(frame.message())
                .map_err(|_| Rejection::AuditUnavailable {
                    id: cx.rpc_id.clone(),
                })?;
        observer.settle(cx);
        let body = match observed.delivery {
            Delivery::Forward => frame.raw().clone(),
            Delivery::Replace(bytes) => bytes,
            Delivery::Drop => Bytes::new(),
        };
        let mut response = Response::new(full(body));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Ok(response);
    }
    let pending = super::pending(cx, &watch, true, StatusCode::OK);
    let observer = Observer::new(
        watch,
        Arc::clone(shared),
        Arc::clone(rt),
        Facts::of(cx),
        cx.started,
        pending,
    )
    .with_lister(crate::authz::filter::lister_for(cx, rt, shared, index));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<http_body::Frame<Bytes>, BodyError>>(16);
    tokio::spawn(pump(
        first,
        exchange,
        observer,
        tx,
        index,
        Arc::clone(shared),
    ));
    let mut response = Response::new(StreamBody::new(tokio_stream_from(rx)).boxed_unsync());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// Delivers the exchange's events until its answer, or until the client goes.
async fn pump(
    first: Event,
    mut exchange: Exchange,
    mut observer: Observer,
    tx: tokio::sync::mpsc::Sender<Result<http_body::Frame<Bytes>, BodyError>>,
    index: usize,
    shared: Arc<Shared>,
) {
    let mut next = Some(first);
    while let Some(event) = next.take() {
        let (frame, last, asked) = match event {
            Event::Notification(frame) => (frame, false, None),
            Event::Response(frame) => (frame, true, None),
            Event::Request(request) => {
                let frame = request.frame().clone();
                let Some(server_id) = frame.message().id() else {
                    continue;
                };
                let client_id = encode_id(index, server_id);
                let key = client_id.as_str().unwrap_or_default().to_owned();
                (with_id(&frame, client_id), false, Some((key, request)))
            }
        };
        let delivered = match deliver(&mut observer, &frame).await {
            Ok(delivered) => delivered,
            Err(()) => break,
        };
        if let Some((key, request)) = asked {
            match delivered.refused {
                // Withheld from the client: the gateway answers in its place.
                Some(refused) => {
                    if let Err(e) = request.reject(CONTENT_BLOCKED, &refused.reason).await {
                        tracing::warn!(error = %e, "the gateway's answer to a withheld request was not delivered");
                    }
                }
                // Held before the client can see it, so its answer finds it.
                None => shared.server_requests.hold(key, request),
            }
        }
        if let Some(chunk) = delivered.chunk
            && tx.send(Ok(http_body::Frame::data(chunk))).await.is_err()
        {
            // The client went away: dropping the exchange cancels upstream.
            break;
        }
        if last {
            break;
        }
        next = match exchange.next().await {
            Some(Ok(event)) => Some(event),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "shared upstream exchange failed");
                if let Some(chunk) = observer.failure_event() {
                    let _ = tx.send(Ok(http_body::Frame::data(chunk))).await;
                }
                None
            }
            None => None,
        };
    }
    observer.finish();
}

/// What one message becomes: an SSE event for the client (or none), and the
/// server request the client will not see.
struct Delivered {
    chunk: Option<Bytes>,
    refused: Option<Refused>,
}

/// One message through the observer, framed as an SSE event; `Err` when the
/// audit trail refuses (fail closed: the stream ends).
async fn deliver(observer: &mut Observer, frame: &Frame) -> Result<Delivered, ()> {
    let observed = observer.observe(frame.message()).map_err(|e| {
        tracing::error!(error = %e, "audit record refused: ending the stream");
    })?;
    if let Some(receipt) = observed.receipt.filter(crate::audit::Receipt::must_wait)
        && receipt.durable().await.is_err()
    {
        return Err(());
    }
    let data = match observed.delivery {
        Delivery::Forward => frame.raw().clone(),
        Delivery::Replace(bytes) => bytes,
        Delivery::Drop => {
            return Ok(Delivered {
                chunk: None,
                refused: observed.refused,
            });
        }
    };
    let mut chunk = Vec::with_capacity(data.len() + 24);
    chunk.extend_from_slice(b"event: message\ndata: ");
    chunk.extend_from_slice(&data);
    chunk.extend_from_slice(b"\n\n");
    Ok(Delivered {
        chunk: Some(Bytes::from(chunk)),
        refused: None,
    })
}

/// The frame with another id.
fn with_id(frame: &Frame, id: Value) -> Frame {
    let mut object = frame.message().as_object().clone();
    object.insert("id".into(), id);
    let raw = Bytes::from(Value::Object(object).to_string());
    match crate::protocol::jsonrpc::parse_message(&raw, &Default::default()) {
        Ok(message) => Frame::new(raw, message),
        Err(_) => frame.clone(),
    }
}

fn tokio_stream_from<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_core::Stream<Item = T> {
    ReceiverStream(rx)
}

/// An mpsc receiver as a stream.
struct ReceiverStream<T>(tokio::sync::mpsc::Receiver<T>);

impl<T> futures_core::Stream for ReceiverStream<T> {
    type Item = T;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.get_mut().0.poll_recv(cx)
    }
}
