//! The request-path metrics pushed over OTLP (HTTP/protobuf or gRPC, see
//! [`super::otlp`]), for collectors that do not scrape: the `metrics.otlp`
//! section.
//!
//! The series are the ones [`super::metrics::Metrics`] counts on the request
//! path, with the same names, labels (as attributes) and bucket bounds, so a
//! dashboard reads the same numbers whichever way they travel; the scrape-time
//! series (auth rejections, audit, upstream health, policy version, JWKS) join
//! them as observable instruments ([`super::otlp_scrape`]), read at each
//! export. Cardinality is bounded as there:
//! every attribute value comes from a fixed set or from the configuration.
//!
//! [`OtlpMetrics`] owns one meter provider per running gateway (not the global
//! one: tests run several gateways in one process). Recording is an in-memory
//! aggregation; a periodic reader exports cumulative sums from the SDK's own
//! thread, so a slow or absent collector never delays a request. Off by
//! default; read at start-up only.

use super::metrics::{ADDED_BUCKETS, HELP, LATENCY_BUCKETS};
use crate::config::ConfigError;
use crate::config::units::HumanDuration;
use crate::telemetry::otlp::{self, ExportRuntime, OtlpProtocol};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// `metrics:` as written.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Push the request metrics to an OpenTelemetry collector over OTLP,
    /// besides serving them on the admin listener's `/metrics`. Absent: no push.
    #[serde(default)]
    pub otlp: Option<RawOtlpMetrics>,
}

/// `metrics.otlp:` as written.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOtlpMetrics {
    /// The collector's URL. Over `http/protobuf`, its metrics URL, e.g.
    /// `http://collector:4318/v1/metrics` (a URL without a path gets
    /// `/v1/metrics`); over `grpc`, scheme, host and port only, e.g.
    /// `http://collector:4317` (`https://` for TLS, checked against the
    /// system's root certificates).
    pub endpoint: String,
    /// `http/protobuf` (the default) or `grpc` (OTLP over gRPC).
    #[serde(default)]
    #[schemars(extend("enum" = ["http/protobuf", "grpc", null]))]
    pub protocol: Option<String>,
    /// `service.name` of the metrics. Default `portcullis`.
    #[serde(default)]
    pub service_name: Option<String>,
    /// How often the metrics are pushed. Default `60s`.
    #[serde(default)]
    pub export_interval: Option<HumanDuration>,
    /// Time allowed for one export request. Default `10s`.
    #[serde(default)]
    pub export_timeout: Option<HumanDuration>,
}

/// `metrics.otlp:` compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpMetricsSettings {
    /// The full metrics URL (HTTP), or the collector's URL (gRPC).
    pub endpoint: String,
    /// How the metrics travel.
    pub protocol: OtlpProtocol,
    /// `service.name`.
    pub service_name: String,
    /// Push period.
    pub export_interval: Duration,
    /// Export request timeout.
    pub export_timeout: Duration,
}

impl RawMetrics {
    /// Checks the section; errors name the option and what was expected.
    pub fn compile(&self, file: &Path) -> Result<Option<OtlpMetricsSettings>, ConfigError> {
        let Some(otlp) = &self.otlp else {
            return Ok(None);
        };
        let at = |path: &str, message: String| ConfigError::at(file, path, message);
        let (endpoint, protocol) = otlp::endpoint(
            file,
            "metrics.otlp",
            &otlp.endpoint,
            otlp.protocol.as_deref(),
            "/v1/metrics",
        )?;
        let service_name = otlp.service_name.clone().unwrap_or("portcullis".into());
        if service_name.is_empty() {
            return Err(at("metrics.otlp.service_name", "must not be empty".into()));
        }
        let positive = |d: Option<HumanDuration>, default: u64, path: &str| match d {
            None => Ok(Duration::from_secs(default)),
            Some(d) if d.0.is_zero() => Err(at(path, "must be longer than 0s".into())),
            Some(d) => Ok(d.0),
        };
        Ok(Some(OtlpMetricsSettings {
            endpoint,
            protocol,
            service_name,
            export_interval: positive(otlp.export_interval, 60, "metrics.otlp.export_interval")?,
            export_timeout: positive(otlp.export_timeout, 10, "metrics.otlp.export_timeout")?,
        }))
    }
}

