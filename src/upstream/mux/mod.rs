//! One upstream MCP connection shared by many client requests.
//!
//! A stdio process, or a legacy HTTP+SSE session held by one gateway replica, is a
//! single JSON-RPC conversation. The multiplexer lets every client request of the
//! gateway travel over it, and sorts what comes back:
//!
//! ```text
//!  client requests ──request()──▶ fresh upstream id ──▶ Link.outgoing ──▶ transport
//!  Exchange ◀── response (client id restored), progress, server requests ──┐
//!  notifications() ◀── notifications tied to no request (broadcast)        │
//!                                                       Link.incoming ◀────┘
//! ```
//!
//! The transport is anything that gives a [`Link`]: a sink of serialised messages
//! (one per line, never containing a newline) and a stream of parsed [`Frame`]s.
//! Closing the stream means the connection ended; [`Mux::attach`] takes the next one
//! after a restart. A connection lives in two phases: attached (only the session's
//! own setup passes: `setup_request`, `setup_notify`), then [`Mux::open`] (client
//! traffic too), so no client message can reach a server before its handshake.
//!
//! Invariants:
//! - Upstream ids come from one counter and are never reused, so two clients that
//!   both use id `1` never collide, and a late answer from a previous connection can
//!   never complete a request of the current one.
//! - A request's `_meta.progressToken` is replaced by its upstream id on the way out
//!   and restored on the way back, for the same reason.
//! - Responses are delivered with the client's original id spliced into the bytes
//!   the upstream wrote (see `splice`); every other byte is kept.
//! - A response with an unknown or already-answered id is dropped and logged.
//! - Memory is bounded: at most `max_in_flight` requests, `events_per_request`
//!   queued events per request (progress beyond it is dropped, never the response),
//!   a bounded broadcast (slow receivers lag), `max_server_requests` open
//!   server-to-client requests.
//! - The reader never waits on the writer (replies the mux makes itself use
//!   `try_send`), so a process that stops reading its stdin cannot deadlock it.
//! - When the transport dies, every in-flight request fails at once with
//!   [`MuxError::Disconnected`] carrying the reason.
//!
//! Routing of what the server sends on its own initiative, and why:
//! - `notifications/progress`: to the request whose (rewritten) token it names.
//! - A notification carrying `_meta["io.modelcontextprotocol/subscriptionId"]`
//!   (2026-07-28 `subscriptions/listen`): to that listen request, id restored.
//! - Server-to-client requests (sampling, elicitation, roots): to the one client
//!   request in flight, if there is exactly one. Nothing on a single stdio pipe says
//!   which client request caused them, and guessing would hand one client's
//!   sampling prompt or roots question to another client, so with zero or several
//!   requests in flight they are answered upstream with `-32603` "cannot route".
//!   `ping` is answered by the mux itself.
//! - Other notifications: legacy era, to [`Mux::notifications`] (they are
//!   session-wide: list changes, resource updates, logs). 2026-07-28 era,
//!   everything the server sends while a request runs is scoped to that request, so
//!   a notification goes to the one request in flight, and is dropped (not
//!   broadcast, which could leak it to other clients) when that is ambiguous.

mod exchange;
mod route;
mod shared;
mod splice;
mod wire;

pub use exchange::{Event, Exchange, ServerRequest};

use crate::protocol::{Era, Kind, Message, ParseLimits};
use bytes::Bytes;
use shared::{Gate, Shared};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

/// One message read from the upstream: the bytes it wrote and their parse.
///
/// Invariant: `message` is the strict parse of `raw`.
#[derive(Debug, Clone)]
pub struct Frame {
    raw: Bytes,
    message: Message,
}

impl Frame {
    /// Pairs bytes with their parse (the transport parses each line with
    /// [`crate::protocol::jsonrpc::parse_message`]).
    pub fn new(raw: Bytes, message: Message) -> Frame {
        Frame { raw, message }
    }

    /// The bytes, to forward unchanged.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The parsed message.
    pub fn message(&self) -> &Message {
        &self.message
    }
}

