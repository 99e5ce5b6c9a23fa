//! Approvals shared by every gateway replica through Redis
//! (`authorization.approvals.redis`).
//!
//! Each step is one Lua script, so it is atomic across replicas: opening a
//! pending approval (or finding the one for the same binding), consuming a
//! grant, deciding, listing, and reaping the expired. Keys under the prefix:
//!
//! - `a:{id}`: a hash; `state` (`pending`, `approved`, `rejected`, `used`),
//!   `by` (the approver), `principal`, `binding`, `expires_at`, and `record`
//!   (the facts shown to approvers, JSON). Redis expires it one
//!   [`REAP_GRACE`] after `expires_at`, so that a replica can still report
//!   the expiry to the audit trail.
//! - `b:{binding}`: the id of the approval for that binding; Redis expires it
//!   at `expires_at`.
//! - `index`: a sorted set of ids by `expires_at`, for listing and reaping.
//!
//! Invariants: a grant is consumed at most once across all replicas (the
//! state moves `approved` → `used` inside the script that answers the call);
//! nothing is usable after `expires_at` (every script compares against the
//! caller's clock, besides Redis's own expiry); a decision is made once.
//! Every call is bounded by [`TIMEOUT`]; an error is returned, never a guess,
//! and the caller refuses (fail closed).
//!
//! The scripts build keys from the prefix, so the keys of one approval must
//! live on one Redis node: a single server or a replicated primary, not
//! Redis Cluster. `SET … EXAT` needs Redis 6.2 or later.

use super::approvals::{Approval, Call, DecideError, Outcome, State};
use crate::redis_link::{Link, LinkError};
use serde_json::{Value, json};
use std::time::Duration;

/// How long an approval's hash outlives its expiry (seconds), so that the
/// expiry is still reported if no replica looked at approvals meanwhile.
pub const REAP_GRACE: u64 = 86_400;

/// The longest any Redis step may take before the call is refused.
pub const TIMEOUT: Duration = Duration::from_millis(500);

/// How often a held call looks for a decision made on another replica.
pub const POLL: Duration = Duration::from_millis(250);

/// KEYS[1] the binding key, KEYS[2] the index. ARGV: prefix, now, new id,
/// expires_at, max, principal, record, binding, grace.
/// Returns {outcome, id, expires_at}.
const REQUEST: &str = r"
local now = tonumber(ARGV[2])
local id = redis.call('GET', KEYS[1])
if id then
  local key = ARGV[1] .. 'a:' .. id
  local f = redis.call('HMGET', key, 'state', 'expires_at')
  if f[1] and tonumber(f[2]) > now then
    if f[1] == 'approved' then
      redis.call('HSET', key, 'state', 'used')
      redis.call('DEL', KEYS[1])
      return {'granted', id, f[2]}
    elseif f[1] == 'pending' then
      return {'pending', id, f[2]}
    elseif f[1] == 'rejected' then
      redis.call('DEL', KEYS[1])
      return {'rejected', id, f[2]}
    end
  end
end
if redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf') >= tonumber(ARGV[5]) then
  local oldest = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf', 'LIMIT', 0, 1)[1]
  if oldest then
    local okey = ARGV[1] .. 'a:' .. oldest
    local obinding = redis.call('HGET', okey, 'binding')
    if obinding and redis.call('GET', ARGV[1] .. 'b:' .. obinding) == oldest then
      redis.call('DEL', ARGV[1] .. 'b:' .. obinding)
    end
    redis.call('DEL', okey)
    redis.call('ZREM', KEYS[2], oldest)
  end
end
local key = ARGV[1] .. 'a:' .. ARGV[3]
local exp = tonumber(ARGV[4])
redis.call('HSET', key, 'state', 'pending', 'by', '', 'principal', ARGV[6],
  'record', ARGV[7], 'binding', ARGV[8], 'expires_at', ARGV[4])
redis.call('EXPIREAT', key, exp + tonumber(ARGV[9]))
redis.call('SET', KEYS[1], ARGV[3], 'EXAT', exp)
redis.call('ZADD', KEYS[2], exp, ARGV[3])
return {'pending', ARGV[3], ARGV[4]}
";

