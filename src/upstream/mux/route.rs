//! The routing table behind [`super::Mux`]: which upstream id belongs to which
//! waiting exchange, and where each message the upstream sends goes.
//!
//! The table sits behind one short-held `std` mutex, never held across an await
//! and never while anything is dropped that could take it again (a
//! [`ServerRequest`]'s drop does): decisions are made under the lock, actions
//! after it.

use super::exchange::{Event, Exchange, ServerRequest};
use super::{Frame, Link, MuxError, MuxLimits, splice};
use crate::protocol::rpc_error::{INTERNAL_ERROR, error_body};
use crate::protocol::{Era, Kind, Message, RequestId, jsonrpc};
use bytes::Bytes;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::AbortHandle;

pub(super) const CANCELLED: &str = "notifications/cancelled";
const PROGRESS: &str = "notifications/progress";
const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
const LISTEN: &str = "subscriptions/listen";

/// What all handles of one mux share.
#[derive(Debug)]
pub(super) struct Shared {
    name: Arc<str>,
    limits: MuxLimits,
    next_id: AtomicU64,
    state: Mutex<State>,
    broadcast: broadcast::Sender<Arc<Frame>>,
    timeouts: watch::Sender<u32>,
}

#[derive(Debug)]
struct State {
    conn: Option<Conn>,
    generation: u64,
    era: Era,
    pending: HashMap<u64, Pending>,
    /// Server-to-client requests handed to an exchange: server id → upstream id.
    server_requests: HashMap<RequestId, u64>,
}

#[derive(Debug)]
struct Conn {
    generation: u64,
    outgoing: mpsc::Sender<Bytes>,
    reader: AbortHandle,
}

#[derive(Debug)]
struct Pending {
    client_id: RequestId,
    method: Box<str>,
    progress_token: Option<Value>,
    events: mpsc::Sender<Event>,
    response: oneshot::Sender<Result<Frame, MuxError>>,
}

impl Pending {
    /// Whether server messages without an explicit key may be attributed to it:
    /// a long-lived listen stream is not "the request that is running".
    fn scoped(&self) -> bool {
        &*self.method != LISTEN
    }
}

