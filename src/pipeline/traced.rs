//! Traces for the pipeline: what each request's spans say, taken from the
//! request context. Nothing here runs when tracing is off (`cx.spans` is `None`).
//!
//! Attributes follow the OpenTelemetry MCP and GenAI semantic conventions
//! (`mcp.method.name`, `mcp.session.id`, `mcp.protocol.version`,
//! `jsonrpc.request.id`, `gen_ai.tool.name`, `gen_ai.operation.name`), with the
//! gateway's own facts under `portcullis.*`. Argument values and principals are
//! never attributes: spans leave the gateway for a collector that is not the
//! audit trail.

use super::Shared;
use super::body::GatewayBody;
use super::context::RequestContext;
use super::parse::{Inbound, InboundKind};
use crate::audit::{TraceContext, Verdict};
use crate::protocol::{Era, RequestId, Target};
use crate::telemetry::traces::Stage;
use http::Response;
use opentelemetry::KeyValue;
use std::time::Instant;

/// Starts recording when tracing is on; `traceparent` is the client's header.
pub fn start(cx: &mut RequestContext, shared: &Shared, traceparent: Option<&str>) {
    let Some(traces) = &shared.traces else {
        return;
    };
    let mut spans = traces.request(cx.started, cx.arrived);
    if let Some(value) = traceparent {
        spans.client_header(value);
    }
    cx.spans = Some(spans);
}

/// Records `stage`, begun at `start`, as a child span.
pub fn stage(cx: &mut RequestContext, stage: Stage, start: Instant, failed: bool) {
    if let Some(spans) = cx.spans.as_mut() {
        spans.stage(stage, start, failed);
    }
}

/// After parsing: opens the request span, parented on the message's
/// `_meta.traceparent` (2026-07-28) or the client's header. The audit record
/// then carries the gateway's span id, so audit events and spans join.
pub fn begin(cx: &mut RequestContext, inbound: &Inbound) {
    let name = name(cx);
    let meta = match (&inbound.kind, cx.era) {
        (InboundKind::Messages(envelope), Some(Era::Modern)) => envelope
            .single()
            .and_then(|m| m.params())
            .and_then(|p| p.get("_meta"))
            .and_then(|m| m.get("traceparent"))
            .and_then(|t| t.as_str()),
        _ => None,
    };
    let Some(spans) = cx.spans.as_mut() else {
        return;
    };
    spans.begin(&name, meta);
    if let Some((trace_id, span_id)) = spans.ids() {
        cx.trace = Some(TraceContext { trace_id, span_id });
    }
}

/// Opens the upstream span: from now on [`upstream_traceparent`] is the
/// parent the upstream is told about.
pub fn upstream_begin(cx: &mut RequestContext) {
    let method = cx
        .rpc_method
        .clone()
        .unwrap_or_else(|| cx.http_method.to_string());
    let mut attributes = vec![KeyValue::new("mcp.method.name", method.clone())];
    if let Some(upstream) = &cx.upstream {
        attributes.push(KeyValue::new("portcullis.upstream", upstream.clone()));
    }
    if let Some(spans) = cx.spans.as_mut() {
        spans.upstream_begin(&method, attributes);
    }
}

/// Closes the upstream span.
pub fn upstream_end(cx: &mut RequestContext, failed: bool) {
    if let Some(spans) = cx.spans.as_mut() {
        spans.upstream_end(failed.then_some("upstream"));
    }
}

/// The `traceparent` header for the upstream while its span is open.
pub fn upstream_traceparent(cx: &RequestContext) -> Option<http::HeaderValue> {
    let value = cx.spans.as_ref()?.upstream_traceparent()?;
    http::HeaderValue::from_str(&value).ok()
}

/// Ends the request's spans once the response head is decided.
pub fn finish(cx: &mut RequestContext, response: &Response<GatewayBody>, rpc_error: Option<i64>) {
    let Some(spans) = cx.spans.take() else {
        return;
    };
    let name = name(cx);
    let attributes = attributes(cx, response, rpc_error);
    let error = (cx.decision.verdict == Verdict::Error).then(|| match rpc_error {
        Some(code) => code.to_string(),
        None => "error".to_owned(),
    });
    spans.finish(&name, attributes, error.as_deref());
}

/// `{mcp.method.name} {target}` as the MCP conventions name spans (`tools/call
/// get_weather`); `mcp` before the method is known.
fn name(cx: &RequestContext) -> String {
    match (&cx.rpc_method, &cx.target) {
        (Some(method), Some(Target::Tool(t) | Target::Prompt(t))) => format!("{method} {t}"),
        (Some(method), _) => method.clone(),
        (None, _) => "mcp".to_owned(),
    }
}

fn attributes(
    cx: &RequestContext,
    response: &Response<GatewayBody>,
    rpc_error: Option<i64>,
) -> Vec<KeyValue> {
    let mut out = vec![
        KeyValue::new("network.transport", "tcp"),
        KeyValue::new("network.protocol.name", "http"),
        KeyValue::new("client.address", cx.peer.ip().to_string()),
        KeyValue::new("client.port", i64::from(cx.peer.port())),
        KeyValue::new(
            "http.response.status_code",
            i64::from(response.status().as_u16()),
        ),
        KeyValue::new("portcullis.decision", cx.decision.verdict.as_str()),
    ];
    if let Some(method) = &cx.rpc_method {
        out.push(KeyValue::new("mcp.method.name", method.clone()));
        out.push(KeyValue::new("jsonrpc.protocol.version", "2.0"));
    }
    let session = cx.session.clone().or_else(|| {
        response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    if let Some(session) = session {
        out.push(KeyValue::new("mcp.session.id", session));
    }
    if let Some(id) = &cx.rpc_id {
        let id = match id {
            RequestId::Number(n) => n.to_string(),
            RequestId::String(s) => s.clone(),
        };
        out.push(KeyValue::new("jsonrpc.request.id", id));
    }
    if let Some(version) = cx.version {
        out.push(KeyValue::new("mcp.protocol.version", version.as_str()));
    }
    match &cx.target {
        Some(Target::Tool(tool)) => {
            out.push(KeyValue::new("gen_ai.tool.name", tool.clone()));
            out.push(KeyValue::new("gen_ai.operation.name", "execute_tool"));
        }
        Some(Target::Prompt(prompt)) => {
            out.push(KeyValue::new("gen_ai.prompt.name", prompt.clone()))
        }
        Some(Target::Resource(uri)) => out.push(KeyValue::new("mcp.resource.uri", uri.clone())),
        None => {}
    }
    if let Some(code) = rpc_error.or(cx.answer_error) {
        out.push(KeyValue::new("rpc.response.status_code", code.to_string()));
    }
    if let Some(upstream) = &cx.upstream {
        out.push(KeyValue::new("portcullis.upstream", upstream.clone()));
    }
    if let Some(version) = &cx.policy_version {
        out.push(KeyValue::new(
            "portcullis.policy.version",
            version.to_string(),
        ));
    }
    let findings = cx.findings.len() + cx.response_findings.len();
    out.push(KeyValue::new("portcullis.findings", findings as i64));
    out
}
