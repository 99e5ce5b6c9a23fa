//! OCSF objects shared by the classes: metadata, actor, endpoints, trace,
//! severity, and the `unmapped.portcullis` block for what OCSF has no place for.

use super::OCSF_VERSION;
use crate::audit::prepare::Prepared;
use crate::audit::record::{Actor, Severity};
use serde_json::{Map, Value, json};

/// The class-independent attributes: classification, time, metadata, severity.
pub fn base(
    p: &Prepared<'_>,
    class: Class,
    activity_id: u64,
    severity: Severity,
) -> Map<String, Value> {
    let mut e = Map::new();
    let activity_name = class.activity_name(activity_id);
    e.insert("activity_id".into(), json!(activity_id));
    e.insert("activity_name".into(), json!(activity_name));
    e.insert("category_uid".into(), json!(class.uid / 1000));
    e.insert("category_name".into(), json!(class.category));
    e.insert("class_uid".into(), json!(class.uid));
    e.insert("class_name".into(), json!(class.name));
    e.insert("type_uid".into(), json!(class.uid * 100 + activity_id));
    e.insert(
        "type_name".into(),
        json!(format!("{}: {activity_name}", class.name)),
    );
    e.insert(
        "time".into(),
        json!(crate::audit::time::epoch_millis(p.record.time)),
    );
    let (severity_id, severity_name) = severity_of(severity);
    e.insert("severity_id".into(), json!(severity_id));
    e.insert("severity".into(), json!(severity_name));
    e.insert("metadata".into(), metadata(p, class));
    // Only API Activity includes the trace profile; other classes carry the ids
    // under `unmapped.portcullis` (see `unmapped`).
    if let (Some(trace), true) = (&p.record.trace, class.uid == API_ACTIVITY.uid) {
        e.insert(
            "trace".into(),
            json!({"uid": hex::encode(trace.trace_id), "span": {"uid": hex::encode(trace.span_id)}}),
        );
    }
    e
}

fn metadata(p: &Prepared<'_>, class: Class) -> Value {
    let mut profiles = vec!["record_integrity"];
    if class.uid == 6003 {
        profiles.extend(["ai_operation", "trace"]);
    }
    let mut m = json!({
        "version": OCSF_VERSION,
        "product": {
            "name": "portcullis",
            "vendor_name": "portcullis",
            "version": p.options.product_version,
        },
        "log_name": "audit",
        "log_provider": "portcullis",
        "profiles": profiles,
    });
    if let (Some(obj), Some(tenant)) = (m.as_object_mut(), &p.record.actor.tenant) {
        obj.insert("tenant_uid".into(), json!(tenant));
    }
    if let (Some(obj), Some(session)) = (m.as_object_mut(), &p.record.session) {
        obj.insert("correlation_uid".into(), json!(session));
    }
    m
}

/// The OCSF actor: the user (subject), the agent (client id), the session. The
/// gateway itself when nobody is authenticated.
pub fn actor(p: &Prepared<'_>, authorizations: Option<Value>) -> Value {
    let a: &Actor = &p.record.actor;
    let mut actor = Map::new();
    if let Some(sub) = &a.subject {
        actor.insert("user".into(), user(a, sub));
    }
    if let Some(client) = &a.client_id {
        actor.insert("app_uid".into(), json!(client));
        actor.insert("app_name".into(), json!(client));
    }
    if let Some(session) = &p.record.session {
        actor.insert("session".into(), json!({"uid": session}));
    }
    if actor.is_empty() {
        actor.insert("app_name".into(), json!(p.options.gateway_name));
    }
    if let Some(auth) = authorizations {
        actor.insert("authorizations".into(), auth);
    }
    Value::Object(actor)
}

/// An OCSF user for a subject.
pub fn user(a: &Actor, subject: &str) -> Value {
    let mut u = json!({"uid": subject, "name": subject});
    if let (Some(obj), Some(tenant)) = (u.as_object_mut(), &a.tenant) {
        obj.insert("org".into(), json!({"uid": tenant, "name": tenant}));
    }
    u
}

/// The client's endpoint; the gateway's name when the record has no address
/// (the class requires the object, and one of its identifying attributes).
pub fn src_endpoint(p: &Prepared<'_>) -> Value {
    match p.record.source {
        Some(addr) => json!({"ip": addr.ip().to_string(), "port": addr.port()}),
        None => json!({"name": p.options.gateway_name}),
    }
}

/// The upstream as an endpoint, when known.
pub fn dst_endpoint(p: &Prepared<'_>) -> Option<Value> {
    p.record
        .upstream
        .as_ref()
        .map(|u| json!({"name": u, "svc_name": u}))
}

/// Portcullis facts OCSF has no attribute for, under `unmapped.portcullis`.
/// `traced` says whether the class already carries the trace profile.
pub fn unmapped(p: &Prepared<'_>, extra: Map<String, Value>, traced: bool) -> Value {
    let mut m = extra;
    let r = p.record;
    if let (Some(t), false) = (&r.trace, traced) {
        m.insert("trace_id".into(), json!(hex::encode(t.trace_id)));
        m.insert("span_id".into(), json!(hex::encode(t.span_id)));
    }
    if let Some(era) = r.protocol.era {
        m.insert("era".into(), json!(era));
    }
    if let Some(v) = r.protocol.version {
        m.insert("protocol_version".into(), json!(v));
    }
    if !r.actor.delegation.is_empty() {
        m.insert("act".into(), json!(r.actor.delegation));
    }
    if let Some(tenant) = &r.actor.tenant {
        m.insert("tenant".into(), json!(tenant));
    }
    json!({"portcullis": m})
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