/// Why the metrics exporter could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the OTLP metrics exporter: {0}")]
pub struct OtlpMetricsError(String);

/// The OTLP instruments of one running gateway, mirroring the counted series
/// of `/metrics`.
pub struct OtlpMetrics {
    provider: SdkMeterProvider,
    requests: Counter<u64>,
    request_duration: Histogram<f64>,
    upstream_duration: Histogram<f64>,
    gateway_added: Histogram<f64>,
    findings: Counter<u64>,
    rate_limited: Counter<u64>,
    config_reloads: Counter<u64>,
    /// Last, so that it outlives the provider (dropped first).
    _runtime: ExportRuntime,
}

impl std::fmt::Debug for OtlpMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpMetrics").finish_non_exhaustive()
    }
}

impl OtlpMetrics {
    /// Builds the exporter, the periodic reader and the instruments. Fails when
    /// the exporter cannot be built (its HTTP client; for gRPC its runtime, or
    /// for an https:// endpoint no system root certificate found); an
    /// unreachable collector is not an error here, its exports fail and the
    /// SDK logs why.
    pub fn start(settings: &OtlpMetricsSettings) -> Result<OtlpMetrics, OtlpMetricsError> {
        let runtime = ExportRuntime::for_protocol(settings.protocol, "portcullis-otlp-metrics")
            .map_err(|e| OtlpMetricsError(e.to_string()))?;
        let builder = opentelemetry_otlp::MetricExporter::builder();
        let exporter = match settings.protocol {
            OtlpProtocol::HttpProtobuf => builder
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(settings.endpoint.clone())
                .with_timeout(settings.export_timeout)
                .build(),
            OtlpProtocol::Grpc => {
                let _inside = runtime.enter();
                let grpc = builder
                    .with_tonic()
                    .with_endpoint(settings.endpoint.clone())
                    .with_timeout(settings.export_timeout);
                otlp::with_tls(grpc, &settings.endpoint).build()
            }
        }
        .map_err(|e| OtlpMetricsError(e.to_string()))?;
        let reader = PeriodicReader::builder(exporter)
            .with_interval(settings.export_interval)
            .build();
        let provider = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(
                Resource::builder()
                    .with_service_name(settings.service_name.clone())
                    .build(),
            )
            .build();
        let meter = provider.meter("portcullis");
        Ok(OtlpMetrics::instruments(provider, runtime, &meter))
    }

    fn instruments(
        provider: SdkMeterProvider,
        runtime: ExportRuntime,
        meter: &Meter,
    ) -> OtlpMetrics {
        let counter = |name: &'static str, help: &'static str| {
            meter.u64_counter(name).with_description(help).build()
        };
        let seconds = |name: &'static str, help: &'static str, bounds: &[f64]| {
            meter
                .f64_histogram(name)
                .with_description(help)
                .with_unit("s")
                .with_boundaries(bounds.to_vec())
                .build()
        };
        OtlpMetrics {
            requests: counter("portcullis_requests_total", HELP.requests),
            request_duration: seconds(
                "portcullis_request_duration_seconds",
                HELP.request_duration,
                LATENCY_BUCKETS,
            ),
            upstream_duration: seconds(
                "portcullis_upstream_duration_seconds",
                HELP.upstream_duration,
                LATENCY_BUCKETS,
            ),
            gateway_added: seconds(
                "portcullis_gateway_added_seconds",
                HELP.gateway_added,
                ADDED_BUCKETS,
            ),
            findings: counter("portcullis_findings_total", HELP.findings),
            rate_limited: counter("portcullis_rate_limited_total", HELP.rate_limited),
            config_reloads: counter("portcullis_config_reloads_total", HELP.config_reloads),
            provider,
            _runtime: runtime,
        }
    }

