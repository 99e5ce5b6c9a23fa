//! The three OCSF classes the gateway emits, one function per record kind.

use super::objects::{
    self, API_ACTIVITY, AUTHENTICATION, Class, DETECTION_FINDING, actor, base, dst_endpoint,
    src_endpoint, unmapped,
};
use crate::audit::prepare::Prepared;
use crate::audit::record::{
    ApprovalState, AuthMethod, Authentication, Finding, GatewayEvent, Operation, Severity, Verdict,
};
use crate::protocol::Target;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// API Activity for a JSON-RPC request or notification.
pub fn api_activity(p: &Prepared<'_>, op: &Operation) -> Value {
    let (activity_id, label) = activity_of(&op.method);
    let failed = matches!(
        op.decision.verdict,
        Verdict::Denied | Verdict::ApprovalRequired | Verdict::Error
    ) || op.outcome.rpc_error.is_some();
    let severity = match op.decision.verdict {
        Verdict::Allowed => Severity::Info,
        Verdict::Flagged | Verdict::Redacted | Verdict::Error => Severity::Low,
        Verdict::Denied | Verdict::ApprovalRequired => Severity::Medium,
    };
    let mut e = base(p, API_ACTIVITY, activity_id, severity);
    relabel(&mut e, API_ACTIVITY, activity_id, label);
    status(&mut e, !failed, op.decision.reason.as_deref());
    let code = op
        .outcome
        .rpc_error
        .map(|c| c.to_string())
        .or(op.outcome.http_status.map(|s| s.to_string()));
    if let Some(code) = code {
        e.insert("status_code".into(), json!(code));
    }
    let target = op
        .target
        .as_ref()
        .map(|t| format!(" {} `{}`", t.kind(), t.name()));
    e.insert(
        "message".into(),
        json!(format!(
            "{}{} {}",
            op.method,
            target.unwrap_or_default(),
            op.decision.verdict.as_str()
        )),
    );
    e.insert("actor".into(), actor(p, Some(authorizations(op))));
    e.insert("src_endpoint".into(), src_endpoint(p));
    if let Some(dst) = dst_endpoint(p) {
        e.insert("dst_endpoint".into(), dst);
    }
    e.insert("api".into(), api(p, op));
    if let Some(t) = &op.target {
        e.insert("resources".into(), json!([resource(p, t)]));
    }
    if let Some(code) = op.outcome.http_status {
        e.insert("http_response".into(), json!({"code": code}));
    }
    if let Some(latency) = op.outcome.latency {
        e.insert(
            "duration".into(),
            json!(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX)),
        );
    }
    ai_operation(&mut e, p, &op.method);
    let mut extra = Map::new();
    extra.insert("direction".into(), json!(op.direction.as_str()));
    extra.insert("decision".into(), decision(op));
    if !op.findings.is_empty() {
        let findings: Vec<Value> = op
            .findings
            .iter()
            .map(|f| json!({"rule_id": f.rule_id, "json_path": f.json_path}))
            .collect();
        extra.insert("findings".into(), json!(findings));
    }
    if let Some(d) = &p.arguments_digest {
        extra.insert("arguments_sha256".into(), json!(d));
    }
    if let Some(latency) = op.outcome.latency {
        extra.insert(
            "latency_us".into(),
            json!(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX)),
        );
    }
    e.insert("unmapped".into(), unmapped(p, extra, true));
    Value::Object(e)
}

/// API Activity (`Other`) for the gateway's own events.
pub fn gateway_activity(p: &Prepared<'_>, ev: &GatewayEvent) -> Value {
    let (operation, ok, severity, detail, extra) = gateway_facts(ev);
    let mut e = base(p, API_ACTIVITY, 99, severity);
    relabel(&mut e, API_ACTIVITY, 99, operation);
    status(&mut e, ok, detail.as_deref());
    e.insert(
        "message".into(),
        json!(format!(
            "{operation}{}",
            detail.map(|d| format!(": {d}")).unwrap_or_default()
        )),
    );
    e.insert("actor".into(), actor(p, None));
    e.insert("src_endpoint".into(), src_endpoint(p));
    if let Some(dst) = dst_endpoint(p) {
        e.insert("dst_endpoint".into(), dst);
    }
    e.insert(
        "api".into(),
        json!({"operation": operation, "service": {"name": p.options.gateway_name}}),
    );
    e.insert("unmapped".into(), unmapped(p, extra, true));
    Value::Object(e)
}

