//! The `authentication:` section: its raw types ([`raw`]) and their compilation.
//!
//! The section is required. `mode: none` (anonymous callers) must be written
//! out, and is announced by a warning at start-up; `mode: jwt` fails closed:
//! every MCP request needs a valid token; `mode: mtls` needs client
//! certificates required on the listener.

mod issuer;
pub mod raw;

pub use raw::{RawAuthentication, RawIssuer, RawMode, RawRedis, RawRefresh, RawRevocation};

use super::ConfigError;
use super::units::{ByteSize, HumanDuration};
use crate::authn::http::HttpClient;
use crate::authn::metadata::ResourceMetadata;
use crate::authn::revocation::RevocationList;
use crate::authn::shared_revocations::SharedRevocations;
use crate::authn::{Authenticator, Authn};
use http::Uri;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The compiled section.
#[derive(Debug, Clone)]
pub struct Authentication {
    /// What requests must present.
    pub authn: Authn,
    /// Most run-time revocations held.
    pub max_revocations: usize,
    /// The admin endpoint's secret, if enabled.
    pub admin_token: Option<Arc<[u8]>>,
}

struct Ctx<'a> {
    file: &'a Path,
    base: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, path: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::at(self.file, path, message)
    }
}

/// Compiles the section; `listen` is the compiled listener.
pub fn compile(
    raw: &RawAuthentication,
    listen: &super::Listen,
    file: &Path,
    base: &Path,
    watched: &mut Vec<PathBuf>,
) -> Result<Authentication, ConfigError> {
    let cx = Ctx { file, base };
    let revocation = raw.revocation.clone().unwrap_or_default();
    let max_revocations = revocation.max_entries.unwrap_or(100_000);
    if max_revocations == 0 {
        return Err(cx.err(
            "authentication.revocation.max_entries",
            "must be greater than zero",
        ));
    }
    let admin_token = revocation
        .admin_token_file
        .as_ref()
        .map(|f| admin_token(&cx, f, watched))
        .transpose()?;
    let authn = match raw.mode {
        RawMode::Jwt => {
            let revoked = revocation
                .file
                .as_ref()
                .map(|f| revocation_file(&cx, f, max_revocations, watched))
                .transpose()?;
            let mut authenticator = jwt(&cx, raw, listen, revoked, watched)?;
            if let Some(redis) = &revocation.redis {
                authenticator =
                    authenticator.with_shared_revocations(shared(&cx, redis, max_revocations)?);
            }
            Authn::Jwt(Arc::new(authenticator))
        }
        _ if !raw.issuers.is_empty() => {
            return Err(cx.err(
                "authentication.issuers",
                "issuers are configured but mode is not `jwt`",
            ));
        }
        RawMode::Mtls if !listen.client_certificates_required => {
            return Err(cx.err(
                "authentication.mode",
                "mode: mtls needs listen.tls.client_ca with client_auth: required",
            ));
        }
        RawMode::Mtls => Authn::Certificate,
        RawMode::None => Authn::None,
    };
    Ok(Authentication {
        authn,
        max_revocations,
        admin_token,
    })
}

/// `mode: jwt`: the resource, its metadata, the issuers.
fn jwt(
    cx: &Ctx<'_>,
    raw: &RawAuthentication,
    listen: &super::Listen,
    revoked: Option<RevocationList>,
    watched: &mut Vec<PathBuf>,
) -> Result<Authenticator, ConfigError> {
    let resource = match (&raw.resource, &listen.public_url) {
        (Some(r), _) => parse_url(cx, r, "authentication.resource")?,
        (None, Some(u)) => u.clone(),
        (None, None) => {
            return Err(cx.err(
                "authentication.resource",
                "required with mode: jwt (or set listen.public_url): the URL clients use, \
                 which tokens must name in `aud`",
            ));
        }
    };
    if raw.issuers.is_empty() {
        return Err(cx.err(
            "authentication.issuers",
            "mode: jwt needs at least one issuer",
        ));
    }
    let max_token_bytes = raw.max_token_size.map_or(8 << 10, ByteSize::as_usize);
    if !(256..=64 << 10).contains(&max_token_bytes) {
        return Err(cx.err(
            "authentication.max_token_size",
            "must be between 256 and 64KiB",
        ));
    }
    let issuers_named: Vec<String> = raw.issuers.iter().map(|i| i.issuer.clone()).collect();
    let metadata = ResourceMetadata::new(
        &resource,
        &listen.path,
        raw.authorization_servers
            .as_deref()
            .unwrap_or(&issuers_named),
        raw.scopes_supported
            .as_deref()
            .unwrap_or(&raw.required_scopes),
        &raw.required_scopes,
        raw.resource_name.as_deref(),
    );
    let http = HttpClient::new(Duration::from_secs(5), crate::authn::keys::MAX_JWKS_BYTES)
        .map_err(|m| cx.err("authentication", m))?;
    let issuers = raw
        .issuers
        .iter()
        .enumerate()
        .map(|(i, r)| issuer::issuer(cx, r, i, &metadata.resource, &http, watched))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Authenticator::new(
        issuers,
        max_token_bytes,
        raw.required_scopes.clone(),
        metadata,
        revoked,
        raw.cache_size.unwrap_or(10_000),
    ))
}

