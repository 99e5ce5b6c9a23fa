//! Compiles raw configuration into the [`Runtime`] the gateway runs on.
//!
//! Everything that can be wrong with the configuration is found here: addresses
//! parse, URLs are absolute, patterns are valid, bounds are positive, TLS files
//! load. Relative file paths are resolved against the configuration file's folder.

use super::hosts::{Admission, HostPattern, OriginPattern};
use super::raw::{RawConfig, RawLegacySse, RawLimits, RawListen};
use super::{ConfigError, tls};
use crate::protocol::ParseLimits;
use http::Uri;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The compiled configuration: one immutable snapshot.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// The file this came from.
    pub file: PathBuf,
    /// The MCP listener.
    pub listen: Listen,
    /// The operations listener, if any.
    pub admin: Option<SocketAddr>,
    /// Host and Origin allow-lists.
    pub admission: Admission,
    /// The upstream MCP servers, their naming and session keys.
    pub federation: super::upstreams::Federation,
    /// Bounds.
    pub limits: Limits,
    /// Authentication.
    pub authentication: super::authn::Authentication,
    /// The injection filter, compiled (rule automata and model loaded).
    pub scanner: Arc<crate::scan::Scanner>,
    /// What the filter's findings lead to.
    pub scan_policy: crate::scan::ScanPolicy,
    /// The audit trail; `None` when explicitly disabled. Read at start-up only.
    pub audit: Option<crate::audit::config::AuditConfig>,
    /// Log output: (`json` or not, filter).
    pub logging: (bool, String),
    /// How often to check watched files; `None` = SIGHUP only.
    pub poll_interval: Option<Duration>,
    /// Files whose change triggers a reload: the config file, the TLS files
    /// and the policy files.
    pub watched: Vec<PathBuf>,
    /// The policy set and its settings; `None` when `authorization:` is absent.
    pub authorization: Option<Arc<crate::authz::Engine>>,
    /// Rate limit rules; `None` when `rate_limits:` is absent.
    pub rate_limits: Option<Arc<crate::ratelimit::Rules>>,
    /// Where spans go; `None` when `tracing:` is absent. Read at start-up only.
    pub tracing: Option<crate::telemetry::traces::TracingSettings>,
    /// Where metrics are pushed; `None` without `metrics.otlp`. Read at start-up only.
    pub metrics_otlp: Option<crate::telemetry::otlp_metrics::OtlpMetricsSettings>,
}

/// The MCP listener.
#[derive(Debug, Clone)]
pub struct Listen {
    /// Bound address (changing it needs a restart).
    pub address: SocketAddr,
    /// The MCP endpoint path.
    pub path: String,
    /// The public URL, if configured.
    pub public_url: Option<Uri>,
    /// TLS, if configured.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Whether every TLS client must present a verified certificate.
    pub client_certificates_required: bool,
    /// Whether HTTP/2 is accepted.
    pub http2: bool,
    /// The legacy HTTP+SSE transport; `None` when off (the default).
    pub legacy_sse: Option<LegacySse>,
}

/// `listen.legacy_sse`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacySse {
    /// Where clients open their stream (GET).
    pub path: String,
    /// Where clients post their messages (POST `?sessionId=`).
    pub messages_path: String,
    /// Most streams open at once.
    pub max_streams: usize,
    /// Most streams one authenticated principal holds open at once.
    pub max_streams_per_principal: usize,
    /// Most messages queued for one stream.
    pub max_queued_messages: usize,
}

/// Bounds, all already validated.
#[derive(Debug, Clone)]
pub struct Limits {
    /// JSON-RPC parsing bounds.
    pub parse: ParseLimits,
    /// Largest request body, bytes.
    pub max_request_body: usize,
    /// Largest JSON response body, bytes.
    pub max_response_body: usize,
    /// Largest SSE event, bytes.
    pub max_sse_event: usize,
    /// Most request headers.
    pub max_headers: usize,
    /// Largest request head, bytes.
    pub max_header_bytes: usize,
    /// Header read timeout, and idle timeout of a connection with no request
    /// in progress (HTTP/1.1 keep-alive and HTTP/2).
    pub header_read_timeout: Duration,
    /// Whole-body read timeout.
    pub body_read_timeout: Duration,
    /// Idle timeout of response streams.
    pub stream_idle_timeout: Duration,
    /// Global connection cap.
    pub max_connections: usize,
    /// Per-client-IP connection cap.
    pub max_connections_per_client: usize,
    /// Shutdown drain bound.
    pub shutdown_grace: Duration,
}

