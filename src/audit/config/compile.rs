//! Compiles [`RawAuditConfig`] into [`AuditConfig`]: every error names its
//! path under `audit.` and what was expected.

use super::raw::*;
use super::*;
use crate::audit::checkpoint::CheckpointKey;
use crate::audit::prepare::{ArgumentMode, ArgumentPolicy};
use crate::audit::redact::ArgPath;
use crate::config::ConfigError;
use crate::config::units::HumanDuration;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Compiles `audit:` as a section of the gateway's configuration: `None` when
/// it says `disabled: true` (and nothing else).
pub fn compile_section(
    raw: RawAuditConfig,
    file: &Path,
) -> Result<Option<AuditConfig>, ConfigError> {
    if raw.disabled {
        let alone = raw.file.is_none() && raw.syslog.is_none() && raw.otlp.is_none() && !raw.stdout;
        if !alone {
            return Err(ConfigError::at(
                file,
                "audit.disabled",
                "`disabled: true` cannot be combined with sinks; remove one or the other",
            ));
        }
        return Ok(None);
    }
    compile(raw, file).map(Some)
}

/// Compiles `audit:`; `file` is the configuration file (for errors and to
/// resolve relative paths).
pub fn compile(raw: RawAuditConfig, file: &Path) -> Result<AuditConfig, ConfigError> {
    let base = file.parent().unwrap_or(Path::new("."));
    let at = |(path, msg): Located| ConfigError::at(file, &format!("audit.{path}"), msg);
    let Some(raw_file) = raw.file.as_ref() else {
        return Err(at((
            "file.directory".into(),
            "required: the folder for the audit log's segment files".into(),
        )));
    };
    let fsync = compile_fsync(raw.fsync.as_deref()).map_err(at)?;
    let queue_capacity = positive(raw.queue_capacity, 65_536)
        .ok_or_else(|| at(("queue_capacity".into(), "must be at least 1".into())))?;
    let file_settings = compile_file(raw_file, base).map_err(at)?;
    let checkpoint = compile_checkpoint(&raw.checkpoint, base, &file_settings).map_err(at)?;
    let arguments = compile_arguments(&raw.arguments).map_err(at)?;
    let syslog = raw
        .syslog
        .map(|s| compile_syslog(s, base))
        .transpose()
        .map_err(at)?;
    let otlp = raw.otlp.map(compile_otlp).transpose().map_err(at)?;
    Ok(AuditConfig {
        on_failure: match raw.on_failure {
            Some(RawFailureMode::FailOpen) => FailureMode::Open,
            _ => FailureMode::Closed,
        },
        queue_capacity,
        fsync,
        format: match raw.format {
            Some(RawFormat::Ecs) => crate::audit::chain::Format::Ecs,
            _ => crate::audit::chain::Format::Ocsf,
        },
        gateway_name: raw.gateway_name.unwrap_or_else(host_name),
        file: file_settings,
        checkpoint,
        arguments,
        stdout: raw.stdout,
        syslog,
        otlp,
    })
}

fn compile_fsync(text: Option<&str>) -> Result<FsyncPolicy, Located> {
    match text.unwrap_or("5ms") {
        "always" => Ok(FsyncPolicy::Always),
        "none" => Ok(FsyncPolicy::Never),
        other => match HumanDuration::parse(other) {
            Ok(d) if !d.0.is_zero() && d.0 <= Duration::from_secs(60) => {
                Ok(FsyncPolicy::Every(d.0))
            }
            _ => Err((
                "fsync".into(),
                format!(
                    "`{other}`: expected `always`, `none` or a group-commit interval between 1ms and 60s such as `5ms`"
                ),
            )),
        },
    }
}

fn compile_file(raw: &RawFileSink, base: &Path) -> Result<FileSettings, Located> {
    let prefix = raw.prefix.clone().unwrap_or_else(|| "audit".into());
    if prefix.is_empty() || prefix.contains(['/', '\\']) {
        return Err((
            "file.prefix".into(),
            format!("`{prefix}` must be a non-empty file name part"),
        ));
    }
    let rotate_size = raw.rotate_size.map_or(256 << 20, |b| b.0);
    if rotate_size < 4096 {
        return Err(("file.rotate_size".into(), "must be at least 4KiB".into()));
    }
    let rotate_interval = raw
        .rotate_interval
        .map_or(Duration::from_secs(3600), |d| d.0);
    if rotate_interval < Duration::from_secs(1) {
        return Err(("file.rotate_interval".into(), "must be at least 1s".into()));
    }
    Ok(FileSettings {
        directory: base.join(&raw.directory),
        prefix,
        rotate_size,
        rotate_interval,
    })
}

fn compile_checkpoint(
    raw: &RawCheckpoint,
    base: &Path,
    file: &FileSettings,
) -> Result<CheckpointSettings, Located> {
    let key = match &raw.signing_key {
        Some(p) => Some(
            CheckpointKey::from_pem_file(&base.join(p))
                .map_err(|e| ("checkpoint.signing_key".to_owned(), e))?,
        ),
        None => None,
    };
    let interval = raw.interval.map_or(Duration::from_secs(10), |d| d.0);
    if interval < Duration::from_millis(100) {
        return Err((
            "checkpoint.interval".into(),
            "must be at least 100ms".into(),
        ));
    }
    let every_events = match raw.every_events {
        Some(0) => {
            return Err((
                "checkpoint.every_events".into(),
                "must be at least 1".into(),
            ));
        }
        Some(n) => n,
        None => 10_000,
    };
    let default_file = || {
        file.directory
            .join(format!("{}-checkpoints.jsonl", file.prefix))
    };
    Ok(CheckpointSettings {
        interval,
        every_events,
        key,
        file: raw
            .file
            .as_ref()
            .map_or_else(default_file, |f| base.join(f)),
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
            crate::audit::remote::syslog::client_tls(
                &base.join(&t.ca),
                t.server_name.as_deref(),
                address,
            )
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
