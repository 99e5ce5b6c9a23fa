//! Optional ECS rendering for Elastic users: the same records as Elastic Common
//! Schema documents (ECS 8.x field names), with MCP facts under `portcullis.*`
//! and the integrity attributes under `attestation` (as in OCSF).
//!
//! Pure, like the OCSF renderer. `event.id` and `event.sequence` are set by the
//! hash chain.

use super::prepare::Prepared;
use super::record::{
    Authentication, Finding, GatewayEvent, Operation, RecordKind, Severity, Verdict,
};
use serde_json::{Map, Value, json};

/// The ECS version the documents follow.
pub const ECS_VERSION: &str = "8.11.0";

/// Renders a prepared record as an ECS document.
pub fn render(p: &Prepared<'_>) -> Value {
    let r = p.record;
    let mut doc = Map::new();
    doc.insert("@timestamp".into(), json!(super::time::rfc3339(r.time)));
    doc.insert("ecs".into(), json!({"version": ECS_VERSION}));
    doc.insert("service".into(), json!({"name": "portcullis", "version": p.options.product_version, "node": {"name": p.options.gateway_name}}));
    let mut event = Map::new();
    event.insert("dataset".into(), json!("portcullis.audit"));
    event.insert("module".into(), json!("portcullis"));
    let mut mcp = Map::new();
    if let Some(era) = r.protocol.era {
        mcp.insert("era".into(), json!(era));
    }
    if let Some(v) = r.protocol.version {
        mcp.insert("protocol_version".into(), json!(v));
    }
    if let Some(s) = &r.session {
        mcp.insert("session_id".into(), json!(s));
    }
    if !r.actor.delegation.is_empty() {
        mcp.insert("act".into(), json!(r.actor.delegation));
    }
    let (message, severity) = match &r.kind {
        RecordKind::Operation(op) => operation(p, &mut event, &mut doc, &mut mcp, op),
        RecordKind::Authentication(a) => authentication(p, &mut event, &mut doc, &mut mcp, a),
        RecordKind::Finding(f) => finding(p, &mut event, &mut doc, &mut mcp, f),
        RecordKind::Gateway(g) => gateway(p, &mut event, &mut doc, &mut mcp, g),
    };
    event.insert("severity".into(), json!(super::ocsf_severity(severity)));
    doc.insert("event".into(), Value::Object(event));
    doc.insert("message".into(), json!(message));
    if let Some(sub) = &r.actor.subject {
        doc.insert("user".into(), json!({"id": sub, "name": sub}));
    }
    if let Some(t) = &r.actor.tenant {
        doc.insert("organization".into(), json!({"id": t}));
    }
    if let Some(c) = &r.actor.client_id {
        doc.insert("client".into(), json!({"user": {"id": c}}));
    }
    if let Some(addr) = r.source {
        doc.insert(
            "source".into(),
            json!({"ip": addr.ip().to_string(), "port": addr.port()}),
        );
    }
    if let Some(u) = &r.upstream {
        doc.insert("destination".into(), json!({"address": u}));
    }
    if let Some(t) = &r.trace {
        doc.insert("trace".into(), json!({"id": hex::encode(t.trace_id)}));
        doc.insert("span".into(), json!({"id": hex::encode(t.span_id)}));
    }
    doc.insert("portcullis".into(), Value::Object(mcp));
    Value::Object(doc)
}

fn operation(
    p: &Prepared<'_>,
    event: &mut Map<String, Value>,
    doc: &mut Map<String, Value>,
    mcp: &mut Map<String, Value>,
    op: &Operation,
) -> (String, Severity) {
    let failed = matches!(
        op.decision.verdict,
        Verdict::Denied | Verdict::ApprovalRequired | Verdict::Error
    ) || op.outcome.rpc_error.is_some();
    event.insert("kind".into(), json!("event"));
    event.insert("category".into(), json!(["api"]));
    let ty = if matches!(
        op.decision.verdict,
        Verdict::Denied | Verdict::ApprovalRequired
    ) {
        "denied"
    } else {
        "allowed"
    };
    event.insert("type".into(), json!(["access", ty]));
    event.insert(
        "outcome".into(),
        json!(if failed { "failure" } else { "success" }),
    );
    event.insert(
        "action".into(),
        json!(format!("mcp.{}", op.method.replace('/', "."))),
    );
    if let Some(l) = op.outcome.latency {
        event.insert(
            "duration".into(),
            json!(u64::try_from(l.as_nanos()).unwrap_or(u64::MAX)),
        );
    }
    if let Some(reason) = &op.decision.reason {
        event.insert("reason".into(), json!(reason));
    }
    if let Some(code) = op.outcome.http_status {
        doc.insert("http".into(), json!({"response": {"status_code": code}}));
    }
    if let Some(code) = op.outcome.rpc_error {
        doc.insert("error".into(), json!({"code": code.to_string()}));
    }
    if !op.decision.policies.is_empty() || op.decision.policy_version.is_some() {
        doc.insert("rule".into(), json!({"id": op.decision.policies.join(","), "ruleset": "cedar", "version": op.decision.policy_version}));
    }
    operation_facts(p, op, mcp);
    let sev = match op.decision.verdict {
        Verdict::Allowed => Severity::Info,
        Verdict::Denied | Verdict::ApprovalRequired => Severity::Medium,
        _ => Severity::Low,
    };
    (
        format!("{} {}", op.method, op.decision.verdict.as_str()),
        sev,
    )
}

