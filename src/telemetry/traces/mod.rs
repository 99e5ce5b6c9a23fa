//! Traces: one OpenTelemetry span per MCP request, exported over OTLP
//! (HTTP/protobuf or gRPC, see [`crate::telemetry::otlp`]).
//!
//! [`Traces`] owns one tracer provider per running gateway (not a global one:
//! tests run several gateways in one process, and a reload never swaps it).
//! Spans are batched by the SDK and exported from the SDK's own thread, so the
//! request path only records timestamps and attributes; when the collector is
//! slow or down, the SDK's bounded queue drops spans rather than delaying
//! requests.
//!
//! The per-request part is [`RequestSpans`]: see its module for how spans are
//! parented and how the trace context reaches the upstream.

pub mod config;
pub mod request;

pub use config::{RawTracing, TracingSettings};
pub use request::{RequestSpans, Stage};

use crate::telemetry::otlp::{self, ExportRuntime, OtlpProtocol};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider,
};
use std::time::{Instant, SystemTime};

/// Why traces could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the OTLP trace exporter: {0}")]
pub struct TracesError(String);

/// The trace pipeline of one running gateway.
pub struct Traces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    /// Last, so that it outlives the provider (dropped first).
    _runtime: ExportRuntime,
}

impl std::fmt::Debug for Traces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traces").finish_non_exhaustive()
    }
}

impl Traces {
    /// Builds the exporter and the batching provider. Fails when the exporter
    /// cannot be built (its HTTP client; for gRPC its runtime, or for an
    /// https:// endpoint no system root certificate found); an unreachable
    /// collector is not an error here, its spans are dropped and the SDK logs
    /// why.
    pub fn start(settings: &TracingSettings) -> Result<Traces, TracesError> {
        let runtime = ExportRuntime::for_protocol(settings.protocol, "portcullis-otlp-traces")
            .map_err(|e| TracesError(e.to_string()))?;
        let builder = opentelemetry_otlp::SpanExporter::builder();
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
        .map_err(|e| TracesError(e.to_string()))?;
        let batch = BatchConfigBuilder::default()
            .with_scheduled_delay(settings.export_interval)
            .build();
        let processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(batch)
            .build();
        // A client's sampled flag is followed (its trace is recorded or not as
        // a whole); the ratio applies to the traces the gateway starts.
        let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            settings.sampling_ratio,
        )));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(sampler)
            .with_resource(
                Resource::builder()
                    .with_service_name(settings.service_name.clone())
                    .build(),
            )
            .build();
        let tracer = provider.tracer("portcullis");
        Ok(Traces {
            provider,
            tracer,
            _runtime: runtime,
        })
    }

    /// A recorder for a request whose head arrived at `started`/`arrived`.
    pub fn request(&self, started: Instant, arrived: SystemTime) -> RequestSpans {
        RequestSpans::new(self.tracer.clone(), started, arrived)
    }

    /// Exports what is queued and stops the exporter thread. The SDK's
    /// shutdown blocks, so it runs off the async workers.
    pub async fn shutdown(&self) {
        let provider = self.provider.clone();
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "trace exporter shutdown");
        }
    }
}
