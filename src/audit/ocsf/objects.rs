//! OCSF objects shared by the classes: classification, metadata, actor,
//! endpoints, trace, severity, and the `unmapped.portcullis` block for what
//! OCSF has no place for. Nested keys are written in byte order (see
//! [`crate::audit::jsonw`]).

use super::{OCSF_VERSION, Stamp};
use crate::audit::jsonw::{EventWriter, W};
use crate::audit::prepare::Prepared;
use crate::audit::record::Severity;

/// The class-independent attributes: classification, time, metadata, severity,
/// and the trace profile for API Activity.
pub fn base(
    ev: &mut EventWriter<'_>,
    p: &Prepared<'_>,
    stamp: &Stamp<'_>,
    class: Class,
    activity: (u64, &str),
    severity: Severity,
) {
    let (activity_id, label) = activity;
    let activity_name = if activity_id == 99 {
        label
    } else {
        class.activity_name(activity_id)
    };
    ev.n("activity_id", activity_id)
        .lit("activity_name", activity_name)
        .n("category_uid", class.uid / 1000)
        .lit("category_name", class.category)
        .n("class_uid", class.uid)
        .lit("class_name", class.name)
        .n("type_uid", class.uid * 100 + activity_id)
        .lit("type_name", &format!("{}: {activity_name}", class.name))
        .n("time", crate::audit::time::epoch_millis(p.record.time));
    let (severity_id, severity_name) = severity_of(severity);
    ev.n("severity_id", severity_id)
        .s("severity", severity_name);
    ev.obj("metadata", |w| metadata(w, p, stamp, class));
    if let (Some(t), true) = (&p.record.trace, class.uid == API_ACTIVITY.uid) {
        ev.obj("trace", |w| {
            w.obj("span", |w| {
                w.lit("uid", &crate::audit::jsonw::hex(&t.span_id));
            })
            .lit("uid", &crate::audit::jsonw::hex(&t.trace_id));
        });
    }
}

fn metadata(w: &mut W<'_>, p: &Prepared<'_>, stamp: &Stamp<'_>, class: Class) {
    let profiles: &[&str] = if class.uid == API_ACTIVITY.uid {
        &["ai_operation", "record_integrity", "trace"]
    } else {
        &["record_integrity"]
    };
    w.os("correlation_uid", p.record.session.as_deref())
        .lit("log_name", "audit")
        .lit("log_provider", "portcullis")
        .obj("product", |w| {
            w.lit("name", "portcullis")
                .lit("vendor_name", "portcullis")
                .lit("version", p.options.product_version);
        })
        .strs("profiles", profiles.iter().copied())
        .n("sequence", stamp.seq)
        .os("tenant_uid", p.record.actor.tenant.as_deref())
        .lit("uid", stamp.uid)
        .lit("version", OCSF_VERSION);
}

/// The OCSF actor: the agent (client id), authorizations, the session, the
/// user (subject). The gateway itself when nobody is known.
pub fn actor(w: &mut W<'_>, p: &Prepared<'_>, authorizations: Option<&dyn Fn(&mut W<'_>)>) {
    let a = &p.record.actor;
    let anonymous = a.subject.is_none() && a.client_id.is_none() && p.record.session.is_none();
    if anonymous {
        w.s("app_name", &p.options.gateway_name);
    } else {
        w.os("app_name", a.client_id.as_deref())
            .os("app_uid", a.client_id.as_deref());
    }
    if let Some(f) = authorizations {
        f(w);
    }
    if let Some(s) = &p.record.session {
        w.obj("session", |w| {
            w.s("uid", s);
        });
    }
    if let Some(sub) = &a.subject {
        w.obj("user", |w| user(w, p, sub));
    }
}

/// An OCSF user: the subject, and the tenant as its organization.
pub fn user(w: &mut W<'_>, p: &Prepared<'_>, subject: &str) {
    w.s("name", subject);
    if let Some(t) = &p.record.actor.tenant {
        w.obj("org", |w| {
            w.s("name", t).s("uid", t);
        });
    }
    w.s("uid", subject);
}

/// The client's endpoint; the gateway's name when the record has no address
/// (the class requires the object, and one of its identifying attributes).
pub fn src_endpoint(ev: &mut EventWriter<'_>, p: &Prepared<'_>) {
    ev.obj("src_endpoint", |w| match p.record.source {
        Some(addr) => {
            w.s("ip", &addr.ip().to_string()).n("port", addr.port());
        }
        None => {
            w.s("name", &p.options.gateway_name);
        }
    });
}

/// The upstream as an endpoint, when known.
pub fn dst_endpoint(ev: &mut EventWriter<'_>, p: &Prepared<'_>) {
    if let Some(u) = &p.record.upstream {
        ev.obj("dst_endpoint", |w| {
            w.s("name", u).s("svc_name", u);
        });
    }
}

/// `unmapped.portcullis`: the record's context facts plus the class's `extra`
/// fields (sorted for it). `traced` says whether the class already carries the
/// trace profile.
pub fn unmapped(
    ev: &mut EventWriter<'_>,
    p: &Prepared<'_>,
    traced: bool,
    extra: impl FnOnce(&mut EventWriter<'_>),
) {
    let r = p.record;
    let mut inner = EventWriter::new(&r.secrets);
    if let Some(era) = r.protocol.era {
        inner.s("era", era);
    }
    if let Some(v) = r.protocol.version {
        inner.s("protocol_version", v);
    }
    if !r.actor.delegation.is_empty() {
        inner.field("act", |w| {
            w.strs_value(r.actor.delegation.iter().map(String::as_str))
        });
    }
    if let Some(t) = &r.actor.tenant {
        inner.s("tenant", t);
    }
    if let (Some(t), false) = (&r.trace, traced) {
        inner.s("trace_id", &crate::audit::jsonw::hex(&t.trace_id));
        inner.s("span_id", &crate::audit::jsonw::hex(&t.span_id));
    }
    extra(&mut inner);
    ev.obj("unmapped", |w| {
        w.nested("portcullis", inner);
    });
}

/// OCSF `severity_id` and its caption.
pub fn severity_of(s: Severity) -> (u64, &'static str) {
    match s {
        Severity::Info => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// An OCSF class: uid, names, activity captions.
#[derive(Debug, Clone, Copy)]
pub struct Class {
    /// `class_uid`.
    pub uid: u64,
    /// `class_name`.
    pub name: &'static str,
    /// `category_name`.
    pub category: &'static str,
    activities: &'static [(u64, &'static str)],
}

impl Class {
    fn activity_name(&self, id: u64) -> &'static str {
        self.activities
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| *n)
            .unwrap_or("Other")
    }
}

/// API Activity (6003).
pub const API_ACTIVITY: Class = Class {
    uid: 6003,
    name: "API Activity",
    category: "Application Activity",
    activities: &[
        (1, "Create"),
        (2, "Read"),
        (3, "Update"),
        (4, "Delete"),
        (99, "Other"),
    ],
};

/// Authentication (3002).
pub const AUTHENTICATION: Class = Class {
    uid: 3002,
    name: "Authentication",
    category: "Identity & Access Management",
    activities: &[(1, "Logon"), (99, "Other")],
};

/// Detection Finding (2004).
pub const DETECTION_FINDING: Class = Class {
    uid: 2004,
    name: "Detection Finding",
    category: "Findings",
    activities: &[(1, "Create"), (2, "Update"), (3, "Close")],
};
