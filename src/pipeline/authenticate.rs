//! Stage 2, authenticate: who is calling.
//!
//! Contract: returns the [`Principal`] every later stage keys on, or a rejection
//! (401 with a resource-metadata challenge) before any body is read. Token
//! validation arrives with the authentication issue; until then every caller is
//! the anonymous principal, and the gateway must be deployed behind something
//! that authenticates.

use http::request::Parts;

/// The caller, as later stages see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Subject identifier; `anonymous` without authentication.
    pub subject: String,
}

/// Identifies the caller of a request.
pub fn authenticate(_parts: &Parts) -> Principal {
    Principal {
        subject: "anonymous".into(),
    }
}
