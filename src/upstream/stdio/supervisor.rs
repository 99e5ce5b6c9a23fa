//! The task that keeps one stdio server running: spawn, handshake, serve, notice
//! death or silence, terminate, wait out the backoff, start again; until told to
//! stop, and then shut the process down cleanly.
//!
//! ```text
//!   ┌─▶ Starting ──spawn+handshake──▶ Up ──exit / N timeouts in a row──▶ Down ─┐
//!   └──────────────────────────── backoff (doubling, jittered) ◀───────────────┘
//!   stop (shutdown() or the handle dropped): terminate ──▶ Down "stopped"
//! ```
//!
//! Invariants: the mux is attached only to the current process and detached (all
//! in-flight requests failed with the reason) before the process is terminated; the
//! health state always says why the upstream is not up; the backoff starts over once
//! a process has stayed up for `max_backoff`.

use super::process::{self, Counters, Ending, Process};
use crate::config::stdio::StdioSettings;
use crate::protocol::{Era, ParseLimits};
use crate::upstream::backoff::Backoff;
use crate::upstream::liveness::{self, Liveness};
use crate::upstream::mux::Mux;
use crate::upstream::supervised::handshake::{self, Offer};
use crate::upstream::supervised::restart::{self, Life, Supervised, stopped};
use crate::upstream::supervised::{Health, Wiring};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Everything the supervisor task owns or shares with the handle.
#[derive(Debug)]
pub struct Supervisor {
    pub name: Arc<str>,
    pub settings: Arc<StdioSettings>,
    pub parse: ParseLimits,
    pub mux: Mux,
    pub counters: Arc<Counters>,
    pub pid: Arc<AtomicU32>,
    pub wiring: Wiring,
}

impl Supervised for Supervisor {
    const KIND: &'static str = "stdio";

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
        self.pid.store(0, Ordering::Relaxed);
    }
}

impl Supervisor {
    /// Runs until stopped.
    pub async fn run(mut self) {
        let s = &self.settings;
        let backoff = Backoff::new(s.initial_backoff, s.max_backoff, s.jitter);
        let max_backoff = s.max_backoff;
        restart::run(&mut self, backoff, max_backoff).await;
    }

    /// One process's life.
    async fn live(&mut self) -> Life {
        let spawned = process::spawn(&self.name, &self.settings, self.parse, &self.counters);
        let (mut process, link) = match spawned {
            Ok(spawned) => spawned,
            Err(e) => {
                let program = self.settings.program.display();
                let reason = format!("cannot start `{program}`: {e}");
                return Life::Failed {
                    reason,
                    up_for: Duration::ZERO,
                };
            }
        };
        self.pid.store(process.pid(), Ordering::Relaxed);
        self.mux.attach(link);
        let started = Instant::now();
        let deadline = started + self.settings.startup_timeout;
        let offer = Offer::of(&self.settings);
        let handshake = tokio::select! {
            result = handshake::perform(&self.mux, &offer, deadline) => result,
            how = process.wait() => {
                return self.failed(process, format!("the process {how} during startup"), started).await
            }
            () = stopped(&mut self.wiring.stop) => return self.stopped(process).await,
        };
        let session = match handshake {
            Ok(session) => session,
            Err(e) => {
                let reason = format!("initialization failed: {e}");
                self.mux.detach(&reason);
                self.terminate(&mut process).await;
                return Life::Failed {
                    reason,
                    up_for: Duration::ZERO,
                };
            }
        };
        let era = session.era;
        tracing::info!(upstream = %self.name, pid = process.pid(), era = era.as_str(),
            version = %session.version, "stdio upstream up");
        self.wiring.session.store(Some(Arc::new(session)));
        self.mux.open(era);
        self.wiring.health.send_replace(Health::Up);
        self.serve(process, era, started).await
    }

    /// Watches a running process until it dies, stops answering, or is stopped.
    async fn serve(&mut self, mut process: Process, era: Era, started: Instant) -> Life {
        let offer = Offer::of(&self.settings);
        let bounds = bounds(&self.settings);
        tokio::select! {
            how = process.wait() => self.failed(process, format!("the process {how}"), started).await,
            () = stopped(&mut self.wiring.stop) => self.stopped(process).await,
            reason = liveness::lost(&self.mux, &offer, era, bounds) => {
                self.mux.detach(&reason);
                self.terminate(&mut process).await;
                Life::Failed { reason, up_for: started.elapsed() }
            }
        }
    }

    /// After `wait`: the process exited, or closed its stdout and is terminated.
    async fn failed(&self, mut process: Process, reason: String, started: Instant) -> Life {
        self.mux.detach(&reason);
        if process.reaped() {
            // Its last words first: they usually say why.
            process.drain_stderr(Duration::from_millis(500)).await;
        } else {
            self.terminate(&mut process).await;
        }
        Life::Failed {
            reason,
            up_for: started.elapsed(),
        }
    }

    async fn stopped(&self, mut process: Process) -> Life {
        self.mux.detach("the gateway is shutting down");
        self.terminate(&mut process).await;
        Life::Stopped
    }

    async fn terminate(&self, process: &mut Process) {
        let s = &self.settings;
        match process.terminate(s.stdin_grace, s.term_grace).await {
            None => {}
            Some(Ending::Exited(how)) => {
                tracing::info!(upstream = %self.name, "stdio upstream {how}")
            }
            Some(ending @ (Ending::Terminated(_) | Ending::Killed(_))) => {
                tracing::warn!(upstream = %self.name, ?ending, "stdio upstream needed a signal");
            }
        }
    }
}

/// The liveness bounds of a stdio upstream.
fn bounds(s: &StdioSettings) -> Liveness {
    Liveness {
        ping_interval: s.ping_interval,
        ping_timeout: s.ping_timeout,
        max_consecutive_timeouts: s.max_consecutive_timeouts,
    }
}
