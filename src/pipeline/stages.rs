//! Stages 3, 6 and 9: rate limiting, scanning the request, and the audit record.
//! Each states its contract.

use super::Shared;
use super::body::GatewayBody;
use super::context::RequestContext;
use super::parse::{Inbound, InboundKind};
use super::record;
use super::respond::{self, Rejection};
use super::scanning::{Filter, Inspection, Origin, Verdict};
use crate::audit::{Outcome, Verdict as AuditVerdict};
use crate::config::Runtime;
use crate::protocol::jsonrpc::Kind;
use crate::protocol::rpc_error;
use bytes::Bytes;
use http::Response;

/// Stage 3, rate-limit. Contract: per principal and tenant quotas, checked
/// before the body is read so that a flood costs little; over the limit, a
/// JSON-RPC error with `Retry-After`. Tool and tool-class quotas need the parsed
/// body and are charged in stage 6, once the call is allowed.
pub async fn rate_limit(
    cx: &RequestContext,
    rt: &crate::config::Runtime,
    shared: &super::Shared,
) -> Result<(), Rejection> {
    crate::ratelimit::charge_caller(cx, rt, shared).await
}

/// Stage 5, scan request. Contract: arguments of tool calls and prompts are
/// scanned for injection and secrets leaving, and a client's answers to server
/// requests (responses, 2026-07-28 `inputResponses`) for secrets leaving (a
/// blocked answer is replaced by an error for the server); by the configured
/// action a finding blocks the request (a JSON-RPC error, nothing forwarded), redacts the
/// offending spans (the rewritten body is forwarded), or flags it (forwarded
/// unchanged). Findings go to the context for authorization and audit, and each
/// is recorded as a detection.
pub fn scan_request(
    cx: &mut RequestContext,
    inbound: &mut Inbound,
    rt: &Runtime,
    shared: &Shared,
) -> Result<(), Rejection> {
    let InboundKind::Messages(envelope) = &inbound.kind else {
        return Ok(());
    };
    let filter = Filter {
        scanner: &rt.scanner,
        policy: &rt.scan_policy,
    };
    let upstream = cx.upstream.clone().unwrap_or_default();
    let facts = record::Facts::of(cx);
    let mut rewritten: Vec<(usize, serde_json::Map<String, serde_json::Value>)> = Vec::new();
    for (index, m) in envelope.messages().iter().enumerate() {
        let object = m.target().map(|t| t.name()).unwrap_or_default();
        let origin = Origin {
            upstream: &upstream,
            object,
        };
        let asked = filter.request(m, origin);
        let base = match &asked {
            Some(Inspection {
                verdict: Verdict::Rewrite(object),
                ..
            }) => Some(object.clone()),
            _ => None,
        };
        let answered = filter.answers(m, base.as_ref(), origin);
        for inspection in [asked, answered].into_iter().flatten() {
            shared.metrics.findings(&inspection);
            if let Some(auditor) = &shared.auditor {
                for r in record::findings(&facts, &inspection, m, m.target()) {
                    // Not awaited: the request's operation record, written after
                    // these by the sequential writer, is (under fsync: always).
                    let _receipt = auditor.record(r).map_err(|_| Rejection::AuditUnavailable {
                        id: m.id().cloned(),
                    })?;
                }
            }
            cx.secrets.extend(inspection.secrets.iter().cloned());
            let flagged = !inspection.findings.is_empty();
            cx.findings.extend(inspection.findings);
            match inspection.verdict {
                Verdict::Pass => {
                    if flagged && cx.decision.verdict == AuditVerdict::Allowed {
                        cx.decision.verdict = AuditVerdict::Flagged;
                    }
                }
                Verdict::Rewrite(object) => {
                    cx.decision.verdict = AuditVerdict::Redacted;
                    put(&mut rewritten, index, object);
                }
                // A client's answer to a server request: the server gets an
                // error in its place (it would wait for an answer otherwise).
                Verdict::Block(blocked) if m.kind() == Kind::Response => {
                    let reason = format!(
                        "Answer withheld by the gateway's injection filter: {} (rule {})",
                        blocked.category, blocked.rule_id
                    );
                    let error = serde_json::json!({"jsonrpc": "2.0",
                        "id": m.id().map(|i| i.to_json()),
                        "error": {"code": rpc_error::CONTENT_BLOCKED, "message": reason}});
                    if let serde_json::Value::Object(object) = error {
                        put(&mut rewritten, index, object);
                    }
                    cx.decision.verdict = AuditVerdict::Denied;
                    cx.decision.reason = Some(reason);
                }
                Verdict::Block(blocked) => {
                    return Err(Rejection::Blocked {
                        id: m.id().cloned(),
                        rule: blocked.rule_id,
                        category: blocked.category,
                    });
                }
            }
        }
    }
    if !rewritten.is_empty() {
        inbound.forward_body = Some(reassemble(envelope, rewritten));
    }
    Ok(())
}