/// KEYS[1] the approval's hash. ARGV: now, new state, approver.
/// Returns {verdict, state, by, record}.
const DECIDE: &str = r"
local f = redis.call('HMGET', KEYS[1], 'state', 'expires_at', 'principal', 'record')
if not f[1] or tonumber(f[2]) <= tonumber(ARGV[1]) then return {'not_found', '', '', ''} end
if f[1] ~= 'pending' then return {'decided', '', '', ''} end
if f[3] == ARGV[3] then return {'own', '', '', ''} end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'by', ARGV[3])
return {'ok', ARGV[2], ARGV[3], f[4]}
";

/// KEYS[1] the index. ARGV: prefix, now. Returns {state, by, record} per
/// unexpired approval, soonest expiry first.
const LIST: &str = r"
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf')) do
  local f = redis.call('HMGET', ARGV[1] .. 'a:' .. id, 'state', 'by', 'record')
  if f[1] then table.insert(out, {f[1], f[2], f[3]}) end
end
return out
";

/// KEYS[1] the index. ARGV: prefix, now. Removes up to 1000 expired
/// approvals; returns {state, by, record} of those that ran out unused. The
/// replica whose script removes an id is the one that reports it: once.
const REAP: &str = r"
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, 1000)) do
  redis.call('ZREM', KEYS[1], id)
  local key = ARGV[1] .. 'a:' .. id
  local f = redis.call('HMGET', key, 'state', 'by', 'record')
  if f[1] == 'pending' or f[1] == 'approved' then table.insert(out, {f[1], f[2], f[3]}) end
  redis.call('DEL', key)
end
return out
";

/// Why the shared store could not answer (logged; the call is refused).
#[derive(Debug, thiserror::Error)]
pub enum SharedApprovalError {
    /// Connecting or the command failed, or no answer in time.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// Redis holds something these scripts did not write.
    #[error("unexpected approval data in redis: {0}")]
    Corrupt(String),
}

/// The Redis side of approvals.
#[derive(Debug)]
pub struct SharedApprovals {
    link: Link,
    prefix: String,
}

impl SharedApprovals {
    /// Parses the URL; nothing is contacted yet. Fails on an invalid URL.
    pub fn new(url: &str, prefix: String) -> Result<SharedApprovals, String> {
        Ok(SharedApprovals {
            link: Link::open(url, TIMEOUT)?,
            prefix,
        })
    }

    /// Runs one script (see [`Link::eval`]).
    async fn eval<T: redis::FromRedisValue>(
        &self,
        script: &str,
        keys: &[String],
        args: &[String],
    ) -> Result<T, SharedApprovalError> {
        Ok(self.link.eval(script, keys, args).await?)
    }

    /// [`super::approvals::Approvals::request`], atomically across replicas.
    pub async fn request(
        &self,
        call: &Call<'_>,
        reason: &str,
        now: u64,
        ttl: u64,
        max: usize,
    ) -> Result<Outcome, SharedApprovalError> {
        let digest = super::approvals::digest_of(call.arguments);
        let binding = super::approvals::binding(call, &digest);
        let id = super::approvals::new_id();
        let expires_at = now + ttl;
        let fresh = Approval {
            id: id.clone(),
            binding: binding.clone(),
            principal: call.principal.to_owned(),
            upstream: call.upstream.to_owned(),
            tool: call.tool.to_owned(),
            arguments_digest: digest,
            arguments: call.arguments.cloned().unwrap_or(Value::Null),
            policy_version: call.policy_version.to_owned(),
            reason: reason.to_owned(),
            expires_at,
            state: State::Pending,
        };
        let keys = [
            format!("{}b:{binding}", self.prefix),
            format!("{}index", self.prefix),
        ];
        let args = [
            self.prefix.clone(),
            now.to_string(),
            id,
            expires_at.to_string(),
            max.max(1).to_string(),
            call.principal.to_owned(),
            record(&fresh),
            binding,
            REAP_GRACE.to_string(),
        ];
        let (outcome, id, expires_at): (String, String, u64) =
            self.eval(REQUEST, &keys, &args).await?;
        match outcome.as_str() {
            "granted" => Ok(Outcome::Granted),
            "pending" => Ok(Outcome::Pending(id, expires_at)),
            "rejected" => Ok(Outcome::Rejected(id)),
            other => Err(SharedApprovalError::Corrupt(format!("outcome `{other}`"))),
        }
    }

