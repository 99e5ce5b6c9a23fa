//! Whether a shared connection (a stdio process, an HTTP+SSE session) still
//! answers: it is pinged on a period (`ping`, or `server/discover` in the
//! 2026-07-28 era, which has no ping), and it is declared lost once a number of
//! requests in a row (pings or clients') have timed out. The supervisor of
//! each transport then tears the connection down and restarts it.

use crate::protocol::Era;
use crate::upstream::mux::Mux;
use crate::upstream::supervised::handshake::{self, Offer};
use std::time::Duration;
use tokio::time::{Instant, Interval};

/// The liveness bounds of one upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// Ping period; `None` = no pings.
    pub ping_interval: Option<Duration>,
    /// Ping deadline.
    pub ping_timeout: Duration,
    /// Consecutive timeouts after which the connection counts as lost.
    pub max_consecutive_timeouts: u32,
}

/// Pings the connection behind `mux` and resolves, with the reason, once it
/// stops answering. Runs as long as it is polled.
pub async fn lost(mux: &Mux, offer: &Offer, era: Era, bounds: Liveness) -> String {
    let mut timeouts = mux.consecutive_timeouts();
    let mut ping = bounds
        .ping_interval
        .map(|every| tokio::time::interval_at(Instant::now() + every, every));
    loop {
        tokio::select! {
            changed = timeouts.changed() => {
                let count = *timeouts.borrow_and_update();
                if changed.is_ok() && count >= bounds.max_consecutive_timeouts {
                    return format!("stopped answering: {count} requests in a row timed out");
                }
            }
            () = tick(&mut ping) => send_ping(mux, offer, era, bounds.ping_timeout),
        }
    }
}

/// Sends one liveness probe; a timeout counts like any other.
fn send_ping(mux: &Mux, offer: &Offer, era: Era, within: Duration) {
    let Some(probe) = handshake::ping(offer, era) else {
        return;
    };
    let mux = mux.clone();
    tokio::spawn(async move {
        if let Ok(exchange) = mux.request(&probe, within).await {
            let _ = exchange.response().await;
        }
    });
}

async fn tick(ping: &mut Option<Interval>) {
    match ping {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}
