//! Memos of built Cedar entity stores, so repeated requests skip building them.
//!
//! Why: building a request's entities (evaluating every attribute into Cedar
//! values, then the store's transitive closure) costs several times the
//! evaluation itself, and an agent sends many requests with one token to the
//! same few tools. A store depends only on the principal's facts, the upstream
//! (whose facts are fixed for the life of the [`super::Engine`] that owns the
//! memo) and the object; the context, which holds everything per request
//! (arguments, time, address, session labels, findings), is never memoised, so
//! a memo hit decides exactly as a fresh build would. When no policy can tell
//! callers apart by identity, a store is keyed by the caller's
//! [`Shape`] (its type and the facts its entity holds), not by who it is:
//! one store serves every caller of a shape, so a new user whose tenant and
//! roles another user already had is decided as fast as a known one.
//!
//! Keys are 64-bit hashes; every hit is confirmed against the stored facts, so
//! a collision costs a rebuild, never another principal's entities. Each memo
//! is bounded: when full, each new value takes the place of the oldest one
//! (first in, first out), which is freed after the lock is released.
//! (Emptying a full memo at once had freed 4,096 stores under the write lock:
//! a stall of several milliseconds for every decision on every thread. Taking
//! the map's first key instead would have picked the same slot every time, so
//! one unlucky hot key would have been rebuilt after every new one.) A policy
//! reload builds a new engine, and with it new memos.

use super::entities::{Object, Parents, Shape};
use crate::authn::Principal;
use crate::authn::principal::Authenticated;
use crate::prehashed::BuildPrehashed;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, RwLock};

/// A bounded map from a hash to a shared value.
#[derive(Debug)]
pub struct Memo<V> {
    held: RwLock<Held<V>>,
    capacity: usize,
}

/// The values, and their keys in the order they came.
///
/// Invariant: `order` holds each key of `map` once, oldest first.
#[derive(Debug)]
struct Held<V> {
    map: HashMap<u64, Arc<V>, BuildPrehashed>,
    order: VecDeque<u64>,
}

impl<V> Memo<V> {
    /// A memo holding at most `capacity` values.
    pub fn new(capacity: usize) -> Memo<V> {
        Memo {
            held: RwLock::new(Held {
                map: HashMap::default(),
                order: VecDeque::new(),
            }),
            capacity,
        }
    }

    /// The value under `key`, if any (the caller confirms it).
    pub fn get(&self, key: u64) -> Option<Arc<V>> {
        self.held.read().ok()?.map.get(&key).cloned()
    }

    /// Stores `value` under `key`; when the memo is full, the oldest value
    /// makes room.
    pub fn put(&self, key: u64, value: Arc<V>) {
        let Ok(mut held) = self.held.write() else {
            return;
        };
        let mut evicted = None;
        if !held.map.contains_key(&key) {
            if held.map.len() >= self.capacity
                && let Some(oldest) = held.order.pop_front()
            {
                evicted = held.map.remove(&oldest);
            }
            held.order.push_back(key);
        }
        let replaced = held.map.insert(key, value);
        drop(held);
        // Freed outside the lock: a store takes microseconds to free.
        drop((evicted, replaced));
    }

