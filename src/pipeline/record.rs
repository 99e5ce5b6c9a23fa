//! Building audit records from what the pipeline knows: the request's context,
//! the response's outcome, the filter's findings, and messages the upstream
//! sends on its own (server-to-client requests and notifications).

use super::context::RequestContext;
use super::scanning::{Inspection, Verdict as ScanVerdict};
use crate::audit::{
    Actor, AuditRecord, AuthMethod, Authentication, Decision, Direction, Finding, FindingRef,
    Operation, Outcome, Protocol, RecordKind, Severity, TraceContext, Verdict,
};
use crate::authn::Principal;
use crate::authn::principal::Authenticated;
use crate::protocol::jsonrpc::{Kind, Message};
use crate::protocol::{Era, Target, Version};
use std::time::SystemTime;

/// The facts shared by every record about one request.
#[derive(Debug, Clone)]
pub struct Facts {
    /// When the request arrived.
    pub time: SystemTime,
    /// Who acted.
    pub actor: Actor,
    /// From where.
    pub source: std::net::SocketAddr,
    /// The client's session id, if any.
    pub session: Option<String>,
    /// Era and version.
    pub protocol: Protocol,
    /// The upstream concerned.
    pub upstream: Option<String>,
    /// Trace context from `traceparent`.
    pub trace: Option<TraceContext>,
}

impl Facts {
    /// The facts of the request in `cx`.
    pub fn of(cx: &RequestContext) -> Facts {
        Facts {
            time: cx.arrived,
            actor: cx.principal.as_deref().map(actor).unwrap_or_default(),
            source: cx.peer,
            session: cx.session.clone(),
            protocol: protocol(cx.era, cx.version),
            upstream: cx.upstream.clone(),
            trace: cx.trace,
        }
    }

    /// A finding record with these facts.
    pub fn finding(&self, finding: Finding) -> AuditRecord {
        self.record(RecordKind::Finding(finding), Vec::new())
    }

    /// One of the gateway's own events, about this request's caller.
    pub fn gateway(&self, event: crate::audit::GatewayEvent) -> AuditRecord {
        self.record(RecordKind::Gateway(event), Vec::new())
    }

    fn record(&self, kind: RecordKind, secrets: Vec<String>) -> AuditRecord {
        AuditRecord {
            time: self.time,
            actor: self.actor.clone(),
            source: Some(self.source),
            session: self.session.clone(),
            protocol: self.protocol,
            upstream: self.upstream.clone(),
            trace: self.trace,
            secrets,
            kind,
        }
    }
}

fn actor(p: &Principal) -> Actor {
    Actor {
        subject: (p.authenticated != Authenticated::Anonymous).then(|| p.subject.clone()),
        client_id: p.client_id.clone(),
        tenant: p.tenant.clone(),
        delegation: p.actors.iter().map(|a| a.subject.clone()).collect(),
    }
}

fn protocol(era: Option<Era>, version: Option<Version>) -> Protocol {
    Protocol {
        era: era.map(Era::as_str),
        version: version.map(Version::as_str),
    }
}

/// The operation record of a client request, with its outcome.
pub fn operation(cx: &RequestContext, outcome: Outcome) -> AuditRecord {
    let facts = Facts::of(cx);
    let op = Operation {
        direction: Direction::ClientToServer,
        method: cx.rpc_method.clone().unwrap_or_else(|| http_action(cx)),
        rpc_id: cx.rpc_id.as_ref().map(ToString::to_string),
        target: cx.target.clone(),
        arguments: cx.arguments.clone(),
        decision: cx.decision.clone(),
        findings: refs(&cx.findings)
            .into_iter()
            .chain(cx.response_findings.iter().cloned())
            .collect(),
        outcome,
    };
    facts.record(RecordKind::Operation(op), cx.secrets.clone())
}

/// What a request without a JSON-RPC method did at the HTTP level.
fn http_action(cx: &RequestContext) -> String {
    match cx.http_method.as_str() {
        "GET" => "stream/open".into(),
        "DELETE" => "session/end".into(),
        other => format!("http/{other}"),
    }
}

