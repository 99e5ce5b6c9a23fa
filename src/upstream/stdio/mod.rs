//! A local MCP server the gateway spawns and speaks to over stdin/stdout.
//!
//! [`StdioUpstream::start`] returns at once; a supervisor task spawns the
//! configured command (argv, no shell; an empty environment plus the configured
//! variables; its own process group), opens the MCP session itself (`initialize`
//! or `server/discover`, see [`crate::upstream::supervised::handshake`]), and
//! restarts the process with exponential backoff when it exits or stops
//! answering. All traffic goes through one [`Mux`], so many client requests
//! share the process without their ids, progress tokens or server requests
//! crossing. Health, readiness and the refusal while not up are the shared
//! [`Handle`]'s; only the process and its counters are this module's.
//!
//! The broker asks [`StdioUpstream::health`] (or calls [`StdioUpstream::request`],
//! which refuses with [`LinkError::Unavailable`] while the upstream is not up) to
//! degrade only this upstream's tools with a clear JSON-RPC error.
//!
//! Invariants: no client request reaches a process before its handshake finished;
//! a dying process fails its in-flight requests at once with the reason; shutting
//! down (or dropping the handle) closes stdin, then SIGTERMs, then SIGKILLs the
//! process group after the configured bounds, and reaps: no zombie, no straggler.

mod lines;
mod process;
mod supervisor;

use crate::config::stdio::StdioSettings;
use crate::protocol::{Message, ParseLimits};
use crate::upstream::mux::{Exchange, Frame, Mux, MuxLimits};
use crate::upstream::supervised::{Handle, Health, LinkError, Offer, Session};
use process::Counters;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// Counters since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Processes spawned (restarts are `starts - 1`).
    pub starts: u64,
    /// stdout lines dropped as not JSON-RPC or too long.
    pub garbage_lines: u64,
    /// stderr lines read (and logged, within the rate limit).
    pub stderr_lines: u64,
}

/// A supervised stdio server. Dropping it stops the server (gracefully while the
/// runtime runs; otherwise the process group is killed and reaped).
#[derive(Debug)]
pub struct StdioUpstream {
    settings: Arc<StdioSettings>,
    counters: Arc<Counters>,
    pid: Arc<AtomicU32>,
    /// Dropping it stops the supervisor, which terminates the process; if the
    /// runtime is going away instead, dropping the task drops the process,
    /// which kills its group and reaps it.
    link: Handle,
}

impl StdioUpstream {
    /// Starts supervising the server called `name`. Returns at once with health
    /// [`Health::Starting`]; must be called inside a Tokio runtime. `parse`
    /// bounds every message read from the process.
    pub fn start(name: &str, settings: StdioSettings, parse: ParseLimits) -> StdioUpstream {
        let name: Arc<str> = name.into();
        let settings = Arc::new(settings);
        let limits = MuxLimits {
            max_in_flight: settings.max_in_flight,
            parse,
            ..MuxLimits::default()
        };
        let mux = Mux::new(&name, limits);
        let counters = Arc::new(Counters::default());
        let pid = Arc::new(AtomicU32::new(0));
        let link = Handle::start(name.clone(), mux.clone(), |wiring| {
            let supervisor = supervisor::Supervisor {
                name,
                settings: settings.clone(),
                parse,
                mux,
                counters: counters.clone(),
                pid: pid.clone(),
                wiring,
            };
            supervisor.run()
        });
        StdioUpstream {
            settings,
            counters,
            pid,
            link,
        }
    }

    /// The upstream's name.
    pub fn name(&self) -> &str {
        self.link.name()
    }

    /// What the gateway offers in the handshake.
    pub fn offer(&self) -> Offer {
        Offer::of(&self.settings)
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &StdioSettings {
        &self.settings
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

    /// Waits until the upstream is up. Fails with [`LinkError::Unavailable`]
    /// naming the last health when `within` passes first.
    pub async fn wait_up(&self, within: Duration) -> Result<(), LinkError> {
        self.link.wait_up(within).await
    }

    /// Waits for a server that is starting (at most its `startup_timeout`), so
    /// that the first requests after the gateway starts or the process restarts
    /// are served rather than refused; a server that is down fails at once.
    pub async fn ready(&self) -> Result<(), LinkError> {
        self.link.ready(self.settings.startup_timeout).await
    }

    /// What the server said in the current session's handshake.
    pub fn session(&self) -> Option<Arc<Session>> {
        self.link.session()
    }

    /// The current process id, if one runs.
    pub fn pid(&self) -> Option<u32> {
        Some(self.pid.load(Ordering::Relaxed)).filter(|&pid| pid != 0)
    }

    /// Counters since start.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            starts: c.starts.load(Ordering::Relaxed),
            garbage_lines: c.garbage_lines.load(Ordering::Relaxed),
            stderr_lines: c.stderr_lines.load(Ordering::Relaxed),
        }
    }

    /// Sends a client request with the configured `request_timeout`.
    pub async fn request(&self, message: &Message) -> Result<Exchange, LinkError> {
        self.request_within(message, self.settings.request_timeout)
            .await
    }

    /// Sends a client request with its own deadline. Refused while not up.
    pub async fn request_within(
        &self,
        message: &Message,
        deadline: Duration,
    ) -> Result<Exchange, LinkError> {
        self.link.request(message, deadline).await
    }

    /// Sends a client notification. Refused while not up.
    pub async fn notify(&self, message: &Message) -> Result<(), LinkError> {
        self.link.notify(message).await
    }

    /// Server notifications tied to no request (see [`Mux::notifications`]).
    pub fn notifications(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.link.mux().notifications()
    }

    /// Stops the server cleanly and waits until its process is gone.
    pub async fn shutdown(self) {
        self.link.shutdown().await;
    }
}
