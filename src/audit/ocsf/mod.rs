//! OCSF rendering: one [`AuditRecord`] to one OCSF 1.9.0-dev event.
//!
//! | record kind      | OCSF class                | class_uid |
//! |------------------|---------------------------|-----------|
//! | `Operation`      | API Activity              | 6003      |
//! | `Gateway`        | API Activity (`Other`)    | 6003      |
//! | `Authentication` | Authentication            | 3002      |
//! | `Finding`        | Detection Finding         | 2004      |
//!
//! The full field mapping is in `docs/audit.md`. Pure: a record in, fields into
//! an [`EventWriter`] out (canonical JSON, redacted). The hash chain adds the
//! `attestation` object (record_integrity profile) and writes the event.
//!
//! Invariant: every event carries the base attributes OCSF requires
//! (`activity_id`, `category_uid`, `class_uid`, `metadata.product`,
//! `metadata.version`, `severity_id`, `time`, `type_uid`) and its class's required
//! objects; `tests/audit/fixtures/ocsf/*.schema.json` checks it.

mod classes;
mod objects;
mod security;

use super::jsonw::EventWriter;
use super::prepare::Prepared;
use super::record::{AuditRecord, RecordKind, Severity};

/// The OCSF schema version events declare in `metadata.version`.
pub const OCSF_VERSION: &str = "1.9.0-dev";

/// The event's identity in its chain: `metadata.uid` and `metadata.sequence`.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    /// `<segment>:<n>`.
    pub uid: &'a str,
    /// `n`.
    pub seq: u64,
}

/// Renders a prepared record's OCSF fields (without integrity attributes).
pub fn render(ev: &mut EventWriter<'_>, p: &Prepared<'_>, stamp: &Stamp<'_>) {
    match &p.record.kind {
        RecordKind::Operation(op) => classes::api_activity(ev, p, stamp, op),
        RecordKind::Gateway(g) => classes::gateway_activity(ev, p, stamp, g),
        RecordKind::Authentication(a) => security::authentication(ev, p, stamp, a),
        RecordKind::Finding(f) => security::detection_finding(ev, p, stamp, f),
    }
}

/// The OCSF severity of the event a record renders to, and its `type_name`
/// (for remote sinks: syslog severity, OTLP severity and event name).
pub fn summary(record: &AuditRecord) -> (Severity, String) {
    match &record.kind {
        RecordKind::Operation(op) => {
            let (_, label) = classes::activity_of(&op.method);
            (
                classes::operation_outcome(op).1,
                format!("API Activity: {label}"),
            )
        }
        RecordKind::Gateway(g) => {
            let (op, _, sev, _) = classes::gateway_facts(g);
            (sev, format!("API Activity: {op}"))
        }
        RecordKind::Authentication(a) => {
            let sev = if a.accepted {
                Severity::Info
            } else {
                Severity::Medium
            };
            (sev, "Authentication: Logon".into())
        }
        RecordKind::Finding(f) => (f.severity, "Detection Finding: Create".into()),
    }
}

/// OCSF `severity_id` of a severity.
pub fn severity_id(s: Severity) -> u64 {
    objects::severity_of(s).0
}
