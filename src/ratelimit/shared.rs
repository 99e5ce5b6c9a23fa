//! Limits shared by every replica through Redis: GCRA in one Lua script, so
//! the check and the update are atomic, memory is one key per limited key, and
//! the wait is exact (no fixed-window doubling at window edges).
//!
//! The script reads Redis's own clock (`TIME`), so replicas with skewed clocks
//! agree. Each key expires once its state equals a fresh one. A connection is
//! kept and re-made after a failure; every call is bounded in time.

use std::time::Duration;
use tokio::sync::Mutex;

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

/// Why Redis did not answer.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// The command failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// No answer in time.
    #[error("redis did not answer in time")]
    Timeout,
}

/// The Redis side of the limits.
pub struct SharedLimits {
    client: redis::Client,
    prefix: String,
    /// Refuse (instead of deciding locally) when Redis cannot answer.
    pub deny_on_error: bool,
    connection: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl std::fmt::Debug for SharedLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimits")
            .field("prefix", &self.prefix)
            .finish()
    }
}

const TIMEOUT: Duration = Duration::from_millis(500);

impl SharedLimits {
    /// Parses the URL; nothing is contacted yet.
    pub fn new(url: &str, prefix: String, deny_on_error: bool) -> Result<SharedLimits, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid redis URL: {e}"))?;
        Ok(SharedLimits {
            client,
            prefix,
            deny_on_error,
            connection: Mutex::new(None),
        })
    }

    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, SharedError> {
        let mut slot = self.connection.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = tokio::time::timeout(TIMEOUT, self.client.get_multiplexed_async_connection())
            .await
            .map_err(|_| SharedError::Timeout)??;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Takes one cell for `key`; `Ok(Err(wait))` when over the limit.
    pub async fn check(
        &self,
        key: &str,
        period: Duration,
        burst: u32,
    ) -> Result<Result<(), Duration>, SharedError> {
        let mut conn = self.connection().await?;
        let interval = u64::try_from(period.as_micros()).unwrap_or(u64::MAX).max(1);
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(GCRA)
            .arg(1)
            .arg(format!("{}{key}", self.prefix))
            .arg(interval)
            .arg(burst);
        let answer = tokio::time::timeout(TIMEOUT, cmd.query_async::<(i64, i64)>(&mut conn)).await;
        let answer = match answer {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                *self.connection.lock().await = None;
                return Err(e.into());
            }
            Err(_) => {
                *self.connection.lock().await = None;
                return Err(SharedError::Timeout);
            }
        };
        Ok(match answer {
            (1, _) => Ok(()),
            (_, wait) => Err(Duration::from_micros(u64::try_from(wait).unwrap_or(0))),
        })
    }
}
