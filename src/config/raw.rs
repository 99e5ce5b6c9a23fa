//! The configuration file as written: serde types that mirror `portcullis.yaml`.
//!
//! Every struct denies unknown fields, so a misspelt option is an error that names
//! it instead of a silently ignored line. Defaults are the safe choice; an option
//! that loosens a check says so in its doc. Nothing here is validated beyond its
//! shape: `compile` turns these into the runtime and reports semantic errors.

use super::units::{ByteSize, HumanDuration};
use serde::Deserialize;
use std::path::PathBuf;

/// The whole file.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// The MCP listener.
    pub listen: RawListen,
    /// The operations listener (`/healthz`, `/readyz`). Absent: no admin listener.
    #[serde(default)]
    pub admin: Option<RawAdmin>,
    /// The MCP server behind the gateway (shorthand for one upstream named
    /// `default`, without a prefix).
    #[serde(default)]
    pub upstream: Option<RawUpstream>,
    /// Several named MCP servers behind the one endpoint (instead of `upstream`).
    #[serde(default)]
    pub upstreams: Option<std::collections::BTreeMap<String, super::upstreams::RawUpstreamEntry>>,
    /// How the tools and prompts of several upstreams are named.
    #[serde(default)]
    pub federation: super::upstreams::RawFederation,
    /// Keys sealing legacy session ids (replicas sharing a key share sessions).
    #[serde(default)]
    pub sessions: super::upstreams::RawSessions,
    /// Who may call (required: `mode: jwt`, or an explicit `mode: none`).
    #[serde(default)]
    pub authentication: Option<super::authn::RawAuthentication>,
    /// The injection filter. Default: on, with the built-in rule packs and model,
    /// blocking injections and secrets leaving.
    #[serde(default)]
    pub scan: Option<crate::scan::RawScanConfig>,
    /// The audit trail. Required: an `audit.file.directory`, or
    /// `audit: { disabled: true }` (permissive: nothing is recorded).
    #[serde(default)]
    pub audit: Option<crate::audit::config::RawAuditConfig>,
    /// Size, count and time bounds.
    #[serde(default)]
    pub limits: RawLimits,
    /// Log output.
    #[serde(default)]
    pub logging: RawLogging,
    /// How configuration changes are picked up.
    #[serde(default)]
    pub reload: RawReload,
    /// Cedar policies (least privilege). Absent: PERMISSIVE, every
    /// authenticated caller may use everything (logged loudly at start-up).
    #[serde(default)]
    pub authorization: Option<crate::authz::config::RawAuthorization>,
    /// Rate limits and quotas. Absent: none.
    #[serde(default)]
    pub rate_limits: Option<crate::ratelimit::config::RawRateLimits>,
    /// OpenTelemetry traces exported over OTLP (HTTP/protobuf or gRPC). Absent: no spans.
    #[serde(default)]
    pub tracing: Option<crate::telemetry::traces::RawTracing>,
    /// Metrics pushed over OTLP (HTTP/protobuf or gRPC), besides `/metrics`. Absent: `/metrics` only.
    #[serde(default)]
    pub metrics: Option<crate::telemetry::otlp_metrics::RawMetrics>,
}

/// The MCP listener.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawListen {
    /// `ip:port` to bind, e.g. `127.0.0.1:8080`.
    pub address: String,
    /// The MCP endpoint path. Default `/mcp`.
    #[serde(default)]
    pub path: Option<String>,
    /// The URL clients use to reach the gateway, e.g. `https://mcp.example.com/mcp`.
    /// Its host is allowed in `Host` and `Origin` by default.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Host header values accepted (DNS-rebinding protection): `host`, `host:port`
    /// or `host:*`. Default: the public URL's host, plus `localhost`, `127.0.0.1`
    /// and `[::1]` on any port when the listener is bound to loopback. Required when
    /// the listener is bound to a non-loopback address and no public URL is given.
    #[serde(default)]
    pub allowed_hosts: Option<Vec<String>>,
    /// Origin header values accepted, e.g. `https://app.example.com` or
    /// `http://localhost:*`. Default: `http` and `https` origins of the allowed
    /// hosts. Requests without an Origin header are not affected.
    #[serde(default)]
    pub allowed_origins: Option<Vec<String>>,
    /// TLS on the listener. Absent: plain HTTP (put TLS in front of the gateway).
    #[serde(default)]
    pub tls: Option<RawTls>,
    /// Accept HTTP/2 (h2 over TLS via ALPN, or h2c prior knowledge). Default true.
    #[serde(default = "default_true")]
    pub http2: bool,
    /// The legacy HTTP+SSE transport (MCP 2024-11-05) for clients that speak
    /// nothing newer. Absent: off (only Streamable HTTP is served).
    #[serde(default)]
    pub legacy_sse: Option<RawLegacySse>,
}