    /// [`super::approvals::Approvals::decide`], once across replicas. The
    /// outer error: Redis did not answer; the inner: the decision's refusal.
    pub async fn decide(
        &self,
        id: &str,
        approve: bool,
        approver: &str,
        now: u64,
    ) -> Result<Result<Approval, DecideError>, SharedApprovalError> {
        let state = if approve { "approved" } else { "rejected" };
        let keys = [format!("{}a:{id}", self.prefix)];
        let args = [now.to_string(), state.to_owned(), approver.to_owned()];
        let (verdict, state, by, text): (String, String, String, String) =
            self.eval(DECIDE, &keys, &args).await?;
        Ok(match verdict.as_str() {
            "ok" => Ok(approval(&state, &by, &text)?),
            "not_found" => Err(DecideError::NotFound),
            "decided" => Err(DecideError::AlreadyDecided),
            "own" => Err(DecideError::OwnCall),
            other => return Err(SharedApprovalError::Corrupt(format!("verdict `{other}`"))),
        })
    }

    /// Unexpired approvals of every replica, pending first.
    pub async fn list(&self, now: u64) -> Result<Vec<Approval>, SharedApprovalError> {
        let keys = [format!("{}index", self.prefix)];
        let rows: Vec<(String, String, String)> = self
            .eval(LIST, &keys, &[self.prefix.clone(), now.to_string()])
            .await?;
        let mut out = rows
            .iter()
            .map(|(state, by, text)| approval(state, by, text))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|a| (a.state != State::Pending, a.expires_at));
        Ok(out)
    }

    /// Approvals that ran out unused, each returned to exactly one replica.
    pub async fn newly_expired(&self, now: u64) -> Result<Vec<Approval>, SharedApprovalError> {
        let keys = [format!("{}index", self.prefix)];
        let rows: Vec<(String, String, String)> = self
            .eval(REAP, &keys, &[self.prefix.clone(), now.to_string()])
            .await?;
        rows.iter()
            .map(|(state, by, text)| approval(state, by, text))
            .collect()
    }
}

/// The facts of an approval as stored in its hash's `record` field.
fn record(a: &Approval) -> String {
    json!({
        "id": a.id, "binding": a.binding, "principal": a.principal, "upstream": a.upstream,
        "tool": a.tool, "arguments_digest": a.arguments_digest, "arguments": a.arguments,
        "policy_version": a.policy_version, "reason": a.reason, "expires_at": a.expires_at,
    })
    .to_string()
}

/// An approval from its stored state, approver and `record`.
fn approval(state: &str, by: &str, text: &str) -> Result<Approval, SharedApprovalError> {
    let corrupt = |what: &str| SharedApprovalError::Corrupt(what.to_owned());
    let v: Value = serde_json::from_str(text).map_err(|_| corrupt("record is not JSON"))?;
    let field = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| corrupt(name))
    };
    let state = match state {
        "pending" => State::Pending,
        "approved" => State::Approved(by.to_owned()),
        "rejected" => State::Rejected(by.to_owned()),
        "used" => State::Used,
        _ => return Err(corrupt("state")),
    };
    Ok(Approval {
        id: field("id")?,
        binding: field("binding")?,
        principal: field("principal")?,
        upstream: field("upstream")?,
        tool: field("tool")?,
        arguments_digest: field("arguments_digest")?,
        arguments: v.get("arguments").cloned().unwrap_or(Value::Null),
        policy_version: field("policy_version")?,
        reason: field("reason")?,
        expires_at: v
            .get("expires_at")
            .and_then(Value::as_u64)
            .ok_or_else(|| corrupt("expires_at"))?,
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_record_reads_back_as_the_same_approval() {
        let a = Approval {
            id: "apr_1".into(),
            binding: "b".into(),
            principal: "iss alice".into(),
            upstream: "default".into(),
            tool: "delete_records".into(),
            arguments_digest: "d".into(),
            arguments: json!({"table": "users"}),
            policy_version: "v1".into(),
            reason: "r".into(),
            expires_at: 160,
            state: State::Approved("iss bob".into()),
        };
        assert_eq!(approval("approved", "iss bob", &record(&a)).unwrap(), a);
        assert!(approval("unheard-of", "", &record(&a)).is_err());
        assert!(approval("pending", "", "{}").is_err());
    }
}