/// The folder relative paths in `file` resolve against: its parent, or `.`
/// for a bare file name (whose parent is the empty path, which a process
/// cannot be started in).
pub fn folder_of(file: &Path) -> &Path {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Compiles `raw`, read from `file`.
pub fn compile(raw: RawConfig, file: &Path) -> Result<Runtime, ConfigError> {
    let base = folder_of(file);
    let mut watched = vec![file.to_path_buf()];
    let listen = listen(&raw.listen, file, base, &mut watched)?;
    let admission = admission(&raw.listen, &listen, file)?;
    let admin = raw
        .admin
        .as_ref()
        .map(|a| socket_addr(&a.address, file, "admin.address"))
        .transpose()?;
    let federation = super::upstreams::compile(
        raw.upstream.as_ref(),
        raw.upstreams.as_ref(),
        &raw.federation,
        &raw.sessions,
        file,
        &mut watched,
    )?;
    let limits = limits(&raw.limits, file)?;
    let Some(raw_authn) = &raw.authentication else {
        return Err(ConfigError::at(
            file,
            "authentication",
            "required: configure `mode: jwt` with issuers, or write `authentication: { mode: none }` \
             to accept anonymous callers (only behind something that authenticates)",
        ));
    };
    let authentication = super::authn::compile(raw_authn, &listen, file, base, &mut watched)?;
    if federation.exchanges_tokens() && !matches!(authentication.authn, crate::authn::Authn::Jwt(_))
    {
        return Err(ConfigError::at(
            file,
            "upstreams",
            "an upstream's `oauth.grant: token_exchange` exchanges the caller's token: it needs \
             `authentication.mode: jwt`",
        ));
    }
    let (scanner, scan_policy) = scan(raw.scan.as_ref(), file, base, &mut watched)?;
    let audit = match raw.audit.clone() {
        None => {
            return Err(ConfigError::at(
                file,
                "audit",
                "required: set `audit.file.directory` for the audit trail, or write \
                 `audit: { disabled: true }` to run without one (nothing is recorded)",
            ));
        }
        Some(raw) => crate::audit::config::compile_section(raw, file)?,
    };
    let logging = match raw.logging.format.as_str() {
        "json" => (true, raw.logging.level.clone()),
        "text" => (false, raw.logging.level.clone()),
        other => {
            return Err(ConfigError::at(
                file,
                "logging.format",
                format!("`{other}` is not a log format; use json or text"),
            ));
        }
    };
    Ok(Runtime {
        file: file.to_path_buf(),
        listen,
        admin,
        admission,
        federation,
        limits,
        authentication,
        scanner,
        scan_policy,
        audit,
        logging,
        poll_interval: match raw.reload.poll_interval {
            None => Some(Duration::from_secs(2)),
            Some(d) if d.0.is_zero() => None,
            Some(d) => Some(d.0),
        },
        authorization: raw
            .authorization
            .as_ref()
            .map(|a| crate::authz::compile(a, file, base, &mut watched))
            .transpose()?,
        rate_limits: raw
            .rate_limits
            .as_ref()
            .map(|r| crate::ratelimit::config::compile(r, file))
            .transpose()?
            .map(Arc::new),
        tracing: raw.tracing.as_ref().map(|t| t.compile(file)).transpose()?,
        metrics_otlp: match &raw.metrics {
            Some(m) => m.compile(file)?,
            None => None,
        },
        watched,
    })
}

/// Compiles the `scan:` section and builds the scanner; rule packs and the
/// weights file join the watched files so that editing them reloads.
fn scan(
    raw: Option<&crate::scan::RawScanConfig>,
    file: &Path,
    base: &Path,
    watched: &mut Vec<PathBuf>,
) -> Result<(Arc<crate::scan::Scanner>, crate::scan::ScanPolicy), ConfigError> {
    let default = crate::scan::RawScanConfig::default();
    let raw = raw.unwrap_or(&default);
    let fail = |e: crate::scan::ScanError| ConfigError::at(file, "scan", e.to_string());
    let policy = raw.compile(base).map_err(fail)?;
    let scanner = crate::scan::Scanner::from_policy(&policy).map_err(fail)?;
    if let Some(dir) = &policy.rules_dir
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        let mut packs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        packs.sort();
        watched.extend(packs);
    }
    if let Some(Some(model)) = &policy.model {
        watched.push(model.clone());
    }
    Ok((Arc::new(scanner), policy))
}

