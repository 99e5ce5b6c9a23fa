//! Human approval bound to the exact call.
//!
//! A call that needs approval gets a pending [`Approval`] whose binding is the
//! SHA-256 of (principal issuer and subject, upstream, tool, a canonical
//! digest of the arguments, the policy set version). An approver approves or
//! rejects it by id; the next call with the same binding consumes a granted
//! approval, once. A changed argument, another principal, another tool or a
//! policy reload gives another binding, so a grant never covers anything but
//! the call that was shown to the approver.
//!
//! Invariants: a grant is used at most once; nothing is usable after its
//! expiry; the store is bounded (expired entries go first, then the oldest);
//! nobody approves their own call. Time is a parameter (seconds).

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Where an approval stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Waiting for an approver.
    Pending,
    /// Approved by the named approver, not used yet.
    Approved(String),
    /// Rejected by the named approver.
    Rejected(String),
    /// Approved and consumed by the call.
    Used,
}

/// One approval request.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    /// Random id shown to the client and the approver.
    pub id: String,
    /// Hex SHA-256 of the bound facts.
    pub binding: String,
    /// `issuer subject` of the caller.
    pub principal: String,
    /// The upstream.
    pub upstream: String,
    /// The tool.
    pub tool: String,
    /// Hex SHA-256 of the canonical arguments.
    pub arguments_digest: String,
    /// The arguments, for the approver to read.
    pub arguments: Value,
    /// The policy set version the decision was made under.
    pub policy_version: String,
    /// The `@approval` text of the deciding policy.
    pub reason: String,
    /// Seconds since the epoch.
    pub expires_at: u64,
    /// Where it stands.
    pub state: State,
}

impl Approval {
    /// As the admin endpoint shows it.
    pub fn to_json(&self) -> Value {
        let (state, by) = match &self.state {
            State::Pending => ("pending", None),
            State::Approved(by) => ("approved", Some(by.as_str())),
            State::Rejected(by) => ("rejected", Some(by.as_str())),
            State::Used => ("used", None),
        };
        json!({
            "id": self.id, "state": state, "decided_by": by, "principal": self.principal,
            "upstream": self.upstream, "tool": self.tool, "arguments": self.arguments,
            "arguments_digest": self.arguments_digest, "policy_version": self.policy_version,
            "reason": self.reason, "expires_at": self.expires_at,
        })
    }
}

/// What the call that needs approval may do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A grant for this exact call was consumed: forward it.
    Granted,
    /// Waiting (new or existing pending approval): its id and expiry.
    Pending(String, u64),
    /// An approver rejected this exact call.
    Rejected(String),
}

/// Why an approver's decision was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    /// No such approval, or it expired.
    #[error("no pending approval with this id")]
    NotFound,
    /// It was already decided.
    #[error("this approval was already decided")]
    AlreadyDecided,
    /// The approver is the caller.
    #[error("an approver cannot approve their own call")]
    OwnCall,
    /// The shared store (Redis) did not answer: nothing was decided.
    #[error("the approvals store is unavailable")]
    Unavailable,
}

/// The facts a call is bound by.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// `issuer subject`.
    pub principal: &'a str,
    /// The upstream.
    pub upstream: &'a str,
    /// The tool.
    pub tool: &'a str,
    /// The arguments.
    pub arguments: Option<&'a Value>,
    /// The policy set version.
    pub policy_version: &'a str,
}

#[derive(Debug, Default)]
struct Inner {
    by_id: HashMap<String, Approval>,
    by_binding: HashMap<String, String>,
    /// Ids whose expiry was already reported.
    expiry_reported: std::collections::HashSet<String>,
}

/// The approvals of this gateway process.
#[derive(Debug, Default)]
pub struct Approvals {
    inner: Mutex<Inner>,
    changed: Arc<Notify>,
}