    /// How many values are held.
    pub fn len(&self) -> usize {
        self.held.read().map_or(0, |h| h.map.len())
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Hashes memo keys (seeded at random per process). A fast hash will do: a
/// collision costs a rebuild, never another caller's answer, and a memo holds
/// one value per key, so colliding keys replace each other instead of
/// chaining. (SipHash here was about 4% of a warm decision's instructions.)
#[derive(Debug, Default)]
pub struct Keys(foldhash::fast::RandomState);

impl Keys {
    /// A hasher to feed key parts into.
    pub fn hasher(&self) -> impl Hasher {
        self.0.build_hasher()
    }
}

/// Feeds the facts that make a principal's entities into `h`.
pub fn hash_principal(h: &mut impl Hasher, p: &Principal) {
    authenticated_tag(p.authenticated).hash(h);
    p.subject.hash(h);
    p.issuer.hash(h);
    p.tenant.hash(h);
    p.roles.hash(h);
    p.groups.hash(h);
    p.scopes.hash(h);
    p.client_id.hash(h);
    p.actors.len().hash(h);
    for a in &p.actors {
        a.subject.hash(h);
    }
}

/// Feeds the facts of `p` that `shape` keeps into `h` (all of them when
/// callers are told apart by identity).
pub fn hash_caller(h: &mut impl Hasher, p: &Principal, shape: &Shape) {
    if shape.whole {
        return hash_principal(h, p);
    }
    super::entities::is_workload(p).hash(h);
    if shape.subject {
        p.subject.hash(h);
    }
    if shape.issuer {
        p.issuer.hash(h);
    }
    hash_kept(h, p.tenant.as_slice(), &shape.tenant);
    hash_kept(h, &p.roles, &shape.roles);
    hash_kept(h, &p.groups, &shape.groups);
    if shape.scopes {
        p.scopes.hash(h);
    }
    if shape.client_id {
        p.client_id.hash(h);
    }
    if shape.actors {
        p.actors.len().hash(h);
        for a in &p.actors {
            a.subject.hash(h);
        }
    }
    if shape.authenticated {
        authenticated_tag(p.authenticated).hash(h);
    }
}

/// Feeds the names of `names` that `kept` keeps into `h`, then their count.
fn hash_kept(h: &mut impl Hasher, names: &[String], kept: &Parents) {
    let mut n = 0usize;
    for name in names.iter().filter(|name| kept.keeps(name)) {
        name.hash(h);
        n += 1;
    }
    h.write_usize(n);
}

/// Whether `a` and `b` keep the same names, in the same order.
fn same_kept(a: &[String], b: &[String], kept: &Parents) -> bool {
    match kept {
        Parents::Every => a == b,
        Parents::Only(_) => a
            .iter()
            .filter(|name| kept.keeps(name))
            .eq(b.iter().filter(|name| kept.keeps(name))),
    }
}

/// Whether two principals are of one shape: the same decisions follow.
pub fn same_caller(a: &Principal, b: &Principal, shape: &Shape) -> bool {
    if shape.whole {
        return same_principal(a, b);
    }
    super::entities::is_workload(a) == super::entities::is_workload(b)
        && (!shape.subject || a.subject == b.subject)
        && (!shape.issuer || a.issuer == b.issuer)
        && same_kept(a.tenant.as_slice(), b.tenant.as_slice(), &shape.tenant)
        && same_kept(&a.roles, &b.roles, &shape.roles)
        && same_kept(&a.groups, &b.groups, &shape.groups)
        && (!shape.scopes || a.scopes == b.scopes)
        && (!shape.client_id || a.client_id == b.client_id)
        && (!shape.actors
            || (a.actors.len() == b.actors.len()
                && a.actors
                    .iter()
                    .zip(&b.actors)
                    .all(|(x, y)| x.subject == y.subject)))
        && (!shape.authenticated || a.authenticated == b.authenticated)
}

/// Whether two principals have the same entities.
pub fn same_principal(a: &Principal, b: &Principal) -> bool {
    a.authenticated == b.authenticated
        && a.subject == b.subject
        && a.issuer == b.issuer
        && a.tenant == b.tenant
        && a.roles == b.roles
        && a.groups == b.groups
        && a.scopes == b.scopes
        && a.client_id == b.client_id
        && a.actors.len() == b.actors.len()
        && a.actors
            .iter()
            .zip(&b.actors)
            .all(|(x, y)| x.subject == y.subject)
}

fn authenticated_tag(a: Authenticated) -> u8 {
    match a {
        Authenticated::Token => 0,
        Authenticated::Certificate => 1,
        Authenticated::Anonymous => 2,
    }
}

/// An owned copy of an [`Object`], to confirm a memo hit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OwnedObject {
    /// [`Object::Upstream`].
    Upstream,
    /// [`Object::Tool`]: outward name, upstream name, hints.
    Tool(String, String, [bool; 4]),
    /// [`Object::Prompt`]: outward name, upstream name.
    Prompt(String, String),
    /// [`Object::Resource`]: the URI.
    Resource(String),
}

impl OwnedObject {
    /// Copies `o`.
    pub fn of(o: &Object<'_>) -> OwnedObject {
        match o {
            Object::Upstream => OwnedObject::Upstream,
            Object::Tool {
                name,
                upstream_name,
                hints,
            } => OwnedObject::Tool(
                (*name).to_owned(),
                (*upstream_name).to_owned(),
                hint_bits(hints),
            ),
            Object::Prompt {
                name,
                upstream_name,
            } => OwnedObject::Prompt((*name).to_owned(), (*upstream_name).to_owned()),
            Object::Resource { uri } => OwnedObject::Resource((*uri).to_owned()),
        }
    }