fn socket_addr(s: &str, file: &Path, path: &str) -> Result<SocketAddr, ConfigError> {
    s.parse().map_err(|_| {
        ConfigError::at(
            file,
            path,
            format!("`{s}` is not an ip:port socket address"),
        )
    })
}

fn listen(
    raw: &RawListen,
    file: &Path,
    base: &Path,
    watched: &mut Vec<PathBuf>,
) -> Result<Listen, ConfigError> {
    let address = socket_addr(&raw.address, file, "listen.address")?;
    let path = raw.path.clone().unwrap_or_else(|| "/mcp".into());
    endpoint_path(&path, file, "listen.path")?;
    let legacy_sse = raw
        .legacy_sse
        .as_ref()
        .map(|l| legacy_sse(l, &path, file))
        .transpose()?;
    let public_url = raw
        .public_url
        .as_deref()
        .map(|u| absolute_url(u, file, "listen.public_url"))
        .transpose()?;
    let mut client_certificates_required = false;
    let tls = match &raw.tls {
        None => None,
        Some(t) => {
            let (cert, key) = (base.join(&t.cert), base.join(&t.key));
            let client_ca = t.client_ca.as_ref().map(|ca| base.join(ca));
            if client_ca.is_none() && t.client_auth.is_some() {
                return Err(ConfigError::at(
                    file,
                    "listen.tls.client_auth",
                    "needs listen.tls.client_ca, the CA client certificates chain to",
                ));
            }
            client_certificates_required =
                client_ca.is_some() && t.client_auth != Some(super::raw::RawClientAuth::Optional);
            let client = client_ca.as_deref().map(|ca| tls::ClientAuth {
                ca,
                required: client_certificates_required,
            });
            let config = tls::server_config(&cert, &key, raw.http2, client)
                .map_err(|m| ConfigError::at(file, "listen.tls", m))?;
            watched.extend([cert, key]);
            watched.extend(client_ca);
            Some(config)
        }
    };
    Ok(Listen {
        address,
        path,
        public_url,
        tls,
        client_certificates_required,
        http2: raw.http2,
        legacy_sse,
    })
}

fn endpoint_path(path: &str, file: &Path, at: &str) -> Result<(), ConfigError> {
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
        return Err(ConfigError::at(
            file,
            at,
            "must be an absolute path such as /mcp",
        ));
    }
    Ok(())
}

fn legacy_sse(raw: &RawLegacySse, mcp: &str, file: &Path) -> Result<LegacySse, ConfigError> {
    endpoint_path(&raw.path, file, "listen.legacy_sse.path")?;
    let messages_path = raw
        .messages_path
        .clone()
        .unwrap_or_else(|| "/messages".into());
    endpoint_path(&messages_path, file, "listen.legacy_sse.messages_path")?;
    if raw.path == mcp || messages_path == mcp || raw.path == messages_path {
        return Err(ConfigError::at(
            file,
            "listen.legacy_sse",
            "path, messages_path and listen.path must be three different paths",
        ));
    }
    let positive = |value: Option<usize>, default: usize, at: &str| match value {
        None => Ok(default),
        Some(0) => Err(ConfigError::at(file, at, "must be at least 1")),
        Some(n) => Ok(n),
    };
    Ok(LegacySse {
        path: raw.path.clone(),
        messages_path,
        max_streams: positive(raw.max_streams, 256, "listen.legacy_sse.max_streams")?,
        max_streams_per_principal: positive(
            raw.max_streams_per_principal,
            16,
            "listen.legacy_sse.max_streams_per_principal",
        )?,
        max_queued_messages: positive(
            raw.max_queued_messages,
            64,
            "listen.legacy_sse.max_queued_messages",
        )?,
    })
}

