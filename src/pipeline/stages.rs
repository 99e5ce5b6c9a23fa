//! Stages that later work fills, present now so the order is fixed and reviewed
//! once. Each states its contract; today each lets every request through.

use super::context::RequestContext;
use super::parse::Inbound;
use super::respond::Rejection;

/// Stage 3, rate-limit. Contract: per principal and tenant quotas, checked
/// before the body is read so that a flood costs little; over the limit, a
/// JSON-RPC error with `Retry-After`. Tool and tool-class quotas need the parsed
/// body and are charged in stage 5, once the call is allowed.
pub async fn rate_limit(
    cx: &RequestContext,
    rt: &crate::config::Runtime,
    shared: &super::Shared,
) -> Result<(), Rejection> {
    crate::ratelimit::charge_caller(cx, rt, shared).await
}

/// Stage 6, scan request. Contract: arguments of tool calls and prompts are
/// scanned for injection and outgoing secrets; a finding blocks, redacts or flags
/// as configured, and feeds authorization and audit. No scanner exists yet.
pub fn scan_request(_cx: &RequestContext, _inbound: &Inbound) -> Result<(), Rejection> {
    Ok(())
}

/// Stage 9, audit. Contract: runs on every path, refusals included, once the
/// response head is decided; writes one record per action. Until the audit trail
/// exists, the record is a structured access-log line.
pub fn audit(cx: &RequestContext, status: http::StatusCode) {
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
