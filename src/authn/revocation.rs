//! Revoked token ids (`jti`): a bounded in-memory list whose entries expire with
//! the token they revoke, filled from a file and from the admin endpoint.
//!
//! The check sits on the hot path (also for cached tokens), so it is
//! synchronous: [`Revocations::is_revoked`] must answer from memory. A shared
//! store such as Redis plugs in behind the trait by mirroring its entries into
//! memory (subscribe or poll), never by a network round trip per request.
//!
//! File format: one `<jti> <exp>` per line (`exp` in seconds since the epoch, the
//! revoked token's expiry), `#` starts a comment. Entries already expired are
//! dropped at load.

use std::collections::HashMap;
use std::sync::RwLock;

/// Answers whether a token id is revoked.
pub trait Revocations: Send + Sync + std::fmt::Debug {
    /// Whether `jti` is revoked at time `now` (seconds since the epoch).
    fn is_revoked(&self, jti: &str, now: u64) -> bool;
}

/// Longest `jti` accepted for revocation.
pub const MAX_JTI_BYTES: usize = 256;

/// Why an entry could not be added.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RevocationError {
    /// Empty, too long, or containing whitespace.
    #[error("jti must be 1 to {MAX_JTI_BYTES} bytes without whitespace")]
    BadJti,
    /// The list is full (entries expire with their tokens).
    #[error("the revocation list is full ({0} entries)")]
    Full(usize),
    /// A line of a revocation file is not `<jti> <exp>`.
    #[error("line {0}: expected `<jti> <exp-seconds>`")]
    BadLine(usize),
}

/// An in-memory revocation list.
#[derive(Debug)]
pub struct RevocationList {
    entries: RwLock<HashMap<String, u64>>,
    capacity: usize,
}

impl RevocationList {
    /// An empty list holding at most `capacity` entries.
    pub fn new(capacity: usize) -> RevocationList {
        RevocationList {
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// Parses a revocation file; entries expired at `now` are dropped.
    pub fn parse(text: &str, capacity: usize, now: u64) -> Result<RevocationList, RevocationError> {
        let list = RevocationList::new(capacity);
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut fields = line.split_ascii_whitespace();
            let (Some(jti), Some(exp), None) = (fields.next(), fields.next(), fields.next()) else {
                return Err(RevocationError::BadLine(i + 1));
            };
            let exp: u64 = exp.parse().map_err(|_| RevocationError::BadLine(i + 1))?;
            list.revoke(jti, exp, now)?;
        }
        Ok(list)
    }

    /// Revokes `jti` until `exp`. Expired entries are purged first when full.
    pub fn revoke(&self, jti: &str, exp: u64, now: u64) -> Result<(), RevocationError> {
        if jti.is_empty() || jti.len() > MAX_JTI_BYTES || jti.contains(char::is_whitespace) {
            return Err(RevocationError::BadJti);
        }
        if exp < now {
            return Ok(());
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(jti) {
            entries.retain(|_, e| *e >= now);
            if entries.len() >= self.capacity {
                return Err(RevocationError::Full(self.capacity));
            }
        }
        let e = entries.entry(jti.to_owned()).or_insert(exp);
        *e = (*e).max(exp);
        Ok(())
    }

    /// How many entries are held (expired ones included until purged).
    pub fn len(&self) -> usize {
        self.entries.read().map_or(0, |e| e.len())
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Revocations for RevocationList {
    fn is_revoked(&self, jti: &str, now: u64) -> bool {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(jti).is_some_and(|exp| *exp >= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_with_their_token() {
        let l = RevocationList::new(10);
        l.revoke("a", 100, 50).unwrap();
        assert!(l.is_revoked("a", 99));
        assert!(!l.is_revoked("a", 101));
        assert!(!l.is_revoked("b", 0));
    }

    #[test]
    fn a_file_is_parsed_with_comments_and_bad_lines_named() {
        let l = RevocationList::parse("# revoked\nj1 200\n\nj2 10 # old\n", 10, 100).unwrap();
        assert!(l.is_revoked("j1", 150));
        assert_eq!(l.len(), 1);
        assert_eq!(
            RevocationList::parse("j1\n", 10, 0).unwrap_err(),
            RevocationError::BadLine(1)
        );
    }

    #[test]
    fn the_list_is_bounded_and_purges_expired_entries() {
        let l = RevocationList::new(2);
        l.revoke("a", 10, 0).unwrap();
        l.revoke("b", 100, 0).unwrap();
        assert_eq!(l.revoke("c", 100, 5).unwrap_err(), RevocationError::Full(2));
        l.revoke("c", 100, 20).unwrap();
        assert!(l.is_revoked("c", 20));
        assert_eq!(l.revoke("x y", 100, 0), Err(RevocationError::BadJti));
    }
}
