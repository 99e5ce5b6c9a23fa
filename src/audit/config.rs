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

use super::checkpoint::CheckpointKey;
use super::prepare::{ArgumentMode, ArgumentPolicy};
use super::redact::ArgPath;
use crate::config::ConfigError;
use crate::config::units::{ByteSize, HumanDuration};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `audit:` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuditConfig {
    /// What happens when an event cannot be queued or written:
    /// `fail_closed` (default: the request is refused with 503) or `fail_open`
    /// (**permissive**: requests continue, lost events are counted and logged).
    #[serde(default)]
    pub on_failure: Option<RawFailureMode>,
    /// Events held between the request path and the writer. Default 65536.
    #[serde(default)]
    pub queue_capacity: Option<usize>,
    /// `always` (fdatasync before an event is acknowledged), a group-commit
    /// interval such as `5ms` (default), or `none` (**permissive**: the OS decides
    /// when data reaches the disk; a power loss can lose seconds of events).
    #[serde(default)]
    pub fsync: Option<String>,
    /// `ocsf` (default) or `ecs`.
    #[serde(default)]
    pub format: Option<RawFormat>,
    /// This gateway's name in events. Default: the host name.
    #[serde(default)]
    pub gateway_name: Option<String>,
    /// The primary sink: append-only segment files.
    pub file: RawFileSink,
    /// Signed checkpoints.
    #[serde(default)]
    pub checkpoint: RawCheckpoint,
    /// Whether call arguments are recorded.
    #[serde(default)]
    pub arguments: RawArguments,
    /// Also write every event to standard output. Default false.
    #[serde(default)]
    pub stdout: bool,
    /// Also send every event to a syslog receiver (RFC 5424, octet counting).
    #[serde(default)]
    pub syslog: Option<RawSyslog>,
    /// Also send every event as an OTLP log record over HTTP (protobuf).
    #[serde(default)]
    pub otlp: Option<RawOtlp>,
}

/// `on_failure` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawFailureMode {
    /// Refuse the request (503).
    FailClosed,
    /// Let the request through; count the lost event.
    FailOpen,
}

/// `format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawFormat {
    /// OCSF 1.9.0-dev.
    Ocsf,
    /// Elastic Common Schema.
    Ecs,
}

/// `audit.file`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFileSink {
    /// Folder for the segment files (created if missing).
    pub directory: PathBuf,
    /// File name prefix: segments are `<prefix>-<start>-<id>.jsonl`. Default `audit`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Start a new segment past this size. Default `256MiB`.
    #[serde(default)]
    pub rotate_size: Option<ByteSize>,
    /// Start a new segment after this long. Default `1h`.
    #[serde(default)]
    pub rotate_interval: Option<HumanDuration>,
}

/// `audit.checkpoint`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheckpoint {
    /// Time between checkpoints (when events were written). Default `10s`.
    #[serde(default)]
    pub interval: Option<HumanDuration>,
    /// Also checkpoint after this many events. Default 10000.
    #[serde(default)]
    pub every_events: Option<u64>,
    /// Ed25519 private key, PKCS#8 PEM (`openssl genpkey -algorithm ed25519`).
    /// Absent: checkpoints are **unsigned** (the hash chain still detects edits,
    /// but anyone who can rewrite the whole log can forge it).
    #[serde(default)]
    pub signing_key: Option<PathBuf>,
    /// The separate checkpoint file. Default `<directory>/<prefix>-checkpoints.jsonl`.
    /// Put it on other storage (or ship it elsewhere) for it to be worth much.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// `audit.arguments`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArguments {
    /// `digest` (default: only the SHA-256 of the arguments) or `redacted`
    /// (the arguments, with `redact` paths and credentials removed).
    #[serde(default)]
    pub record: Option<RawArgumentMode>,
    /// Argument paths to redact for every tool, e.g. `password`, `db.dsn`, `items.*.key`.
    #[serde(default)]
    pub redact: Vec<String>,
    /// Per tool (or prompt) name: its own mode and extra paths.
    #[serde(default)]
    pub tools: BTreeMap<String, RawToolArguments>,
}

/// `digest` or `redacted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawArgumentMode {
    /// Only the digest.
    Digest,
    /// The redacted arguments and the digest.
    Redacted,
}

/// `audit.arguments.tools.<name>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToolArguments {
    /// This tool's mode.
    pub record: RawArgumentMode,
    /// Extra paths to redact for this tool.
    #[serde(default)]
    pub redact: Vec<String>,
}

