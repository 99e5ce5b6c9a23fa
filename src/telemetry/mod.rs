//! Structured logs: JSON lines (or human-readable text) on stderr, filtered by a
//! `tracing` directive from the configuration or `RUST_LOG`. Stdout stays free for
//! command output.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Fails if the filter is invalid; a second call
/// is a no-op (tests start several gateways in one process).
pub fn init(json: bool, filter: &str) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => EnvFilter::try_new(env),
        _ => EnvFilter::try_new(filter),
    }
    .map_err(|e| format!("invalid log filter `{filter}`: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().try_init()
    };
    Ok(())
}
