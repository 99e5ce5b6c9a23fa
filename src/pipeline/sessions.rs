//! Legacy sessions the gateway has seen negotiated: session id → protocol version.
//!
//! The gateway needs the negotiated version of a session to know whether a batch
//! is allowed (2025-03-26 only) and to label audit records with the era. Session
//! ids are passed through unchanged to the single upstream; the registry is a
//! bounded in-memory map, oldest entries evicted first. (Replica-safe sealed
//! session ids replace it when federation lands.)

use crate::protocol::Version;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// The bounded registry.
#[derive(Debug)]
pub struct Sessions {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    versions: HashMap<String, Version>,
    order: VecDeque<String>,
}

impl Sessions {
    /// A registry that remembers at most `capacity` sessions.
    pub fn new(capacity: usize) -> Sessions {
        Sessions {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    /// Records the version negotiated for a new session.
    pub fn insert(&self, id: &str, version: Version) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.versions.insert(id.to_owned(), version).is_none() {
            inner.order.push_back(id.to_owned());
        }
        while inner.versions.len() > self.capacity {
            match inner.order.pop_front() {
                Some(old) => {
                    inner.versions.remove(&old);
                }
                None => break,
            }
        }
    }

    /// The version negotiated for a session, if the gateway saw it.
    pub fn negotiated(&self, id: &str) -> Option<Version> {
        self.inner.lock().ok()?.versions.get(id).copied()
    }

    /// Forgets a session (deleted, or unknown to the upstream).
    pub fn remove(&self, id: &str) {
        if let Ok(mut inner) = self.inner.lock()
            && inner.versions.remove(id).is_some()
        {
            inner.order.retain(|s| s != id);
        }
    }

    /// How many sessions are remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.versions.len()).unwrap_or(0)
    }

    /// Whether no session is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_bounded_oldest_first() {
        let s = Sessions::new(2);
        s.insert("a", Version::V2025_03_26);
        s.insert("b", Version::V2025_11_25);
        s.insert("c", Version::V2025_06_18);
        assert_eq!(s.negotiated("a"), None);
        assert_eq!(s.negotiated("c"), Some(Version::V2025_06_18));
        s.remove("b");
        assert_eq!(s.len(), 1);
    }
}
