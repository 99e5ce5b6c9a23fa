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

use super::answer_back::AnswerTo;
use super::body::{BodyError, GatewayBody};
use super::observer::{Delivery, Observer};
use crate::audit::Receipt;
use crate::config::Runtime;
use crate::protocol::ParseLimits;
use crate::protocol::jsonrpc;
use crate::protocol::jsonrpc::Message;
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
type Durable = Pin<Box<dyn Future<Output = Result<(), crate::audit::AuditError>> + Send>>;

/// What waits to be delivered: bytes, or a barrier that holds everything after
/// it until an audit record is durable.
enum Ready {
    Chunk(Bytes),
    Wait(Durable),
}

/// An upstream SSE body that inspects every event before forwarding it.
pub struct SseBody {
    inner: Incoming,
    decoder: Decoder,
    ready: VecDeque<Ready>,
    observer: Observer,
    limits: ParseLimits,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    drain: Option<Drain>,
    /// Prefix put before every event id (federated GET streams).
    id_prefix: Option<String>,
    /// Where the gateway answers a withheld server-to-client request.
    answer_to: Option<AnswerTo>,
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
            id_prefix: None,
            answer_to: None,
            done: false,
        }
    }

    /// Answers the upstream's requests withheld from the client through
    /// `answer_to` (see [`super::answer_back`]).
    pub fn with_answer_to(mut self, answer_to: Option<AnswerTo>) -> SseBody {
        self.answer_to = answer_to;
        self
    }

    /// Puts `prefix` before every event id (a federated stream's ids name their
    /// upstream, so that `Last-Event-ID` finds it again).
    pub fn with_id_prefix(mut self, prefix: String) -> SseBody {
        self.id_prefix = Some(prefix);
        self
    }

    /// As the gateway's response body type.
    pub fn boxed(self) -> GatewayBody {
        BodyExt::boxed_unsync(self)
    }

    fn decode_ready_events(&mut self) {
        loop {
            match self.decoder.next_event() {
                Ok(Some(event)) => match self.inspect(&event) {
                    Ok(()) => {}
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

    /// Queues what the client gets for one event; `Err` ends the stream.
    fn inspect(&mut self, event: &Event) -> Result<(), String> {
        if event.data.is_empty() {
            // Priming events, keep-alive comments and retry hints carry no message.
            let chunk = match (&self.id_prefix, &event.id) {
                (Some(prefix), Some(_)) => reframe(event, b"", Some(prefix)),
                _ => event.raw.clone(),
            };
            self.ready.push_back(Ready::Chunk(chunk));
            return Ok(());
        }
        if !matches!(event.event.as_deref(), None | Some("message")) {
            tracing::warn!(event = ?event.event, "dropping an SSE event of unknown type");
            return Ok(());
        }
        let payload = jsonrpc::parse(Bytes::copy_from_slice(event.data.as_bytes()), &self.limits)
            .map_err(|e| format!("unreadable SSE message: {e}"))?;
        let mut deliveries = Vec::with_capacity(payload.messages().len());
        for m in payload.messages() {
            let observed = self
                .observer
                .observe(m)
                .map_err(|e| format!("the audit trail refused a record: {e}"))?;
            if let Some(receipt) = observed.receipt.filter(Receipt::must_wait) {
                // fsync always: the answer is delivered only once its record is durable.
                self.ready
                    .push_back(Ready::Wait(Box::pin(receipt.durable())));
            }
            if let Some(refused) = &observed.refused {
                match &self.answer_to {
                    Some(to) => to.send(refused),
                    None => {
                        tracing::warn!(id = ?refused.id, "a withheld server request cannot be answered on this stream")
                    }
                }
            }
            deliveries.push(observed.delivery);
        }
        let prefix = self.id_prefix.as_deref();
        match rebuilt(payload.messages(), &deliveries, payload.is_batch()) {
            None if prefix.is_some() && event.id.is_some() => {
                self.ready
                    .push_back(Ready::Chunk(reframe(event, event.data.as_bytes(), prefix)));
            }
            None => self.ready.push_back(Ready::Chunk(event.raw.clone())),
            Some(None) => {}
            Some(Some(data)) => self
                .ready
                .push_back(Ready::Chunk(reframe(event, &data, prefix))),
        }
        Ok(())
    }

    fn fail(&mut self) {
        if let Some(event) = self.observer.failure_event() {
            self.ready.push_back(Ready::Chunk(event));
        }
        self.done = true;
    }
}

/// `None`: deliver the event as received. `Some(None)`: deliver nothing.
/// `Some(Some(json))`: deliver this data instead.
fn rebuilt(messages: &[Message], deliveries: &[Delivery], batch: bool) -> Option<Option<Bytes>> {
    if deliveries.iter().all(|d| *d == Delivery::Forward) {
        return None;
    }
    if !batch {
        return Some(match deliveries.first() {
            Some(Delivery::Replace(bytes)) => Some(bytes.clone()),
            _ => None,
        });
    }
    let items: Vec<serde_json::Value> = messages
        .iter()
        .zip(deliveries)
        .filter_map(|(m, d)| match d {
            Delivery::Forward => Some(serde_json::Value::Object(m.as_object().clone())),
            Delivery::Replace(bytes) => serde_json::from_slice(bytes).ok(),
            Delivery::Drop => None,
        })
        .collect();
    if items.is_empty() {
        return Some(None);
    }
    Some(Some(Bytes::from(
        serde_json::Value::Array(items).to_string(),
    )))
}

/// The event again with new data: same `id` (prefixed if asked), `event`
/// and `retry`. Empty data writes an empty `data:` line (a priming event).
fn reframe(event: &Event, data: &[u8], id_prefix: Option<&str>) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 64);
    if let Some(id) = &event.id {
        out.extend_from_slice(format!("id: {}{id}\n", id_prefix.unwrap_or("")).as_bytes());
    }
    if let Some(kind) = &event.event {
        out.extend_from_slice(format!("event: {kind}\n").as_bytes());
    }
    if let Some(retry) = event.retry {
        out.extend_from_slice(format!("retry: {retry}\n").as_bytes());
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

impl Drop for SseBody {
    fn drop(&mut self) {
        // The client went away or the stream ended: a request still unanswered
        // gets its operation record now.
        self.observer.finish();
    }
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
            match this.ready.front_mut() {
                Some(Ready::Chunk(_)) => {
                    if let Some(Ready::Chunk(chunk)) = this.ready.pop_front() {
                        return Poll::Ready(Some(Ok(Frame::data(chunk))));
                    }
                }
                Some(Ready::Wait(durable)) => match durable.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(())) => {
                        this.ready.pop_front();
                        continue;
                    }
                    Poll::Ready(Err(e)) => {
                        tracing::error!(error = %e, "audit record not durable: ending the stream");
                        this.ready.clear();
                        this.done = true;
                        continue;
                    }
                },
                None => {}
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