/// Records `object` as message `index`'s rewrite, replacing an earlier one.
fn put(
    rewritten: &mut Vec<(usize, serde_json::Map<String, serde_json::Value>)>,
    index: usize,
    object: serde_json::Map<String, serde_json::Value>,
) {
    rewritten.retain(|(i, _)| *i != index);
    rewritten.push((index, object));
}

/// The body with rewritten messages in place of the originals.
fn reassemble(
    envelope: &crate::protocol::Envelope,
    mut rewritten: Vec<(usize, serde_json::Map<String, serde_json::Value>)>,
) -> Bytes {
    use serde_json::Value;
    if !envelope.is_batch()
        && let Some((_, object)) = rewritten.pop()
    {
        return Bytes::from(Value::Object(object).to_string());
    }
    let items: Vec<Value> = envelope
        .messages()
        .iter()
        .enumerate()
        .map(|(i, m)| match rewritten.iter().position(|(j, _)| *j == i) {
            Some(pos) => Value::Object(rewritten.swap_remove(pos).1),
            None => Value::Object(m.as_object().clone()),
        })
        .collect();
    Bytes::from(Value::Array(items).to_string())
}

/// Stage 9, audit. Contract: runs on every path, refusals included, once the
/// response head is decided. Writes the structured access-log line and the
/// request's audit record (a refused credential as an authentication event;
/// anything else as an operation, unless its streamed answer records it). Under
/// `fsync: always` the response waits until the record is durable. When the
/// audit trail refuses the record and fails closed, the client gets 503.
pub async fn audit(
    cx: &RequestContext,
    response: Response<GatewayBody>,
    rpc_error: Option<i64>,
    shared: &Shared,
) -> Response<GatewayBody> {
    access_log(cx, response.status());
    let Some(auditor) = &shared.auditor else {
        return response;
    };
    let status = response.status().as_u16();
    let record = match record::authentication(cx, status) {
        Some(r) => r,
        None if cx.recorded_by_stream => return response,
        None => record::operation(
            cx,
            Outcome {
                http_status: Some(status),
                rpc_error: rpc_error.or(cx.answer_error),
                latency: Some(cx.started.elapsed()),
            },
        ),
    };
    let written = match auditor.record(record) {
        Ok(receipt) if receipt.must_wait() => receipt.durable().await,
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    match written {
        Ok(()) => response,
        Err(e) => {
            tracing::error!(error = %e, "audit record refused: answering 503");
            respond::reject(
                &Rejection::AuditUnavailable {
                    id: cx.rpc_id.clone(),
                },
                cx.is_http1(),
            )
            .0
        }
    }
}

/// The structured access-log line of a request.
pub fn access_log(cx: &RequestContext, status: http::StatusCode) {
    let latency_us = u64::try_from(cx.started.elapsed().as_micros()).unwrap_or(u64::MAX);
    tracing::info!(
        target: "portcullis::access",
        peer = %cx.peer,
        http.method = %cx.http_method,
        http.status = status.as_u16(),
        mcp.era = cx.era.map(|e| e.as_str()),
        mcp.version = cx.version.map(|v| v.as_str()),
        mcp.session = cx.session.as_deref(),
        rpc.method = cx.rpc_method.as_deref(),
        rpc.id = cx.rpc_id.as_ref().map(tracing::field::display),
        rpc.messages = cx.messages,
        target.kind = cx.target.as_ref().map(|t| t.kind()),
        target.name = cx.target.as_ref().map(|t| t.name()),
        principal = cx.principal.as_ref().map(|p| p.subject.as_str()),
        principal.issuer = cx.principal.as_ref().and_then(|p| p.issuer.as_deref()),
        principal.tenant = cx.principal.as_ref().and_then(|p| p.tenant.as_deref()),
        principal.client = cx.principal.as_ref().and_then(|p| p.client_id.as_deref()),
        principal.actor = cx
            .principal
            .as_ref()
            .and_then(|p| p.actors.first())
            .map(|a| a.subject.as_str()),
        auth.reason = cx.auth_reason.map(|r| r.as_str()),
        client.certificate = cx.client_certificate.as_ref().map(|c| c.identity.as_str()),
        latency_us,
        "request"
    );
}
