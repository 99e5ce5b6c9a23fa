//! Authentication (3002) and Detection Finding (2004): token outcomes, and
//! injection, secret and tool-pin findings.

use super::Stamp;
use super::classes::{resource, status};
use super::objects::{
    AUTHENTICATION, DETECTION_FINDING, actor, base, src_endpoint, unmapped, user,
};
use crate::audit::jsonw::{EventWriter, W};
use crate::audit::prepare::Prepared;
use crate::audit::record::{AuthMethod, Authentication, Finding, Severity};
use sha2::{Digest, Sha256};

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
