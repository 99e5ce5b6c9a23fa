//! Structured logs and Prometheus metrics ([`metrics`]).
//!
//! Logs: JSON lines (or human-readable text) on stderr, filtered by a `tracing`
//! directive from the configuration or `RUST_LOG`. Stdout stays free for
//! command output.
//!
//! Traces (OpenTelemetry spans over OTLP) live in [`traces`]; the metrics can
//! also be pushed over OTLP ([`otlp_metrics`]); both over HTTP/protobuf or
//! gRPC ([`otlp`]).
//!
//! Lines are batched (see [`batch`]): a request appends its line to a memory
//! buffer and a flusher writes the buffer every few milliseconds, so the request
//! path never pays a write syscall per line. Keep the returned guard alive until
//! exit; dropping it flushes what is buffered.

pub mod batch;
pub mod metrics;
pub mod otlp;
pub mod otlp_metrics;
pub mod otlp_scrape;
pub mod scrape;
pub mod traces;

use batch::{BatchWriter, FlushGuard};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Fails if the filter is invalid. When a
/// subscriber is already installed (tests start several gateways in one
/// process) this is a no-op and returns no guard.
pub fn init(json: bool, filter: &str) -> Result<Option<FlushGuard>, String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => EnvFilter::try_new(env),
        _ => EnvFilter::try_new(filter),
    }
    .map_err(|e| format!("invalid log filter `{filter}`: {e}"))?;
    let (writer, guard) = BatchWriter::stderr();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().try_init()
    };
    Ok(installed.is_ok().then_some(guard))
}
