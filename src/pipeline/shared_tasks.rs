//! Whose task is it, across replicas (`sessions.tasks.redis`).
//!
//! A task is created through one replica and fetched later, by its id alone,
//! through whichever replica the load balancer picks. Without a shared
//! registry the other replicas refuse it (fail closed, but the task is lost to
//! its creator). With one, the replica that sees a task created records its
//! owner in Redis, and a replica asked about a task it never saw looks there.
//!
//! Keys under the prefix: `t:{task id}` holds the SHA-256 of the owner (a
//! session id is not written to Redis as it is), expiring with the task;
//! `o:{SHA-256 of the owner}` is the set of the owner's task ids, for
//! `tasks/list`. Each step is one Lua script bounded by [`TIMEOUT`]; an error
//! is returned and the request refused (503), never guessed. The scripts
//! build keys from the prefix: one Redis server or a replicated primary, not
//! Redis Cluster.

use crate::redis_link::{Link, LinkError};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The longest any Redis step may take before the request is refused.
pub const TIMEOUT: Duration = Duration::from_millis(500);

/// KEYS[1] the task's key, KEYS[2] the owner's set. ARGV: task id, owner
/// hash, TTL in ms.
const RECORD: &str = r"
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1
";

/// KEYS[1] the task's key. Returns {owner hash or '', ms left}.
const OWNER: &str = r"
return {redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1])}
";

/// KEYS[1] the owner's set. ARGV: prefix, owner hash. Returns {id, ms left}
/// per task still owned; forgets the others.
const OWNED: &str = r"
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. 't:' .. id
  if redis.call('GET', key) == ARGV[2] then
    table.insert(out, {id, redis.call('PTTL', key)})
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out
";

/// Who owns a task, as Redis knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// `owner` created it; it is remembered for this long yet.
    Owned(Duration),
    /// Someone else did.
    Other,
    /// Nobody recorded it (or it expired).
    Unknown,
}

/// The Redis side of task ownership.
#[derive(Debug)]
pub struct SharedTasks {
    link: Link,
    prefix: String,
}

fn digest(owner: &str) -> String {
    hex::encode(Sha256::digest(owner.as_bytes()))
}

/// A `PTTL` answer: `-1` (no expiry, which these scripts never leave) reads
/// as the longest a task is remembered.
fn left(ms: i64) -> Duration {
    match ms {
        -1 => super::tasks::UNLIMITED,
        ms => Duration::from_millis(u64::try_from(ms).unwrap_or(0)),
    }
}

impl SharedTasks {
    /// Parses the URL; nothing is contacted yet. Fails on an invalid URL.
    pub fn new(url: &str, prefix: String) -> Result<SharedTasks, String> {
        Ok(SharedTasks {
            link: Link::open(url, TIMEOUT)?,
            prefix,
        })
    }

    /// Records that `owner` created task `id`, remembered for `ttl`.
    pub async fn record(&self, id: &str, owner: &str, ttl: Duration) -> Result<(), LinkError> {
        let owner = digest(owner);
        let keys = [
            format!("{}t:{id}", self.prefix),
            format!("{}o:{owner}", self.prefix),
        ];
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let args = [id.to_owned(), owner, ms.to_string()];
        let _: i64 = self.link.eval(RECORD, &keys, &args).await?;
        Ok(())
    }

    /// Whether `owner` created task `id`.
    pub async fn owner(&self, id: &str, owner: &str) -> Result<Known, LinkError> {
        let (found, ms): (String, i64) = self
            .link
            .eval(OWNER, &[format!("{}t:{id}", self.prefix)], &[])
            .await?;
        Ok(match found {
            f if f.is_empty() || ms == -2 => Known::Unknown,
            f if f == digest(owner) => Known::Owned(left(ms)),
            _ => Known::Other,
        })
    }

    /// The tasks `owner` created that are still remembered, each with how
    /// long it is remembered yet.
    pub async fn owned(&self, owner: &str) -> Result<Vec<(String, Duration)>, LinkError> {
        let owner = digest(owner);
        let set = format!("{}o:{owner}", self.prefix);
        let found: Vec<(String, i64)> = self
            .link
            .eval(OWNED, &[set], &[self.prefix.clone(), owner])
            .await?;
        Ok(found.into_iter().map(|(id, ms)| (id, left(ms))).collect())
    }
}