/// `listen.legacy_sse`: a GET stream endpoint and a POST endpoint in front of the
/// same pipeline. Its streams live in the memory of the replica holding the GET:
/// a load balancer must send a client's POSTs to that replica.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLegacySse {
    /// The path clients GET to open their stream, e.g. `/sse`.
    pub path: String,
    /// The path clients POST their messages to. Default `/messages`.
    #[serde(default)]
    pub messages_path: Option<String>,
    /// Most streams open at once on this replica; more are refused (503). Default 256.
    #[serde(default)]
    pub max_streams: Option<usize>,
    /// Most streams one authenticated principal holds open at once; more
    /// are refused (429), so one token cannot take every slot. Default 16.
    #[serde(default)]
    pub max_streams_per_principal: Option<usize>,
    /// Most messages waiting for a slow reader on one stream; a reader that
    /// falls further behind is disconnected. Default 64.
    #[serde(default)]
    pub max_queued_messages: Option<usize>,
}

/// Certificate and key files (PEM). Reloaded when they change.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Mutual TLS: CA certificates (PEM) that client certificates must chain
    /// to. Absent: no client certificates are asked for.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`: `required` (default; the handshake fails without a
    /// valid client certificate) or `optional` (PERMISSIVE: clients without one
    /// are served; a presented one must still be valid).
    #[serde(default)]
    pub client_auth: Option<RawClientAuth>,
}

/// `listen.tls.client_auth`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawClientAuth {
    /// Every client presents a valid certificate.
    Required,
    /// Clients may present one.
    Optional,
}

/// The operations listener.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// `ip:port` to bind. Keep it off the public network.
    pub address: String,
}

/// The upstream MCP server.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    /// Its Streamable HTTP endpoint, e.g. `http://127.0.0.1:3000/mcp`.
    pub url: String,
    /// Time allowed to open a connection. Default `5s`.
    #[serde(default)]
    pub connect_timeout: Option<HumanDuration>,
    /// Time allowed until the upstream's response headers arrive. Default `60s`.
    #[serde(default)]
    pub response_timeout: Option<HumanDuration>,
    /// Speak HTTP/2 (prior knowledge) to the upstream. Default false.
    #[serde(default)]
    pub http2: bool,
}

/// Bounds. Every one fails closed: input beyond it is refused, never truncated.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Largest request body. Default `4MiB`.
    pub max_request_body: Option<ByteSize>,
    /// Largest JSON (non-streamed) response body from the upstream. Default `16MiB`.
    pub max_response_body: Option<ByteSize>,
    /// Largest single SSE event from the upstream. Default `4MiB`.
    pub max_sse_event: Option<ByteSize>,
    /// Deepest JSON nesting. Default 64, at most 120.
    pub max_json_depth: Option<usize>,
    /// Most messages in a 2025-03-26 batch. Default 32.
    pub max_batch_len: Option<usize>,
    /// Longest string request id, in bytes. Default 256.
    pub max_id_length: Option<usize>,
    /// Most request headers (HTTP/1.1). Default 64.
    pub max_headers: Option<usize>,
    /// Largest request head. Default `32KiB`.
    pub max_header_bytes: Option<ByteSize>,
    /// Time allowed for a request head to arrive, and for a connection with no
    /// request in progress (HTTP/1.1 keep-alive or HTTP/2) to start its next
    /// one. Default `10s`.
    pub header_read_timeout: Option<HumanDuration>,
    /// Time allowed for a whole request body to arrive. Default `30s`.
    pub body_read_timeout: Option<HumanDuration>,
    /// A response stream with no bytes for this long is closed. Default `10m`.
    pub stream_idle_timeout: Option<HumanDuration>,
    /// Most open client connections. Default 4096.
    pub max_connections: Option<usize>,
    /// Most open connections from one client IP address. Default 256.
    pub max_connections_per_client: Option<usize>,
    /// On shutdown, time allowed for in-flight requests and streams. Default `20s`.
    pub shutdown_grace: Option<HumanDuration>,
}

/// Log output (read at start-up only).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLogging {
    /// `json` (default) or `text`.
    #[serde(default = "default_log_format")]
    #[schemars(extend("enum" = ["json", "text"]))]
    pub format: String,
    /// A `tracing` filter such as `info` or `portcullis=debug`. Default `info`.
    #[serde(default = "default_log_level")]
    pub level: String,
}

/// Reload behaviour.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReload {
    /// How often watched files are checked for changes. Default `2s`; `0s`
    /// disables polling (SIGHUP still reloads).
    pub poll_interval: Option<HumanDuration>,
}

impl Default for RawLogging {
    fn default() -> Self {
        RawLogging {
            format: default_log_format(),
            level: default_log_level(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_log_format() -> String {
    "json".into()
}

fn default_log_level() -> String {
    "info".into()
}