impl Approvals {
    /// Approvals whose time ran out unused (pending, or granted and never
    /// used) since the last call, each reported once; for the audit trail,
    /// which learns of an expiry at the next approval request or listing.
    pub fn newly_expired(&self, now: u64) -> Vec<Approval> {
        let Ok(mut inner) = self.inner.lock() else {
            return Vec::new();
        };
        let Inner {
            by_id,
            expiry_reported,
            ..
        } = &mut *inner;
        expiry_reported.retain(|id| by_id.contains_key(id));
        by_id
            .values()
            .filter(|a| {
                a.expires_at <= now && matches!(a.state, State::Pending | State::Approved(_))
            })
            .filter(|a| expiry_reported.insert(a.id.clone()))
            .cloned()
            .collect()
    }

    /// A call needs approval: consume a grant, or open (or find) a pending one.
    pub fn request(
        &self,
        call: &Call<'_>,
        reason: &str,
        now: u64,
        ttl: u64,
        max: usize,
    ) -> Outcome {
        let digest = digest_of(call.arguments);
        let binding = binding(call, &digest);
        let Ok(mut inner) = self.inner.lock() else {
            return Outcome::Rejected(String::new());
        };
        if let Some(id) = inner.by_binding.get(&binding).cloned()
            && let Some(a) = inner.by_id.get_mut(&id)
            && a.expires_at > now
        {
            match &a.state {
                State::Approved(_) => {
                    a.state = State::Used;
                    inner.by_binding.remove(&binding);
                    return Outcome::Granted;
                }
                State::Pending => return Outcome::Pending(id, a.expires_at),
                State::Rejected(_) => {
                    inner.by_binding.remove(&binding);
                    return Outcome::Rejected(id);
                }
                State::Used => {}
            }
        }
        if inner.by_id.len() >= max {
            inner.by_id.retain(|_, a| a.expires_at > now);
            if inner.by_id.len() >= max
                && let Some(oldest) = inner
                    .by_id
                    .values()
                    .min_by_key(|a| a.expires_at)
                    .map(|a| a.id.clone())
            {
                inner.by_id.remove(&oldest);
            }
            let Inner {
                by_id, by_binding, ..
            } = &mut *inner;
            by_binding.retain(|_, id| by_id.contains_key(id));
        }
        let id = new_id();
        let expires_at = now + ttl;
        inner.by_binding.insert(binding.clone(), id.clone());
        inner.by_id.insert(
            id.clone(),
            Approval {
                id: id.clone(),
                binding,
                principal: call.principal.to_owned(),
                upstream: call.upstream.to_owned(),
                tool: call.tool.to_owned(),
                arguments_digest: digest,
                arguments: call.arguments.cloned().unwrap_or(Value::Null),
                policy_version: call.policy_version.to_owned(),
                reason: reason.to_owned(),
                expires_at,
                state: State::Pending,
            },
        );
        Outcome::Pending(id, expires_at)
    }

    /// An approver's decision on a pending approval.
    pub fn decide(
        &self,
        id: &str,
        approve: bool,
        approver: &str,
        now: u64,
    ) -> Result<Approval, DecideError> {
        let Ok(mut inner) = self.inner.lock() else {
            return Err(DecideError::NotFound);
        };
        let a = inner
            .by_id
            .get_mut(id)
            .filter(|a| a.expires_at > now)
            .ok_or(DecideError::NotFound)?;
        if a.state != State::Pending {
            return Err(DecideError::AlreadyDecided);
        }
        if a.principal == approver {
            return Err(DecideError::OwnCall);
        }
        a.state = if approve {
            State::Approved(approver.to_owned())
        } else {
            State::Rejected(approver.to_owned())
        };
        let out = a.clone();
        drop(inner);
        self.changed.notify_waiters();
        Ok(out)
    }

    /// Unexpired approvals, pending first.
    pub fn list(&self, now: u64) -> Vec<Approval> {
        let Ok(inner) = self.inner.lock() else {
            return Vec::new();
        };
        let mut out: Vec<Approval> = inner
            .by_id
            .values()
            .filter(|a| a.expires_at > now)
            .cloned()
            .collect();
        out.sort_by_key(|a| (a.state != State::Pending, a.expires_at));
        out
    }

    /// Completes when any approval is decided (for held calls).
    pub fn changed(&self) -> Arc<Notify> {
        Arc::clone(&self.changed)
    }
}