/// Where one incoming message goes, decided under the lock.
enum Route {
    Deliver(mpsc::Sender<Event>, Event),
    Respond(
        oneshot::Sender<Result<Frame, MuxError>>,
        Result<Frame, MuxError>,
    ),
    Reply(mpsc::Sender<Bytes>, Bytes),
    Broadcast(Arc<Frame>),
    Drop(&'static str),
}

impl Shared {
    pub(super) fn new(name: Arc<str>, limits: MuxLimits) -> Arc<Shared> {
        Arc::new(Shared {
            name,
            limits,
            next_id: AtomicU64::new(1),
            state: Mutex::new(State {
                conn: None,
                generation: 0,
                era: Era::Legacy,
                pending: HashMap::new(),
                server_requests: HashMap::new(),
            }),
            broadcast: broadcast::channel(limits.broadcast_capacity.max(1)).0,
            timeouts: watch::channel(0).0,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; recover rather than propagate.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn name(&self) -> &Arc<str> {
        &self.name
    }

    pub(super) fn attach(this: &Arc<Shared>, link: Link) {
        let Link {
            outgoing,
            mut incoming,
        } = link;
        let weak: Weak<Shared> = Arc::downgrade(this);
        let failed = {
            let mut state = this.state();
            let failed = take_all(&mut state);
            state.generation += 1;
            let generation = state.generation;
            let reader = tokio::spawn(async move {
                while let Some(frame) = incoming.recv().await {
                    let Some(shared) = weak.upgrade() else { return };
                    shared.dispatch(generation, frame);
                }
                if let Some(shared) = weak.upgrade() {
                    shared.detach(Some(generation), "the upstream closed the connection");
                }
            });
            state.conn = Some(Conn {
                generation,
                outgoing,
                reader: reader.abort_handle(),
            });
            state.era = Era::Legacy;
            failed
        };
        this.timeouts.send_replace(0);
        this.fail(failed, "replaced by a new connection");
    }

    /// Detaches the connection of `generation` (any connection when `None`).
    pub(super) fn detach(&self, generation: Option<u64>, reason: &str) {
        let failed = {
            let mut state = self.state();
            match &state.conn {
                Some(conn) if generation.is_none_or(|g| g == conn.generation) => {
                    conn.reader.abort();
                    state.conn = None;
                }
                _ => return,
            }
            take_all(&mut state)
        };
        if !failed.is_empty() {
            tracing::warn!(upstream = %self.name, reason, failed = failed.len(),
                "upstream connection lost; failing in-flight requests");
        }
        self.fail(failed, reason);
    }

    fn fail(&self, failed: Vec<Pending>, reason: &str) {
        let reason: Arc<str> = reason.into();
        for pending in failed {
            let _ = pending.response.send(Err(MuxError::Disconnected {
                upstream: self.name.clone(),
                reason: reason.clone(),
            }));
        }
    }

    pub(super) fn is_attached(&self) -> bool {
        self.state().conn.is_some()
    }

    pub(super) fn set_era(&self, era: Era) {
        self.state().era = era;
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.broadcast.subscribe()
    }

    pub(super) fn timeouts(&self) -> watch::Receiver<u32> {
        self.timeouts.subscribe()
    }

    pub(super) fn in_flight(&self) -> usize {
        self.state().pending.len()
    }

    fn not_connected(&self) -> MuxError {
        MuxError::NotConnected {
            upstream: self.name.clone(),
        }
    }

    pub(super) async fn request(
        this: &Arc<Shared>,
        message: &Message,
        deadline: Duration,
    ) -> Result<Exchange, MuxError> {
        let started = tokio::time::Instant::now();
        let upstream_id = this.next_id.fetch_add(1, Ordering::Relaxed);
        let (line, progress_token) = outgoing_request(message, upstream_id)?;
        let (events_tx, events) = mpsc::channel(this.limits.events_per_request.max(1));
        let (response_tx, response) = oneshot::channel();
        let outgoing = {
            let mut state = this.state();
            let Some(conn) = &state.conn else {
                return Err(this.not_connected());
            };
            let outgoing = conn.outgoing.clone();
            if state.pending.len() >= this.limits.max_in_flight {
                return Err(MuxError::Busy {
                    upstream: this.name.clone(),
                    max: this.limits.max_in_flight,
                });
            }
            let client_id = message
                .id()
                .cloned()
                .ok_or(MuxError::Invalid("a request needs an id"))?;
            state.pending.insert(
                upstream_id,
                Pending {
                    client_id,
                    method: message.method().unwrap_or_default().into(),
                    progress_token,
                    events: events_tx,
                    response: response_tx,
                },
            );
            outgoing
        };
        // A deadline too far to represent is as good as a year.
        let until = started
            .checked_add(deadline)
            .unwrap_or_else(|| started + Duration::from_secs(365 * 24 * 3600));
        let mut exchange =
            Exchange::new(this.clone(), upstream_id, until, deadline, events, response);
        match tokio::time::timeout_at(until, outgoing.send(line)).await {
            Ok(Ok(())) => Ok(exchange),
            Ok(Err(_)) => {
                exchange.forget();
                Err(this.not_connected())
            }
            Err(_) => {
                exchange.forget();
                Err(MuxError::Timeout {
                    upstream: this.name.clone(),
                    after: deadline,
                })
            }
        }
    }

    pub(super) async fn notify(&self, message: &Message) -> Result<(), MuxError> {
        let line = serialise(message.as_object())?;
        let outgoing = match &self.state().conn {
            Some(conn) => conn.outgoing.clone(),
            None => return Err(self.not_connected()),
        };
        outgoing.send(line).await.map_err(|_| self.not_connected())
    }

    /// Forgets a request that will not be answered to its exchange: expired,
    /// dropped, cancelled, or never written. Sends `notifications/cancelled`
    /// upstream when `reason` is given (never for `initialize`, as the spec asks).
    /// Returns whether the request was still pending.
    pub(super) fn abandon(&self, upstream_id: u64, reason: Option<&str>) -> bool {
        let (pending, outgoing) = {
            let mut state = self.state();
            let Some(pending) = state.pending.remove(&upstream_id) else {
                return false;
            };
            state
                .server_requests
                .retain(|_, owner| *owner != upstream_id);
            (pending, state.conn.as_ref().map(|c| c.outgoing.clone()))
        };
        if let (Some(reason), Some(outgoing)) = (reason, outgoing)
            && &*pending.method != "initialize"
            && outgoing
                .try_send(cancelled_line(upstream_id, reason))
                .is_err()
        {
            tracing::debug!(upstream = %self.name, upstream_id,
                "could not queue notifications/cancelled");
        }
        true
    }

    pub(super) fn record_timeout(&self) {
        self.timeouts.send_modify(|n| *n = n.saturating_add(1));
    }

    pub(super) fn forget_server_request(&self, id: &RequestId) {
        self.state().server_requests.remove(id);
    }

    /// Sorts one message from the connection of `generation`.
    fn dispatch(self: &Arc<Self>, generation: u64, frame: Frame) {
        let route = {
            let mut state = self.state();
            if state
                .conn
                .as_ref()
                .is_none_or(|c| c.generation != generation)
            {
                return;
            }
            match frame.message().kind() {
                Kind::Response | Kind::ErrorResponse => self.route_response(&mut state, frame),
                Kind::Request => self.route_server_request(&mut state, frame),
                Kind::Notification => self.route_notification(&state, frame),
            }
        };
        self.act(route);
    }

    fn act(&self, route: Route) {
        match route {
            Route::Respond(tx, result) => {
                if self.timeouts.borrow().ne(&0) {
                    self.timeouts.send_replace(0);
                }
                let _ = tx.send(result);
            }
            Route::Deliver(tx, event) => {
                // A full queue drops progress (lossy by nature) rather than stall the
                // reader for every other request; a refused server request is
                // answered upstream by its drop.
                if tx.try_send(event).is_err() {
                    tracing::debug!(upstream = %self.name, "event dropped: exchange queue full or closed");
                }
            }
            Route::Reply(outgoing, line) => {
                if outgoing.try_send(line).is_err() {
                    tracing::warn!(upstream = %self.name, "could not queue a reply to a server request");
                }
            }
            Route::Broadcast(frame) => {
                let _ = self.broadcast.send(frame);
            }
            Route::Drop(why) => {
                tracing::warn!(upstream = %self.name, why, "upstream message dropped");
            }
        }
    }

    fn route_response(&self, state: &mut State, frame: Frame) -> Route {
        let Some(upstream_id) = frame.message().id().and_then(as_upstream_id) else {
            return Route::Drop("response with an unknown or absent id");
        };
        let Some(pending) = state.pending.remove(&upstream_id) else {
            return Route::Drop("response with an unknown or already-answered id");
        };
        state
            .server_requests
            .retain(|_, owner| *owner != upstream_id);
        let result =
            restore(&frame, &["id"], &pending.client_id, &self.limits).ok_or(MuxError::Protocol {
                upstream: self.name.clone(),
                reason: "its id could not be restored",
            });
        Route::Respond(pending.response, result)
    }

    fn route_server_request(self: &Arc<Self>, state: &mut State, frame: Frame) -> Route {
        let Some(server_id) = frame.message().id().cloned() else {
            return Route::Drop("request without an id");
        };
        let Some(outgoing) = state.conn.as_ref().map(|c| c.outgoing.clone()) else {
            return Route::Drop("no connection");
        };
        if frame.message().method() == Some("ping") {
            return Route::Reply(outgoing, result_line(&server_id, Value::Object(Map::new())));
        }
        let owner = single_scoped(state).filter(|_| {
            state.server_requests.len() < self.limits.max_server_requests
                && !state.server_requests.contains_key(&server_id)
        });
        let Some((upstream_id, events)) = owner else {
            let body = error_body(Some(&server_id), INTERNAL_ERROR, "cannot route", None);
            return Route::Reply(outgoing, body);
        };
        state.server_requests.insert(server_id.clone(), upstream_id);
        let request = ServerRequest::new(frame, server_id, outgoing, Arc::downgrade(self));
        Route::Deliver(events, Event::Request(request))
    }

    fn route_notification(&self, state: &State, frame: Frame) -> Route {
        let message = frame.message();
        let params = message.params();
        let number = |v: Option<&Value>| v.and_then(Value::as_u64);
        let pending = |id: Option<u64>| id.and_then(|id| state.pending.get(&id).map(|p| (id, p)));
        if message.method() == Some(PROGRESS) {
            let token = number(params.and_then(|p| p.get("progressToken")));
            return match pending(token) {
                Some((_, p)) => match &p.progress_token {
                    Some(original) => {
                        self.deliver_restored(p, &frame, &["params", "progressToken"], original)
                    }
                    None => Route::Drop("progress for a request that asked for none"),
                },
                None => Route::Drop("progress for no request in flight"),
            };
        }
        if message.method() == Some(CANCELLED) {
            let target = params.and_then(|p| p.get("requestId"));
            if let Some((_, p)) = pending(number(target)) {
                let original = p.client_id.to_json();
                return self.deliver_restored(p, &frame, &["params", "requestId"], &original);
            }
            let owner = target
                .and_then(|t| {
                    state
                        .server_requests
                        .iter()
                        .find(|(id, _)| id.to_json() == *t)
                })
                .and_then(|(_, owner)| state.pending.get(owner));
            return match owner {
                Some(p) => Route::Deliver(p.events.clone(), Event::Notification(frame)),
                None => Route::Drop("cancellation of nothing in flight"),
            };
        }
        let subscription = message.meta().map(|m| m.get(SUBSCRIPTION_ID));
        if let Some(Some(id)) = subscription {
            return match pending(number(Some(id))) {
                Some((_, p)) => {
                    let original = p.client_id.to_json();
                    let path = ["params", "_meta", SUBSCRIPTION_ID];
                    self.deliver_restored(p, &frame, &path, &original)
                }
                None => Route::Drop("notification for a subscription no longer open"),
            };
        }
        match state.era {
            Era::Legacy => Route::Broadcast(Arc::new(frame)),
            Era::Modern => match single_scoped(state) {
                Some((_, events)) => Route::Deliver(events, Event::Notification(frame)),
                None => Route::Drop("request-scoped notification with no single request in flight"),
            },
        }
    }

    fn deliver_restored(
        &self,
        p: &Pending,
        frame: &Frame,
        path: &[&str],
        original: &Value,
    ) -> Route {
        match restore_value(frame, path, original, &self.limits) {
            Some(frame) => Route::Deliver(p.events.clone(), Event::Notification(frame)),
            None => Route::Drop("notification whose key could not be restored"),
        }
    }
}

/// The one scoped request in flight, if there is exactly one.
fn single_scoped(state: &State) -> Option<(u64, mpsc::Sender<Event>)> {
    let mut scoped = state.pending.iter().filter(|(_, p)| p.scoped());
    let (id, only) = scoped.next()?;
    scoped.next().is_none().then(|| (*id, only.events.clone()))
}

fn take_all(state: &mut State) -> Vec<Pending> {
    state.server_requests.clear();
    state.pending.drain().map(|(_, p)| p).collect()
}

fn as_upstream_id(id: &RequestId) -> Option<u64> {
    match id {
        RequestId::Number(n) => u64::try_from(*n).ok(),
        RequestId::String(_) => None,
    }
}

/// The request as it goes upstream: fresh id, progress token replaced by it.
fn outgoing_request(
    message: &Message,
    upstream_id: u64,
) -> Result<(Bytes, Option<Value>), MuxError> {
    let mut object = message.as_object().clone();
    object.insert("id".into(), Value::from(upstream_id));
    let token = object
        .get_mut("params")
        .and_then(Value::as_object_mut)
        .and_then(|p| p.get_mut("_meta"))
        .and_then(Value::as_object_mut)
        .and_then(|m| m.get_mut("progressToken"))
        .map(|t| std::mem::replace(t, Value::from(upstream_id)));
    Ok((serialise(&object)?, token))
}

fn serialise(object: &Map<String, Value>) -> Result<Bytes, MuxError> {
    // Compact serde_json output never contains a raw newline: fit for line framing.
    serde_json::to_vec(object)
        .map(Bytes::from)
        .map_err(|_| MuxError::Invalid("the message cannot be serialised"))
}

fn result_line(id: &RequestId, result: Value) -> Bytes {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": id.to_json(), "result": result});
    Bytes::from(body.to_string())
}

fn cancelled_line(upstream_id: u64, reason: &str) -> Bytes {
    let body = serde_json::json!({"jsonrpc": "2.0", "method": CANCELLED,
        "params": {"requestId": upstream_id, "reason": reason}});
    Bytes::from(body.to_string())
}

/// `frame` with its id replaced by `id` (unchanged when equal).
pub(super) fn restore(
    frame: &Frame,
    path: &[&str],
    id: &RequestId,
    limits: &MuxLimits,
) -> Option<Frame> {
    if frame.message().id() == Some(id) {
        return Some(frame.clone());
    }
    restore_value(frame, path, &id.to_json(), limits)
}

/// `frame` with the value at `path` replaced by `value`, re-read strictly.
pub(super) fn restore_value(
    frame: &Frame,
    path: &[&str],
    value: &Value,
    limits: &MuxLimits,
) -> Option<Frame> {
    let json = serde_json::to_vec(value).ok()?;
    let raw = splice::replace(frame.raw(), path, &json)?;
    let message = jsonrpc::parse_message(&raw, &limits.parse).ok()?;
    Some(Frame::new(raw, message))
}

/// Builds the error reply for a server request nobody answered.
pub(super) fn unanswered(id: &RequestId) -> Bytes {
    error_body(
        Some(id),
        INTERNAL_ERROR,
        "the request was not answered",
        None,
    )
}
