//! The table behind [`super::Mux`]: the current connection, and which upstream
//! id belongs to which waiting exchange. Requests enter here; what the upstream
//! sends is sorted in `route`.
//!
//! The table sits behind one short-held `std` mutex, never held across an await
//! and never while anything is dropped that could take it again (a
//! [`super::ServerRequest`]'s drop does): decisions are made under the lock,
//! actions after it.

use super::exchange::{Event, Exchange};
use super::wire::{cancelled_line, outgoing_request, serialise};
use super::{Frame, Link, MuxError, MuxLimits};
use crate::protocol::{Era, Message, RequestId};
use bytes::Bytes;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::AbortHandle;

pub(super) const CANCELLED: &str = "notifications/cancelled";
const LISTEN: &str = "subscriptions/listen";
/// Dropped messages logged one by one before only summaries are.
const DROPS_LOGGED_EACH: u64 = 5;
/// After those, one summary every this many.
const DROPS_SUMMARY_EVERY: u64 = 100;

/// What all handles of one mux share.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) name: Arc<str>,
    pub(super) limits: MuxLimits,
    next_id: AtomicU64,
    state: Mutex<State>,
    pub(super) broadcast: broadcast::Sender<Arc<Frame>>,
    pub(super) timeouts: watch::Sender<u32>,
    /// Messages from the upstream dropped as unroutable.
    dropped: AtomicU64,
}

/// The routing table proper.
#[derive(Debug)]
pub(super) struct State {
    pub(super) conn: Option<Conn>,
    generation: u64,
    pub(super) era: Era,
    pub(super) pending: HashMap<u64, Pending>,
    /// Server-to-client requests handed to an exchange: server id → upstream id.
    pub(super) server_requests: HashMap<RequestId, u64>,
}

/// The attached connection.
#[derive(Debug)]
pub(super) struct Conn {
    pub(super) generation: u64,
    pub(super) outgoing: mpsc::Sender<Bytes>,
    reader: AbortHandle,
    /// The handshake is done: client traffic may pass.
    open: bool,
}

/// Who is sending: client traffic needs an open connection, the handshake does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gate {
    /// A client's message.
    Client,
    /// The session's own setup (`initialize`, `server/discover`).
    Setup,
}

/// A request awaiting its response.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) client_id: RequestId,
    method: Box<str>,
    /// The client's own `_meta.progressToken`, replaced upstream by the upstream id.
    pub(super) progress_token: Option<Value>,
    pub(super) events: mpsc::Sender<Event>,
    pub(super) response: oneshot::Sender<Result<Frame, MuxError>>,
}

impl Pending {
    /// Whether server messages without an explicit key may be attributed to it:
    /// a long-lived listen stream is not "the request that is running".
    pub(super) fn scoped(&self) -> bool {
        &*self.method != LISTEN
    }
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
            dropped: AtomicU64::new(0),
        })
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
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
            if let Some(old) = state.conn.take() {
                old.reader.abort();
            }
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
                open: false,
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

    pub(super) fn is_open(&self) -> bool {
        self.state().conn.as_ref().is_some_and(|c| c.open)
    }

    pub(super) fn open(&self, era: Era) {
        let mut state = self.state();
        state.era = era;
        if let Some(conn) = &mut state.conn {
            conn.open = true;
        }
    }

    /// The current connection's sender, if `gate` may use it.
    fn outgoing(&self, state: &State, gate: Gate) -> Result<mpsc::Sender<Bytes>, MuxError> {
        match &state.conn {
            Some(conn) if conn.open || gate == Gate::Setup => Ok(conn.outgoing.clone()),
            Some(_) => Err(MuxError::Starting {
                upstream: self.name.clone(),
            }),
            None => Err(self.not_connected()),
        }
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
        gate: Gate,
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
            let outgoing = this.outgoing(&state, gate)?;
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

    pub(super) async fn notify(&self, gate: Gate, message: &Message) -> Result<(), MuxError> {
        let line = serialise(message.as_object())?;
        let outgoing = self.outgoing(&self.state(), gate)?;
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

    /// Logs a dropped upstream message: the first few one by one, then summaries,
    /// so a hostile upstream cannot flood the logs.
    pub(super) fn report_drop(&self, why: &'static str) {
        let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if n <= DROPS_LOGGED_EACH {
            tracing::warn!(upstream = %self.name, why, "upstream message dropped");
        } else if n.is_multiple_of(DROPS_SUMMARY_EVERY) {
            tracing::error!(upstream = %self.name, dropped = n, last = why,
                "the upstream keeps sending messages that cannot be routed");
        }
    }

    /// Messages from the upstream dropped as unroutable so far.
    pub(super) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn take_all(state: &mut State) -> Vec<Pending> {
    state.server_requests.clear();
    state.pending.drain().map(|(_, p)| p).collect()
}