/// A refused credential.
pub fn authentication(cx: &RequestContext, http_status: u16) -> Option<AuditRecord> {
    let reason = cx.auth_reason?;
    let facts = Facts::of(cx);
    let method = if cx.client_certificate.is_some() {
        AuthMethod::MutualTls
    } else if reason == crate::authn::Reason::MissingToken {
        AuthMethod::None
    } else {
        AuthMethod::BearerToken
    };
    let auth = Authentication {
        accepted: false,
        method,
        issuer: cx.principal.as_deref().and_then(|p| p.issuer.clone()),
        token_id: cx.principal.as_deref().and_then(|p| p.token_id.clone()),
        reason: Some(reason.as_str().to_owned()),
        http_status: Some(http_status),
    };
    Some(facts.record(RecordKind::Authentication(auth), Vec::new()))
}

/// One record per finding that led to an action.
pub fn findings(
    facts: &Facts,
    inspection: &Inspection,
    message: &Message,
    target: Option<&Target>,
) -> Vec<AuditRecord> {
    let action = match &inspection.verdict {
        ScanVerdict::Pass => "flag",
        ScanVerdict::Rewrite(_) => "redact",
        ScanVerdict::Block(_) => "block",
    };
    inspection
        .findings
        .iter()
        .map(|f| {
            let finding = Finding {
                rule_id: f.rule_id.to_string(),
                category: f.category.name().to_owned(),
                title: f.explanation.chars().take(120).collect(),
                severity: severity(f.severity),
                surface: inspection.surface.name().to_owned(),
                json_path: Some(f.json_path.clone()),
                span: f.span.clone().map(|r| (r.start, r.end)),
                action: action.to_owned(),
                pin: None,
                score_percent: f.score.map(|s| (s.clamp(0.0, 1.0) * 100.0) as u8),
                method: message.method().map(str::to_owned),
                rpc_id: message.id().map(ToString::to_string),
                target: target.cloned(),
            };
            facts.record(RecordKind::Finding(finding), inspection.secrets.clone())
        })
        .collect()
}

/// A tool withheld because its definition differs from its pin.
pub fn pin_finding(
    upstream: &str,
    message: &Message,
    withheld: super::pinning::Withheld,
) -> Finding {
    let (rule_id, title) = match &withheld.pinned {
        Some(_) => (
            "pin.changed",
            format!(
                "tool `{}` of `{upstream}` changed since it was pinned",
                withheld.tool
            ),
        ),
        None => (
            "pin.unpinned",
            format!(
                "tool `{}` of `{upstream}` is not in the pins file",
                withheld.tool
            ),
        ),
    };
    Finding {
        rule_id: rule_id.to_owned(),
        category: "tool_poisoning".to_owned(),
        title,
        severity: Severity::High,
        surface: "tool_description".to_owned(),
        json_path: None,
        span: None,
        action: "block".to_owned(),
        pin: Some((withheld.pinned.unwrap_or_default(), withheld.current)),
        score_percent: None,
        method: message
            .method()
            .map(str::to_owned)
            .or(Some("tools/list".into())),
        rpc_id: message.id().map(ToString::to_string),
        target: Some(Target::Tool(withheld.tool)),
    }
}

/// A request or notification the upstream sent toward the client.
pub fn server_message(
    facts: &Facts,
    message: &Message,
    verdict: Verdict,
    reason: Option<&str>,
) -> Option<AuditRecord> {
    if !matches!(message.kind(), Kind::Request | Kind::Notification) {
        return None;
    }
    let method = message.method()?;
    // A resource's update names its resource, as a read of it would.
    let target = match method {
        "notifications/resources/updated" => message
            .params()
            .and_then(|p| p.get("uri")?.as_str())
            .map(|uri| Target::Resource(uri.to_owned())),
        _ => None,
    };
    let op = Operation {
        direction: Direction::ServerToClient,
        method: method.to_owned(),
        rpc_id: message.id().map(ToString::to_string),
        target,
        arguments: None,
        decision: Decision {
            verdict,
            reason: reason.map(str::to_owned),
            ..Decision::default()
        },
        findings: Vec::new(),
        outcome: Outcome::default(),
    };
    Some(facts.record(RecordKind::Operation(op), Vec::new()))
}

fn severity(s: crate::scan::Severity) -> Severity {
    match s {
        crate::scan::Severity::Info => Severity::Info,
        crate::scan::Severity::Low => Severity::Low,
        crate::scan::Severity::Medium => Severity::Medium,
        crate::scan::Severity::High => Severity::High,
        crate::scan::Severity::Critical => Severity::Critical,
    }
}

fn refs(findings: &[crate::scan::Finding]) -> Vec<FindingRef> {
    findings
        .iter()
        .map(|f| FindingRef {
            rule_id: f.rule_id.to_string(),
            json_path: Some(f.json_path.clone()),
        })
        .collect()
}