/// The transport side of one connection.
#[derive(Debug)]
pub struct Link {
    /// Serialised messages to send, one each, without a trailing newline.
    pub outgoing: mpsc::Sender<Bytes>,
    /// Messages read from the upstream. Its end is the end of the connection.
    pub incoming: mpsc::Receiver<Frame>,
}

/// Bounds on what one multiplexed connection may hold.
#[derive(Debug, Clone, Copy)]
pub struct MuxLimits {
    /// Most client requests awaiting an answer; more get [`MuxError::Busy`].
    pub max_in_flight: usize,
    /// Notifications and server requests queued per request before dropping.
    pub events_per_request: usize,
    /// Unscoped notifications kept for slow [`Mux::notifications`] receivers.
    pub broadcast_capacity: usize,
    /// Server-to-client requests awaiting a client's answer.
    pub max_server_requests: usize,
    /// Bounds for re-reading a frame after its id was restored.
    pub parse: ParseLimits,
}

impl Default for MuxLimits {
    fn default() -> Self {
        MuxLimits {
            max_in_flight: 256,
            events_per_request: 64,
            broadcast_capacity: 256,
            max_server_requests: 64,
            parse: ParseLimits::default(),
        }
    }
}

/// Why a request or notification could not go through the connection. The
/// broker answers the client with a JSON-RPC error; `Display` is for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MuxError {
    /// No connection is attached (the upstream is starting, restarting or down).
    #[error("upstream {upstream} is not connected")]
    NotConnected {
        /// The upstream's name.
        upstream: Arc<str>,
    },
    /// A connection is attached but its handshake is not done yet.
    #[error("upstream {upstream} is still starting")]
    Starting {
        /// The upstream's name.
        upstream: Arc<str>,
    },
    /// The connection ended while the request was in flight.
    #[error("upstream {upstream} connection lost: {reason}")]
    Disconnected {
        /// The upstream's name.
        upstream: Arc<str>,
        /// Why, e.g. "the process exited with status 1".
        reason: Arc<str>,
    },
    /// No response before the request's deadline; it was cancelled upstream.
    #[error("upstream {upstream} did not answer within {after:?}")]
    Timeout {
        /// The upstream's name.
        upstream: Arc<str>,
        /// The deadline the request was given.
        after: Duration,
    },
    /// `max_in_flight` requests are already waiting.
    #[error("upstream {upstream} already has {max} requests in flight")]
    Busy {
        /// The upstream's name.
        upstream: Arc<str>,
        /// The configured bound.
        max: usize,
    },
    /// The message has the wrong shape for the call (a bug in the caller).
    #[error("cannot send this message: {0}")]
    Invalid(&'static str),
    /// The upstream answered with bytes the mux could not map back (its id
    /// could not be restored): the upstream broke the protocol.
    #[error("upstream {upstream} sent an unusable response: {reason}")]
    Protocol {
        /// The upstream's name.
        upstream: Arc<str>,
        /// What was wrong.
        reason: &'static str,
    },
}

/// One upstream connection, shared. Cheap to clone; every clone is the same mux.
#[derive(Debug, Clone)]
pub struct Mux {
    shared: Arc<Shared>,
}

impl Mux {
    /// A mux for the upstream called `name`, with no connection yet.
    pub fn new(name: &str, limits: MuxLimits) -> Mux {
        Mux {
            shared: Shared::new(name.into(), limits),
        }
    }

    /// The upstream's name, as used in errors and logs.
    pub fn name(&self) -> &Arc<str> {
        self.shared.name()
    }

    /// Starts using `link`, closed to client traffic until [`Mux::open`]: only
    /// the session's setup ([`Mux::setup_request`], [`Mux::setup_notify`]) passes.
    /// A previous connection is detached first (its requests fail with "replaced
    /// by a new connection"). Must be called inside a Tokio runtime.
    pub fn attach(&self, link: Link) {
        Shared::attach(&self.shared, link);
    }