type GatewayFacts = (
    &'static str,
    bool,
    Severity,
    Option<String>,
    Map<String, Value>,
);

fn gateway_facts(ev: &GatewayEvent) -> GatewayFacts {
    let mut x = Map::new();
    match ev {
        GatewayEvent::Reload {
            what,
            ok,
            version,
            error,
        } => {
            x.insert("reloaded".into(), json!(what));
            x.insert("version".into(), json!(version));
            let sev = if *ok {
                Severity::Info
            } else {
                Severity::Medium
            };
            ("portcullis/reload", *ok, sev, error.clone(), x)
        }
        GatewayEvent::UpstreamHealth { up, reason } => {
            x.insert("upstream_up".into(), json!(up));
            let sev = if *up { Severity::Info } else { Severity::High };
            ("portcullis/upstream_health", *up, sev, reason.clone(), x)
        }
        GatewayEvent::RateLimited {
            limit,
            retry_after_secs,
        } => {
            x.insert("limit".into(), json!(limit));
            x.insert("retry_after_secs".into(), json!(retry_after_secs));
            (
                "portcullis/rate_limited",
                false,
                Severity::Low,
                Some(format!("limit {limit}")),
                x,
            )
        }
        GatewayEvent::Approval {
            approval_id,
            state,
            approver,
            arguments_digest,
        } => {
            x.insert("approval_id".into(), json!(approval_id));
            x.insert("approval_state".into(), json!(state.as_str()));
            x.insert("approver".into(), json!(approver));
            x.insert("arguments_sha256".into(), json!(arguments_digest));
            let ok = matches!(state, ApprovalState::Requested | ApprovalState::Granted);
            (
                "portcullis/approval",
                ok,
                Severity::Info,
                Some(state.as_str().to_owned()),
                x,
            )
        }
        GatewayEvent::AuditEventsLost { count } => {
            x.insert("events_lost".into(), json!(count));
            (
                "portcullis/audit_events_lost",
                false,
                Severity::High,
                Some(format!("{count} audit events were not written")),
                x,
            )
        }
    }
}

/// Authentication for a token or certificate outcome.
pub fn authentication(p: &Prepared<'_>, auth: &Authentication) -> Value {
    let severity = if auth.accepted {
        Severity::Info
    } else {
        Severity::Medium
    };
    let mut e = base(p, AUTHENTICATION, 1, severity);
    status(&mut e, auth.accepted, auth.reason.as_deref());
    let who = p.record.actor.subject.as_deref().unwrap_or("unknown");
    e.insert(
        "message".into(),
        json!(format!(
            "authentication of {who} {}",
            if auth.accepted {
                "accepted"
            } else {
                "rejected"
            }
        )),
    );
    e.insert("user".into(), objects::user(&p.record.actor, who));
    e.insert("actor".into(), actor(p, None));
    let (protocol_id, protocol) = match auth.method {
        AuthMethod::BearerToken => (6, "OAUTH 2.0"),
        AuthMethod::MutualTls => (99, "mTLS client certificate"),
        AuthMethod::None => (0, "Unknown"),
    };
    e.insert("auth_protocol_id".into(), json!(protocol_id));
    e.insert("auth_protocol".into(), json!(protocol));
    e.insert("logon_type_id".into(), json!(3));
    e.insert("logon_type".into(), json!("Network"));
    e.insert("is_remote".into(), json!(true));
    e.insert("service".into(), json!({"name": p.options.gateway_name}));
    e.insert("src_endpoint".into(), src_endpoint(p));
    let mut extra = Map::new();
    extra.insert("issuer".into(), json!(auth.issuer));
    extra.insert("token_id".into(), json!(auth.token_id));
    extra.insert("http_status".into(), json!(auth.http_status));
    e.insert("unmapped".into(), unmapped(p, extra, false));
    Value::Object(e)
}

