//! Flow labels shared by every gateway replica through Redis
//! (`authorization.flows.redis`).
//!
//! Without it each replica knows only the labels of the calls it authorized:
//! a session that fetched untrusted content through one replica could call an
//! exfiltration tool through another, and the flow rule would not fire.
//!
//! One key per session (or per principal for stateless traffic): a Redis set
//! of labels under the prefix and the SHA-256 of the flow key (a session id
//! is not written to Redis as it is). Recording adds the labels and restarts
//! the idle TTL, as in memory; Redis forgets the set when it runs out. Each
//! step is one Lua script, bounded by [`TIMEOUT`]; an error is returned, and
//! the gateway refuses the request (fail closed): a call whose session's
//! labels cannot be read, or whose labels cannot be written, is not
//! forwarded.

use crate::redis_link::{Link, LinkError};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The longest any Redis step may take before the request is refused.
pub const TIMEOUT: Duration = Duration::from_millis(500);

/// KEYS[1] the session's set. ARGV: idle TTL in ms, then the labels.
const RECORD: &str = r"
redis.call('SADD', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
";

/// KEYS[1] the session's set. Returns {ms left, labels}.
const READ: &str = r"
return {redis.call('PTTL', KEYS[1]), redis.call('SMEMBERS', KEYS[1])}
";

/// The Redis side of flow labels.
#[derive(Debug)]
pub struct SharedFlows {
    link: Link,
    prefix: String,
}

impl SharedFlows {
    /// Parses the URL; nothing is contacted yet. Fails on an invalid URL.
    pub fn new(url: &str, prefix: String) -> Result<SharedFlows, String> {
        Ok(SharedFlows {
            link: Link::open(url, TIMEOUT)?,
            prefix,
        })
    }

    fn key(&self, flow_key: &str) -> String {
        let digest = Sha256::digest(flow_key.as_bytes());
        format!("{}{}", self.prefix, hex::encode(digest))
    }

    /// The labels recorded for `flow_key` by any replica, sorted, and how
    /// long until they are forgotten (`None`: nothing recorded, or a set
    /// without expiry, which these scripts never leave).
    pub async fn labels(
        &self,
        flow_key: &str,
    ) -> Result<(Vec<String>, Option<Duration>), LinkError> {
        let (left, mut labels): (i64, Vec<String>) =
            self.link.eval(READ, &[self.key(flow_key)], &[]).await?;
        labels.sort_unstable();
        let left = u64::try_from(left)
            .ok()
            .filter(|_| !labels.is_empty())
            .map(Duration::from_millis);
        Ok((labels, left))
    }

    /// Adds `labels` to `flow_key`'s set and restarts its idle `ttl`.
    pub async fn record(
        &self,
        flow_key: &str,
        labels: &[String],
        ttl: Duration,
    ) -> Result<(), LinkError> {
        if labels.is_empty() {
            return Ok(());
        }
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut args = Vec::with_capacity(labels.len() + 1);
        args.push(ms.to_string());
        args.extend(labels.iter().cloned());
        let _: i64 = self.link.eval(RECORD, &[self.key(flow_key)], &args).await?;
        Ok(())
    }
}