    /// Opens the attached connection to client traffic once its handshake is
    /// done, in the era it negotiated (which decides where unscoped notifications
    /// go, see the module docs).
    pub fn open(&self, era: Era) {
        self.shared.open(era);
    }

    /// Stops using the current connection: every in-flight request fails with
    /// [`MuxError::Disconnected`] and `reason`; later requests get
    /// [`MuxError::NotConnected`] until the next [`Mux::attach`].
    pub fn detach(&self, reason: &str) {
        self.shared.detach(None, reason);
    }

    /// Whether a connection is attached and open to client traffic.
    pub fn is_open(&self) -> bool {
        self.shared.is_open()
    }

    /// Sends a client request upstream under a fresh upstream id and returns the
    /// [`Exchange`] through which its notifications, server requests and finally
    /// its response (with the client's id) arrive. The deadline runs from now and
    /// covers waiting for room to write. Dropping the exchange before its response
    /// cancels the request upstream (`notifications/cancelled`).
    ///
    /// Fails with [`MuxError::NotConnected`], [`MuxError::Starting`] (handshake
    /// not done), [`MuxError::Busy`], [`MuxError::Timeout`] (no room to write in
    /// time), [`MuxError::Disconnected`], or [`MuxError::Invalid`] when `message`
    /// is not a request.
    pub async fn request(
        &self,
        message: &Message,
        deadline: Duration,
    ) -> Result<Exchange, MuxError> {
        self.send_request(Gate::Client, message, deadline).await
    }

    /// [`Mux::request`] for the session's own handshake: allowed before [`Mux::open`].
    pub async fn setup_request(
        &self,
        message: &Message,
        deadline: Duration,
    ) -> Result<Exchange, MuxError> {
        self.send_request(Gate::Setup, message, deadline).await
    }

    async fn send_request(
        &self,
        gate: Gate,
        message: &Message,
        deadline: Duration,
    ) -> Result<Exchange, MuxError> {
        if message.kind() != Kind::Request {
            return Err(MuxError::Invalid(
                "only a request can be sent with request()",
            ));
        }
        Shared::request(&self.shared, gate, message, deadline).await
    }

    /// Sends a client notification upstream unchanged in content (re-serialised
    /// compactly so it fits on one line). `notifications/cancelled` is refused:
    /// client ids mean nothing upstream; drop or [`Exchange::cancel`] the
    /// exchange instead.
    pub async fn notify(&self, message: &Message) -> Result<(), MuxError> {
        self.send_notification(Gate::Client, message).await
    }

    /// [`Mux::notify`] for the handshake (`notifications/initialized`).
    pub async fn setup_notify(&self, message: &Message) -> Result<(), MuxError> {
        self.send_notification(Gate::Setup, message).await
    }

    async fn send_notification(&self, gate: Gate, message: &Message) -> Result<(), MuxError> {
        if message.kind() != Kind::Notification {
            return Err(MuxError::Invalid(
                "only a notification can be sent with notify()",
            ));
        }
        if message.method() == Some(shared::CANCELLED) {
            return Err(MuxError::Invalid(
                "cancel a request by dropping or cancelling its Exchange",
            ));
        }
        self.shared.notify(gate, message).await
    }

    /// Server notifications tied to no request (legacy era: list changes,
    /// resource updates, log messages). Bounded: a receiver that falls behind
    /// by more than `broadcast_capacity` messages skips the oldest.
    pub fn notifications(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.shared.subscribe()
    }

    /// How many requests in a row have timed out on the current connection
    /// (reset by any response and by attaching). A health check watches it.
    pub fn consecutive_timeouts(&self) -> watch::Receiver<u32> {
        self.shared.timeouts()
    }

    /// Requests currently awaiting an answer.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight()
    }

    /// Messages from the upstream dropped so far because they could not be
    /// routed (unknown or repeated ids, progress for no request, ...). The first
    /// few are logged one by one, then one summary per hundred.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped()
    }
}

#[cfg(test)]
mod tests;