fn shared(
    cx: &Ctx<'_>,
    raw: &RawRedis,
    capacity: usize,
) -> Result<Arc<SharedRevocations>, ConfigError> {
    let poll = duration(raw.poll_interval, 2);
    if poll.is_zero() {
        return Err(cx.err(
            "authentication.revocation.redis.poll_interval",
            "must be longer than zero",
        ));
    }
    let key = raw.key.as_deref().unwrap_or("portcullis:revoked");
    SharedRevocations::new(&raw.url, key, poll, capacity)
        .map(Arc::new)
        .map_err(|m| cx.err("authentication.revocation.redis.url", m))
}

fn revocation_file(
    cx: &Ctx<'_>,
    f: &Path,
    capacity: usize,
    watched: &mut Vec<PathBuf>,
) -> Result<RevocationList, ConfigError> {
    let at = "authentication.revocation.file";
    let path = cx.base.join(f);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| cx.err(at, format!("cannot read {}: {e}", path.display())))?;
    watched.push(path);
    RevocationList::parse(&text, capacity, crate::authn::now())
        .map_err(|e| cx.err(at, e.to_string()))
}

fn parse_url(cx: &Ctx<'_>, s: &str, path: &str) -> Result<Uri, ConfigError> {
    let uri: Uri = s
        .parse()
        .map_err(|_| cx.err(path, format!("`{s}` is not a URL")))?;
    match (uri.scheme_str(), uri.authority(), uri.query()) {
        (Some("http" | "https"), Some(_), None) if !s.contains('#') => Ok(uri),
        _ => Err(cx.err(
            path,
            format!("`{s}` must be an absolute http(s) URL without query or fragment"),
        )),
    }
}

fn admin_token(
    cx: &Ctx<'_>,
    f: &Path,
    watched: &mut Vec<PathBuf>,
) -> Result<Arc<[u8]>, ConfigError> {
    let path = cx.base.join(f);
    let at = "authentication.revocation.admin_token_file";
    let text = std::fs::read_to_string(&path)
        .map_err(|e| cx.err(at, format!("cannot read {}: {e}", path.display())))?;
    let secret = text.trim();
    if secret.len() < 32 {
        return Err(cx.err(at, "the admin token must be at least 32 bytes"));
    }
    watched.push(path);
    Ok(Arc::from(secret.as_bytes()))
}

fn duration(v: Option<HumanDuration>, default: u64) -> Duration {
    v.map_or(Duration::from_secs(default), |d| d.0)
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;
    use std::path::Path;

    fn load(auth: &str) -> Result<crate::config::Runtime, String> {
        let text = format!(
            "listen:\n  address: 127.0.0.1:0\nupstream:\n  url: http://127.0.0.1:1/mcp\naudit:\n  disabled: true\n{auth}"
        );
        load_str(&text, Path::new("p.yaml")).map_err(|e| e.to_string())
    }

    #[test]
    fn each_mistake_is_named_with_its_path() {
        let issuer = "  issuers:\n    - issuer: https://idp\n      jwks_url: https://idp/jwks\n";
        let cases = [
            (
                "authentication:\n  mode: jwt\n",
                "authentication.resource: required",
            ),
            (
                &format!("authentication:\n  mode: none\n{issuer}      algorithms: [RS256]\n"),
                "authentication.issuers: issuers are configured but mode is not `jwt`",
            ),
            (
                &format!(
                    "authentication:\n  mode: jwt\n  resource: https://gw/mcp\n{issuer}      algorithms: [RS256, HS256]\n"
                ),
                "authentication.issuers[0].algorithms: HMAC and asymmetric algorithms cannot be mixed",
            ),
            (
                &format!(
                    "authentication:\n  mode: jwt\n  resource: https://gw/mcp\n{issuer}      algorithms: [none]\n"
                ),
                "authentication.issuers[0].algorithms: `none` is not a supported algorithm",
            ),
            (
                "authentication:\n  mode: jwt\n  resource: https://gw/mcp\n  issuers:\n    - issuer: https://idp\n      jwks_url: http://idp/jwks\n      algorithms: [RS256]\n",
                "authentication.issuers[0].jwks_url: must be https",
            ),
            (
                &format!(
                    "authentication:\n  mode: jwt\n  resource: https://gw/mcp\n{issuer}      algorithms: [RS256]\n      leeway: 10m\n"
                ),
                "authentication.issuers[0].leeway: at most 5m",
            ),
            (
                "authentication:\n  mode: mtls\n",
                "authentication.mode: mode: mtls needs",
            ),
        ];
        for (auth, expected) in cases {
            let err = load(auth).unwrap_err();
            assert!(err.contains(expected), "{auth}\n{err}");
        }
    }

    #[test]
    fn a_remote_issuer_compiles_without_fetching_anything() {
        let rt = load(
            "authentication:\n  mode: jwt\n  resource: https://gw/mcp\n  issuers:\n    - issuer: https://idp\n      discovery: true\n      algorithms: [RS256, ES256]\n",
        )
        .unwrap();
        assert!(matches!(
            rt.authentication.authn,
            crate::authn::Authn::Jwt(_)
        ));
    }
}
