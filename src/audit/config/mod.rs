//! Audit configuration: [`RawAuditConfig`] as written under `audit:` in
//! `portcullis.yaml`, compiled once into [`AuditConfig`].
//!
//! Safe defaults: **fail closed** (a request whose event cannot be queued or
//! written is refused with 503), fsync group commit every 5 ms, arguments
//! recorded as a digest only, checkpoints every 10 s. Every option that loosens
//! one of these says so in its doc.
//!
//! Invariant: once [`compile`] returns, the signing key is loaded, every path
//! is absolute, every bound is positive: starting the writer can only fail on
//! the file system.

mod compile;
pub mod raw;

pub use compile::{compile, compile_section, from_yaml};
pub use raw::*;

use super::checkpoint::CheckpointKey;
use super::prepare::ArgumentPolicy;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// When an event is durable enough to acknowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// fdatasync after each batch, before acknowledging its events.
    Always,
    /// fdatasync at most this long after an event is written.
    Every(Duration),
    /// Never fdatasync (except at rotation and shutdown).
    Never,
}

/// What to do when the primary sink fails or the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    /// Refuse: [`super::Auditor::record`] returns an error.
    Closed,
    /// Continue: count and log lost events.
    Open,
}

/// The compiled audit configuration.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Failure handling.
    pub on_failure: FailureMode,
    /// Queue bound.
    pub queue_capacity: usize,
    /// Durability.
    pub fsync: FsyncPolicy,
    /// Rendering.
    pub format: super::chain::Format,
    /// This gateway's name.
    pub gateway_name: String,
    /// Segment files.
    pub file: FileSettings,
    /// Checkpoints.
    pub checkpoint: CheckpointSettings,
    /// Argument policy.
    pub arguments: ArgumentPolicy,
    /// Mirror to stdout.
    pub stdout: bool,
    /// Syslog sink.
    pub syslog: Option<SyslogSettings>,
    /// OTLP sink.
    pub otlp: Option<OtlpSettings>,
}

/// Segment files.
#[derive(Debug, Clone)]
pub struct FileSettings {
    /// Folder.
    pub directory: PathBuf,
    /// File name prefix.
    pub prefix: String,
    /// Rotation size, bytes.
    pub rotate_size: u64,
    /// Rotation age.
    pub rotate_interval: Duration,
}

/// Checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointSettings {
    /// Time between checkpoints.
    pub interval: Duration,
    /// Events between checkpoints.
    pub every_events: u64,
    /// The signing key, if any.
    pub key: Option<CheckpointKey>,
    /// The separate checkpoint file.
    pub file: PathBuf,
}

/// Syslog sink.
#[derive(Debug, Clone)]
pub struct SyslogSettings {
    /// Receiver address.
    pub address: SocketAddr,
    /// TLS client configuration and server name, if TLS.
    pub tls: Option<(
        std::sync::Arc<rustls::ClientConfig>,
        rustls_pki_types::ServerName<'static>,
    )>,
    /// Facility.
    pub facility: u8,
    /// APP-NAME.
    pub app_name: String,
    /// Buffer bound.
    pub queue_capacity: usize,
}

/// OTLP sink.
#[derive(Debug, Clone)]
pub struct OtlpSettings {
    /// Endpoint (http only).
    pub endpoint: http::Uri,
    /// Extra headers.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Buffer bound.
    pub queue_capacity: usize,
    /// Records per request.
    pub batch: usize,
    /// Request timeout.
    pub timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::prepare::ArgumentMode;
    use std::path::Path;

    #[test]
    fn a_minimal_audit_section_fails_closed_with_group_commit() {
        let c = from_yaml(
            "file:\n  directory: logs\n",
            Path::new("/etc/p/portcullis.yaml"),
        )
        .unwrap();
        assert_eq!(c.on_failure, FailureMode::Closed);
        assert_eq!(c.fsync, FsyncPolicy::Every(Duration::from_millis(5)));
        assert_eq!(c.file.directory, Path::new("/etc/p/logs"));
        assert_eq!(
            c.checkpoint.file,
            Path::new("/etc/p/logs/audit-checkpoints.jsonl")
        );
        assert_eq!(c.arguments.default, ArgumentMode::Digest);
        assert!(c.checkpoint.key.is_none());
    }

    #[test]
    fn a_bad_fsync_value_names_its_path_and_the_choices() {
        let err = from_yaml(
            "fsync: sometimes\nfile:\n  directory: x\n",
            Path::new("p.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("audit.fsync"), "{err}");
        assert!(err.contains("`always`, `none`"), "{err}");
    }

    #[test]
    fn an_unknown_field_is_refused() {
        let err = from_yaml("file:\n  directory: x\n  rotate: 1h\n", Path::new("p.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `rotate`"), "{err}");
        let err = from_yaml(
            "on_failure: maybe\nfile:\n  directory: x\n",
            Path::new("p.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("fail_closed"), "{err}");
    }

    #[test]
    fn a_bad_redact_path_is_located() {
        let text = "file:\n  directory: x\narguments:\n  tools:\n    read:\n      record: redacted\n      redact: [\"a..b\"]\n";
        let err = from_yaml(text, Path::new("p.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("audit.arguments.tools.read.redact[0]"),
            "{err}"
        );
    }
}