    /// The meter of these instruments (the scrape-time series join it, see
    /// [`super::otlp_scrape`]).
    pub fn meter(&self) -> Meter {
        self.provider.meter("portcullis")
    }

    /// Counts one request; the attributes are the `/metrics` labels.
    pub(super) fn request(
        &self,
        [method, outcome, decision]: [&'static str; 3],
        upstream: &str,
        total: f64,
        added: Option<f64>,
    ) {
        let method = KeyValue::new("method", method);
        self.requests.add(
            1,
            &[
                method.clone(),
                KeyValue::new("upstream", upstream.to_owned()),
                KeyValue::new("outcome", outcome),
                KeyValue::new("decision", decision),
            ],
        );
        self.request_duration
            .record(total, std::slice::from_ref(&method));
        if let Some(added) = added {
            self.gateway_added.record(added, &[method]);
        }
    }

    /// Records the time one upstream took.
    pub(super) fn upstream_time(&self, upstream: &str, seconds: f64) {
        self.upstream_duration
            .record(seconds, &[KeyValue::new("upstream", upstream.to_owned())]);
    }

    /// Counts one finding under its rule and action.
    pub(super) fn finding(&self, rule: &str, action: &'static str) {
        self.findings.add(
            1,
            &[
                KeyValue::new("rule", rule.to_owned()),
                KeyValue::new("action", action),
            ],
        );
    }

    /// Counts a rate-limit refusal.
    pub(super) fn rate_limited(&self, scope: &str) {
        self.rate_limited
            .add(1, &[KeyValue::new("scope", scope.to_owned())]);
    }

    /// Counts a configuration reload.
    pub(super) fn reload(&self, result: &'static str) {
        self.config_reloads
            .add(1, &[KeyValue::new("result", result)]);
    }

    /// Exports what was recorded and stops the reader's thread. The SDK's
    /// shutdown blocks, so it runs off the async workers.
    pub async fn shutdown(&self) {
        let provider = self.provider.clone();
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "metrics exporter shutdown");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(yaml: &str) -> Result<Option<OtlpMetricsSettings>, String> {
        let raw: RawMetrics = serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())?;
        raw.compile(Path::new("p.yaml")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_bare_collector_url_gets_the_metrics_path_and_defaults() {
        let s = compile("otlp: { endpoint: http://collector:4318 }")
            .unwrap()
            .unwrap();
        assert_eq!(s.endpoint, "http://collector:4318/v1/metrics");
        assert_eq!(s.service_name, "portcullis");
        assert_eq!(s.export_interval, Duration::from_secs(60));
        assert_eq!(s.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(compile("{}").unwrap(), None);
        let s = compile("otlp: { endpoint: https://c:4317, protocol: grpc }")
            .unwrap()
            .unwrap();
        assert_eq!(s.endpoint, "https://c:4317");
        assert_eq!(s.protocol, OtlpProtocol::Grpc);
    }

    #[test]
    fn bad_values_are_refused_with_the_option_named() {
        for (yaml, path) in [
            (
                "otlp: { endpoint: collector:4318 }",
                "metrics.otlp.endpoint",
            ),
            (
                "otlp: { endpoint: http://c:4318, protocol: http/json }",
                "metrics.otlp.protocol",
            ),
            (
                "otlp: { endpoint: http://c:4317/v1/metrics, protocol: grpc }",
                "metrics.otlp.endpoint",
            ),
            (
                "otlp: { endpoint: http://c:4318, export_interval: 0s }",
                "metrics.otlp.export_interval",
            ),
        ] {
            let e = compile(yaml).unwrap_err();
            assert!(e.contains(path), "{yaml}: {e}");
        }
        assert!(compile("otlp: { endpoint: http://c:4318, every: 1s }").is_err());
    }
}
