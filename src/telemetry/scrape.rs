//! The series read at scrape time from counters other modules already keep
//! (authentication failures, the audit trail, upstream health, the policy
//! version, JWKS refreshes): one list of families, rendered as text on
//! `/metrics` ([`render`]) and observed by the OTLP push
//! ([`super::otlp_metrics`]) under the same names and labels.

use crate::audit::AuditStats;
use crate::authn::Reason;
use std::fmt::Write as _;

/// The values read at scrape time, gathered by the admin listener.
#[derive(Debug, Default)]
pub struct ScrapeState<'a> {
    /// Authentication failures by reason, every reason listed.
    pub auth_failures: Vec<(Reason, u64)>,
    /// The audit trail's counters and queue depth; `None` when it is disabled.
    pub audit: Option<AuditStats>,
    /// Each configured upstream and whether it is up.
    pub upstreams: Vec<(&'a str, bool)>,
    /// The active policy set's version; `None` when authorization is off.
    pub policy_version: Option<&'a str>,
    /// Failed JWKS fetches by configured issuer (remote key sets only).
    pub jwks_failures: Vec<(&'a str, u64)>,
}

/// Which value of a [`ScrapeState`] a family shows.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// `auth_failures`, labelled by `reason`.
    AuthFailures,
    /// One of the audit trail's counters (the family exists only while the
    /// trail is enabled).
    Audit(fn(&AuditStats) -> u64),
    /// `upstreams`, labelled by `upstream`: 1 up, 0 down.
    Upstreams,
    /// `policy_version`: 1, labelled by `version`.
    PolicyVersion,
    /// `jwks_failures`, labelled by `issuer`.
    JwksFailures,
}

/// One scrape-time family.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// The metric name.
    pub name: &'static str,
    /// A gauge; otherwise a monotonic counter.
    pub gauge: bool,
    /// The help text.
    pub help: &'static str,
    /// Where its samples come from.
    pub source: Source,
}

const fn family(name: &'static str, gauge: bool, help: &'static str, source: Source) -> Family {
    Family {
        name,
        gauge,
        help,
        source,
    }
}

/// Every scrape-time family, in the order `/metrics` shows them.
pub const FAMILIES: [Family; 11] = [
    family(
        "portcullis_auth_rejections_total",
        false,
        "Authentication failures by reason.",
        Source::AuthFailures,
    ),
    family(
        "portcullis_audit_queue_depth",
        true,
        "Audit events queued, not yet taken by the writer.",
        Source::Audit(|a| a.queued),
    ),
    family(
        "portcullis_audit_writes_total",
        false,
        "Audit events written to the log file.",
        Source::Audit(|a| a.written),
    ),
    family(
        "portcullis_audit_failures_total",
        false,
        "Failed writes or syncs of the audit log file.",
        Source::Audit(|a| a.write_errors),
    ),
    family(
        "portcullis_audit_dropped_total",
        false,
        "Audit events lost: queue full or log unwritable under fail_open.",
        Source::Audit(|a| a.lost),
    ),
    family(
        "portcullis_audit_refused_total",
        false,
        "Audit records refused under fail_closed (their requests got 503).",
        Source::Audit(|a| a.refused),
    ),
    family(
        "portcullis_audit_remote_sent_total",
        false,
        "Audit events delivered to remote sinks.",
        Source::Audit(|a| a.remote_sent),
    ),
    family(
        "portcullis_audit_remote_dropped_total",
        false,
        "Audit events remote sinks dropped.",
        Source::Audit(|a| a.remote_dropped),
    ),
    family(
        "portcullis_upstream_up",
        true,
        "1 while an upstream is usable: stdio by its process health, HTTP unless its last request failed to connect.",
        Source::Upstreams,
    ),
    family(
        "portcullis_policy_version_info",
        true,
        "1 for the version of the active Cedar policy set.",
        Source::PolicyVersion,
    ),
    family(
        "portcullis_jwks_refresh_failures_total",
        false,
        "Failed JWKS fetches by issuer.",
        Source::JwksFailures,
    ),
];

impl ScrapeState<'_> {
    /// Whether `family` exists in this state (the audit families only while
    /// the trail is enabled).
    pub fn has(&self, family: &Family) -> bool {
        !matches!(family.source, Source::Audit(_)) || self.audit.is_some()
    }

    /// Calls `sample` with each of `family`'s samples: labels and value.
    pub fn samples(&self, family: &Family, mut sample: impl FnMut(&[(&'static str, &str)], u64)) {
        match family.source {
            Source::AuthFailures => {
                for (reason, n) in &self.auth_failures {
                    sample(&[("reason", reason.as_str())], *n);
                }
            }
            Source::Audit(value) => {
                if let Some(audit) = &self.audit {
                    sample(&[], value(audit));
                }
            }
            Source::Upstreams => {
                for (name, up) in &self.upstreams {
                    sample(&[("upstream", name)], u64::from(*up));
                }
            }
            Source::PolicyVersion => {
                if let Some(version) = self.policy_version {
                    sample(&[("version", version)], 1);
                }
            }
            Source::JwksFailures => {
                for (issuer, n) in &self.jwks_failures {
                    sample(&[("issuer", issuer)], *n);
                }
            }
        }
    }
}

/// Appends the scrape-time families of `state` in the text format.
pub fn render(out: &mut String, state: &ScrapeState<'_>) {
    for family in FAMILIES.iter().filter(|f| state.has(f)) {
        let (name, kind) = (family.name, if family.gauge { "gauge" } else { "counter" });
        let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} {kind}", family.help);
        state.samples(family, |labels, value| sample(out, name, labels, value));
    }
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(key);
            out.push_str("=\"");
            escape_into(out, value);
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Label value escaping of the text format: backslash, double quote, newline.
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}
