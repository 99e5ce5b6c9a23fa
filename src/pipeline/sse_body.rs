//! The response body of an SSE stream from the upstream, inspected event by event.
//!
//! Each event is forwarded as soon as its terminating blank line arrives and the
//! observer has seen its message: nothing waits for the stream to end. The body
//! holds at most one incomplete event (bounded by `limits.max_sse_event`) plus the
//! events decoded from the last chunk. An event the gateway cannot read (too
//! large, not UTF-8, not JSON-RPC) ends the stream: the client gets a JSON-RPC
//! error for its request if it was not answered yet, never the unread bytes.
//! Events of an unknown `event:` type cannot carry MCP messages and are dropped.
//! A stream silent for `limits.stream_idle_timeout` is closed, and a stream not
//! tied to a request (GET, `subscriptions/listen`) ends when the gateway drains,
//! so that clients reconnect elsewhere; the client may resume with Last-Event-ID.

use super::body::{BodyError, GatewayBody};
use super::inspect::Observer;
use crate::config::Runtime;
use crate::protocol::ParseLimits;
use crate::protocol::jsonrpc;
use crate::protocol::sse::{Decoder, Event};
use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

type Drain = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An upstream SSE body that inspects every event before forwarding it.
pub struct SseBody {
    inner: Incoming,
    decoder: Decoder,
    ready: VecDeque<Bytes>,
    observer: Observer,
    limits: ParseLimits,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    drain: Option<Drain>,
    done: bool,
}

impl SseBody {
    /// Wraps `inner`; `drain` completes when the gateway starts shutting down.
    pub fn new(
        inner: Incoming,
        observer: Observer,
        rt: &Runtime,
        drain: impl Future<Output = ()> + Send + 'static,
    ) -> SseBody {
        let idle_timeout = rt.limits.stream_idle_timeout;
        let standalone = observer.standalone();
        SseBody {
            inner,
            decoder: Decoder::new(rt.limits.max_sse_event),
            ready: VecDeque::new(),
            observer,
            limits: rt.limits.parse,
            idle_timeout,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
            drain: standalone.then(|| Box::pin(drain) as Drain),
            done: false,
        }
    }

    /// As the gateway's response body type.
    pub fn boxed(self) -> GatewayBody {
        BodyExt::boxed_unsync(self)
    }

    fn decode_ready_events(&mut self) {
        loop {
            match self.decoder.next_event() {
                Ok(Some(event)) => match self.inspect(&event) {
                    Ok(Inspected::Forward) => self.ready.push_back(event.raw),
                    Ok(Inspected::Replace(data)) => self.ready.push_back(reframe(&event, &data)),
                    Ok(Inspected::Drop) => {}
                    Err(reason) => {
                        tracing::warn!(%reason, "ending an upstream SSE stream");
                        return self.fail();
                    }
                },
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "ending an upstream SSE stream");
                    return self.fail();
                }
            }
        }
    }

    /// What to do with the event; `Err` ends the stream.
    fn inspect(&mut self, event: &Event) -> Result<Inspected, String> {
        if event.data.is_empty() {
            // Priming events, keep-alive comments and retry hints carry no message.
            return Ok(Inspected::Forward);
        }
        if !matches!(event.event.as_deref(), None | Some("message")) {
            tracing::warn!(event = ?event.event, "dropping an SSE event of unknown type");
            return Ok(Inspected::Drop);
        }
        let payload = jsonrpc::parse(Bytes::copy_from_slice(event.data.as_bytes()), &self.limits)
            .map_err(|e| format!("unreadable SSE message: {e}"))?;
        let mut replaced = None;
        for m in payload.messages() {
            replaced = self.observer.observe(m).or(replaced);
        }
        Ok(match replaced.filter(|_| !payload.is_batch()) {
            Some(data) => Inspected::Replace(data),
            None => Inspected::Forward,
        })
    }

    fn fail(&mut self) {
        if let Some(event) = self.observer.failure_event() {
            self.ready.push_back(event);
        }
        self.done = true;
    }
}

/// What happens to one event.
enum Inspected {
    Forward,
    Replace(Bytes),
    Drop,
}

/// The event again with `data` as its message (same `id:` for resumption).
fn reframe(event: &Event, data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 48);
    if let Some(id) = &event.id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(id.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"event: message\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        loop {
            if let Some(chunk) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(drain) = this.drain.as_mut()
                && drain.as_mut().poll(cx).is_ready()
            {
                this.done = true;
                continue;
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        let deadline = Instant::now() + this.idle_timeout;
                        this.idle.as_mut().reset(deadline);
                        this.decoder.push(&data);
                        this.decode_ready_events();
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    tracing::warn!(error = %e, "upstream SSE stream broke");
                    this.fail();
                }
                Poll::Ready(None) => {
                    if this.decoder.pending_len() > 0 {
                        tracing::debug!("discarding an unterminated SSE event at stream end");
                    }
                    this.done = true;
                }
                Poll::Pending => {
                    if this.idle.as_mut().poll(cx).is_ready() {
                        tracing::info!("closing an idle SSE stream");
                        this.done = true;
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}
