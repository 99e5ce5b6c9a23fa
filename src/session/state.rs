//! What a sealed session id carries.

use super::seal::{OpenError, Purpose, Sealer};
use serde::{Deserialize, Serialize};

/// The session state sealed into a client's `Mcp-Session-Id`. Field names are
/// short because every request carries the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    /// Unix seconds when the session was created (bounds its lifetime).
    #[serde(rename = "t")]
    pub created: u64,
    /// The protocol version negotiated with the client.
    #[serde(rename = "v")]
    pub version: String,
    /// A digest of the principal the session belongs to: a session presented by
    /// anyone else is unknown to them.
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// One entry per upstream that joined the session.
    #[serde(rename = "u")]
    pub upstreams: Vec<UpstreamSession>,
}

/// The session the gateway holds with one upstream on the client's behalf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamSession {
    /// The upstream's name in the configuration.
    #[serde(rename = "n")]
    pub upstream: String,
    /// The upstream's `Mcp-Session-Id`, if it issued one.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The protocol version the upstream negotiated.
    #[serde(rename = "v")]
    pub version: String,
}

impl SessionState {
    /// Seals the state into a session id; `None` if the random source fails.
    pub fn seal(&self, sealer: &Sealer) -> Option<String> {
        let plain = serde_json::to_vec(self).ok()?;
        sealer.seal(Purpose::Session, &plain)
    }

    /// Opens a session id. Any failure means "no such session".
    pub fn open(sealer: &Sealer, token: &str) -> Result<SessionState, OpenError> {
        let plain = sealer.open(Purpose::Session, token)?;
        serde_json::from_slice(&plain).map_err(|_| OpenError::Forged)
    }

    /// The upstream session for `name`, if that upstream joined.
    pub fn upstream(&self, name: &str) -> Option<&UpstreamSession> {
        self.upstreams.iter().find(|u| u.upstream == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_a_sealed_id() {
        let sealer = Sealer::new(&[("k".into(), vec![7; 32])]).unwrap();
        let state = SessionState {
            created: 1_700_000_000,
            version: "2025-11-25".into(),
            principal: Some("p1".into()),
            upstreams: vec![UpstreamSession {
                upstream: "github".into(),
                session: Some("abc".into()),
                version: "2025-06-18".into(),
            }],
        };
        let token = state.seal(&sealer).unwrap();
        assert_eq!(SessionState::open(&sealer, &token).unwrap(), state);
        assert_eq!(
            SessionState::open(&sealer, &token)
                .unwrap()
                .upstream("github")
                .unwrap()
                .session
                .as_deref(),
            Some("abc")
        );
        assert!(token.len() < 300, "{} bytes", token.len());
    }
}