/// Detection Finding for an injection, secret or tool-pin finding.
pub fn detection_finding(p: &Prepared<'_>, f: &Finding) -> Value {
    let mut e = base(p, DETECTION_FINDING, 1, f.severity);
    e.insert("status_id".into(), json!(1));
    e.insert("status".into(), json!("New"));
    e.insert("message".into(), json!(f.title));
    e.insert("finding_info".into(), finding_info(p, f));
    e.insert(
        "is_alert".into(),
        json!(f.action == "block" || f.severity >= Severity::High),
    );
    let (confidence_id, confidence) = match f.score_percent {
        None => (3, "High"),
        Some(s) if s >= 90 => (3, "High"),
        Some(s) if s >= 70 => (2, "Medium"),
        Some(_) => (1, "Low"),
    };
    e.insert("confidence_id".into(), json!(confidence_id));
    e.insert("confidence".into(), json!(confidence));
    if let Some(s) = f.score_percent {
        e.insert("confidence_score".into(), json!(s));
    }
    let mut evidence = Map::new();
    evidence.insert("surface".into(), json!(f.surface));
    evidence.insert("json_path".into(), json!(f.json_path));
    if let Some((start, end)) = f.span {
        evidence.insert("span".into(), json!([start, end]));
    }
    evidence.insert("action".into(), json!(f.action));
    e.insert("evidences".into(), json!([{"data": evidence}]));
    if let Some(t) = &f.target {
        e.insert("resources".into(), json!([resource(p, t)]));
    }
    let mut extra = Map::new();
    extra.insert("action".into(), json!(f.action));
    extra.insert("method".into(), json!(f.method));
    extra.insert("rpc_id".into(), json!(f.rpc_id));
    extra.insert("subject".into(), json!(p.record.actor.subject));
    extra.insert("client_id".into(), json!(p.record.actor.client_id));
    extra.insert("session".into(), json!(p.record.session));
    if let Some((previous, current)) = &f.pin {
        extra.insert(
            "pin".into(),
            json!({"previous_sha256": previous, "current_sha256": current}),
        );
    }
    e.insert("unmapped".into(), unmapped(p, extra, false));
    Value::Object(e)
}

