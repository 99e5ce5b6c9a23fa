//! Revocations shared by every gateway replica through Redis.
//!
//! The store is a sorted set (`ZADD <key> <exp> <jti>`): the score is the
//! revoked token's expiry, so expired entries are removed by score. Each replica
//! mirrors the unexpired entries into memory every `poll_interval` and answers
//! [`Revocations::is_revoked`] from the mirror: the hot path never waits on the
//! network. When Redis is unreachable the last mirror stays in force (a revoked
//! token stays revoked) and the failure is logged; a revocation made through
//! the admin endpoint is written to Redis and applied locally at once.
//!
//! Invariant: a revocation reaches every replica within one poll interval while
//! Redis is reachable.

use super::revocation::{RevocationList, Revocations};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// Why Redis could not be used (logged; the admin endpoint reports it).
#[derive(Debug, thiserror::Error)]
pub enum SharedRevocationError {
    /// Connecting or the command failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// No answer in time.
    #[error("redis did not answer in time")]
    Timeout,
}

/// A Redis-backed revocation list with an in-memory mirror.
#[derive(Debug)]
pub struct SharedRevocations {
    client: redis::Client,
    key: String,
    poll: Duration,
    capacity: usize,
    mirror: RwLock<Arc<RevocationList>>,
}

impl SharedRevocations {
    /// A store at `url` (e.g. `redis://127.0.0.1:6379/0`) under `key`. Only
    /// parses the URL; nothing is contacted until [`SharedRevocations::start`].
    pub fn new(
        url: &str,
        key: &str,
        poll: Duration,
        capacity: usize,
    ) -> Result<SharedRevocations, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid redis URL: {e}"))?;
        Ok(SharedRevocations {
            client,
            key: key.to_owned(),
            poll,
            capacity,
            mirror: RwLock::new(Arc::new(RevocationList::new(capacity))),
        })
    }

    /// Starts mirroring in the background. The task ends once the store is
    /// dropped (after a reload replaced the configuration holding it).
    pub fn start(self: &Arc<Self>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak: Weak<SharedRevocations> = Arc::downgrade(self);
        handle.spawn(async move {
            loop {
                let Some(store) = weak.upgrade() else { return };
                if let Err(e) = store.sync().await {
                    tracing::warn!(error = %e, "revocation mirror not refreshed; keeping the last one");
                }
                let poll = store.poll;
                drop(store);
                tokio::time::sleep(poll).await;
            }
        });
    }

    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, SharedRevocationError> {
        let connect = self.client.get_multiplexed_async_connection();
        Ok(tokio::time::timeout(Duration::from_secs(2), connect)
            .await
            .map_err(|_| SharedRevocationError::Timeout)??)
    }

    /// Replaces the mirror with the unexpired entries in Redis (and drops the
    /// expired ones there). Returns how many are revoked.
    pub async fn sync(&self) -> Result<usize, SharedRevocationError> {
        let now = super::now();
        let mut con = self.connection().await?;
        let work = async {
            redis::cmd("ZREMRANGEBYSCORE")
                .arg(&self.key)
                .arg("-inf")
                .arg(format!("({now}"))
                .query_async::<i64>(&mut con)
                .await?;
            redis::cmd("ZRANGEBYSCORE")
                .arg(&self.key)
                .arg(now)
                .arg("+inf")
                .arg("WITHSCORES")
                .query_async::<Vec<(String, f64)>>(&mut con)
                .await
        };
        let entries = tokio::time::timeout(Duration::from_secs(2), work)
            .await
            .map_err(|_| SharedRevocationError::Timeout)??;
        let list = RevocationList::new(self.capacity);
        for (jti, exp) in &entries {
            if let Err(e) = list.revoke(jti, *exp as u64, now) {
                tracing::warn!(error = %e, "revocation from redis ignored");
            }
        }
        *self.mirror.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(list);
        Ok(entries.len())
    }

    /// Revokes `jti` until `exp` in Redis and in this replica's mirror.
    pub async fn revoke(&self, jti: &str, exp: u64) -> Result<(), SharedRevocationError> {
        let mut con = self.connection().await?;
        let mut add = redis::cmd("ZADD");
        add.arg(&self.key).arg("GT").arg(exp).arg(jti);
        tokio::time::timeout(Duration::from_secs(2), add.query_async::<i64>(&mut con))
            .await
            .map_err(|_| SharedRevocationError::Timeout)??;
        let mirror = self.mirror.read().map(|m| Arc::clone(&m));
        if let Ok(mirror) = mirror {
            let _ = mirror.revoke(jti, exp, super::now());
        }
        Ok(())
    }
}

impl Revocations for SharedRevocations {
    fn is_revoked(&self, jti: &str, now: u64) -> bool {
        let mirror = self.mirror.read().map(|m| Arc::clone(&m));
        mirror.is_ok_and(|m| m.is_revoked(jti, now))
    }
}
