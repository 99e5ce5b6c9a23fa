//! One kept connection to a Redis server, for the stores replicas share.
//!
//! Every command is bounded by the link's timeout; a connection on which a
//! command failed or timed out is dropped, so the next command connects
//! afresh. Errors are returned, never guessed around: each caller decides
//! what failing closed means for it.

use std::time::Duration;
use tokio::sync::Mutex;

/// Why Redis did not answer.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Connecting or the command failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// No answer in time.
    #[error("redis did not answer in time")]
    Timeout,
}

/// A Redis client with one multiplexed connection, opened on first use.
pub struct Link {
    client: redis::Client,
    timeout: Duration,
    connection: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Link {
    /// Parses `url` (`redis://host:port/db`, `rediss://` for TLS); nothing is
    /// contacted yet. Fails on an invalid URL.
    pub fn open(url: &str, timeout: Duration) -> Result<Link, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid redis URL: {e}"))?;
        Ok(Link {
            client,
            timeout,
            connection: Mutex::new(None),
        })
    }

    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, LinkError> {
        let mut slot = self.connection.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = tokio::time::timeout(self.timeout, self.client.get_multiplexed_async_connection())
            .await
            .map_err(|_| LinkError::Timeout)??;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Runs the Lua `script` (atomic on the server) with `keys` and `args`.
    pub async fn eval<T: redis::FromRedisValue>(
        &self,
        script: &str,
        keys: &[String],
        args: &[String],
    ) -> Result<T, LinkError> {
        let mut conn = self.connection().await?;
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(keys.len()).arg(keys).arg(args);
        let failed = match tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut conn)).await
        {
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(e)) => LinkError::Redis(e),
            Err(_) => LinkError::Timeout,
        };
        *self.connection.lock().await = None;
        Err(failed)
    }
}
