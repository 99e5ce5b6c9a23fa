//! What every supervised upstream connection shares, whatever carries it (a
//! stdio process, a legacy HTTP+SSE session): its [`Health`], the
//! [`LinkError`] a refused or lost request fails with, the MCP session the
//! gateway opens on it ([`handshake`]), and the [`Handle`] that starts, gates
//! and stops it. Only the supervisor task differs between transports.
//!
//! Invariants: a connection is only ever in one [`Health`] state, and every
//! state but [`Health::Up`] says why requests are refused.

mod handle;
pub mod handshake;
pub mod restart;

pub use handle::{Handle, Wiring};
pub use handshake::{Offer, Session};

use crate::upstream::mux::MuxError;
use std::sync::Arc;

/// Whether the upstream can take requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Connecting or handshaking; `attempt` counts failed starts since the last
    /// healthy period, from 1.
    Starting {
        /// The attempt number.
        attempt: u32,
    },
    /// Serving requests.
    Up,
    /// Not serving; a restart follows its backoff unless the reason is "stopped".
    Down {
        /// Why, e.g. "the process exited with status 1".
        reason: Arc<str>,
    },
}

impl Health {
    /// Whether requests are let through.
    pub fn is_up(&self) -> bool {
        matches!(self, Health::Up)
    }
}

/// Why a request could not be sent. `Display` is for logs; the broker answers
/// the client with a JSON-RPC error that names the upstream as unavailable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The upstream is starting, restarting or stopped.
    #[error("upstream {upstream} is unavailable: {reason}")]
    Unavailable {
        /// The upstream's name.
        upstream: Arc<str>,
        /// Its health, in words.
        reason: Arc<str>,
    },
    /// The connection refused or lost the request.
    #[error(transparent)]
    Mux(#[from] MuxError),
}

impl LinkError {
    /// The refusal for upstream `name` while its health is `health`.
    pub fn unavailable(name: &Arc<str>, health: &Health) -> LinkError {
        let reason: Arc<str> = match health {
            Health::Up => "up".into(),
            Health::Starting { attempt } => format!("starting (attempt {attempt})").into(),
            Health::Down { reason } => format!("down: {reason}").into(),
        };
        LinkError::Unavailable {
            upstream: name.clone(),
            reason,
        }
    }
}
