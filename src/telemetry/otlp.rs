//! What the two OTLP exporters (traces, `metrics.otlp`) share: the transport a
//! section names (`protocol`), the checks on its endpoint, and the runtime the
//! gRPC exporter's I/O runs on.
//!
//! Both exporters are driven by the SDK's own thread (the batch span processor,
//! the periodic reader), which awaits each export with a plain `block_on`:
//! nothing runs on the gateway's async workers. Over HTTP/protobuf that thread
//! uses a blocking client. Over gRPC, tonic needs a tokio runtime: its lazy
//! channel spawns the connection's task when it is built, and an export only
//! hands the request to that task and waits for the answer. So a gRPC exporter
//! is built inside an [`ExportRuntime`] of its own (one worker thread), apart
//! from the request workers, so that a slow collector never takes their time;
//! the runtime lives as long as the exporter and stops with it.

use crate::config::ConfigError;
use opentelemetry_otlp::WithTonicConfig;
use std::path::Path;

/// The transport of one OTLP exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `http/protobuf`: protobuf bodies POSTed to `/v1/traces` or `/v1/metrics`
    /// (collectors listen on 4318). The default.
    HttpProtobuf,
    /// `grpc`: the OTLP `TraceService`/`MetricsService` over HTTP/2 (port 4317).
    Grpc,
}

/// The values `protocol:` accepts, for the schema and the error message.
pub const PROTOCOLS: [&str; 2] = ["http/protobuf", "grpc"];

/// Checks one exporter's `endpoint` and `protocol` (at `section`, e.g.
/// `tracing`) and returns the URL to export to with its transport. Over
/// HTTP/protobuf a URL without a path gets `default_path` (`/v1/traces`); over
/// gRPC the path is the service's, so a URL with a path is refused.
pub(crate) fn endpoint(
    file: &Path,
    section: &str,
    raw: &str,
    protocol: Option<&str>,
    default_path: &str,
) -> Result<(String, OtlpProtocol), ConfigError> {
    let at = |option: &str, message: String| {
        ConfigError::at(file, &format!("{section}.{option}"), message)
    };
    let protocol = match protocol {
        None | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
        Some("grpc") => OtlpProtocol::Grpc,
        Some(other) => {
            return Err(at(
                "protocol",
                format!("`{other}` is not supported; use one of {PROTOCOLS:?}"),
            ));
        }
    };
    let uri: http::Uri = raw
        .parse()
        .map_err(|e| at("endpoint", format!("`{raw}` is not a URL: {e}")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(at(
            "endpoint",
            format!("`{raw}`: expected an http:// or https:// URL with a host"),
        ));
    }
    let bare = matches!(uri.path(), "" | "/") && uri.query().is_none();
    let url = match protocol {
        OtlpProtocol::HttpProtobuf if bare => {
            format!("{}{default_path}", raw.trim_end_matches('/'))
        }
        OtlpProtocol::HttpProtobuf => raw.to_owned(),
        OtlpProtocol::Grpc if bare => raw.trim_end_matches('/').to_owned(),
        OtlpProtocol::Grpc => {
            return Err(at(
                "endpoint",
                format!(
                    "`{raw}`: a gRPC endpoint is scheme, host and port only \
                     (e.g. http://collector:4317); the path is the OTLP service's"
                ),
            ));
        }
    };
    Ok((url, protocol))
}

/// The tokio runtime a gRPC exporter runs on; none for HTTP/protobuf. Keep it
/// alive as long as the exporter: once dropped, exports fail (and are logged)
/// instead of being sent.
#[derive(Debug)]
pub struct ExportRuntime(Option<tokio::runtime::Runtime>);

impl ExportRuntime {
    /// A one-worker runtime named `thread` for gRPC, nothing for HTTP. Fails
    /// only when the operating system refuses the thread.
    pub fn for_protocol(protocol: OtlpProtocol, thread: &str) -> std::io::Result<ExportRuntime> {
        match protocol {
            OtlpProtocol::HttpProtobuf => Ok(ExportRuntime(None)),
            OtlpProtocol::Grpc => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name(thread)
                .enable_all()
                .build()
                .map(|runtime| ExportRuntime(Some(runtime))),
        }
    }

    /// Enters the runtime (if any), so that what is built while the guard
    /// lives (tonic's channel) spawns its tasks there.
    pub fn enter(&self) -> Option<tokio::runtime::EnterGuard<'_>> {
        self.0.as_ref().map(tokio::runtime::Runtime::enter)
    }
}

/// TLS for an `https://` gRPC endpoint: the system's root certificates (as
/// for JWKS), rustls on aws-lc-rs. An `http://` endpoint is left as it is, so
/// no root store is loaded for nothing.
pub(crate) fn with_tls<B: WithTonicConfig>(builder: B, endpoint: &str) -> B {
    if endpoint.starts_with("https://") {
        builder.with_tls_config(tonic::transport::ClientTlsConfig::new().with_native_roots())
    } else {
        builder
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        // Dropping a runtime blocks and is refused on an async worker, where
        // the gateway drops its telemetry; the exporter is shut down by then.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_otlp::WithExportConfig;

    fn check(raw: &str, protocol: Option<&str>) -> Result<(String, OtlpProtocol), String> {
        endpoint(Path::new("p.yaml"), "tracing", raw, protocol, "/v1/traces")
            .map_err(|e| e.to_string())
    }

    #[test]
    fn http_gets_the_signal_path_and_grpc_keeps_the_bare_url() {
        assert_eq!(
            check("http://c:4318/", None).unwrap(),
            ("http://c:4318/v1/traces".into(), OtlpProtocol::HttpProtobuf)
        );
        assert_eq!(
            check("https://c:4317/", Some("grpc")).unwrap(),
            ("https://c:4317".into(), OtlpProtocol::Grpc)
        );
    }

    #[test]
    fn a_grpc_exporter_builds_inside_its_own_runtime_outside_any_other() {
        // The SDK's export thread is not a tokio thread: building the lazy
        // channel must not need the caller's runtime, only the export one.
        let url = "http://127.0.0.1:4317";
        let runtime = ExportRuntime::for_protocol(OtlpProtocol::Grpc, "t").unwrap();
        let _inside = runtime.enter();
        let grpc = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(url);
        assert!(with_tls(grpc, url).build().is_ok());
        assert!(
            ExportRuntime::for_protocol(OtlpProtocol::HttpProtobuf, "t")
                .unwrap()
                .enter()
                .is_none()
        );
    }

    #[test]
    fn a_grpc_endpoint_with_a_path_or_another_scheme_is_refused_naming_the_option() {
        for (raw, protocol, message) in [
            ("http://c:4317/v1/traces", "grpc", "gRPC endpoint"),
            ("grpc://c:4317", "grpc", "http:// or https://"),
            ("http://c:4317", "http/json", "not supported"),
        ] {
            let e = check(raw, Some(protocol)).unwrap_err();
            assert!(e.contains("p.yaml") && e.contains("tracing."), "{e}");
            assert!(e.contains(message), "{raw} {protocol}: {e}");
        }
    }
}
