//! The task that keeps one HTTP+SSE session open: connect, wait for the
//! endpoint, handshake, serve, notice the stream ending or the server going
//! silent, wait out the backoff, connect again; until told to stop.
//!
//! ```text
//!   ┌─▶ Starting ──GET+endpoint+initialize──▶ Up ──stream ends / N timeouts──▶ Down ─┐
//!   └────────────────────────────── backoff (doubling, jittered) ◀────────────────────┘
//!   stop (shutdown() or the handle dropped): close the stream ──▶ Down "stopped"
//! ```
//!
//! The same life as a stdio process (see `stdio::supervisor`), with the same
//! handshake, backoff and liveness checks; only the link differs. Invariants: the
//! mux is detached (every in-flight request failed with the reason) before the
//! session is dropped; the health state always says why the upstream is not up.

use super::{Tuning, link};
use crate::config::HttpSettings;
use crate::protocol::{Era, ParseLimits};
use crate::upstream::PooledClient;
use crate::upstream::backoff::Backoff;
use crate::upstream::liveness;
use crate::upstream::mux::Mux;
use crate::upstream::supervised::handshake::{self, Offer};
use crate::upstream::supervised::restart::{self, Life, Supervised, stopped};
use crate::upstream::supervised::{Health, Wiring};
use std::sync::Arc;
use tokio::time::Instant;

/// Everything the supervisor task owns or shares with the handle.
#[derive(Debug)]
pub struct Supervisor {
    pub name: Arc<str>,
    pub settings: Arc<HttpSettings>,
    pub tuning: Tuning,
    pub client: PooledClient,
    pub parse: ParseLimits,
    pub max_event: usize,
    pub mux: Mux,
    pub wiring: Wiring,
}

impl Supervised for Supervisor {
    const KIND: &'static str = "HTTP+SSE";

    fn name(&self) -> &str {
        &self.name
    }

    fn wiring(&mut self) -> &mut Wiring {
        &mut self.wiring
    }

    async fn life(&mut self) -> Life {
        self.live().await
    }

    fn close(&mut self) {
        self.mux.detach("the gateway is shutting down");
    }
}

impl Supervisor {
    /// Runs until stopped.
    pub async fn run(mut self) {
        let t = self.tuning;
        let backoff = Backoff::new(t.initial_backoff, t.max_backoff, true);
        restart::run(&mut self, backoff, t.max_backoff).await;
    }

    /// One session's life.
    async fn live(&mut self) -> Life {
        let started = Instant::now();
        let deadline = started + self.tuning.startup_timeout;
        let opening = link::open(
            &self.name,
            &self.client,
            &self.settings,
            self.parse,
            self.max_event,
            deadline,
        );
        let (mut session, link) = tokio::select! {
            opened = opening => match opened {
                Ok(opened) => opened,
                Err(reason) => return failed(reason, started),
            },
            () = stopped(&mut self.wiring.stop) => return Life::Stopped,
        };
        self.mux.attach(link);
        let offer = offer();
        let handshake = tokio::select! {
            result = handshake::perform(&self.mux, &offer, deadline) => result,
            reason = session.ended() => return self.lost(format!("{reason} during startup"), started),
            () = stopped(&mut self.wiring.stop) => return Life::Stopped,
        };
        let established = match handshake {
            Ok(established) => established,
            Err(e) => return self.lost(format!("initialization failed: {e}"), started),
        };
        let era = established.era;
        tracing::info!(upstream = %self.name, url = %self.settings.url,
            version = %established.version, "HTTP+SSE upstream up");
        self.wiring.session.store(Some(Arc::new(established)));
        self.mux.open(era);
        self.wiring.health.send_replace(Health::Up);
        tokio::select! {
            reason = session.ended() => self.lost(reason, started),
            reason = liveness::lost(&self.mux, &offer, era, self.tuning.liveness) => self.lost(reason, started),
            () = stopped(&mut self.wiring.stop) => Life::Stopped,
        }
    }

    /// Fails the in-flight requests with `reason`; the caller drops the session.
    fn lost(&self, reason: String, started: Instant) -> Life {
        self.mux.detach(&reason);
        failed(reason, started)
    }
}

fn failed(reason: String, started: Instant) -> Life {
    Life::Failed {
        reason,
        up_for: started.elapsed(),
    }
}

/// HTTP+SSE is the 2024-11-05 transport: always the legacy handshake, offering
/// that revision, and no client capabilities (the gateway takes no sampling,
/// elicitation or roots requests on a shared connection of its own).
pub fn offer() -> Offer {
    Offer {
        era: crate::config::stdio::StdioEra::Only(Era::Legacy),
        protocol_version: crate::protocol::Version::V2024_11_05,
        client_capabilities: serde_json::Map::new(),
    }
}
