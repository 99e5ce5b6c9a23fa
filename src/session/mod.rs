//! Client sessions of the legacy protocol era, kept replica-safe.
//!
//! The `Mcp-Session-Id` the gateway hands to a client is the sealed
//! [`SessionState`]: the upstream sessions behind it and what was negotiated.
//! Any replica holding the key opens it; nothing is stored server-side. A token
//! that does not open (tampered, foreign, expired, sealed under a retired key) is
//! an unknown session, which the protocol answers with 404.

pub mod seal;
pub mod state;

pub use seal::{KeyError, OpenError, Purpose, Sealer};
pub use state::{SessionState, UpstreamSession};
