//! The restart loop every supervisor runs around one connection's life:
//! report `Starting`, live, and when a life fails report `Down` with its
//! reason, wait out a doubling, jittered backoff (started over once a life
//! lasted `max_backoff`), and start again; until told to stop, which ends
//! with `Down "stopped"`. Only a life (spawn or connect, handshake, serve)
//! differs between transports.
//!
//! Invariants: the published session is cleared after every life; a stop
//! asked for during the backoff ends the loop at once.

use super::{Health, Wiring};
use crate::upstream::backoff::Backoff;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

/// How one life of a connection ended.
pub enum Life {
    /// Told to stop; the connection is closed.
    Stopped,
    /// It failed; start again after the backoff.
    Failed {
        /// Why, for the health state and the log.
        reason: String,
        /// How long it had lived.
        up_for: Duration,
    },
}

/// A connection a supervisor keeps alive.
pub trait Supervised {
    /// The transport, as logs name it ("stdio", "HTTP+SSE").
    const KIND: &'static str;
    /// The upstream's name.
    fn name(&self) -> &str;
    /// What it shares with its handle: health, session, stop signal.
    fn wiring(&mut self) -> &mut Wiring;
    /// One life: start, handshake, serve, end.
    fn life(&mut self) -> impl Future<Output = Life> + Send;
    /// Releases what outlives a life once the loop is told to stop.
    fn close(&mut self);
}

/// Keeps `s` alive until it is told to stop.
pub async fn run<S: Supervised>(s: &mut S, mut backoff: Backoff, max_backoff: Duration) {
    while !*s.wiring().stop.borrow() {
        s.wiring().health.send_replace(Health::Starting {
            attempt: backoff.failures() + 1,
        });
        let (reason, up_for) = match s.life().await {
            Life::Stopped => break,
            Life::Failed { reason, up_for } => (reason, up_for),
        };
        s.wiring().session.store(None);
        if up_for >= max_backoff {
            backoff.reset();
        }
        let delay = backoff.next_delay(fastrand::f64());
        tracing::warn!(upstream = %s.name(), %reason, retry_in = ?delay, "{} upstream down", S::KIND);
        s.wiring().health.send_replace(Health::Down {
            reason: reason.into(),
        });
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stopped(&mut s.wiring().stop) => break,
        }
    }
    s.wiring().session.store(None);
    s.close();
    s.wiring().health.send_replace(Health::Down {
        reason: "stopped".into(),
    });
}

/// Resolves once a stop is asked for, or the handle is gone.
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
