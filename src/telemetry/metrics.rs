//! Prometheus metrics, served as text (exposition format 0.0.4) on the admin
//! listener's `/metrics`. Every metric is listed in `docs/operations.md`; the
//! names are a contract with the dashboards and alert rules in `deploy/`.
//!
//! Two kinds of series:
//! - counted on the request path ([`Metrics::request`], [`Metrics::findings`],
//!   [`Metrics::rate_limited`], ...): atomic adds into the prometheus crate's
//!   vectors; a label set seen before costs a hash and a read lock, never an
//!   allocation;
//! - read at scrape time from counters other modules already keep (audit
//!   trail, authentication failures, upstream health, JWKS refreshes, the
//!   policy version): rendered by [`Metrics::render`] from a [`ScrapeState`]
//!   the admin listener gathers, so the request path pays nothing for them.
//!
//! The counted series can also be pushed over OTLP ([`super::otlp_metrics`]),
//! under the same names and labels.
//!
//! Invariant: cardinality is bounded. Label values come from fixed sets (MCP
//! method names, outcomes, verdicts, reasons) or from the configuration
//! (upstream names, rule ids, issuers); never from principals, session ids,
//! arguments or names a client sent.

use crate::audit::Verdict;
use crate::pipeline::scanning::{Inspection, Verdict as ScanVerdict};
use crate::telemetry::otlp_metrics::OtlpMetrics;
pub use crate::telemetry::scrape::ScrapeState;
use prometheus::core::Collector;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, TextEncoder};
use std::time::Duration;

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The MCP methods that get their own `method` label; any other is `other`.
const METHODS: &[&str] = &[
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "subscriptions/listen",
    "completion/complete",
    "logging/setLevel",
    "tasks/get",
    "tasks/list",
    "tasks/result",
    "tasks/cancel",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
];

/// Seconds buckets for whole requests and upstream calls: 0.5 ms to 30 s.
pub(super) const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Seconds buckets for the time the gateway adds: 25 µs to 1 s.
pub(super) const ADDED_BUCKETS: &[f64] = &[
    0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    1.0,
];

/// The help text of each counted series, shared with the OTLP descriptions.
pub(super) struct Help {
    pub requests: &'static str,
    pub request_duration: &'static str,
    pub upstream_duration: &'static str,
    pub gateway_added: &'static str,
    pub findings: &'static str,
    pub rate_limited: &'static str,
    pub config_reloads: &'static str,
}

pub(super) const HELP: Help = Help {
    requests: "MCP requests by method, upstream, outcome and audit verdict.",
    request_duration: "Time from a request's arrival to its response head.",
    upstream_duration: "Time waiting on an upstream: to the response head over HTTP, to the answer over stdio.",
    gateway_added: "Request time minus upstream time, for requests that reached an upstream.",
    findings: "Injection and secret findings by rule and action taken.",
    rate_limited: "Requests refused by a rate limit, by what the limit counts per.",
    config_reloads: "Configuration reloads by result.",
};

/// How a request ended, for the `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// The pipeline produced a response (the upstream's answer, or the gateway's own).
    Ok,
    /// Refused for the client's sake: admission, authentication, parsing,
    /// policy, the filter, a rate limit.
    ClientError,
    /// The upstream failed: unreachable, too slow, or an answer not forwarded.
    UpstreamError,
    /// The gateway itself could not serve (the audit trail refused).
    InternalError,
}

impl RequestOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestOutcome::Ok => "ok",
            RequestOutcome::ClientError => "client_error",
            RequestOutcome::UpstreamError => "upstream_error",
            RequestOutcome::InternalError => "internal_error",
        }
    }
}

/// What one request contributes to the request metrics.
#[derive(Debug, Clone, Copy)]
pub struct RequestSample<'a> {
    /// The JSON-RPC method, as the client sent it (mapped to a bounded label).
    pub method: Option<&'a str>,
    /// The configured name of the one upstream the request was routed to.
    pub upstream: Option<&'a str>,
    /// How it ended.
    pub outcome: RequestOutcome,
    /// The audit verdict.
    pub verdict: Verdict,
    /// Arrival to response head.
    pub total: Duration,
    /// Time spent waiting on upstreams, when the request reached one.
    pub upstream_time: Option<Duration>,
}

