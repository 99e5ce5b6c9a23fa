//! Configuration of a stdio upstream: a local MCP server the gateway spawns.
//!
//! ```yaml
//! stdio:
//!   command: [/usr/bin/node, /srv/mcp/server.js, stdio]  # argv; no shell, ever
//!   cwd: /srv/mcp                 # default: the configuration file's folder
//!   env_allow: [PATH, HOME]       # copied from the gateway's environment when set
//!   env:
//!     API_TOKEN: { env: GITHUB_TOKEN }            # from the gateway's environment
//!     DB_PASSWORD: { file: /run/secrets/db }      # from a file (one trailing newline dropped)
//!     LOG_LEVEL: { value: debug }                 # inline: not for secrets
//!   era: auto                     # legacy | 2026-07-28 | auto (probe server/discover)
//!   protocol_version: 2025-11-25  # offered in `initialize` (legacy era)
//!   client_capabilities: {}       # declared to the server; {} = no sampling/roots/elicitation
//!   request_timeout: 60s
//!   startup_timeout: 30s
//!   max_line: 4MiB                # a longer stdout line is dropped
//!   max_stderr_line: 8KiB         # a longer stderr line is logged truncated
//!   max_in_flight: 256
//!   health: { ping_interval: 30s, ping_timeout: 10s, max_consecutive_timeouts: 3 }
//!   restart: { initial_backoff: 500ms, max_backoff: 30s, jitter: true }
//!   shutdown: { stdin_grace: 2s, term_grace: 3s }
//! ```
//!
//! Invariants, once [`compile`] returns: the command has a program; every
//! environment value is resolved (a missing gateway variable or unreadable file is
//! a configuration error naming its path); no inline value is given to a variable
//! whose name looks like a secret unless `allow_inline_secrets` says so; every
//! bound is positive. The child gets an empty environment plus exactly these
//! variables: nothing of the gateway's leaks by default.

use super::ConfigError;
use super::units::{ByteSize, HumanDuration};
use crate::protocol::{Era, Version};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A stdio upstream as written in the file.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStdioUpstream {
    /// The program and its arguments. The program is a path (relative to the
    /// configuration file's folder when it contains a `/`) or a bare name looked
    /// up in `PATH` (the child's `PATH` when `env` sets one, else the gateway's).
    pub command: Vec<String>,
    /// Working directory, relative to the configuration file's folder. Default:
    /// that folder.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Variables of the gateway's environment passed through when set.
    #[serde(default)]
    pub env_allow: Vec<String>,
    /// Variables set explicitly, each from exactly one source.
    #[serde(default)]
    pub env: BTreeMap<String, RawEnvValue>,
    /// Permits inline `value:` for variables named like secrets (`*TOKEN*`,
    /// `*SECRET*`, `*PASSWORD*`, `*KEY*`, ...). Loosens a check: secrets in the
    /// YAML end up in backups and diffs. Default false.
    #[serde(default)]
    pub allow_inline_secrets: bool,
    /// `legacy`, `2026-07-28` or `auto` (probe `server/discover`, fall back to
    /// `initialize`). Default `auto`.
    #[serde(default)]
    #[schemars(extend("enum" = ["legacy", "2026-07-28", "auto", null]))]
    pub era: Option<String>,
    /// The version offered in `initialize`. Default `2025-11-25`.
    #[serde(default)]
    pub protocol_version: Option<String>,
    /// Capabilities the gateway declares to the server. Default `{}`: the server
    /// is told the gateway takes no sampling, elicitation or roots requests.
    #[serde(default)]
    pub client_capabilities: Option<Value>,
    /// Default deadline of a request. Default `60s`.
    #[serde(default)]
    pub request_timeout: Option<HumanDuration>,
    /// Time allowed to spawn and finish the handshake. Default `30s`.
    #[serde(default)]
    pub startup_timeout: Option<HumanDuration>,
    /// Longest stdout line (one message). Default `4MiB`.
    #[serde(default)]
    pub max_line: Option<ByteSize>,
    /// Longest stderr line logged whole. Default `8KiB`.
    #[serde(default)]
    pub max_stderr_line: Option<ByteSize>,
    /// Most requests awaiting an answer. Default 256.
    #[serde(default)]
    pub max_in_flight: Option<usize>,
    /// Liveness checking.
    #[serde(default)]
    pub health: RawStdioHealth,
    /// Restart backoff.
    #[serde(default)]
    pub restart: RawRestart,
    /// Shutdown bounds.
    #[serde(default)]
    pub shutdown: RawShutdown,
}

