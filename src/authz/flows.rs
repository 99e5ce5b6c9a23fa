//! Session facts for flow rules: the labels of the tools already called, per
//! session (or per principal when the traffic carries no session id), so a
//! policy can forbid an exfiltration-capable tool once untrusted content was
//! read in the same session.
//!
//! Bounded: entries idle longer than the TTL are forgotten, and when the
//! store is full the longest-idle entry makes room. The clock is a parameter.
//! With `authorization.flows.redis` the replicas' shared store
//! ([`super::shared_flows`]) is the truth, and this one mirrors it for the
//! session's requests on this replica ([`Flows::replace`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Entry {
    labels: Vec<String>,
    seen: Instant,
}

/// Labels per session key.
#[derive(Debug, Default)]
pub struct Flows {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Flows {
    /// The labels recorded for `key`, unless idle longer than `ttl`.
    pub fn labels(&self, key: &str, now: Instant, ttl: Duration) -> Vec<String> {
        let Ok(map) = self.entries.lock() else {
            return Vec::new();
        };
        match map.get(key) {
            Some(e) if now.duration_since(e.seen) <= ttl => e.labels.clone(),
            _ => Vec::new(),
        }
    }

    /// Adds `labels` to `key`'s set.
    pub fn record(&self, key: &str, labels: &[String], now: Instant, ttl: Duration, max: usize) {
        let Ok(mut map) = self.entries.lock() else {
            return;
        };
        make_room(&mut map, key, now, ttl, max);
        let entry = map.entry(key.to_owned()).or_insert_with(|| Entry {
            labels: Vec::new(),
            seen: now,
        });
        if now.duration_since(entry.seen) > ttl {
            entry.labels.clear();
        }
        entry.seen = now;
        for l in labels {
            if !entry.labels.contains(l) {
                entry.labels.push(l.clone());
            }
        }
    }

    /// Makes `key`'s labels those of the shared store, forgotten in `left`
    /// as they are there (`None`: a full `ttl`); no labels forgets `key`.
    pub fn replace(
        &self,
        key: &str,
        labels: Vec<String>,
        left: Option<Duration>,
        now: Instant,
        ttl: Duration,
        max: usize,
    ) {
        let Ok(mut map) = self.entries.lock() else {
            return;
        };
        let left = left.unwrap_or(ttl);
        // Idle since `seen`, so that it expires when the shared copy does.
        let seen = match ttl.checked_sub(left) {
            Some(idle) => now.checked_sub(idle),
            None => now.checked_add(left - ttl),
        };
        let (false, Some(seen)) = (labels.is_empty() || left.is_zero(), seen) else {
            map.remove(key);
            return;
        };
        make_room(&mut map, key, now, ttl, max);
        map.insert(key.to_owned(), Entry { labels, seen });
    }
}

/// Room for `key` in a store of at most `max` entries: the expired go
/// first, then the longest idle.
fn make_room(map: &mut HashMap<String, Entry>, key: &str, now: Instant, ttl: Duration, max: usize) {
    if map.contains_key(key) || map.len() < max {
        return;
    }
    map.retain(|_, e| now.duration_since(e.seen) <= ttl);
    if map.len() >= max
        && let Some(oldest) = map
            .iter()
            .min_by_key(|(_, e)| e.seen)
            .map(|(k, _)| k.clone())
    {
        map.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_accumulate_per_session_and_expire_when_idle() {
        let f = Flows::default();
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        f.record("s1", &["untrusted_content".into()], t0, ttl, 10);
        f.record("s1", &["sensitive_data".into()], t0, ttl, 10);
        assert_eq!(
            f.labels("s1", t0, ttl),
            ["untrusted_content", "sensitive_data"]
        );
        assert!(f.labels("s2", t0, ttl).is_empty());
        assert!(f.labels("s1", t0 + Duration::from_secs(61), ttl).is_empty());
    }

    #[test]
    fn a_full_store_forgets_the_longest_idle_session() {
        let f = Flows::default();
        let t0 = Instant::now();
        let ttl = Duration::from_secs(600);
        f.record("a", &["x".into()], t0, ttl, 2);
        f.record("b", &["x".into()], t0 + Duration::from_secs(1), ttl, 2);
        f.record("c", &["x".into()], t0 + Duration::from_secs(2), ttl, 2);
        let now = t0 + Duration::from_secs(3);
        assert!(f.labels("a", now, ttl).is_empty());
        assert_eq!(f.labels("c", now, ttl), ["x"]);
    }

    #[test]
    fn a_mirrored_session_expires_when_the_shared_copy_does() {
        let f = Flows::default();
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        f.record("s", &["old".into()], t0, ttl, 10);
        let left = Some(Duration::from_secs(20));
        f.replace("s", vec!["a".into(), "b".into()], left, t0, ttl, 10);
        assert_eq!(f.labels("s", t0, ttl), ["a", "b"], "replaced, not merged");
        assert_eq!(f.labels("s", t0 + Duration::from_secs(20), ttl), ["a", "b"]);
        assert!(f.labels("s", t0 + Duration::from_secs(21), ttl).is_empty());
        f.replace("s", Vec::new(), None, t0, ttl, 10);
        assert!(
            f.labels("s", t0, ttl).is_empty(),
            "nothing shared: forgotten"
        );
        // A replica whose TTL is shorter than the shared copy's keeps it as long.
        f.replace(
            "s",
            vec!["a".into()],
            Some(Duration::from_secs(90)),
            t0,
            ttl,
            10,
        );
        assert_eq!(f.labels("s", t0 + Duration::from_secs(89), ttl), ["a"]);
    }
}
