//! Compiling `upstream:` / `upstreams:`, `federation:` and `sessions:`.

use super::{
    ConfigError, Federation, HttpSettings, RawFederation, RawSecret, RawSessions, RawUpstreamEntry,
    RawUpstreamOauth, RawUpstreamTls, Transport, UpstreamSpec, secret, stdio_settings,
};
#[path = "upstreams_oauth.rs"]
mod oauth;
use crate::config::raw::RawUpstream;
use crate::config::units::HumanDuration;
use crate::federation::Naming;
use crate::session::Sealer;
use base64::Engine as _;
use http::{HeaderName, HeaderValue, Uri};
use oauth::oauth;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Compiles the upstream sections. Exactly one of `upstream` and `upstreams`.
pub fn compile(
    single: Option<&RawUpstream>,
    many: Option<&BTreeMap<String, RawUpstreamEntry>>,
    federation: &RawFederation,
    sessions: &RawSessions,
    file: &Path,
    watched: &mut Vec<PathBuf>,
) -> Result<Federation, ConfigError> {
    let base = crate::config::compile::folder_of(file);
    let (upstreams, prefixes) = match (single, many) {
        (Some(raw), None) => {
            let http = http_settings(&HttpParts::single(raw), file, base, "upstream", watched)?;
            let spec = UpstreamSpec {
                name: crate::config::DEFAULT_UPSTREAM.to_owned(),
                transport: Transport::Http(http),
                resources: Vec::new(),
            };
            (vec![spec], vec![None])
        }
        (None, Some(map)) if !map.is_empty() => {
            let mut specs = Vec::with_capacity(map.len());
            let mut prefixes = Vec::with_capacity(map.len());
            for (name, raw) in map {
                let path = format!("upstreams.{name}");
                specs.push(entry(name, raw, file, base, &path, watched)?);
                prefixes.push(match raw.prefix.as_deref() {
                    None => Some(name.clone()),
                    Some("") => None,
                    Some(p) => Some(p.to_owned()),
                });
            }
            (specs, prefixes)
        }
        (Some(_), Some(_)) => {
            return Err(ConfigError::at(
                file,
                "upstreams",
                "give either `upstream` (one server) or `upstreams` (named servers), not both",
            ));
        }
        _ => {
            return Err(ConfigError::at(
                file,
                "upstreams",
                "required: the MCP server(s) behind the gateway (`upstream: {url: ...}` or `upstreams: {name: {...}}`)",
            ));
        }
    };
    let separator = federation.separator.as_deref().unwrap_or("__");
    let naming = Naming::new(prefixes, separator)
        .map_err(|e| ConfigError::at(file, "upstreams", e.to_string()))?;
    let sealer = session_keys(sessions, file, base)?;
    Ok(Federation {
        upstreams,
        naming,
        sealer,
        session_max_age: sessions
            .max_age
            .map_or(Duration::from_secs(24 * 3600), |d| d.0),
        tasks: match &sessions.tasks.redis {
            None => None,
            Some(r) => Some(Arc::new(
                crate::pipeline::shared_tasks::SharedTasks::new(
                    &r.url,
                    r.prefix
                        .clone()
                        .unwrap_or_else(|| "portcullis:tasks:".into()),
                )
                .map_err(|e| ConfigError::at(file, "sessions.tasks.redis.url", e))?,
            )),
        },
    })
}