/// One environment value: exactly one of `value`, `env`, `file`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEnvValue {
    /// Inline text (not for secrets).
    #[serde(default)]
    pub value: Option<String>,
    /// The name of a variable of the gateway's environment.
    #[serde(default)]
    pub env: Option<String>,
    /// A file whose content is the value (relative to the configuration file).
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// Liveness checking.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStdioHealth {
    /// How often the server is pinged (`ping`, or `server/discover` in the
    /// 2026-07-28 era). Default `30s`; `0s` disables.
    pub ping_interval: Option<HumanDuration>,
    /// Deadline of that ping. Default `10s`.
    pub ping_timeout: Option<HumanDuration>,
    /// Restart after this many requests in a row time out. Default 3.
    pub max_consecutive_timeouts: Option<u32>,
}

/// Restart backoff: `initial_backoff`, doubled per failed start up to `max_backoff`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRestart {
    /// First delay. Default `500ms`.
    #[serde(default)]
    pub initial_backoff: Option<HumanDuration>,
    /// Largest delay. Default `30s`.
    #[serde(default)]
    pub max_backoff: Option<HumanDuration>,
    /// Pick each delay at random between half and all of it. Default true.
    #[serde(default = "yes")]
    pub jitter: bool,
}

impl Default for RawRestart {
    fn default() -> Self {
        RawRestart {
            initial_backoff: None,
            max_backoff: None,
            jitter: true,
        }
    }
}

/// Shutdown: close stdin, wait `stdin_grace`; SIGTERM, wait `term_grace`; SIGKILL.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawShutdown {
    /// Default `2s`.
    pub stdin_grace: Option<HumanDuration>,
    /// Default `3s`.
    pub term_grace: Option<HumanDuration>,
}

fn yes() -> bool {
    true
}

/// Which handshake the gateway performs on each start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdioEra {
    /// `initialize` + `notifications/initialized`.
    Only(Era),
    /// `server/discover` first; `initialize` when the server is not 2026-07-28.
    Auto,
}

/// A value for the child's environment. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvValue(OsString);

impl EnvValue {
    /// The value, to hand to the child.
    pub fn expose(&self) -> &OsString {
        &self.0
    }
}

impl fmt::Debug for EnvValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnvValue(<redacted>)")
    }
}

/// A compiled stdio upstream.
#[derive(Debug, Clone)]
pub struct StdioSettings {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Working directory.
    pub cwd: PathBuf,
    /// The child's whole environment.
    pub env: Vec<(String, EnvValue)>,
    /// Handshake choice.
    pub era: StdioEra,
    /// The version offered in `initialize`.
    pub protocol_version: Version,
    /// Capabilities declared to the server.
    pub client_capabilities: Map<String, Value>,
    /// Default request deadline.
    pub request_timeout: Duration,
    /// Spawn + handshake bound.
    pub startup_timeout: Duration,
    /// Longest stdout line, bytes.
    pub max_line: usize,
    /// Longest stderr line logged whole, bytes.
    pub max_stderr_line: usize,
    /// Most requests in flight.
    pub max_in_flight: usize,
    /// Ping period; `None` = no pings.
    pub ping_interval: Option<Duration>,
    /// Ping deadline.
    pub ping_timeout: Duration,
    /// Consecutive timeouts that trigger a restart.
    pub max_consecutive_timeouts: u32,
    /// First restart delay.
    pub initial_backoff: Duration,
    /// Largest restart delay.
    pub max_backoff: Duration,
    /// Randomise restart delays.
    pub jitter: bool,
    /// Wait after closing stdin.
    pub stdin_grace: Duration,
    /// Wait after SIGTERM.
    pub term_grace: Duration,
    /// Files read for `env` values, to watch for reloads.
    pub files: Vec<PathBuf>,
}

