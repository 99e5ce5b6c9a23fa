//! Limits shared by every replica through Redis: GCRA in one Lua script, so
//! the check and the update are atomic, memory is one key per limited key, and
//! the wait is exact (no fixed-window doubling at window edges).
//!
//! The script reads Redis's own clock (`TIME`), so replicas with skewed clocks
//! agree. Each key expires once its state equals a fresh one. A connection is
//! kept and re-made after a failure; every call is bounded in time.

use crate::redis_link::{Link, LinkError};
use std::time::Duration;

/// GCRA: KEYS[1] the key; ARGV[1] the emission interval (µs); ARGV[2] the burst.
/// Returns {1, 0} when allowed, {0, wait µs} otherwise.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if now < tat - tolerance then
  return {0, tat - tolerance - now}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, 0}
";

/// The Redis side of the limits.
#[derive(Debug)]
pub struct SharedLimits {
    link: Link,
    prefix: String,
    /// Refuse (instead of deciding locally) when Redis cannot answer.
    pub deny_on_error: bool,
}

const TIMEOUT: Duration = Duration::from_millis(500);

impl SharedLimits {
    /// Parses the URL; nothing is contacted yet.
    pub fn new(url: &str, prefix: String, deny_on_error: bool) -> Result<SharedLimits, String> {
        Ok(SharedLimits {
            link: Link::open(url, TIMEOUT)?,
            prefix,
            deny_on_error,
        })
    }

    /// Takes one cell for `key`; `Ok(Err(wait))` when over the limit.
    pub async fn check(
        &self,
        key: &str,
        period: Duration,
        burst: u32,
    ) -> Result<Result<(), Duration>, LinkError> {
        let interval = u64::try_from(period.as_micros()).unwrap_or(u64::MAX).max(1);
        let key = format!("{}{key}", self.prefix);
        let answer: (i64, i64) = self
            .link
            .eval(GCRA, &[key], &[interval.to_string(), burst.to_string()])
            .await?;
        Ok(match answer {
            (1, _) => Ok(()),
            (_, wait) => Err(Duration::from_micros(u64::try_from(wait).unwrap_or(0))),
        })
    }
}
