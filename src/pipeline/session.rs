//! Legacy sessions as the pipeline sees them: the client's `Mcp-Session-Id` is
//! a sealed [`SessionState`]; opening it tells which upstream sessions to use
//! and which version was negotiated. A token that does not open, is too old, or
//! belongs to another principal is an unknown session (404, as the spec says
//! for a terminated one); nothing is stored server-side.

use super::Shared;
use super::context::RequestContext;
use crate::authn::Principal;
use crate::config::Runtime;
use crate::session::{Sealer, SessionState};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// What the client's session id turned out to be.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// The request carries no session id.
    Absent,
    /// A valid session.
    Open(SessionState),
    /// An id that is not a session of this principal (any reason).
    Unknown,
}

/// The sealer in force: the configured keys, or this process's random key.
pub fn sealer(rt: &Runtime, shared: &Shared) -> Arc<Sealer> {
    rt.federation
        .sealer
        .clone()
        .unwrap_or_else(|| Arc::clone(&shared.ephemeral_sealer))
}

/// Opens the client's session id, if any.
pub fn open(cx: &RequestContext, rt: &Runtime, shared: &Shared) -> Lookup {
    let Some(token) = cx.session.as_deref() else {
        return Lookup::Absent;
    };
    let Ok(state) = SessionState::open(&sealer(rt, shared), token) else {
        return Lookup::Unknown;
    };
    let expired = now().saturating_sub(state.created) > rt.federation.session_max_age.as_secs();
    let foreign = state.principal != cx.principal.as_deref().and_then(binding);
    if expired || foreign {
        return Lookup::Unknown;
    }
    Lookup::Open(state)
}

/// What ties a session to its principal: a digest of issuer and subject
/// (`None` for the anonymous principal).
pub fn binding(principal: &Principal) -> Option<String> {
    if principal.issuer.is_none() && principal.subject == "anonymous" {
        return None;
    }
    let mut hash = Sha256::new();
    hash.update(principal.issuer.as_deref().unwrap_or_default().as_bytes());
    hash.update([0]);
    hash.update(principal.subject.as_bytes());
    let digest = hash.finalize();
    Some(digest.iter().take(12).map(|b| format!("{b:02x}")).collect())
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
