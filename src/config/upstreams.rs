//! The upstreams section: several named MCP servers behind one endpoint, each
//! over Streamable HTTP, the legacy HTTP+SSE transport (2024-11-05) or stdio; the naming
//! scheme of their tools and prompts; the keys that seal session ids.
//!
//! `upstream:` (one Streamable HTTP server) remains a shorthand for a single
//! upstream named `default` without a prefix. Credentials for an upstream come
//! from the gateway's environment or a file, never inline unless the file says
//! so explicitly.

use super::ConfigError;
use super::stdio::{self, RawStdioUpstream, StdioSettings};
use super::units::HumanDuration;
use crate::federation::Naming;
use crate::session::Sealer;
use http::{HeaderName, HeaderValue, Uri};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// One upstream as written under `upstreams.<name>`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUpstreamEntry {
    /// The MCP endpoint.
    #[serde(default)]
    pub url: Option<String>,
    /// `streamable_http` (default with `url`), `sse` (the 2024-11-05 HTTP+SSE
    /// transport: `url` is its event stream, held open and shared by every
    /// client) or `stdio` (default with `stdio`).
    #[serde(default)]
    #[schemars(extend("enum" = ["streamable_http", "sse", "stdio", null]))]
    pub transport: Option<String>,
    /// How to run a stdio upstream.
    #[serde(default)]
    pub stdio: Option<RawStdioUpstream>,
    /// The prefix of its tools and prompts (`<prefix><separator><name>`).
    /// Default: the upstream's name. `""` (no prefix) only for a single upstream.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Headers sent with every request to it (its credentials), each from the
    /// environment or a file.
    #[serde(default)]
    pub headers: BTreeMap<String, RawSecret>,
    /// A token of the gateway's own for this upstream, from an OAuth 2.0
    /// authorization server (Streamable HTTP upstreams).
    #[serde(default)]
    pub oauth: Option<RawUpstreamOauth>,
    /// TLS to an `https://` upstream.
    #[serde(default)]
    pub tls: Option<RawUpstreamTls>,
    /// Time allowed to connect. Default `5s`.
    #[serde(default)]
    pub connect_timeout: Option<HumanDuration>,
    /// Time allowed until response headers. Default `60s`. For `sse`, also
    /// the deadline of each request.
    #[serde(default)]
    pub response_timeout: Option<HumanDuration>,
    /// HTTP/2 prior knowledge. Default false.
    #[serde(default)]
    pub http2: bool,
    /// URI prefixes of the resources it owns (routing of `resources/read` before
    /// a listing has shown them), e.g. `["github://"]`.
    #[serde(default)]
    pub resources: Vec<String>,
}

/// `upstreams.<name>.oauth`: how the gateway obtains the upstream's token.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUpstreamOauth {
    /// `client_credentials` (a token for the gateway itself) or
    /// `token_exchange` (RFC 8693: the caller's validated token exchanged for
    /// one for this upstream; needs `authentication.mode: jwt`).
    #[schemars(extend("enum" = ["client_credentials", "token_exchange"]))]
    pub grant: String,
    /// The authorization server's token endpoint: `https://`, or `http://`
    /// on a loopback host.
    pub token_endpoint: String,
    /// The gateway's client id there.
    pub client_id: String,
    /// Its secret (HTTP Basic), from the environment or a file.
    pub client_secret: RawSecret,
    /// Scopes asked for, space-separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// RFC 8707 resource indicator. Default: the upstream's `url`.
    #[serde(default)]
    pub resource: Option<String>,
    /// RFC 8693 audience (token exchange), when the server wants one.
    #[serde(default)]
    pub audience: Option<String>,
    /// A cached token is renewed this long before it expires. Default `30s`.
    #[serde(default)]
    pub refresh_margin: Option<HumanDuration>,
}

/// A value read from the environment or a file, optionally prefixed.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSecret {
    /// A variable of the gateway's environment.
    #[serde(default)]
    pub env: Option<String>,
    /// A file whose content (trimmed) is the value.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Inline text. Refused unless `allow_inline` is set (**permissive**:
    /// secrets in the YAML end up in backups and diffs).
    #[serde(default)]
    pub value: Option<String>,
    /// Permits `value`.
    #[serde(default)]
    pub allow_inline: bool,
    /// Text put before the value, e.g. `"Bearer "`.
    #[serde(default)]
    pub prefix: Option<String>,
}

/// TLS toward an upstream.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUpstreamTls {
    /// CA certificates (PEM) to trust instead of the system's roots.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Client certificate chain (PEM), for mutual TLS.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[serde(default)]
    pub key: Option<PathBuf>,
}

/// `federation:`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFederation {
    /// Between prefix and name. Default `__`.
    #[serde(default)]
    pub separator: Option<String>,
}