/// The metrics of one gateway process, kept across reloads.
#[derive(Debug)]
pub struct Metrics {
    requests: IntCounterVec,
    request_duration: HistogramVec,
    upstream_duration: HistogramVec,
    gateway_added: HistogramVec,
    findings: IntCounterVec,
    rate_limited: IntCounterVec,
    config_reloads: IntCounterVec,
    otlp: Option<OtlpMetrics>,
}

impl Metrics {
    /// Creates every metric. Fails only if a name or label is malformed (a bug
    /// caught by the unit tests).
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels)
        };
        let histogram = |name: &str, help: &str, label: &str, buckets: &[f64]| {
            HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                &[label],
            )
        };
        let metrics = Metrics {
            requests: counter(
                "portcullis_requests_total",
                HELP.requests,
                &["method", "upstream", "outcome", "decision"],
            )?,
            request_duration: histogram(
                "portcullis_request_duration_seconds",
                HELP.request_duration,
                "method",
                LATENCY_BUCKETS,
            )?,
            upstream_duration: histogram(
                "portcullis_upstream_duration_seconds",
                HELP.upstream_duration,
                "upstream",
                LATENCY_BUCKETS,
            )?,
            gateway_added: histogram(
                "portcullis_gateway_added_seconds",
                HELP.gateway_added,
                "method",
                ADDED_BUCKETS,
            )?,
            findings: counter(
                "portcullis_findings_total",
                HELP.findings,
                &["rule", "action"],
            )?,
            rate_limited: counter(
                "portcullis_rate_limited_total",
                HELP.rate_limited,
                &["scope"],
            )?,
            config_reloads: counter(
                "portcullis_config_reloads_total",
                HELP.config_reloads,
                &["result"],
            )?,
            otlp: None,
        };
        for result in ["success", "failure"] {
            metrics.config_reloads.with_label_values(&[result]);
        }
        Ok(metrics)
    }

    /// The same series also pushed over OTLP.
    pub fn with_otlp(mut self, otlp: OtlpMetrics) -> Metrics {
        self.otlp = Some(otlp);
        self
    }

    /// Exports the last OTLP metrics, if pushed, and stops their exporter.
    pub async fn shutdown(&self) {
        if let Some(otlp) = &self.otlp {
            otlp.shutdown().await;
        }
    }

    /// Counts one request (stage 9).
    pub fn request(&self, sample: &RequestSample<'_>) {
        let method = method_label(sample.method);
        let upstream = sample.upstream.unwrap_or("none");
        self.requests
            .with_label_values(&[
                method,
                upstream,
                sample.outcome.as_str(),
                verdict_label(sample.verdict),
            ])
            .inc();
        let total = sample.total.as_secs_f64();
        self.request_duration
            .with_label_values(&[method])
            .observe(total);
        let added = sample
            .upstream_time
            .map(|upstream_time| sample.total.saturating_sub(upstream_time).as_secs_f64());
        if let Some(added) = added {
            self.gateway_added
                .with_label_values(&[method])
                .observe(added);
        }
        if let Some(otlp) = &self.otlp {
            let labels = [
                method,
                sample.outcome.as_str(),
                verdict_label(sample.verdict),
            ];
            otlp.request(labels, upstream, total, added);
        }
    }

    /// Records the time one upstream took (`upstream` is a configured name).
    pub fn upstream_time(&self, upstream: &str, took: Duration) {
        self.upstream_duration
            .with_label_values(&[upstream])
            .observe(took.as_secs_f64());
        if let Some(otlp) = &self.otlp {
            otlp.upstream_time(upstream, took.as_secs_f64());
        }
    }

    /// Counts the findings of one inspected message, each under its rule id
    /// (from the configured packs, a normalisation signal, or `model`) and the
    /// action the message got: `flag`, `redact` or `block`.
    pub fn findings(&self, inspection: &Inspection) {
        if inspection.findings.is_empty() {
            return;
        }
        let action = match &inspection.verdict {
            ScanVerdict::Pass => "flag",
            ScanVerdict::Rewrite(_) => "redact",
            ScanVerdict::Block(_) => "block",
        };
        for finding in &inspection.findings {
            self.findings
                .with_label_values(&[&*finding.rule_id, action])
                .inc();
            if let Some(otlp) = &self.otlp {
                otlp.finding(&finding.rule_id, action);
            }
        }
    }

    /// Counts a rate-limit refusal; `scope` is what the rule counts per.
    pub fn rate_limited(&self, scope: &str) {
        self.rate_limited.with_label_values(&[scope]).inc();
        if let Some(otlp) = &self.otlp {
            otlp.rate_limited(scope);
        }
    }

    /// Counts a configuration reload.
    pub fn reload(&self, success: bool) {
        let result = if success { "success" } else { "failure" };
        self.config_reloads.with_label_values(&[result]).inc();
        if let Some(otlp) = &self.otlp {
            otlp.reload(result);
        }
    }

    /// The exposition text: the counted series, then those read from `state`.
    pub fn render(&self, state: &ScrapeState<'_>) -> String {
        let mut families = Vec::new();
        for collector in [
            &self.requests as &dyn Collector,
            &self.request_duration,
            &self.upstream_duration,
            &self.gateway_added,
            &self.findings,
            &self.rate_limited,
            &self.config_reloads,
        ] {
            // The encoder refuses a family without series (a vector no
            // label set was used on yet), and stops there: leave them out.
            families.extend(
                collector
                    .collect()
                    .into_iter()
                    .filter(|f| !f.get_metric().is_empty()),
            );
        }
        let mut buffer = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut buffer) {
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        let mut out = String::from_utf8(buffer).unwrap_or_default();
        super::scrape::render(&mut out, state);
        out
    }
}