    /// Whether this is a copy of `o`.
    pub fn is(&self, o: &Object<'_>) -> bool {
        match (self, o) {
            (OwnedObject::Upstream, Object::Upstream) => true,
            (
                OwnedObject::Tool(n, u, h),
                Object::Tool {
                    name,
                    upstream_name,
                    hints,
                },
            ) => n == name && u == upstream_name && *h == hint_bits(hints),
            (
                OwnedObject::Prompt(n, u),
                Object::Prompt {
                    name,
                    upstream_name,
                },
            ) => n == name && u == upstream_name,
            (OwnedObject::Resource(u), Object::Resource { uri }) => u == uri,
            _ => false,
        }
    }
}

/// Feeds an object into `h` (the same bytes as its [`OwnedObject`] copy).
pub fn hash_object(h: &mut impl Hasher, o: &Object<'_>) {
    match o {
        Object::Upstream => 0u8.hash(h),
        Object::Tool {
            name,
            upstream_name,
            hints,
        } => {
            1u8.hash(h);
            name.hash(h);
            upstream_name.hash(h);
            hint_bits(hints).hash(h);
        }
        Object::Prompt {
            name,
            upstream_name,
        } => {
            2u8.hash(h);
            name.hash(h);
            upstream_name.hash(h);
        }
        Object::Resource { uri } => {
            3u8.hash(h);
            uri.hash(h);
        }
    }
}

fn hint_bits(h: &super::entities::Hints) -> [bool; 4] {
    [h.read_only, h.destructive, h.idempotent, h.open_world]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::entities::Hints;

    fn key(keys: &Keys, p: &Principal, o: &Object<'_>) -> u64 {
        let mut h = keys.hasher();
        hash_principal(&mut h, p);
        hash_object(&mut h, o);
        h.finish()
    }

    fn alice() -> Principal {
        Principal {
            subject: "alice".into(),
            tenant: Some("acme".into()),
            roles: vec!["reader".into()],
            authenticated: Authenticated::Token,
            ..Principal::anonymous()
        }
    }

    #[test]
    fn facts_that_shape_entities_change_the_key_and_the_match() {
        let keys = Keys::default();
        let tool = Object::Tool {
            name: "read",
            upstream_name: "read",
            hints: Hints::default(),
        };
        let a = alice();
        let base = key(&keys, &a, &tool);
        let changes: Vec<Principal> = vec![
            Principal {
                subject: "bob".into(),
                ..alice()
            },
            Principal {
                tenant: Some("other".into()),
                ..alice()
            },
            Principal {
                roles: vec!["admin".into()],
                ..alice()
            },
            Principal {
                scopes: vec!["x".into()],
                ..alice()
            },
            Principal {
                authenticated: Authenticated::Certificate,
                ..alice()
            },
        ];
        for b in &changes {
            assert_ne!(key(&keys, b, &tool), base, "{b:?}");
            assert!(!same_principal(&a, b), "{b:?}");
        }
        // The token id and expiry do not shape entities: one memo per principal.
        let renewed = Principal {
            token_id: Some("jti-2".into()),
            expires_at: Some(99),
            ..alice()
        };
        assert_eq!(key(&keys, &renewed, &tool), base);
        assert!(same_principal(&a, &renewed));
        let other_hints = Object::Tool {
            name: "read",
            upstream_name: "read",
            hints: Hints {
                read_only: true,
                ..Hints::default()
            },
        };
        assert_ne!(key(&keys, &a, &other_hints), base);
        let owned = OwnedObject::of(&tool);
        assert!(owned.is(&tool));
        assert!(!owned.is(&other_hints));
    }

    #[test]
    fn a_full_memo_makes_room_one_value_at_a_time() {
        let memo = Memo::new(2);
        memo.put(1, Arc::new("a"));
        memo.put(2, Arc::new("b"));
        memo.put(2, Arc::new("b2"));
        assert_eq!(memo.len(), 2, "replacing a key evicts nothing");
        assert_eq!(memo.get(2).as_deref(), Some(&"b2"));
        memo.put(3, Arc::new("c"));
        assert_eq!(memo.len(), 2, "one value made room");
        assert!(memo.get(1).is_none(), "the oldest");
        assert_eq!(memo.get(2).as_deref(), Some(&"b2"));
        assert_eq!(memo.get(3).as_deref(), Some(&"c"));
        for k in 4..100 {
            memo.put(k, Arc::new("x"));
            assert_eq!(memo.len(), 2);
            assert!(memo.get(k).is_some() && memo.get(k - 1).is_some());
            assert!(memo.get(k - 2).is_none(), "first in, first out");
        }
    }
}
