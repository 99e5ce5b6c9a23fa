//! API Activity (6003): MCP operations and the gateway's own events.
//! Top-level fields may be added in any order (the event writer sorts them);
//! nested keys are written in byte order.

use super::Stamp;
use super::objects::{API_ACTIVITY, actor, base, dst_endpoint, src_endpoint, unmapped};
use crate::audit::jsonw::{EventWriter, W};
use crate::audit::prepare::Prepared;
use crate::audit::record::{ApprovalState, GatewayEvent, Operation, Severity, Verdict};
use crate::protocol::Target;

/// Whether an operation failed, and how severe its event is.
pub fn operation_outcome(op: &Operation) -> (bool, Severity) {
    let failed = matches!(
        op.decision.verdict,
        Verdict::Denied | Verdict::ApprovalRequired | Verdict::Error
    ) || op.outcome.rpc_error.is_some();
    let severity = match op.decision.verdict {
        Verdict::Allowed => Severity::Info,
        Verdict::Flagged | Verdict::Redacted | Verdict::Error => Severity::Low,
        Verdict::Denied | Verdict::ApprovalRequired => Severity::Medium,
    };
    (failed, severity)
}

/// API Activity for a JSON-RPC request or notification.
pub fn api_activity(ev: &mut EventWriter<'_>, p: &Prepared<'_>, s: &Stamp<'_>, op: &Operation) {
    let activity = activity_of(&op.method);
    let (failed, severity) = operation_outcome(op);
    base(ev, p, s, API_ACTIVITY, activity, severity);
    status(ev, !failed, op.decision.reason.as_deref());
    let code = op
        .outcome
        .rpc_error
        .map(|c| c.to_string())
        .or(op.outcome.http_status.map(|s| s.to_string()));
    if let Some(code) = code {
        ev.s("status_code", &code);
    }
    let target = op
        .target
        .as_ref()
        .map(|t| format!(" {} `{}`", t.kind(), t.name()));
    ev.s(
        "message",
        &format!(
            "{}{} {}",
            op.method,
            target.unwrap_or_default(),
            op.decision.verdict.as_str()
        ),
    );
    ev.obj("actor", |w| {
        actor(w, p, Some(&|w: &mut W<'_>| authorizations(w, op)))
    });
    src_endpoint(ev, p);
    dst_endpoint(ev, p);
    ev.obj("api", |w| api(w, p, op));
    if let Some(t) = &op.target {
        ev.field("resources", |w| {
            w.objs_value(std::slice::from_ref(t), |w, t| resource(w, p, t))
        });
    }
    if let Some(code) = op.outcome.http_status {
        ev.obj("http_response", |w| {
            w.n("code", code);
        });
    }
    if let Some(latency) = op.outcome.latency {
        ev.n(
            "duration",
            u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        );
    }
    ai_operation(ev, p, &op.method);
    unmapped(ev, p, true, |x| operation_facts(x, p, op));
}

/// `unmapped.portcullis` of an operation: direction, decision, findings,
/// digest, latency.
fn operation_facts(x: &mut EventWriter<'_>, p: &Prepared<'_>, op: &Operation) {
    x.s("direction", op.direction.as_str());
    x.obj("decision", |w| {
        let d = &op.decision;
        w.strs("policies", d.policies.iter().map(String::as_str))
            .os("policy_version", d.policy_version.as_deref())
            .os("reason", d.reason.as_deref())
            .s("verdict", d.verdict.as_str());
    });
    if !op.findings.is_empty() {
        x.field("findings", |w| {
            w.objs_value(&op.findings, |w, f| {
                w.os("json_path", f.json_path.as_deref())
                    .s("rule_id", &f.rule_id);
            })
        });
    }
    if let Some(d) = &p.arguments_digest {
        x.s("arguments_sha256", d);
    }
    if let Some(latency) = op.outcome.latency {
        x.n(
            "latency_us",
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        );
    }
}

/// API Activity (`Other`) for the gateway's own events.
pub fn gateway_activity(
    ev: &mut EventWriter<'_>,
    p: &Prepared<'_>,
    s: &Stamp<'_>,
    g: &GatewayEvent,
) {
    let (operation, ok, severity, detail) = gateway_facts(g);
    base(ev, p, s, API_ACTIVITY, (99, operation), severity);
    status(ev, ok, detail.as_deref());
    let message = match &detail {
        Some(d) => format!("{operation}: {d}"),
        None => operation.to_owned(),
    };
    ev.s("message", &message);
    ev.obj("actor", |w| actor(w, p, None));
    src_endpoint(ev, p);
    dst_endpoint(ev, p);
    ev.obj("api", |w| {
        w.s("operation", operation).obj("service", |w| {
            w.s("name", &p.options.gateway_name);
        });
    });
    unmapped(ev, p, true, |x| match g {
        GatewayEvent::Reload { what, version, .. } => {
            x.s("reloaded", what);
            if let Some(v) = version {
                x.s("version", v);
            }
        }
        GatewayEvent::UpstreamHealth { up, .. } => {
            x.b("upstream_up", *up);
        }
        GatewayEvent::RateLimited {
            limit,
            retry_after_secs,
        } => {
            x.s("limit", limit).n("retry_after_secs", *retry_after_secs);
        }
        GatewayEvent::Approval {
            approval_id,
            state,
            approver,
            arguments_digest,
        } => {
            x.s("approval_id", approval_id)
                .s("approval_state", state.as_str());
            if let Some(a) = approver {
                x.s("approver", a);
            }
            if let Some(d) = arguments_digest {
                x.s("arguments_sha256", d);
            }
        }
        GatewayEvent::AuditEventsLost { count } => {
            x.n("events_lost", *count);
        }
    });
}

/// Operation name, success, severity and detail of a gateway event.
pub fn gateway_facts(g: &GatewayEvent) -> (&'static str, bool, Severity, Option<String>) {
    match g {
        GatewayEvent::Reload { ok, error, .. } => (
            "portcullis/reload",
            *ok,
            if *ok {
                Severity::Info
            } else {
                Severity::Medium
            },
            error.clone(),
        ),
        GatewayEvent::UpstreamHealth { up, reason } => (
            "portcullis/upstream_health",
            *up,
            if *up { Severity::Info } else { Severity::High },
            reason.clone(),
        ),
        GatewayEvent::RateLimited { limit, .. } => (
            "portcullis/rate_limited",
            false,
            Severity::Low,
            Some(format!("limit {limit}")),
        ),
        GatewayEvent::Approval { state, .. } => {
            let ok = matches!(state, ApprovalState::Requested | ApprovalState::Granted);
            (
                "portcullis/approval",
                ok,
                Severity::Info,
                Some(state.as_str().to_owned()),
            )
        }
        GatewayEvent::AuditEventsLost { count } => (
            "portcullis/audit_events_lost",
            false,
            Severity::High,
            Some(format!("{count} audit events were not written")),
        ),
    }
}

pub(super) fn status(ev: &mut EventWriter<'_>, ok: bool, detail: Option<&str>) {
    ev.n("status_id", if ok { 1 } else { 2 })
        .lit("status", if ok { "Success" } else { "Failure" });
    if let Some(d) = detail {
        ev.s("status_detail", d);
    }
}

/// OCSF activity for an MCP method: reads, creations, deletions, or `Other`
/// with the MCP verb as label.
pub fn activity_of(method: &str) -> (u64, &'static str) {
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

fn api(w: &mut W<'_>, p: &Prepared<'_>, op: &Operation) {
    w.s("operation", &op.method).obj("request", |w| {
        if p.arguments.is_some() || p.arguments_digest.is_some() {
            w.obj("data", |w| {
                if let Some(a) = &p.arguments {
                    w.value("arguments", a);
                }
                w.os("arguments_sha256", p.arguments_digest.as_deref());
            });
        }
        w.s("uid", op.rpc_id.as_deref().unwrap_or("notification"));
    });
    if let Some(code) = op.outcome.rpc_error {
        w.obj("response", |w| {
            w.n("code", code).s("error", "JSON-RPC error");
        });
    } else if let Some(status) = op.outcome.http_status {
        w.obj("response", |w| {
            w.n("code", status);
        });
    }
    if let Some(u) = &p.record.upstream {
        w.obj("service", |w| {
            w.s("name", u);
        });
    }
    w.os("version", p.record.protocol.version);
}

pub(super) fn resource(w: &mut W<'_>, p: &Prepared<'_>, t: &Target) {
    let uid = match &p.record.upstream {
        Some(u) => format!("{u}/{}", t.name()),
        None => t.name().to_owned(),
    };
    w.s("name", t.name()).s("type", t.kind()).s("uid", &uid);
}

fn authorizations(w: &mut W<'_>, op: &Operation) {
    let d = &op.decision;
    let verdict = d.verdict.as_str();
    if d.policies.is_empty() {
        w.objs("authorizations", &[()], |w, _| {
            w.s("decision", verdict);
            if let Some(v) = &d.policy_version {
                w.obj("policy", |w| {
                    w.s("name", "policy set").s("version", v);
                });
            }
        });
        return;
    }
    w.objs("authorizations", &d.policies, |w, id| {
        w.s("decision", verdict).obj("policy", |w| {
            w.s("name", id)
                .s("uid", id)
                .os("version", d.policy_version.as_deref());
        });
    });
}

/// The `ai_operation` profile: the agent (from the client id) and the MCP
/// message context.
fn ai_operation(ev: &mut EventWriter<'_>, p: &Prepared<'_>, method: &str) {
    let r = p.record;
    let (role_id, role) = match method {
        "tools/call" => (3, "Tool"),
        "resources/read" => (6, "Retriever"),
        "sampling/createMessage" => (2, "Assistant"),
        _ => (4, "Agent"),
    };
    ev.obj("message_context", |w| {
        w.s("ai_role", role)
            .n("ai_role_id", role_id)
            .obj("application", |w| {
                w.s("name", r.actor.client_id.as_deref().unwrap_or("unknown"));
            })
            .s("name", method)
            .obj("service", |w| {
                w.s(
                    "name",
                    r.upstream.as_deref().unwrap_or(&p.options.gateway_name),
                );
            })
            .os("uid", r.session.as_deref());
    });
    if let Some(client) = &r.actor.client_id {
        ev.obj("ai_agent", |w| {
            w.os("instance_uid", r.session.as_deref())
                .s("name", client)
                .s("type", "Unknown")
                .n("type_id", 0)
                .s("uid", client);
        });
    }
}