fn entry(
    name: &str,
    raw: &RawUpstreamEntry,
    file: &Path,
    base: &Path,
    path: &str,
    watched: &mut Vec<PathBuf>,
) -> Result<UpstreamSpec, ConfigError> {
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !valid_name {
        return Err(ConfigError::at(
            file,
            path,
            "an upstream name uses only letters, digits, `_`, `-` and `.`",
        ));
    }
    let kind = match (raw.transport.as_deref(), &raw.url, &raw.stdio) {
        (Some("stdio") | None, None, Some(_)) => "stdio",
        (Some(t @ ("streamable_http" | "sse")), Some(_), None) => t,
        (None, Some(_), None) => "streamable_http",
        (Some(other), _, _) if !matches!(other, "stdio" | "streamable_http" | "sse") => {
            return Err(ConfigError::at(
                file,
                &format!("{path}.transport"),
                format!("`{other}` is not a transport; use streamable_http, sse or stdio"),
            ));
        }
        _ => {
            return Err(ConfigError::at(
                file,
                path,
                "give `url` (streamable_http or sse) or `stdio: {command: [...]}`, matching `transport`",
            ));
        }
    };
    let transport = match kind {
        "stdio" => {
            let Some(stdio) = &raw.stdio else {
                return Err(ConfigError::at(
                    file,
                    path,
                    "a stdio upstream needs `stdio`",
                ));
            };
            let settings = stdio_settings(stdio, file, &format!("{path}.stdio"))?;
            watched.extend(settings.files.iter().cloned());
            Transport::Stdio(settings)
        }
        kind => {
            if kind == "sse" && raw.oauth.is_some() {
                return Err(ConfigError::at(
                    file,
                    &format!("{path}.oauth"),
                    "`oauth` is for streamable_http upstreams; give an `sse` upstream its \
                     credentials in `headers`",
                ));
            }
            let http = http_settings(&HttpParts::entry(raw), file, base, path, watched)?;
            if kind == "sse" {
                Transport::Sse(http)
            } else {
                Transport::Http(http)
            }
        }
    };
    Ok(UpstreamSpec {
        name: name.to_owned(),
        transport,
        resources: raw.resources.clone(),
    })
}

/// What an HTTP upstream is built from, whichever section wrote it.
pub struct HttpParts<'a> {
    url: &'a str,
    headers: Option<&'a BTreeMap<String, RawSecret>>,
    oauth: Option<&'a RawUpstreamOauth>,
    tls: Option<&'a RawUpstreamTls>,
    connect_timeout: Option<HumanDuration>,
    response_timeout: Option<HumanDuration>,
    http2: bool,
}

