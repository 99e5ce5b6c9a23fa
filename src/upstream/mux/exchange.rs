//! What a client request gets back from the multiplexer: an [`Exchange`] yielding
//! [`Event`]s in the order the upstream sent them, the response last; and the
//! [`ServerRequest`] handle through which a server-to-client request is answered.
//!
//! Invariants: an exchange ends exactly once (response, error or timeout) and
//! frees its slot when it does; dropping it earlier cancels the request upstream.
//! A server request is answered exactly once: explicitly, or with `-32603` when
//! its handle is dropped, so the server is never left waiting.

use super::shared::Shared;
use super::wire;
use super::{Frame, MuxError};
use crate::protocol::rpc_error::error_body;
use crate::protocol::{Kind, Message, RequestId};
use bytes::Bytes;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Something the upstream sent for one client request.
#[derive(Debug)]
pub enum Event {
    /// A notification tied to the request: progress (with the client's own
    /// token), a 2026-07-28 request-scoped message, a subscription update (with
    /// the client's listen id), or the server cancelling a request it made.
    Notification(Frame),
    /// A server-to-client request (sampling, elicitation, roots) made while the
    /// request ran. Answer it through the handle.
    Request(ServerRequest),
    /// The response (result or error) with the client's original id. Always last.
    Response(Frame),
}

/// One client request in flight upstream.
#[derive(Debug)]
pub struct Exchange {
    shared: Arc<Shared>,
    upstream_id: u64,
    deadline: Instant,
    after: Duration,
    events: mpsc::Receiver<Event>,
    events_open: bool,
    response: oneshot::Receiver<Result<Frame, MuxError>>,
    done: bool,
}

impl Exchange {
    pub(super) fn new(
        shared: Arc<Shared>,
        upstream_id: u64,
        deadline: Instant,
        after: Duration,
        events: mpsc::Receiver<Event>,
        response: oneshot::Receiver<Result<Frame, MuxError>>,
    ) -> Exchange {
        Exchange {
            shared,
            upstream_id,
            deadline,
            after,
            events,
            events_open: true,
            response,
            done: false,
        }
    }

    /// Frees the slot of a request that never reached the upstream.
    pub(super) fn forget(&mut self) {
        self.done = true;
        self.shared.abandon(self.upstream_id, None);
    }

    /// The id the request carries upstream (for logs and correlation).
    pub fn upstream_id(&self) -> u64 {
        self.upstream_id
    }

    /// The next event, `None` once the exchange has ended. The last item is
    /// [`Event::Response`] or an error: [`MuxError::Timeout`] when the deadline
    /// passed (the request is then cancelled upstream and its slot freed),
    /// [`MuxError::Disconnected`] when the connection died.
    pub async fn next(&mut self) -> Option<Result<Event, MuxError>> {
        if self.done {
            return None;
        }
        loop {
            tokio::select! {
                // Events first: everything the upstream sent before the response
                // is delivered before it.
                biased;
                event = self.events.recv(), if self.events_open => match event {
                    Some(event) => return Some(Ok(event)),
                    None => self.events_open = false,
                },
                result = &mut self.response => {
                    self.done = true;
                    return Some(self.ended(result));
                }
                () = tokio::time::sleep_until(self.deadline) => {
                    self.done = true;
                    if self.shared.abandon(self.upstream_id, Some("timeout")) {
                        self.shared.record_timeout();
                        return Some(Err(MuxError::Timeout {
                            upstream: self.shared.name().clone(),
                            after: self.after,
                        }));
                    }
                    // The response won the race and is being handed over.
                    let result = (&mut self.response).await;
                    return Some(self.ended(result));
                }
            }
        }
    }

    fn ended(
        &self,
        result: Result<Result<Frame, MuxError>, oneshot::error::RecvError>,
    ) -> Result<Event, MuxError> {
        match result {
            Ok(Ok(frame)) => Ok(Event::Response(frame)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(MuxError::Disconnected {
                upstream: self.shared.name().clone(),
                reason: "the multiplexer was dropped".into(),
            }),
        }
    }

    /// Waits for the response alone: notifications are skipped and server
    /// requests are refused (their handles dropped).
    pub async fn response(mut self) -> Result<Frame, MuxError> {
        while let Some(event) = self.next().await {
            if let Event::Response(frame) = event? {
                return Ok(frame);
            }
        }
        Err(MuxError::Disconnected {
            upstream: self.shared.name().clone(),
            reason: "the exchange had already ended".into(),
        })
    }

    /// Gives up on the request: its slot is freed and the upstream is sent
    /// `notifications/cancelled` with `reason`.
    pub fn cancel(mut self, reason: &str) {
        self.done = true;
        self.shared.abandon(self.upstream_id, Some(reason));
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if !self.done {
            self.shared
                .abandon(self.upstream_id, Some("the client went away"));
        }
    }
}

/// A request the server made while a client request ran, to be answered once.
#[derive(Debug)]
pub struct ServerRequest {
    frame: Frame,
    reply: Option<Reply>,
}

#[derive(Debug)]
struct Reply {
    id: RequestId,
    outgoing: mpsc::Sender<Bytes>,
    shared: Weak<Shared>,
}

impl ServerRequest {
    pub(super) fn new(
        frame: Frame,
        id: RequestId,
        outgoing: mpsc::Sender<Bytes>,
        shared: Weak<Shared>,
    ) -> ServerRequest {
        ServerRequest {
            frame,
            reply: Some(Reply {
                id,
                outgoing,
                shared,
            }),
        }
    }

    /// The request exactly as the server sent it (with the server's own id).
    pub fn frame(&self) -> &Frame {
        &self.frame
    }

    /// Answers with `answer`, a response or error response whose id (whatever
    /// the client used) is replaced by the server's. Fails with
    /// [`MuxError::Invalid`] for other shapes, [`MuxError::NotConnected`] when
    /// the connection that asked is gone.
    pub async fn respond(mut self, answer: &Message) -> Result<(), MuxError> {
        if !matches!(answer.kind(), Kind::Response | Kind::ErrorResponse) {
            return Err(MuxError::Invalid(
                "a server request is answered with a response",
            ));
        }
        let Some(reply) = self.reply.take() else {
            return Ok(());
        };
        let mut object = answer.as_object().clone();
        object.insert("id".into(), reply.id.to_json());
        let line = serde_json::to_vec(&object)
            .map(Bytes::from)
            .map_err(|_| MuxError::Invalid("the answer cannot be serialised"))?;
        reply.send(line).await
    }

    /// Answers with a JSON-RPC error.
    pub async fn reject(mut self, code: i64, message: &str) -> Result<(), MuxError> {
        let Some(reply) = self.reply.take() else {
            return Ok(());
        };
        let line = error_body(Some(&reply.id), code, message, None);
        reply.send(line).await
    }
}

impl Reply {
    async fn send(self, line: Bytes) -> Result<(), MuxError> {
        let sent = self.outgoing.send(line).await;
        let shared = self.shared.upgrade();
        if let Some(shared) = &shared {
            shared.forget_server_request(&self.id);
        }
        sent.map_err(|_| MuxError::NotConnected {
            upstream: shared.map_or_else(|| "?".into(), |s| s.name().clone()),
        })
    }
}

impl Drop for ServerRequest {
    fn drop(&mut self) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.outgoing.try_send(wire::unanswered(&reply.id));
            if let Some(shared) = reply.shared.upgrade() {
                shared.forget_server_request(&reply.id);
            }
        }
    }
}