fn admission(raw: &RawListen, listen: &Listen, file: &Path) -> Result<Admission, ConfigError> {
    let hosts = match &raw.allowed_hosts {
        Some(list) => parse_all(list, file, "listen.allowed_hosts", HostPattern::parse)?,
        None => {
            let mut hosts = Vec::new();
            if let Some(authority) = listen.public_url.as_ref().and_then(Uri::authority) {
                let h = HostPattern::parse(authority.as_str())
                    .map_err(|m| ConfigError::at(file, "listen.public_url", m))?;
                hosts.push(h);
            }
            if listen.address.ip().is_loopback() {
                for h in ["localhost:*", "127.0.0.1:*", "[::1]:*"] {
                    hosts.extend(HostPattern::parse(h));
                }
            }
            if hosts.is_empty() {
                return Err(ConfigError::at(
                    file,
                    "listen.allowed_hosts",
                    "required when listening on a non-loopback address without a public_url: \
                     list the host names clients use (DNS-rebinding protection)",
                ));
            }
            hosts
        }
    };
    let origins = match &raw.allowed_origins {
        Some(list) => parse_all(list, file, "listen.allowed_origins", OriginPattern::parse)?,
        None => hosts.iter().flat_map(OriginPattern::both_schemes).collect(),
    };
    Ok(Admission { hosts, origins })
}

fn parse_all<T>(
    list: &[String],
    file: &Path,
    path: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, ConfigError> {
    list.iter()
        .enumerate()
        .map(|(i, s)| parse(s).map_err(|m| ConfigError::at(file, &format!("{path}[{i}]"), m)))
        .collect()
}

fn absolute_url(s: &str, file: &Path, path: &str) -> Result<Uri, ConfigError> {
    let uri: Uri = s
        .parse()
        .map_err(|_| ConfigError::at(file, path, format!("`{s}` is not a URL")))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(uri),
        _ => Err(ConfigError::at(
            file,
            path,
            format!("`{s}` must be an absolute http:// or https:// URL"),
        )),
    }
}

fn limits(raw: &RawLimits, file: &Path) -> Result<Limits, ConfigError> {
    let positive = |v: usize, path: &str| {
        if v == 0 {
            Err(ConfigError::at(file, path, "must be greater than zero"))
        } else {
            Ok(v)
        }
    };
    let size = |v: Option<super::units::ByteSize>, default: usize, path: &str| {
        positive(v.map_or(default, |b| b.as_usize()), path)
    };
    let time = |v: Option<super::units::HumanDuration>, default: u64, path: &str| {
        let d = v.map_or(Duration::from_secs(default), |d| d.0);
        if d.is_zero() {
            Err(ConfigError::at(file, path, "must be longer than zero"))
        } else {
            Ok(d)
        }
    };
    let depth = raw.max_json_depth.unwrap_or(64);
    if !(1..=crate::protocol::jsonrpc::MAX_DEPTH).contains(&depth) {
        return Err(ConfigError::at(
            file,
            "limits.max_json_depth",
            "must be between 1 and 120",
        ));
    }
    Ok(Limits {
        parse: ParseLimits {
            max_depth: depth,
            max_batch_len: positive(raw.max_batch_len.unwrap_or(32), "limits.max_batch_len")?,
            max_id_len: positive(raw.max_id_length.unwrap_or(256), "limits.max_id_length")?,
            max_method_len: 256,
        },
        max_request_body: size(raw.max_request_body, 4 << 20, "limits.max_request_body")?,
        max_response_body: size(raw.max_response_body, 16 << 20, "limits.max_response_body")?,
        max_sse_event: size(raw.max_sse_event, 4 << 20, "limits.max_sse_event")?,
        max_headers: positive(raw.max_headers.unwrap_or(64), "limits.max_headers")?,
        max_header_bytes: size(raw.max_header_bytes, 32 << 10, "limits.max_header_bytes")?,
        header_read_timeout: time(raw.header_read_timeout, 10, "limits.header_read_timeout")?,
        body_read_timeout: time(raw.body_read_timeout, 30, "limits.body_read_timeout")?,
        stream_idle_timeout: time(raw.stream_idle_timeout, 600, "limits.stream_idle_timeout")?,
        max_connections: positive(
            raw.max_connections.unwrap_or(4096),
            "limits.max_connections",
        )?,
        max_connections_per_client: positive(
            raw.max_connections_per_client.unwrap_or(256),
            "limits.max_connections_per_client",
        )?,
        shutdown_grace: time(raw.shutdown_grace, 20, "limits.shutdown_grace")?,
    })
}