/// The bounded `method` label of a JSON-RPC method.
pub fn method_label(method: Option<&str>) -> &'static str {
    match method {
        None => "none",
        Some(m) => METHODS
            .iter()
            .find(|known| **known == m)
            .map_or("other", |k| k),
    }
}

/// The `decision` label of an audit verdict.
pub fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Allowed => "allowed",
        Verdict::Denied => "denied",
        Verdict::Redacted => "redacted",
        Verdict::Flagged => "flagged",
        Verdict::ApprovalRequired => "approval_required",
        Verdict::Error => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditStats;
    use crate::authn::Reason;

    fn sample_request(method: &str) -> RequestSample<'_> {
        RequestSample {
            method: Some(method),
            upstream: Some("default"),
            outcome: RequestOutcome::Ok,
            verdict: Verdict::Allowed,
            total: Duration::from_millis(3),
            upstream_time: Some(Duration::from_millis(2)),
        }
    }

    #[test]
    fn every_metric_is_well_formed() {
        assert!(Metrics::new().is_ok());
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(Some("tools/call")), "tools/call");
        assert_eq!(method_label(Some("x/attacker-chosen-123")), "other");
        assert_eq!(method_label(None), "none");
    }

    #[test]
    fn a_request_is_counted_once_with_its_labels() {
        let metrics = Metrics::new().unwrap();
        metrics.request(&sample_request("tools/call"));
        metrics.request(&sample_request("evil/method"));
        let text = metrics.render(&ScrapeState::default());
        assert!(text.contains(
            "portcullis_requests_total{decision=\"allowed\",method=\"tools/call\",outcome=\"ok\",upstream=\"default\"} 1"
        ), "{text}");
        assert!(text.contains("method=\"other\""), "{text}");
        assert!(text.contains("portcullis_gateway_added_seconds_count{method=\"tools/call\"} 1"));
        assert!(text.contains("portcullis_config_reloads_total{result=\"failure\"} 0"));
    }

    #[test]
    fn a_family_without_series_does_not_hide_the_next_ones() {
        let metrics = Metrics::new().unwrap();
        metrics.rate_limited("principal");
        let text = metrics.render(&ScrapeState::default());
        assert!(
            text.contains("portcullis_rate_limited_total{scope=\"principal\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_config_reloads_total{result=\"success\"} 0"),
            "{text}"
        );
        assert!(!text.contains("portcullis_findings_total"), "{text}");
    }

    #[test]
    fn scrape_state_is_rendered_and_escaped() {
        let metrics = Metrics::new().unwrap();
        let state = ScrapeState {
            auth_failures: vec![(Reason::Expired, 2)],
            audit: Some(AuditStats {
                queued: 4,
                ..AuditStats::default()
            }),
            upstreams: vec![("a", true), ("b", false)],
            policy_version: Some("v1"),
            jwks_failures: vec![("https://idp/\"x\"", 3)],
        };
        let text = metrics.render(&state);
        for line in [
            "portcullis_auth_rejections_total{reason=\"expired\"} 2",
            "portcullis_audit_queue_depth 4",
            "portcullis_upstream_up{upstream=\"b\"} 0",
            "portcullis_policy_version_info{version=\"v1\"} 1",
            "portcullis_jwks_refresh_failures_total{issuer=\"https://idp/\\\"x\\\"\"} 3",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
    }
}