/// `audit.syslog`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSyslog {
    /// The receiver, `ip:port`.
    pub address: String,
    /// TLS (RFC 5425). Absent: plain TCP (**permissive**: events cross the network
    /// in clear; use it on loopback or a trusted segment only).
    #[serde(default)]
    pub tls: Option<RawSyslogTls>,
    /// Facility number 0-23. Default 13 (log audit).
    #[serde(default)]
    pub facility: Option<u8>,
    /// APP-NAME. Default `portcullis`.
    #[serde(default)]
    pub app_name: Option<String>,
    /// Events buffered while the receiver is slow or away; beyond, dropped and
    /// counted. Default 10000.
    #[serde(default)]
    pub queue_capacity: Option<usize>,
}

/// `audit.syslog.tls`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSyslogTls {
    /// PEM file of the CA certificates that sign the receiver's certificate.
    pub ca: PathBuf,
    /// The name in the receiver's certificate. Default: the address's IP.
    #[serde(default)]
    pub server_name: Option<String>,
}

/// `audit.otlp`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOtlp {
    /// The collector's logs endpoint, e.g. `http://127.0.0.1:4318/v1/logs`.
    pub endpoint: String,
    /// Extra request headers (e.g. an API key for the collector).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Events buffered; beyond, dropped and counted. Default 10000.
    #[serde(default)]
    pub queue_capacity: Option<usize>,
    /// Most log records per request. Default 512.
    #[serde(default)]
    pub batch: Option<usize>,
    /// Time allowed per request. Default `10s`.
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
}

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

/// Compiles `audit:`; `file` is the configuration file (for errors and to
/// resolve relative paths).
pub fn compile(raw: RawAuditConfig, file: &Path) -> Result<AuditConfig, ConfigError> {
    let base = file.parent().unwrap_or(Path::new("."));
    let at = |path: &str, msg: String| ConfigError::at(file, &format!("audit.{path}"), msg);
    let fsync = match raw.fsync.as_deref().unwrap_or("5ms") {
        "always" => FsyncPolicy::Always,
        "none" => FsyncPolicy::Never,
        other => match HumanDuration::parse(other) {
            Ok(d) if !d.0.is_zero() && d.0 <= Duration::from_secs(60) => FsyncPolicy::Every(d.0),
            _ => {
                return Err(at(
                    "fsync",
                    format!(
                        "`{other}`: expected `always`, `none` or a group-commit interval between 1ms and 60s such as `5ms`"
                    ),
                ));
            }
        },
    };
    let queue_capacity = positive(raw.queue_capacity, 65_536)
        .ok_or_else(|| at("queue_capacity", "must be at least 1".into()))?;
    let prefix = raw.file.prefix.unwrap_or_else(|| "audit".into());
    if prefix.is_empty() || prefix.contains(['/', '\\']) {
        return Err(at(
            "file.prefix",
            format!("`{prefix}` must be a non-empty file name part"),
        ));
    }
    let directory = base.join(&raw.file.directory);
    let rotate_size = raw.file.rotate_size.map_or(256 << 20, |b| b.0);
    if rotate_size < 4096 {
        return Err(at("file.rotate_size", "must be at least 4KiB".into()));
    }
    let rotate_interval = raw
        .file
        .rotate_interval
        .map_or(Duration::from_secs(3600), |d| d.0);
    if rotate_interval < Duration::from_secs(1) {
        return Err(at("file.rotate_interval", "must be at least 1s".into()));
    }
    let key = match &raw.checkpoint.signing_key {
        Some(p) => Some(
            CheckpointKey::from_pem_file(&base.join(p))
                .map_err(|e| at("checkpoint.signing_key", e))?,
        ),
        None => None,
    };
    let interval = raw
        .checkpoint
        .interval
        .map_or(Duration::from_secs(10), |d| d.0);
    if interval < Duration::from_millis(100) {
        return Err(at("checkpoint.interval", "must be at least 100ms".into()));
    }
    let checkpoint = CheckpointSettings {
        interval,
        every_events: positive(raw.checkpoint.every_events.map(|n| n as usize), 10_000)
            .ok_or_else(|| at("checkpoint.every_events", "must be at least 1".into()))?
            as u64,
        key,
        file: raw.checkpoint.file.map_or_else(
            || directory.join(format!("{prefix}-checkpoints.jsonl")),
            |f| base.join(f),
        ),
    };
    let arguments = compile_arguments(&raw.arguments).map_err(|(p, m)| at(&p, m))?;
    let syslog = raw
        .syslog
        .map(|s| compile_syslog(s, base))
        .transpose()
        .map_err(|(p, m)| at(&p, m))?;
    let otlp = raw
        .otlp
        .map(compile_otlp)
        .transpose()
        .map_err(|(p, m)| at(&p, m))?;
    Ok(AuditConfig {
        on_failure: match raw.on_failure {
            Some(RawFailureMode::FailOpen) => FailureMode::Open,
            _ => FailureMode::Closed,
        },
        queue_capacity,
        fsync,
        format: match raw.format {
            Some(RawFormat::Ecs) => super::chain::Format::Ecs,
            _ => super::chain::Format::Ocsf,
        },
        gateway_name: raw.gateway_name.unwrap_or_else(host_name),
        file: FileSettings {
            directory,
            prefix,
            rotate_size,
            rotate_interval,
        },
        checkpoint,
        arguments,
        stdout: raw.stdout,
        syslog,
        otlp,
    })
}

