//! The three OCSF classes the gateway emits, one function per record kind.
//! Top-level fields may be added in any order (the event writer sorts them);
//! nested keys are written in byte order.

use super::Stamp;
use super::objects::{
    API_ACTIVITY, AUTHENTICATION, DETECTION_FINDING, actor, base, dst_endpoint, src_endpoint,
    unmapped, user,
};
use crate::audit::jsonw::{EventWriter, W};
use crate::audit::prepare::Prepared;
use crate::audit::record::{
    ApprovalState, AuthMethod, Authentication, Finding, GatewayEvent, Operation, Severity, Verdict,
};
use crate::protocol::Target;
use sha2::{Digest, Sha256};

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
    unmapped(ev, p, true, |x| {
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
    });
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

/// Authentication for a token or certificate outcome.
pub fn authentication(
    ev: &mut EventWriter<'_>,
    p: &Prepared<'_>,
    s: &Stamp<'_>,
    auth: &Authentication,
) {
    let severity = if auth.accepted {
        Severity::Info
    } else {
        Severity::Medium
    };
    base(ev, p, s, AUTHENTICATION, (1, "Logon"), severity);
    status(ev, auth.accepted, auth.reason.as_deref());
    let who = p.record.actor.subject.as_deref().unwrap_or("unknown");
    let verb = if auth.accepted {
        "accepted"
    } else {
        "rejected"
    };
    ev.s("message", &format!("authentication of {who} {verb}"));
    ev.obj("user", |w| user(w, p, who));
    ev.obj("actor", |w| actor(w, p, None));
    let (protocol_id, protocol) = match auth.method {
        AuthMethod::BearerToken => (6, "OAUTH 2.0"),
        AuthMethod::MutualTls => (99, "mTLS client certificate"),
        AuthMethod::None => (0, "Unknown"),
    };
    ev.n("auth_protocol_id", protocol_id)
        .s("auth_protocol", protocol)
        .n("logon_type_id", 3)
        .s("logon_type", "Network")
        .b("is_remote", true);
    ev.obj("service", |w| {
        w.s("name", &p.options.gateway_name);
    });
    src_endpoint(ev, p);
    unmapped(ev, p, false, |x| {
        if let Some(i) = &auth.issuer {
            x.s("issuer", i);
        }
        if let Some(t) = &auth.token_id {
            x.s("token_id", t);
        }
        if let Some(h) = auth.http_status {
            x.n("http_status", h);
        }
    });
}

/// Detection Finding for an injection, secret or tool-pin finding.
pub fn detection_finding(ev: &mut EventWriter<'_>, p: &Prepared<'_>, s: &Stamp<'_>, f: &Finding) {
    base(ev, p, s, DETECTION_FINDING, (1, "Create"), f.severity);
    ev.n("status_id", 1)
        .s("status", "New")
        .s("message", &f.title);
    ev.obj("finding_info", |w| finding_info(w, p, f));
    ev.b(
        "is_alert",
        f.action == "block" || f.severity >= Severity::High,
    );
    let (confidence_id, confidence) = match f.score_percent {
        None => (3, "High"),
        Some(s) if s >= 90 => (3, "High"),
        Some(s) if s >= 70 => (2, "Medium"),
        Some(_) => (1, "Low"),
    };
    ev.n("confidence_id", confidence_id)
        .s("confidence", confidence);
    if let Some(s) = f.score_percent {
        ev.n("confidence_score", s);
    }
    ev.field("evidences", |w| {
        w.objs_value(std::slice::from_ref(f), |w, f| {
            w.obj("data", |w| {
                w.s("action", &f.action)
                    .os("json_path", f.json_path.as_deref());
                if let Some((a, b)) = f.span {
                    w.nums("span", &[a as u64, b as u64]);
                }
                w.s("surface", &f.surface);
            });
        })
    });
    if let Some(t) = &f.target {
        ev.field("resources", |w| {
            w.objs_value(std::slice::from_ref(t), |w, t| resource(w, p, t))
        });
    }
    unmapped(ev, p, false, |x| {
        x.s("action", &f.action);
        let r = p.record;
        for (k, v) in [
            ("method", f.method.as_deref()),
            ("rpc_id", f.rpc_id.as_deref()),
            ("subject", r.actor.subject.as_deref()),
            ("client_id", r.actor.client_id.as_deref()),
            ("session", r.session.as_deref()),
        ] {
            if let Some(v) = v {
                x.s(k, v);
            }
        }
        if let Some((previous, current)) = &f.pin {
            x.obj("pin", |w| {
                w.s("current_sha256", current)
                    .s("previous_sha256", previous);
            });
        }
    });
}

fn finding_info(w: &mut W<'_>, p: &Prepared<'_>, f: &Finding) {
    // A stable id from the finding's identifying facts, so a SIEM can deduplicate.
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
    w.obj("analytic", |w| {
        w.s("name", &f.rule_id)
            .s("type", "Rule")
            .n("type_id", 1)
            .s("uid", &f.rule_id);
    })
    .obj("product", |w| {
        w.s("name", "portcullis")
            .s("vendor_name", "portcullis")
            .s("version", p.options.product_version);
    })
    .s("title", &f.title)
    .strs("types", [f.category.as_str()])
    .s("uid", &hex::encode(&h.finalize()[..16]));
}

fn status(ev: &mut EventWriter<'_>, ok: bool, detail: Option<&str>) {
    ev.n("status_id", if ok { 1 } else { 2 })
        .s("status", if ok { "Success" } else { "Failure" });
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

fn resource(w: &mut W<'_>, p: &Prepared<'_>, t: &Target) {
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
