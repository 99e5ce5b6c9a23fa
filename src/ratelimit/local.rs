//! In-process limits: governor's GCRA, one keyed limiter per rule.
//!
//! Generic over governor's clock so tests drive it with `FakeRelativeClock`.
//! Keyed limiters grow one entry per key, so every 1,024 checks the limiter
//! drops keys whose state is indistinguishable from fresh (`retain_recent`).

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One rule's limiter.
pub struct Local<C: Clock + Clone = DefaultClock> {
    limiter: RateLimiter<String, DashMapStateStore<String>, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    checks: AtomicU64,
}

impl<C: Clock + Clone> std::fmt::Debug for Local<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Local")
    }
}

impl Local<DefaultClock> {
    /// A limiter on the real clock.
    pub fn new(period: Duration, burst: u32) -> Local<DefaultClock> {
        Local::with_clock(period, burst, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Local<C> {
    /// A limiter: one request per `period`, `burst` at once.
    pub fn with_clock(period: Duration, burst: u32, clock: C) -> Local<C> {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(period.max(Duration::from_nanos(1))).map_or_else(
            || Quota::per_second(NonZeroU32::MIN),
            |q| q.allow_burst(burst),
        );
        Local {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one cell for `key`; `Err` is how long until one is available.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Keys currently tracked.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn a_burst_passes_then_the_exact_wait_is_reported() {
        let clock = FakeRelativeClock::default();
        let l = Local::with_clock(Duration::from_secs(6), 3, clock.clone());
        for _ in 0..3 {
            assert!(l.check("alice").is_ok());
        }
        assert_eq!(l.check("alice"), Err(Duration::from_secs(6)));
        clock.advance(Duration::from_secs(4));
        assert_eq!(l.check("alice"), Err(Duration::from_secs(2)));
        clock.advance(Duration::from_secs(2));
        assert!(l.check("alice").is_ok());
        assert!(l.check("bob").is_ok(), "keys are independent");
    }

    #[test]
    fn idle_keys_are_forgotten() {
        let clock = FakeRelativeClock::default();
        let l = Local::with_clock(Duration::from_millis(10), 1, clock.clone());
        for i in 0..1000 {
            let _ = l.check(&format!("k{i}"));
        }
        assert_eq!(l.len(), 1000);
        clock.advance(Duration::from_secs(1));
        for _ in 0..24 {
            let _ = l.check("k0");
        }
        assert!(l.len() < 10, "{}", l.len());
    }
}