fn finding_info(p: &Prepared<'_>, f: &Finding) -> Value {
    // A stable id from the finding's identifying facts: the same finding on the
    // same message yields the same uid, which lets a SIEM deduplicate.
    let mut h = Sha256::new();
    for part in [
        f.rule_id.as_str(),
        p.record.session.as_deref().unwrap_or(""),
        f.rpc_id.as_deref().unwrap_or(""),
        f.json_path.as_deref().unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(crate::audit::time::epoch_nanos(p.record.time).to_be_bytes());
    json!({
        "uid": hex::encode(&h.finalize()[..16]),
        "title": f.title,
        "types": [f.category],
        "analytic": {"uid": f.rule_id, "name": f.rule_id, "type_id": 1, "type": "Rule"},
        "product": {"name": "portcullis", "vendor_name": "portcullis", "version": p.options.product_version},
    })
}

fn relabel(e: &mut Map<String, Value>, class: Class, activity_id: u64, label: &str) {
    if activity_id == 99 {
        e.insert("activity_name".into(), json!(label));
        e.insert(
            "type_name".into(),
            json!(format!("{}: {label}", class.name)),
        );
    }
}

fn status(e: &mut Map<String, Value>, ok: bool, detail: Option<&str>) {
    e.insert("status_id".into(), json!(if ok { 1 } else { 2 }));
    e.insert(
        "status".into(),
        json!(if ok { "Success" } else { "Failure" }),
    );
    if let Some(d) = detail {
        e.insert("status_detail".into(), json!(d));
    }
}

/// OCSF activity for an MCP method: reads, creations, deletions, or `Other`
/// with the MCP verb as label.
fn activity_of(method: &str) -> (u64, &'static str) {
    match method {
        "tools/call" => (99, "Invoke"),
        "resources/read" | "prompts/get" | "completion/complete" | "ping" => (2, "Read"),
        m if m.ends_with("/list") => (2, "Read"),
        "initialize" | "resources/subscribe" | "sampling/createMessage" | "elicitation/create" => {
            (1, "Create")
        }
        "resources/unsubscribe" => (4, "Delete"),
        "logging/setLevel" => (3, "Update"),
        m if m.starts_with("notifications/") => (99, "Notify"),
        _ => (99, "Other"),
    }
}

fn api(p: &Prepared<'_>, op: &Operation) -> Value {
    let mut request = Map::new();
    request.insert(
        "uid".into(),
        json!(op.rpc_id.as_deref().unwrap_or("notification")),
    );
    let mut data = Map::new();
    if let Some(d) = &p.arguments_digest {
        data.insert("arguments_sha256".into(), json!(d));
    }
    if let Some(args) = &p.arguments {
        data.insert("arguments".into(), args.clone());
    }
    if !data.is_empty() {
        request.insert("data".into(), Value::Object(data));
    }
    let mut api = Map::new();
    api.insert("operation".into(), json!(op.method));
    api.insert("request".into(), Value::Object(request));
    if let Some(v) = p.record.protocol.version {
        api.insert("version".into(), json!(v));
    }
    if let Some(u) = &p.record.upstream {
        api.insert("service".into(), json!({"name": u}));
    }
    let mut response = Map::new();
    if let Some(code) = op.outcome.rpc_error {
        response.insert("code".into(), json!(code));
        response.insert("error".into(), json!("JSON-RPC error"));
    } else if let Some(status) = op.outcome.http_status {
        response.insert("code".into(), json!(status));
    }
    if !response.is_empty() {
        api.insert("response".into(), Value::Object(response));
    }
    Value::Object(api)
}

fn resource(p: &Prepared<'_>, t: &Target) -> Value {
    let uid = match &p.record.upstream {
        Some(u) => format!("{u}/{}", t.name()),
        None => t.name().to_owned(),
    };
    json!({"type": t.kind(), "name": t.name(), "uid": uid})
}

fn authorizations(op: &Operation) -> Value {
    let d = &op.decision;
    let verdict = d.verdict.as_str();
    if d.policies.is_empty() {
        let mut a = json!({"decision": verdict});
        if let (Some(obj), Some(v)) = (a.as_object_mut(), &d.policy_version) {
            obj.insert("policy".into(), json!({"name": "policy set", "version": v}));
        }
        return json!([a]);
    }
    let list: Vec<Value> = d
        .policies
        .iter()
        .map(|id| {
            let mut policy = json!({"uid": id, "name": id});
            if let (Some(obj), Some(v)) = (policy.as_object_mut(), &d.policy_version) {
                obj.insert("version".into(), json!(v));
            }
            json!({"decision": verdict, "policy": policy})
        })
        .collect();
    json!(list)
}

fn decision(op: &Operation) -> Value {
    let d = &op.decision;
    json!({
        "verdict": d.verdict.as_str(),
        "policies": d.policies,
        "policy_version": d.policy_version,
        "reason": d.reason,
    })
}

/// The `ai_operation` profile: the agent (from the client id) and the MCP
/// message context.
fn ai_operation(e: &mut Map<String, Value>, p: &Prepared<'_>, method: &str) {
    let r = p.record;
    let role = match method {
        "tools/call" => (3, "Tool"),
        "resources/read" => (6, "Retriever"),
        "sampling/createMessage" => (2, "Assistant"),
        _ => (4, "Agent"),
    };
    let mut ctx = Map::new();
    ctx.insert("name".into(), json!(method));
    ctx.insert("ai_role_id".into(), json!(role.0));
    ctx.insert("ai_role".into(), json!(role.1));
    if let Some(s) = &r.session {
        ctx.insert("uid".into(), json!(s));
    }
    let client = r.actor.client_id.as_deref().unwrap_or("unknown");
    ctx.insert("application".into(), json!({"name": client}));
    let service = r
        .upstream
        .as_deref()
        .unwrap_or(p.options.gateway_name.as_str());
    ctx.insert("service".into(), json!({"name": service}));
    e.insert("message_context".into(), Value::Object(ctx));
    if let Some(client) = &r.actor.client_id {
        let mut agent = json!({"uid": client, "name": client, "type_id": 0, "type": "Unknown"});
        if let (Some(obj), Some(s)) = (agent.as_object_mut(), &r.session) {
            obj.insert("instance_uid".into(), json!(s));
        }
        e.insert("ai_agent".into(), agent);
    }
}
