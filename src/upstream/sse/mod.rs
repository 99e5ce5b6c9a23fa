//! A remote MCP server reached over the legacy HTTP+SSE transport (MCP
//! 2024-11-05): one long-lived `GET` event stream carries everything the server
//! says, and each message to it is a `POST` to the endpoint the stream named.
//!
//! Like a stdio process, such a session is a single JSON-RPC conversation that a
//! replica holds and shares: [`SseUpstream::start`] returns at once; a supervisor
//! task opens the session (`link`), performs the same handshake as for stdio
//! ([`crate::upstream::supervised::handshake`]), opens the [`Mux`] and reconnects with
//! backoff when the stream ends, fails or stops answering. The broker treats it
//! exactly like a stdio upstream (see [`crate::upstream::shared::Connection`]);
//! both wrap the same [`Handle`] and differ only in their supervisor.
//!
//! Invariants: no client request reaches the server before its handshake
//! finished; a lost session fails its in-flight requests at once with the reason;
//! only the upstream's configured headers are sent, never a client's token; the
//! endpoint is on the configured origin ([`endpoint`]).

pub mod endpoint;
mod link;
mod supervisor;

use crate::config::HttpSettings;
use crate::protocol::{Message, ParseLimits};
use crate::upstream::liveness::Liveness;
use crate::upstream::mux::{Exchange, Mux, MuxLimits};
use crate::upstream::supervised::{Handle, Health, LinkError, Offer, Session};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Session bounds of an HTTP+SSE upstream. They are not configurable yet: the
/// request deadline is the upstream's `response_timeout`, the rest are the
/// defaults of a stdio upstream.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Deadline of a client request.
    pub request_timeout: Duration,
    /// Connect, endpoint event and handshake, together.
    pub startup_timeout: Duration,
    /// First reconnection delay.
    pub initial_backoff: Duration,
    /// Largest reconnection delay.
    pub max_backoff: Duration,
    /// Pings and the timeouts that count as lost.
    pub liveness: Liveness,
}

impl Tuning {
    /// The bounds for `settings`.
    pub fn of(settings: &HttpSettings) -> Tuning {
        Tuning {
            request_timeout: settings.response_timeout,
            startup_timeout: settings
                .connect_timeout
                .saturating_add(settings.response_timeout),
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            liveness: Liveness {
                ping_interval: Some(Duration::from_secs(30)),
                ping_timeout: Duration::from_secs(10),
                max_consecutive_timeouts: 3,
            },
        }
    }
}

/// A supervised HTTP+SSE session. Dropping it closes the session.
#[derive(Debug)]
pub struct SseUpstream {
    tuning: Tuning,
    /// Dropping it stops the supervisor, which closes the event stream.
    link: Handle,
}

impl SseUpstream {
    /// Starts supervising the server called `name`. Returns at once with health
    /// [`Health::Starting`]; must be called inside a Tokio runtime. `parse`
    /// bounds every message, `max_event` every SSE event.
    pub fn start(
        name: &str,
        settings: &HttpSettings,
        parse: ParseLimits,
        max_event: usize,
    ) -> SseUpstream {
        let name: Arc<str> = name.into();
        let tuning = Tuning::of(settings);
        let mux = Mux::new(
            &name,
            MuxLimits {
                parse,
                ..MuxLimits::default()
            },
        );
        let link = Handle::start(name.clone(), mux.clone(), |wiring| {
            let supervisor = supervisor::Supervisor {
                name,
                client: crate::upstream::client(settings),
                settings: Arc::new(settings.clone()),
                tuning,
                parse,
                max_event,
                mux,
                wiring,
            };
            supervisor.run()
        });
        SseUpstream { tuning, link }
    }

    /// The multiplexer (for notifications and direct use; prefer [`Self::request`]).
    pub fn mux(&self) -> &Mux {
        self.link.mux()
    }

    /// The current health.
    pub fn health(&self) -> Health {
        self.link.health()
    }

    /// A receiver that sees every health change.
    pub fn watch_health(&self) -> watch::Receiver<Health> {
        self.link.watch_health()
    }

    /// What the gateway offers in the handshake (always the legacy one).
    pub fn offer(&self) -> Offer {
        supervisor::offer()
    }

    /// Waits for a session that is starting (at most its startup bound); one
    /// that is down fails at once with [`LinkError::Unavailable`].
    pub async fn ready(&self) -> Result<(), LinkError> {
        self.link.ready(self.tuning.startup_timeout).await
    }

    /// What the server said in the current session's handshake.
    pub fn session(&self) -> Option<Arc<Session>> {
        self.link.session()
    }

    /// Sends a client request with the upstream's deadline. Refused while not up.
    pub async fn request(&self, message: &Message) -> Result<Exchange, LinkError> {
        self.link
            .request(message, self.tuning.request_timeout)
            .await
    }

    /// Sends a client notification. Refused while not up.
    pub async fn notify(&self, message: &Message) -> Result<(), LinkError> {
        self.link.notify(message).await
    }

    /// Closes the session and waits until the supervisor has stopped.
    pub async fn shutdown(self) {
        self.link.shutdown().await;
    }
}
