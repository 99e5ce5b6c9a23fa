//! Restart delays: exponential from `initial` up to `max`, optionally jittered
//! to between half and all of the delay (so that many gateways restarting the
//! same broken server do not retry in lockstep).
//!
//! Pure: the random draw is passed in, so tests fix it.

use std::time::Duration;

/// The delay schedule of one upstream.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    jitter: bool,
    failures: u32,
}

impl Backoff {
    /// A schedule starting at `initial`, doubling up to `max`.
    pub fn new(initial: Duration, max: Duration, jitter: bool) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            jitter,
            failures: 0,
        }
    }

    /// The delay before the next start, given a uniform draw in `[0, 1)`.
    pub fn next_delay(&mut self, draw: f64) -> Duration {
        let factor = 2u32.saturating_pow(self.failures.min(31));
        let delay = self.initial.saturating_mul(factor).min(self.max);
        self.failures = self.failures.saturating_add(1);
        if self.jitter {
            // mul_f64 panics on NaN: a draw that is not a number counts as 0.5.
            let draw = if draw.is_finite() {
                draw.clamp(0.0, 1.0)
            } else {
                0.5
            };
            delay.mul_f64(0.5 + 0.5 * draw)
        } else {
            delay
        }
    }

    /// Starts over, after the upstream stayed up long enough to count as healthy.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failed starts since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn delays_double_up_to_the_bound_and_reset() {
        let mut b = Backoff::new(100 * MS, 1000 * MS, false);
        let delays: Vec<_> = (0..6).map(|_| b.next_delay(0.0)).collect();
        assert_eq!(
            delays,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]
        );
        assert_eq!(b.failures(), 6);
        b.reset();
        assert_eq!(b.next_delay(0.0), 100 * MS);
    }

    #[test]
    fn jitter_keeps_delays_between_half_and_all() {
        let mut b = Backoff::new(100 * MS, 100 * MS, true);
        assert_eq!(b.next_delay(0.0), 50 * MS);
        assert_eq!(b.next_delay(0.999_999), Duration::from_nanos(99_999_950));
        assert_eq!(b.next_delay(7.0), 100 * MS);
        assert_eq!(b.next_delay(f64::NAN), 75 * MS);
    }

    #[test]
    fn many_failures_never_overflow() {
        let mut b = Backoff::new(Duration::from_secs(u64::MAX / 2), Duration::MAX, false);
        for _ in 0..100 {
            b.next_delay(0.5);
        }
    }
}