impl<'a> HttpParts<'a> {
    fn single(raw: &'a RawUpstream) -> HttpParts<'a> {
        HttpParts {
            url: &raw.url,
            headers: None,
            oauth: None,
            tls: None,
            connect_timeout: raw.connect_timeout,
            response_timeout: raw.response_timeout,
            http2: raw.http2,
        }
    }

    fn entry(raw: &'a RawUpstreamEntry) -> HttpParts<'a> {
        HttpParts {
            url: raw.url.as_deref().unwrap_or_default(),
            headers: Some(&raw.headers),
            oauth: raw.oauth.as_ref(),
            tls: raw.tls.as_ref(),
            connect_timeout: raw.connect_timeout,
            response_timeout: raw.response_timeout,
            http2: raw.http2,
        }
    }
}

/// Compiles an HTTP upstream's URL, headers, TLS and timeouts.
pub fn http_settings(
    raw: &HttpParts<'_>,
    file: &Path,
    base: &Path,
    path: &str,
    watched: &mut Vec<PathBuf>,
) -> Result<HttpSettings, ConfigError> {
    let at = |field: &str, m: String| ConfigError::at(file, &format!("{path}.{field}"), m);
    let url: Uri = raw
        .url
        .parse()
        .map_err(|_| at("url", format!("`{}` is not a URL", raw.url)))?;
    let scheme = url.scheme_str().unwrap_or_default().to_owned();
    let Some(authority) = url.authority().map(|a| a.as_str().to_owned()) else {
        return Err(at(
            "url",
            format!("`{}` must be an absolute http:// or https:// URL", raw.url),
        ));
    };
    if !matches!(scheme.as_str(), "http" | "https") {
        return Err(at(
            "url",
            format!("`{}` must be an absolute http:// or https:// URL", raw.url),
        ));
    }
    let header = |v: String| HeaderValue::try_from(v).map_err(|_| at("url", "invalid host".into()));
    let mut headers = Vec::new();
    for (name, value) in raw.headers.into_iter().flatten() {
        let hname = HeaderName::try_from(name.as_str())
            .map_err(|_| at(&format!("headers.{name}"), "not a header name".into()))?;
        let text = secret(value, base, file, &format!("{path}.headers.{name}"))?;
        let mut hvalue = HeaderValue::try_from(text).map_err(|_| {
            at(
                &format!("headers.{name}"),
                "not a valid header value".into(),
            )
        })?;
        hvalue.set_sensitive(true);
        if let Some(f) = &value.file {
            watched.push(base.join(f));
        }
        headers.push((hname, hvalue));
    }
    let tls = match (scheme.as_str(), raw.tls) {
        ("http", Some(_)) => return Err(at("tls", "TLS settings need an https:// URL".into())),
        ("http", None) => client_tls(None, base, &mut Vec::new(), false),
        (_, tls) => client_tls(tls, base, watched, true),
    }
    .map_err(|m| at("tls", m))?;
    let oauth = raw
        .oauth
        .map(|o| oauth(o, raw.url, file, base, &format!("{path}.oauth"), watched))
        .transpose()?;
    if oauth.is_some()
        && headers
            .iter()
            .any(|(n, _)| n == http::header::AUTHORIZATION)
    {
        return Err(at(
            "oauth",
            "the upstream's Authorization comes from `oauth` or from `headers`, not both".into(),
        ));
    }
    Ok(HttpSettings {
        host: header(authority.clone())?,
        origin: header(format!("{scheme}://{authority}"))?,
        url,
        headers,
        oauth,
        tls,
        connect_timeout: raw.connect_timeout.map_or(Duration::from_secs(5), |d| d.0),
        response_timeout: raw
            .response_timeout
            .map_or(Duration::from_secs(60), |d| d.0),
        http2: raw.http2,
    })
}

fn client_tls(
    raw: Option<&RawUpstreamTls>,
    base: &Path,
    watched: &mut Vec<PathBuf>,
    used: bool,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    match raw.and_then(|t| t.ca.as_ref()) {
        _ if !used => {}
        Some(ca) => {
            let ca = base.join(ca);
            for cert in CertificateDer::pem_file_iter(&ca)
                .map_err(|e| format!("cannot read {}: {e}", ca.display()))?
            {
                let cert = cert.map_err(|e| format!("invalid PEM in {}: {e}", ca.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("unusable CA in {}: {e}", ca.display()))?;
            }
            watched.push(ca);
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match (
        raw.and_then(|t| t.cert.as_ref()),
        raw.and_then(|t| t.key.as_ref()),
    ) {
        (Some(cert), Some(key)) => {
            let (cert, key) = (base.join(cert), base.join(key));
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
                .map_err(|e| format!("cannot read {}: {e}", cert.display()))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("invalid PEM in {}: {e}", cert.display()))?;
            let pkey = PrivateKeyDer::from_pem_file(&key)
                .map_err(|e| format!("cannot read a key from {}: {e}", key.display()))?;
            watched.extend([cert, key]);
            builder
                .with_client_auth_cert(chain, pkey)
                .map_err(|e| format!("client certificate and key: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("`cert` and `key` go together".into()),
    };
    Ok(Arc::new(config))
}

fn session_keys(
    raw: &RawSessions,
    file: &Path,
    base: &Path,
) -> Result<Option<Arc<Sealer>>, ConfigError> {
    if raw.keys.is_empty() {
        return Ok(None);
    }
    let mut keys = Vec::with_capacity(raw.keys.len());
    for (i, k) in raw.keys.iter().enumerate() {
        let path = format!("sessions.keys[{i}].secret");
        let text = secret(&k.secret, base, file, &path)?;
        let bytes = decode_key(text.trim()).ok_or_else(|| {
            ConfigError::at(file, &path, "must be 32 bytes, written as base64 or hex")
        })?;
        keys.push((k.id.clone(), bytes));
    }
    Sealer::new(&keys)
        .map(|s| Some(Arc::new(s)))
        .map_err(|e| ConfigError::at(file, "sessions.keys", e.to_string()))
}

fn decode_key(text: &str) -> Option<Vec<u8>> {
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
    ];
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
            .collect();
    }
    engines
        .iter()
        .find_map(|e| e.decode(text).ok())
        .filter(|b| b.len() == 32)
}