/// The hex SHA-256 a call is bound by (see the module comment).
pub(crate) fn binding(call: &Call<'_>, digest: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        call.principal,
        call.upstream,
        call.tool,
        digest,
        call.policy_version,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex(&h.finalize())
}

/// SHA-256 of the arguments in canonical JSON (keys sorted at every level).
pub fn digest_of(arguments: Option<&Value>) -> String {
    let mut text = String::new();
    canonical(
        arguments.unwrap_or(&Value::Object(serde_json::Map::new())),
        &mut text,
    );
    hex(&Sha256::digest(text.as_bytes()))
}

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(x) = map.get(k) {
                    canonical(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A fresh random approval id, `apr_` and 32 hex digits.
pub(crate) fn new_id() -> String {
    let mut bytes = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // The system RNG failing is not survivable for ids; fall back to fastrand
        // only to stay panic-free (ids are not secrets: approvers authenticate).
        bytes.iter_mut().for_each(|b| *b = fastrand::u8(..));
    }
    format!("apr_{}", hex(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call<'a>(args: &'a Value, version: &'a str) -> Call<'a> {
        Call {
            principal: "iss alice",
            upstream: "default",
            tool: "delete_records",
            arguments: Some(args),
            policy_version: version,
        }
    }

    #[test]
    fn a_grant_is_bound_to_the_exact_call_and_used_once() {
        let a = Approvals::default();
        let args = json!({"table": "users"});
        let Outcome::Pending(id, _) = a.request(&call(&args, "v1"), "r", 100, 60, 10) else {
            panic!()
        };
        assert_eq!(
            a.request(&call(&args, "v1"), "r", 101, 60, 10),
            Outcome::Pending(id.clone(), 160)
        );
        a.decide(&id, true, "iss bob", 102).unwrap();
        let changed = json!({"table": "orders"});
        assert!(
            matches!(a.request(&call(&changed, "v1"), "r", 103, 60, 10), Outcome::Pending(other, _) if other != id)
        );
        assert!(
            matches!(a.request(&call(&args, "v2"), "r", 103, 60, 10), Outcome::Pending(other, _) if other != id)
        );
        assert_eq!(
            a.request(&call(&args, "v1"), "r", 104, 60, 10),
            Outcome::Granted
        );
        assert!(
            matches!(a.request(&call(&args, "v1"), "r", 105, 60, 10), Outcome::Pending(other, _) if other != id)
        );
    }

    #[test]
    fn an_expired_grant_is_not_usable() {
        let a = Approvals::default();
        let args = json!({});
        let Outcome::Pending(id, exp) = a.request(&call(&args, "v"), "r", 100, 60, 10) else {
            panic!()
        };
        a.decide(&id, true, "iss bob", 110).unwrap();
        assert!(
            matches!(a.request(&call(&args, "v"), "r", exp, 60, 10), Outcome::Pending(other, _) if other != id)
        );
        assert_eq!(
            a.decide(&id, true, "iss bob", exp),
            Err(DecideError::NotFound)
        );
    }

    #[test]
    fn nobody_approves_their_own_call_and_decisions_are_final() {
        let a = Approvals::default();
        let args = json!({});
        let Outcome::Pending(id, _) = a.request(&call(&args, "v"), "r", 100, 60, 10) else {
            panic!()
        };
        assert_eq!(
            a.decide(&id, true, "iss alice", 101),
            Err(DecideError::OwnCall)
        );
        a.decide(&id, false, "iss bob", 101).unwrap();
        assert_eq!(
            a.decide(&id, true, "iss carol", 102),
            Err(DecideError::AlreadyDecided)
        );
        assert_eq!(
            a.request(&call(&args, "v"), "r", 103, 60, 10),
            Outcome::Rejected(id)
        );
    }

    #[test]
    fn argument_digests_ignore_key_order() {
        let one: Value = serde_json::from_str(r#"{"a":1,"b":{"d":2,"c":3}}"#).unwrap();
        let two: Value = serde_json::from_str(r#"{"b":{"c":3,"d":2},"a":1}"#).unwrap();
        assert_eq!(digest_of(Some(&one)), digest_of(Some(&two)));
        assert_ne!(digest_of(Some(&one)), digest_of(None));
    }
}
