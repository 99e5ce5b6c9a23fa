//! Tokens already validated, so that a repeated token costs a hash and a
//! comparison instead of a signature check.
//!
//! Invariants: an entry never outlives its token (`exp` plus leeway, and the
//! issuer's maximum age); a hit is only a hit if the full token matches (the map
//! is keyed by a keyed SipHash, collisions fall through to validation); the
//! cache is bounded (sharded, each shard cleared of expired entries, then
//! emptied, when full). What the cache does not decide: revocation and whether
//! the signing key is still published are re-checked on every hit by the caller.

use super::keys::VerifyKey;
use super::principal::Principal;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

const SHARDS: usize = 16;

/// A validated token.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Who the token identifies.
    pub principal: Arc<Principal>,
    /// Last second at which the token is acceptable (`min(exp + leeway, iat + max_age)`).
    pub valid_until: u64,
    /// The issuer's index in the configuration.
    pub issuer: usize,
    /// The key that verified it.
    pub key: Arc<VerifyKey>,
}

#[derive(Debug)]
struct Slot {
    token: Box<str>,
    entry: Entry,
}

/// The validated-token cache.
#[derive(Debug)]
pub struct TokenCache {
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<u64, Slot>>>,
    per_shard: usize,
}

impl TokenCache {
    /// A cache of about `capacity` tokens (0 disables caching).
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    fn shard(&self, hash: u64) -> Option<&Mutex<HashMap<u64, Slot>>> {
        self.shards.get((hash % SHARDS as u64) as usize)
    }

    /// The entry for `token`, if cached and still valid at `now`.
    pub fn get(&self, token: &str, now: u64) -> Option<Entry> {
        if self.per_shard == 0 {
            return None;
        }
        let hash = self.hasher.hash_one(token);
        let shard = self.shard(hash)?.lock().unwrap_or_else(|p| p.into_inner());
        let slot = shard.get(&hash)?;
        (&*slot.token == token && now <= slot.entry.valid_until).then(|| slot.entry.clone())
    }

    /// Remembers a validated token.
    pub fn insert(&self, token: &str, entry: Entry, now: u64) {
        if self.per_shard == 0 {
            return;
        }
        let hash = self.hasher.hash_one(token);
        let Some(shard) = self.shard(hash) else {
            return;
        };
        let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
        if shard.len() >= self.per_shard && !shard.contains_key(&hash) {
            shard.retain(|_, s| s.entry.valid_until >= now);
            if shard.len() >= self.per_shard {
                shard.clear();
            }
        }
        shard.insert(
            hash,
            Slot {
                token: token.into(),
                entry,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey};

    fn entry(valid_until: u64) -> Entry {
        Entry {
            principal: Arc::new(Principal::anonymous()),
            valid_until,
            issuer: 0,
            key: Arc::new(VerifyKey {
                kid: None,
                alg: Algorithm::HS256,
                key: DecodingKey::from_secret(b"x"),
            }),
        }
    }

    #[test]
    fn an_entry_lives_until_its_token_expires() {
        let c = TokenCache::new(100);
        c.insert("t", entry(10), 0);
        assert!(c.get("t", 10).is_some());
        assert!(c.get("t", 11).is_none());
        assert!(c.get("u", 0).is_none());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let c = TokenCache::new(16);
        for i in 0..1000 {
            c.insert(&format!("t{i}"), entry(10), 0);
        }
        let held: usize = c.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(held <= 16, "{held}");
        let off = TokenCache::new(0);
        off.insert("t", entry(10), 0);
        assert!(off.get("t", 0).is_none());
    }
}
