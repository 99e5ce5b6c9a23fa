//! Where approvals are kept: this process's memory, or Redis shared by every
//! replica when `authorization.approvals.redis` is configured. The gate and
//! the admin endpoint go through [`Store`] and do not care which.
//!
//! Invariant: with Redis configured, every answer comes from Redis or is an
//! error; nothing falls back to the in-memory store (fail closed: a call that
//! needs approval is refused while Redis cannot answer).

use super::approvals::{Approval, Approvals, Call, DecideError, Outcome};
use super::config::ApprovalSettings;
use super::shared_approvals::{SharedApprovalError, SharedApprovals};
use std::time::Duration;

/// The approvals a request works with.
#[derive(Debug, Clone, Copy)]
pub struct Store<'a> {
    local: &'a Approvals,
    shared: Option<&'a SharedApprovals>,
}

impl<'a> Store<'a> {
    /// Redis when the settings name it, else this process's `local` store.
    pub fn of(settings: &'a ApprovalSettings, local: &'a Approvals) -> Store<'a> {
        Store {
            local,
            shared: settings.redis.as_deref(),
        }
    }

    /// Consumes a grant for this exact call, or opens (or finds) a pending
    /// approval. Fails only when Redis is configured and does not answer.
    pub async fn request(
        &self,
        call: &Call<'_>,
        reason: &str,
        now: u64,
        ttl: u64,
        max: usize,
    ) -> Result<Outcome, SharedApprovalError> {
        match self.shared {
            None => Ok(self.local.request(call, reason, now, ttl, max)),
            Some(redis) => redis.request(call, reason, now, ttl, max).await,
        }
    }

    /// An approver's decision; [`DecideError::Unavailable`] (the cause
    /// logged) when Redis does not answer. Held calls in this process are
    /// woken either way; those on other replicas look again every
    /// [`Store::poll`].
    pub async fn decide(
        &self,
        id: &str,
        approve: bool,
        approver: &str,
        now: u64,
    ) -> Result<Approval, DecideError> {
        let Some(redis) = self.shared else {
            return self.local.decide(id, approve, approver, now);
        };
        let decided = match redis.decide(id, approve, approver, now).await {
            Ok(decided) => decided,
            Err(e) => {
                tracing::error!(target: "portcullis::authz", error = %e, approval = id, "approvals store unavailable; nothing decided");
                Err(DecideError::Unavailable)
            }
        };
        if decided.is_ok() {
            self.local.changed().notify_waiters();
        }
        decided
    }

    /// Unexpired approvals, pending first (of every replica with Redis).
    pub async fn list(&self, now: u64) -> Result<Vec<Approval>, SharedApprovalError> {
        match self.shared {
            None => Ok(self.local.list(now)),
            Some(redis) => redis.list(now).await,
        }
    }

    /// Approvals that ran out unused since anyone last looked, each returned
    /// once (to one replica, with Redis) for the audit trail.
    pub async fn newly_expired(&self, now: u64) -> Result<Vec<Approval>, SharedApprovalError> {
        match self.shared {
            None => Ok(self.local.newly_expired(now)),
            Some(redis) => redis.newly_expired(now).await,
        }
    }

    /// How often a held call must look again: decisions made on another
    /// replica wake nobody here. `None`: a local decision wakes it.
    pub fn poll(&self) -> Option<Duration> {
        self.shared.map(|_| super::shared_approvals::POLL)
    }
}