fn positive(v: Option<usize>, default: usize) -> Option<usize> {
    match v {
        None => Some(default),
        Some(0) => None,
        Some(n) => Some(n),
    }
}

type Located = (String, String);

fn paths(list: &[String], at: &str) -> Result<Vec<ArgPath>, Located> {
    list.iter()
        .enumerate()
        .map(|(i, p)| ArgPath::parse(p).map_err(|m| (format!("{at}[{i}]"), m)))
        .collect()
}

fn mode(m: RawArgumentMode) -> ArgumentMode {
    match m {
        RawArgumentMode::Digest => ArgumentMode::Digest,
        RawArgumentMode::Redacted => ArgumentMode::Redacted,
    }
}

fn compile_arguments(raw: &RawArguments) -> Result<ArgumentPolicy, Located> {
    let mut tools = HashMap::new();
    for (name, t) in &raw.tools {
        tools.insert(
            name.clone(),
            (
                mode(t.record),
                paths(&t.redact, &format!("arguments.tools.{name}.redact"))?,
            ),
        );
    }
    Ok(ArgumentPolicy {
        default: raw.record.map_or(ArgumentMode::Digest, mode),
        tools,
        redact: paths(&raw.redact, "arguments.redact")?,
    })
}

fn compile_syslog(raw: RawSyslog, base: &Path) -> Result<SyslogSettings, Located> {
    let address: SocketAddr = raw.address.parse().map_err(|_| {
        (
            "syslog.address".to_owned(),
            format!("`{}` is not an ip:port socket address", raw.address),
        )
    })?;
    let facility = raw.facility.unwrap_or(13);
    if facility > 23 {
        return Err((
            "syslog.facility".into(),
            format!("{facility} is not a facility (0-23)"),
        ));
    }
    let tls = match raw.tls {
        None => None,
        Some(t) => Some(
            super::remote::syslog::client_tls(&base.join(&t.ca), t.server_name.as_deref(), address)
                .map_err(|m| ("syslog.tls".to_owned(), m))?,
        ),
    };
    Ok(SyslogSettings {
        address,
        tls,
        facility,
        app_name: raw.app_name.unwrap_or_else(|| "portcullis".into()),
        queue_capacity: positive(raw.queue_capacity, 10_000).ok_or_else(|| {
            (
                "syslog.queue_capacity".to_owned(),
                "must be at least 1".to_owned(),
            )
        })?,
    })
}

fn compile_otlp(raw: RawOtlp) -> Result<OtlpSettings, Located> {
    let endpoint: http::Uri = raw.endpoint.parse().map_err(|_| {
        (
            "otlp.endpoint".to_owned(),
            format!("`{}` is not a URL", raw.endpoint),
        )
    })?;
    if endpoint.scheme_str() != Some("http") || endpoint.authority().is_none() {
        return Err(("otlp.endpoint".into(), "expected an http:// URL (run the collector on loopback or as a sidecar; TLS is not supported here)".into()));
    }
    let mut headers = Vec::new();
    for (k, v) in &raw.headers {
        let name = http::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| (format!("otlp.headers.{k}"), "not a header name".to_owned()))?;
        let value = http::HeaderValue::from_str(v)
            .map_err(|_| (format!("otlp.headers.{k}"), "not a header value".to_owned()))?;
        headers.push((name, value));
    }
    Ok(OtlpSettings {
        endpoint,
        headers,
        queue_capacity: positive(raw.queue_capacity, 10_000).ok_or_else(|| {
            (
                "otlp.queue_capacity".to_owned(),
                "must be at least 1".to_owned(),
            )
        })?,
        batch: positive(raw.batch, 512)
            .ok_or_else(|| ("otlp.batch".to_owned(), "must be at least 1".to_owned()))?,
        timeout: raw.timeout.map_or(Duration::from_secs(10), |d| d.0),
    })
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "portcullis".into())
}

/// Parses and compiles `audit:` YAML on its own (tests, `audit verify` helpers).
pub fn from_yaml(text: &str, file: &Path) -> Result<AuditConfig, ConfigError> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let raw: RawAuditConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = format!("audit.{}", e.path());
        let inner = e.into_inner();
        ConfigError::Invalid {
            file: file.to_path_buf(),
            path,
            message: inner.to_string(),
            position: inner.location().map(|l| (l.line(), l.column())),
        }
    })?;
    compile(raw, file)
}

#[cfg(test)]
mod tests {
    use super::*;

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
