//! OCSF rendering: one [`AuditRecord`] to one OCSF 1.9.0-dev event.
//!
//! | record kind      | OCSF class                | class_uid |
//! |------------------|---------------------------|-----------|
//! | `Operation`      | API Activity              | 6003      |
//! | `Gateway`        | API Activity (`Other`)    | 6003      |
//! | `Authentication` | Authentication            | 3002      |
//! | `Finding`        | Detection Finding         | 2004      |
//!
//! The full field mapping is in `docs/audit.md`. Pure: a record and options in,
//! a JSON value out. The hash chain adds `metadata.uid`, `metadata.sequence` and
//! the `attestation` object (record_integrity profile) afterwards.
//!
//! Invariant: every event carries the base attributes OCSF requires
//! (`activity_id`, `category_uid`, `class_uid`, `metadata.product`,
//! `metadata.version`, `severity_id`, `time`, `type_uid`) and its class's required
//! objects; `tests/audit_fixtures/ocsf/*.schema.json` checks it.

mod classes;
mod objects;

use super::prepare::Prepared;
use super::record::{RecordKind, Severity};
use serde_json::Value;

/// The OCSF schema version events declare in `metadata.version`.
pub const OCSF_VERSION: &str = "1.9.0-dev";

/// Renders a prepared record as an OCSF event (without integrity attributes).
pub fn render(p: &Prepared<'_>) -> Value {
    match &p.record.kind {
        RecordKind::Operation(op) => classes::api_activity(p, op),
        RecordKind::Gateway(ev) => classes::gateway_activity(p, ev),
        RecordKind::Authentication(auth) => classes::authentication(p, auth),
        RecordKind::Finding(f) => classes::detection_finding(p, f),
    }
}

/// OCSF `severity_id` of a severity.
pub fn severity_id(s: Severity) -> u64 {
    objects::severity_of(s).0
}
