//! The `audit:` section as written: serde types with `deny_unknown_fields`.
//! Defaults are the safe choice; an option that loosens a check says so.

use crate::config::units::{ByteSize, HumanDuration};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `audit:` as written.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAuditConfig {
    /// Run without an audit trail (**permissive**: nothing is recorded; the
    /// gateway warns at start). Excludes every other setting.
    #[serde(default)]
    pub disabled: bool,
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
    /// The primary sink: append-only segment files. Required unless disabled.
    #[serde(default)]
    pub file: Option<RawFileSink>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawFailureMode {
    /// Refuse the request (503).
    FailClosed,
    /// Let the request through; count the lost event.
    FailOpen,
}

/// `format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawFormat {
    /// OCSF 1.9.0-dev.
    Ocsf,
    /// Elastic Common Schema.
    Ecs,
}

/// `audit.file`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawArgumentMode {
    /// Only the digest.
    Digest,
    /// The redacted arguments and the digest.
    Redacted,
}

/// `audit.arguments.tools.<name>`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawToolArguments {
    /// This tool's mode.
    pub record: RawArgumentMode,
    /// Extra paths to redact for this tool.
    #[serde(default)]
    pub redact: Vec<String>,
}

/// `audit.syslog`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSyslogTls {
    /// PEM file of the CA certificates that sign the receiver's certificate.
    pub ca: PathBuf,
    /// The name in the receiver's certificate. Default: the address's IP.
    #[serde(default)]
    pub server_name: Option<String>,
}

/// `audit.otlp`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
