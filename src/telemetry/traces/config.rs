//! The `tracing:` section: where spans go and how many are kept.
//!
//! Off by default (no section, no spans, no exporter thread). Read at start-up
//! only: a reload that changes it is logged and takes effect on restart.

use crate::config::ConfigError;
use crate::config::units::HumanDuration;
use crate::telemetry::otlp::{self, OtlpProtocol};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// `tracing:` as written.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTracing {
    /// The collector's URL. Over `http/protobuf`, its traces URL, e.g.
    /// `http://collector:4318/v1/traces` (a URL without a path gets
    /// `/v1/traces`); over `grpc`, scheme, host and port only, e.g.
    /// `http://collector:4317` (`https://` for TLS, checked against the
    /// system's root certificates).
    pub endpoint: String,
    /// `http/protobuf` (the default) or `grpc` (OTLP over gRPC).
    #[serde(default)]
    #[schemars(extend("enum" = ["http/protobuf", "grpc", null]))]
    pub protocol: Option<String>,
    /// Share of new traces recorded, from 0.0 to 1.0 (default 1.0). A request
    /// whose client sent a trace context follows the client's sampled flag.
    #[serde(default)]
    pub sampling_ratio: Option<f64>,
    /// `service.name` of the spans. Default `portcullis`.
    #[serde(default)]
    pub service_name: Option<String>,
    /// How long finished spans wait to be batched before export. Default `5s`.
    #[serde(default)]
    pub export_interval: Option<HumanDuration>,
    /// Time allowed for one export request. Default `10s`.
    #[serde(default)]
    pub export_timeout: Option<HumanDuration>,
}

/// `tracing:` compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct TracingSettings {
    /// The full traces URL (HTTP), or the collector's URL (gRPC).
    pub endpoint: String,
    /// How spans travel.
    pub protocol: OtlpProtocol,
    /// The sampling ratio for traces the gateway starts.
    pub sampling_ratio: f64,
    /// `service.name`.
    pub service_name: String,
    /// Batch delay.
    pub export_interval: Duration,
    /// Export request timeout.
    pub export_timeout: Duration,
}

impl RawTracing {
    /// Checks the section; errors name the option and what was expected.
    pub fn compile(&self, file: &Path) -> Result<TracingSettings, ConfigError> {
        let at = |path: &str, message: String| ConfigError::at(file, path, message);
        let (endpoint, protocol) = otlp::endpoint(
            file,
            "tracing",
            &self.endpoint,
            self.protocol.as_deref(),
            "/v1/traces",
        )?;
        let sampling_ratio = self.sampling_ratio.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&sampling_ratio) {
            return Err(at(
                "tracing.sampling_ratio",
                format!("{sampling_ratio} is not between 0.0 and 1.0"),
            ));
        }
        let service_name = self.service_name.clone().unwrap_or("portcullis".into());
        if service_name.is_empty() {
            return Err(at("tracing.service_name", "must not be empty".into()));
        }
        let positive = |d: Option<HumanDuration>, default: u64, path: &str| match d {
            None => Ok(Duration::from_secs(default)),
            Some(d) if d.0.is_zero() => Err(at(path, "must be longer than 0s".into())),
            Some(d) => Ok(d.0),
        };
        Ok(TracingSettings {
            endpoint,
            protocol,
            sampling_ratio,
            service_name,
            export_interval: positive(self.export_interval, 5, "tracing.export_interval")?,
            export_timeout: positive(self.export_timeout, 10, "tracing.export_timeout")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(yaml: &str) -> Result<TracingSettings, String> {
        let raw: RawTracing = serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())?;
        raw.compile(Path::new("p.yaml")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_bare_collector_url_gets_the_traces_path_and_defaults() {
        let s = compile("endpoint: http://collector:4318").unwrap();
        assert_eq!(s.endpoint, "http://collector:4318/v1/traces");
        assert_eq!(s.sampling_ratio, 1.0);
        assert_eq!(s.service_name, "portcullis");
        assert_eq!(s.export_interval, Duration::from_secs(5));
        assert_eq!(s.protocol, OtlpProtocol::HttpProtobuf);
        let s = compile("endpoint: https://c.example/otlp/v1/traces").unwrap();
        assert_eq!(s.endpoint, "https://c.example/otlp/v1/traces");
        let s = compile("endpoint: http://collector:4317\nprotocol: grpc").unwrap();
        assert_eq!(s.endpoint, "http://collector:4317");
        assert_eq!(s.protocol, OtlpProtocol::Grpc);
    }

    #[test]
    fn bad_values_are_refused_with_the_option_named() {
        for (yaml, path) in [
            ("endpoint: collector:4318", "tracing.endpoint"),
            (
                "endpoint: http://c:4318\nprotocol: http/json",
                "tracing.protocol",
            ),
            (
                "endpoint: http://c:4317/v1/traces\nprotocol: grpc",
                "tracing.endpoint",
            ),
            (
                "endpoint: http://c:4318\nsampling_ratio: 1.5",
                "tracing.sampling_ratio",
            ),
            (
                "endpoint: http://c:4318\nexport_interval: 0s",
                "tracing.export_interval",
            ),
        ] {
            let e = compile(yaml).unwrap_err();
            assert!(e.contains(path), "{yaml}: {e}");
        }
        assert!(compile("endpoint: http://c:4318\nsample: 1").is_err());
    }
}