fn authentication(
    _p: &Prepared<'_>,
    event: &mut Map<String, Value>,
    _doc: &mut Map<String, Value>,
    mcp: &mut Map<String, Value>,
    a: &Authentication,
) -> (String, Severity) {
    event.insert("kind".into(), json!("event"));
    event.insert("category".into(), json!(["authentication"]));
    event.insert("type".into(), json!(["start"]));
    event.insert(
        "outcome".into(),
        json!(if a.accepted { "success" } else { "failure" }),
    );
    event.insert("action".into(), json!("mcp.authenticate"));
    if let Some(reason) = &a.reason {
        event.insert("reason".into(), json!(reason));
    }
    mcp.insert("issuer".into(), json!(a.issuer));
    mcp.insert("token_id".into(), json!(a.token_id));
    let sev = if a.accepted {
        Severity::Info
    } else {
        Severity::Medium
    };
    (
        format!(
            "authentication {}",
            if a.accepted { "accepted" } else { "rejected" }
        ),
        sev,
    )
}

fn finding(
    _p: &Prepared<'_>,
    event: &mut Map<String, Value>,
    doc: &mut Map<String, Value>,
    mcp: &mut Map<String, Value>,
    f: &Finding,
) -> (String, Severity) {
    event.insert("kind".into(), json!("alert"));
    event.insert("category".into(), json!(["intrusion_detection"]));
    event.insert("type".into(), json!(["indicator"]));
    event.insert("action".into(), json!(format!("mcp.finding.{}", f.action)));
    doc.insert(
        "rule".into(),
        json!({"id": f.rule_id, "name": f.title, "category": f.category}),
    );
    mcp.insert("finding".into(), json!({"surface": f.surface, "json_path": f.json_path, "span": f.span.map(|(a, b)| [a, b]), "action": f.action, "score_percent": f.score_percent, "pin": f.pin.as_ref().map(|(a, b)| json!({"previous_sha256": a, "current_sha256": b}))}));
    if let Some(t) = &f.target {
        mcp.insert("target".into(), json!({"kind": t.kind(), "name": t.name()}));
    }
    (f.title.clone(), f.severity)
}

fn gateway(
    _p: &Prepared<'_>,
    event: &mut Map<String, Value>,
    _doc: &mut Map<String, Value>,
    mcp: &mut Map<String, Value>,
    g: &GatewayEvent,
) -> (String, Severity) {
    event.insert("kind".into(), json!("event"));
    event.insert("category".into(), json!(["configuration"]));
    event.insert("type".into(), json!(["info"]));
    let (action, ok) = match g {
        GatewayEvent::Reload { ok, .. } => ("portcullis.reload", *ok),
        GatewayEvent::UpstreamHealth { up, .. } => ("portcullis.upstream_health", *up),
        GatewayEvent::RateLimited { .. } => ("portcullis.rate_limited", false),
        GatewayEvent::Approval { .. } => ("portcullis.approval", true),
        GatewayEvent::AuditEventsLost { .. } => ("portcullis.audit_events_lost", false),
    };
    event.insert("action".into(), json!(action));
    event.insert(
        "outcome".into(),
        json!(if ok { "success" } else { "failure" }),
    );
    mcp.insert("gateway_event".into(), json!(format!("{g:?}")));
    (
        action.to_owned(),
        if ok { Severity::Info } else { Severity::Medium },
    )
}

/// The MCP facts of an operation, under `portcullis.*`.
fn operation_facts(p: &Prepared<'_>, op: &Operation, mcp: &mut Map<String, Value>) {
    mcp.insert("method".into(), json!(op.method));
    mcp.insert("direction".into(), json!(op.direction.as_str()));
    mcp.insert("rpc_id".into(), json!(op.rpc_id));
    mcp.insert("decision".into(), json!(op.decision.verdict.as_str()));
    if let Some(t) = &op.target {
        mcp.insert("target".into(), json!({"kind": t.kind(), "name": t.name()}));
    }
    if let Some(d) = &p.arguments_digest {
        mcp.insert("arguments_sha256".into(), json!(d));
    }
    if let Some(a) = &p.arguments {
        mcp.insert("arguments".into(), a.clone());
    }
    let findings: Vec<Value> = op
        .findings
        .iter()
        .map(|f| json!({"rule_id": f.rule_id, "json_path": f.json_path}))
        .collect();
    if !findings.is_empty() {
        mcp.insert("findings".into(), json!(findings));
    }
}