/// Compiles `raw`, found at `path` (e.g. `upstreams.files.stdio`) in `file`,
/// reading variables from the gateway's environment.
pub fn compile(
    raw: &RawStdioUpstream,
    file: &Path,
    path: &str,
) -> Result<StdioSettings, ConfigError> {
    compile_with(raw, file, path, &|name| std::env::var_os(name))
}

/// [`compile`] with the gateway's environment given as a lookup function.
pub fn compile_with(
    raw: &RawStdioUpstream,
    file: &Path,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<OsString>,
) -> Result<StdioSettings, ConfigError> {
    let base = crate::config::compile::folder_of(file);
    let at =
        |field: &str, message: String| ConfigError::at(file, &format!("{path}.{field}"), message);
    let (program, args) = match raw.command.split_first() {
        Some((program, args)) if !program.is_empty() => (program, args.to_vec()),
        _ => {
            return Err(at(
                "command",
                "must list the program and its arguments".into(),
            ));
        }
    };
    let program = if program.contains('/') {
        base.join(program)
    } else {
        PathBuf::from(program)
    };
    let mut files = Vec::new();
    let env = environment(raw, base, lookup, &mut files).map_err(|(field, m)| at(&field, m))?;
    let era = match raw.era.as_deref().unwrap_or("auto") {
        "auto" => StdioEra::Auto,
        "legacy" => StdioEra::Only(Era::Legacy),
        "2026-07-28" => StdioEra::Only(Era::Modern),
        other => {
            return Err(at(
                "era",
                format!("`{other}` is not an era; use legacy, 2026-07-28 or auto"),
            ));
        }
    };
    let protocol_version = match raw.protocol_version.as_deref() {
        None => Version::V2025_11_25,
        Some(v) => Version::parse(v)
            .filter(|v| v.era() == Era::Legacy)
            .ok_or_else(|| {
                at(
                    "protocol_version",
                    format!("`{v}` is not a legacy protocol version"),
                )
            })?,
    };
    let client_capabilities = match &raw.client_capabilities {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(at("client_capabilities", "must be a mapping".into())),
    };
    let time = |v: Option<HumanDuration>, default: u64, field: &str| match v
        .map_or(Duration::from_millis(default), |d| d.0)
    {
        d if d.is_zero() => Err(at(field, "must be longer than zero".into())),
        d => Ok(d),
    };
    let count = |v: Option<usize>, default: usize, field: &str| match v.unwrap_or(default) {
        0 => Err(at(field, "must be greater than zero".into())),
        n => Ok(n),
    };
    let initial_backoff = time(raw.restart.initial_backoff, 500, "restart.initial_backoff")?;
    let max_backoff = time(raw.restart.max_backoff, 30_000, "restart.max_backoff")?;
    if max_backoff < initial_backoff {
        return Err(at(
            "restart.max_backoff",
            "must not be shorter than initial_backoff".into(),
        ));
    }
    Ok(StdioSettings {
        program,
        args,
        cwd: raw
            .cwd
            .as_ref()
            .map_or_else(|| base.to_path_buf(), |c| base.join(c)),
        env,
        era,
        protocol_version,
        client_capabilities,
        request_timeout: time(raw.request_timeout, 60_000, "request_timeout")?,
        startup_timeout: time(raw.startup_timeout, 30_000, "startup_timeout")?,
        max_line: count(raw.max_line.map(ByteSize::as_usize), 4 << 20, "max_line")?,
        max_stderr_line: count(
            raw.max_stderr_line.map(ByteSize::as_usize),
            8 << 10,
            "max_stderr_line",
        )?,
        max_in_flight: count(raw.max_in_flight, 256, "max_in_flight")?,
        ping_interval: match raw.health.ping_interval {
            Some(d) if d.0.is_zero() => None,
            other => Some(other.map_or(Duration::from_secs(30), |d| d.0)),
        },
        ping_timeout: time(raw.health.ping_timeout, 10_000, "health.ping_timeout")?,
        max_consecutive_timeouts: match raw.health.max_consecutive_timeouts.unwrap_or(3) {
            0 => {
                return Err(at(
                    "health.max_consecutive_timeouts",
                    "must be greater than zero".into(),
                ));
            }
            n => n,
        },
        initial_backoff,
        max_backoff,
        jitter: raw.restart.jitter,
        stdin_grace: time(raw.shutdown.stdin_grace, 2_000, "shutdown.stdin_grace")?,
        term_grace: time(raw.shutdown.term_grace, 3_000, "shutdown.term_grace")?,
        files,
    })
}