/// `sessions:`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    /// Keys sealing session ids, the current one first; older keys keep opening
    /// the ids they sealed. Each is 32 bytes, base64 or hex, from the environment
    /// or a file. Absent: a random key per process (ids do not survive a restart
    /// and are not shared between replicas).
    #[serde(default)]
    pub keys: Vec<RawSessionKey>,
    /// Sessions older than this are unknown. Default `24h`.
    #[serde(default)]
    pub max_age: Option<HumanDuration>,
    /// Who created which task (tools run as tasks).
    #[serde(default)]
    pub tasks: RawSessionTasks,
}

/// `sessions.tasks`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSessionTasks {
    /// Share task owners between replicas through Redis: a task created
    /// through one replica is fetched by its creator through any. Absent: per
    /// process (other replicas refuse the task). While Redis cannot answer,
    /// requests naming a task this replica did not see are refused (503).
    /// Default prefix `portcullis:tasks:`.
    #[serde(default)]
    pub redis: Option<crate::authz::config::RawRedisStore>,
}

/// One session key.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSessionKey {
    /// Its id (carried in every session id).
    pub id: String,
    /// The 32 bytes, base64 or hex.
    pub secret: RawSecret,
}

/// How an upstream is reached.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Streamable HTTP.
    Http(HttpSettings),
    /// The 2024-11-05 HTTP+SSE transport.
    Sse(HttpSettings),
    /// A local process.
    Stdio(StdioSettings),
}

/// An HTTP upstream (Streamable HTTP or HTTP+SSE).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The endpoint URL.
    pub url: Uri,
    /// The `Host` header sent.
    pub host: HeaderValue,
    /// The `Origin` sent in place of a client's.
    pub origin: HeaderValue,
    /// Credentials and other fixed headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The upstream's own OAuth token, obtained per request (`oauth`).
    pub oauth: Option<Arc<crate::upstream::oauth::UpstreamOauth>>,
    /// TLS toward the upstream (for `http://` URLs, an unused configuration
    /// without roots).
    pub tls: Arc<rustls::ClientConfig>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Time until response headers.
    pub response_timeout: Duration,
    /// HTTP/2 prior knowledge.
    pub http2: bool,
}

/// One compiled upstream.
#[derive(Debug, Clone)]
pub struct UpstreamSpec {
    /// Its configured name.
    pub name: String,
    /// How it is reached.
    pub transport: Transport,
    /// Resource URI prefixes it owns.
    pub resources: Vec<String>,
}

/// The compiled federation.
#[derive(Debug, Clone)]
pub struct Federation {
    /// Upstreams, in configuration order (their index is their identity).
    pub upstreams: Vec<UpstreamSpec>,
    /// Names between the client and each upstream.
    pub naming: Naming,
    /// Seals session ids; `None` means a random key per process.
    pub sealer: Option<Arc<Sealer>>,
    /// Session lifetime.
    pub session_max_age: Duration,
    /// Task owners shared through Redis, if configured.
    pub tasks: Option<Arc<crate::pipeline::shared_tasks::SharedTasks>>,
}

impl Federation {
    /// Whether some upstream's token is exchanged for the caller's.
    pub fn exchanges_tokens(&self) -> bool {
        self.upstreams.iter().any(|u| match &u.transport {
            Transport::Http(h) => h
                .oauth
                .as_ref()
                .is_some_and(|o| o.grant == crate::upstream::oauth::Grant::TokenExchange),
            _ => false,
        })
    }

    /// The index of the upstream named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.upstreams.iter().position(|u| u.name == name)
    }
}

#[path = "upstreams_compile.rs"]
mod compile;
pub use compile::compile;

/// Reads a secret; `path` names it in errors.
pub(super) fn secret(
    raw: &RawSecret,
    base: &Path,
    file: &Path,
    path: &str,
) -> Result<String, ConfigError> {
    let at = |m: String| ConfigError::at(file, path, m);
    let value = match (&raw.env, &raw.file, &raw.value) {
        (Some(name), None, None) => std::env::var(name)
            .map_err(|_| at(format!("the environment variable `{name}` is not set")))?,
        (None, Some(f), None) => {
            let f = base.join(f);
            std::fs::read_to_string(&f)
                .map_err(|e| at(format!("cannot read {}: {e}", f.display())))?
                .trim()
                .to_owned()
        }
        (None, None, Some(v)) if raw.allow_inline => v.clone(),
        (None, None, Some(_)) => {
            return Err(at(
                "inline `value` is refused for credentials: use `env` or `file` (or set `allow_inline: true`)".into(),
            ));
        }
        _ => return Err(at("give exactly one of `env`, `file` or `value`".into())),
    };
    Ok(format!("{}{value}", raw.prefix.as_deref().unwrap_or("")))
}

/// Compiles a stdio upstream (the stdio module owns its settings).
pub(super) fn stdio_settings(
    raw: &RawStdioUpstream,
    file: &Path,
    path: &str,
) -> Result<StdioSettings, ConfigError> {
    stdio::compile(raw, file, path)
}
