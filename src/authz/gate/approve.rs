//! Asking a person to approve a call, and the audit records of approvals.
//!
//! A call that a policy marks for approval waits here: the request is put in
//! the approvals store (memory, or Redis shared by replicas), announced once
//! in the audit trail, and either answered at once (`error` mode: the client
//! gets an error carrying the approval id) or held until a decision or the
//! hold timeout (`hold` mode). The store failing refuses the call: nobody can
//! say it was approved.

use crate::authz::approval_store::Store;
use crate::authz::approvals::{Call, Outcome};
use crate::authz::config::ApprovalMode;
use crate::authz::engine::Engine;
use crate::pipeline::Shared;
use crate::pipeline::context::RequestContext;
use crate::pipeline::respond::Rejection;
use crate::protocol::jsonrpc::Message;

/// Asks for approval of `tool` on `upstream` (`reason` is the policy's), and
/// returns once it is granted; a rejection, an unanswered request in `error`
/// mode or after the hold, and a store that cannot answer are refusals.
pub(super) async fn approve(
    cx: &RequestContext,
    m: &Message,
    engine: &Engine,
    shared: &Shared,
    upstream: &str,
    tool: &str,
    reason: &str,
) -> Result<(), Rejection> {
    let settings = &engine.settings.approvals;
    let principal = cx
        .principal
        .as_deref()
        .map(approver_name)
        .unwrap_or_default();
    let call = Call {
        principal: &principal,
        upstream,
        tool,
        arguments: m.arguments(),
        policy_version: &engine.version,
    };
    let ttl = settings.ttl.as_secs().max(1);
    let deadline = tokio::time::Instant::now() + settings.hold_timeout;
    let store = Store::of(settings, &shared.authz.approvals);
    audit_expired(shared, &store, crate::authn::now()).await;
    let mut announced = false;
    loop {
        let changed = shared.authz.approvals.changed();
        let notified = changed.notified();
        let outcome = store
            .request(
                &call,
                reason,
                crate::authn::now(),
                ttl,
                settings.max_pending,
            )
            .await
            .map_err(|e| {
                // Fail closed: without the store nobody can say it was approved.
                tracing::error!(target: "portcullis::authz", error = %e, tool, "approvals store unavailable; call refused");
                Rejection::ApprovalUnavailable { id: m.id().cloned() }
            })?;
        match outcome {
            Outcome::Granted => return Ok(()),
            Outcome::Rejected(approval) => {
                return Err(Rejection::ApprovalRejected {
                    id: m.id().cloned(),
                    approval,
                });
            }
            Outcome::Pending(approval, expires_at) => {
                // One event per request that waits (a held call polls again).
                if !announced {
                    announced = true;
                    shared.audit_event(crate::pipeline::record::Facts::of(cx).gateway(
                        crate::audit::GatewayEvent::Approval {
                            approval_id: approval.clone(),
                            state: crate::audit::ApprovalState::Requested,
                            approver: None,
                            arguments_digest: None,
                        },
                    ));
                }
                let held =
                    settings.mode == ApprovalMode::Hold && tokio::time::Instant::now() < deadline;
                if !held {
                    tracing::info!(target: "portcullis::authz", approval = %approval, tool, "call awaits approval");
                    return Err(Rejection::ApprovalRequired {
                        id: m.id().cloned(),
                        approval,
                        expires_at,
                    });
                }
                // A decision on another replica wakes nobody here: look again.
                let wake = store
                    .poll()
                    .map_or(deadline, |p| deadline.min(tokio::time::Instant::now() + p));
                let _ = tokio::time::timeout_at(wake, notified).await;
            }
        }
    }
}

/// Records the approvals that ran out unused since the last look (see
/// [`crate::authz::approvals::Approvals::newly_expired`]); with Redis, the replica
/// that reaps an approval records it. Redis not answering is logged: those
/// expiries are recorded by a later look.
pub async fn audit_expired(shared: &Shared, store: &Store<'_>, now: u64) {
    let expired = match store.newly_expired(now).await {
        Ok(expired) => expired,
        Err(e) => {
            tracing::warn!(target: "portcullis::authz", error = %e, "expired approvals not reaped");
            return;
        }
    };
    for a in expired {
        shared.audit_event(approval_event(
            &a,
            crate::audit::ApprovalState::Expired,
            None,
        ));
    }
}

/// The audit record of an approval changing state outside a request.
pub fn approval_event(
    a: &crate::authz::approvals::Approval,
    state: crate::audit::ApprovalState,
    approver: Option<String>,
) -> crate::audit::AuditRecord {
    let mut record = crate::audit::AuditRecord::now(crate::audit::RecordKind::Gateway(
        crate::audit::GatewayEvent::Approval {
            approval_id: a.id.clone(),
            state,
            approver,
            arguments_digest: Some(a.arguments_digest.clone()),
        },
    ));
    record.upstream = Some(a.upstream.clone());
    record
}

/// How a principal is named in approvals: `issuer subject`.
pub fn approver_name(p: &crate::authn::Principal) -> String {
    format!("{} {}", p.issuer.as_deref().unwrap_or(""), p.subject)
}