/// Names that suggest a secret, compared in upper case.
const SECRET_HINTS: [&str; 8] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "KEY",
    "CREDENTIAL",
    "AUTH",
    "PRIVATE",
];

type FieldError = (String, String);

fn environment(
    raw: &RawStdioUpstream,
    base: &Path,
    lookup: &dyn Fn(&str) -> Option<OsString>,
    files: &mut Vec<PathBuf>,
) -> Result<Vec<(String, EnvValue)>, FieldError> {
    let mut env = Vec::new();
    for (i, name) in raw.env_allow.iter().enumerate() {
        check_name(name).map_err(|m| (format!("env_allow[{i}]"), m))?;
        if raw.env.contains_key(name) {
            return Err((
                format!("env_allow[{i}]"),
                format!("`{name}` is also set in env; keep one"),
            ));
        }
        if let Some(value) = lookup(name) {
            env.push((name.clone(), EnvValue(value)));
        }
    }
    for (name, source) in &raw.env {
        let field = format!("env.{name}");
        check_name(name).map_err(|m| (field.clone(), m))?;
        let value = match (&source.value, &source.env, &source.file) {
            (Some(v), None, None) => {
                let upper = name.to_ascii_uppercase();
                if !raw.allow_inline_secrets && SECRET_HINTS.iter().any(|h| upper.contains(h)) {
                    return Err((
                        field,
                        "looks like a secret: read it with `env:` or `file:` instead of an inline \
                         `value:` (or set allow_inline_secrets: true)"
                            .into(),
                    ));
                }
                OsString::from(v)
            }
            (None, Some(var), None) => lookup(var).ok_or_else(|| {
                (
                    field.clone(),
                    format!("the gateway's environment has no `{var}`"),
                )
            })?,
            (None, None, Some(path)) => {
                let path = base.join(path);
                let text = std::fs::read(&path).map_err(|e| {
                    (
                        field.clone(),
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                files.push(path);
                let text = text.strip_suffix(b"\n").unwrap_or(&text);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                OsString::from(
                    String::from_utf8(text.to_vec())
                        .map_err(|_| (field.clone(), "the file is not UTF-8".to_owned()))?,
                )
            }
            _ => return Err((field, "give exactly one of value, env or file".into())),
        };
        if value.as_encoded_bytes().contains(&0) {
            return Err((field, "the value contains a NUL byte".into()));
        }
        env.push((name.clone(), EnvValue(value)));
    }
    Ok(env)
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains(['=', '\0']) {
        Err(format!("`{name}` is not a valid environment variable name"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
#[path = "stdio_tests.rs"]
mod tests;
