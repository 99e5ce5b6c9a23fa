//! The `authentication:` section: raw types and their compilation.
//!
//! The section is required. `mode: none` (anonymous callers) must be written
//! out, and is announced by a warning at start-up; `mode: jwt` fails closed:
//! every MCP request needs a valid token. Every loosening option says so below.

use super::ConfigError;
use super::units::{ByteSize, HumanDuration};
use crate::authn::authenticator::{Issuer, KeySource};
use crate::authn::claims::ClaimRules;
use crate::authn::http::{HttpClient, allowed_url};
use crate::authn::jwks::{RefreshPolicy, RemoteKeys, Source};
use crate::authn::keys::{KeySet, VerifyKey};
use crate::authn::metadata::ResourceMetadata;
use crate::authn::principal::ClaimNames;
use crate::authn::revocation::RevocationList;
use crate::authn::{Authenticator, Authn, token};
use base64::Engine;
use http::Uri;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// `authentication:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuthentication {
    /// `jwt`: bearer JWT access tokens are required. `mtls`: the client
    /// certificate verified by `listen.tls.client_ca` (required) is the caller.
    /// `none`: no authentication, every caller is anonymous (PERMISSIVE: only
    /// behind something that authenticates, or for local experiments).
    pub mode: RawMode,
    /// The gateway's canonical resource URI (RFC 8707), which tokens must have
    /// in `aud`. Default: `listen.public_url`. Required with `mode: jwt`.
    #[serde(default)]
    pub resource: Option<String>,
    /// Authorization servers advertised in the protected resource metadata.
    /// Default: the issuers.
    #[serde(default)]
    pub authorization_servers: Option<Vec<String>>,
    /// `scopes_supported` in the metadata. Default: the required scopes.
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
    /// Scopes every token must carry; a valid token without them gets 403
    /// `insufficient_scope`. Default: none.
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// `resource_name` in the metadata.
    #[serde(default)]
    pub resource_name: Option<String>,
    /// Largest token accepted. Default `8KiB`, at most `64KiB`.
    #[serde(default)]
    pub max_token_size: Option<ByteSize>,
    /// Validated tokens remembered until they expire. Default 10000; 0 disables.
    #[serde(default)]
    pub cache_size: Option<usize>,
    /// The trusted token issuers.
    #[serde(default)]
    pub issuers: Vec<RawIssuer>,
    /// Revoked token ids.
    #[serde(default)]
    pub revocation: Option<RawRevocation>,
}

/// `authentication.mode`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RawMode {
    /// No authentication (explicit opt-out).
    None,
    /// JWT bearer tokens.
    Jwt,
    /// Client certificates.
    Mtls,
}

/// One trusted issuer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIssuer {
    /// The exact `iss` value.
    pub issuer: String,
    /// Accepted algorithms, e.g. `[RS256, ES256]`. HMAC (`HS*`) only with
    /// `hmac_secret_file` and never mixed with asymmetric ones.
    pub algorithms: Vec<String>,
    /// Fetch keys from this JWKS URL (https, or http on loopback).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Find the JWKS URL in the issuer's OpenID / RFC 8414 metadata.
    #[serde(default)]
    pub discovery: bool,
    /// Keys from a JWKS file (reloaded with the configuration).
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// An HMAC secret, base64 in a file, at least as long as the hash output.
    #[serde(default)]
    pub hmac_secret_file: Option<PathBuf>,
    /// Accepted audiences. Default: the resource URI.
    #[serde(default)]
    pub audiences: Option<Vec<String>>,
    /// Clock skew allowed. Default `30s`, at most `5m`.
    #[serde(default)]
    pub leeway: Option<HumanDuration>,
    /// Longest accepted `exp - iat`. Default `1h`, at most `24h`.
    #[serde(default)]
    pub max_lifetime: Option<HumanDuration>,
    /// Longest accepted `now - iat`. Default: `max_lifetime`.
    #[serde(default)]
    pub max_age: Option<HumanDuration>,
    /// Required `typ` header. Default `at+jwt` (RFC 9068); `any` accepts every
    /// type (PERMISSIVE: lets ID tokens and other JWTs be tried).
    #[serde(default)]
    pub token_type: Option<String>,
    /// Claims that must be present besides `iss aud exp iat sub`, e.g. `[jti]`.
    #[serde(default)]
    pub required_claims: Vec<String>,
    /// The claim naming the caller's tenant.
    #[serde(default)]
    pub tenant_claim: Option<String>,
    /// The roles claim. Default `roles`.
    #[serde(default)]
    pub roles_claim: Option<String>,
    /// The groups claim. Default `groups`.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// Remote key refresh timing.
    #[serde(default)]
    pub refresh: RawRefresh,
}

/// `refresh:` of a remote key set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRefresh {
    /// Cache lifetime without `Cache-Control: max-age`. Default `10m`.
    pub interval: Option<HumanDuration>,
    /// Shortest cache lifetime. Default `60s`.
    pub min_interval: Option<HumanDuration>,
    /// Longest cache lifetime. Default `24h`.
    pub max_interval: Option<HumanDuration>,
    /// Least time between fetches caused by unknown `kid`s. Default `30s`.
    pub unknown_kid_cooldown: Option<HumanDuration>,
    /// Keys unrefreshed for this long are dropped. Default `24h`.
    pub max_stale: Option<HumanDuration>,
    /// Time allowed for one fetch. Default `5s`.
    pub timeout: Option<HumanDuration>,
}

/// `revocation:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRevocation {
    /// `<jti> <exp>` lines (reloaded with the configuration).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Most entries held in memory. Default 100000.
    #[serde(default)]
    pub max_entries: Option<usize>,
    /// A file holding the secret that `POST /authn/revocations` on the admin
    /// listener requires as a bearer token (at least 32 bytes). Absent: the
    /// endpoint is off.
    #[serde(default)]
    pub admin_token_file: Option<PathBuf>,
}

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
    if raw.mode != RawMode::Jwt {
        if !raw.issuers.is_empty() {
            return Err(cx.err(
                "authentication.issuers",
                "issuers are configured but mode is not `jwt`",
            ));
        }
        if raw.mode == RawMode::Mtls && !listen.client_certificates_required {
            return Err(cx.err(
                "authentication.mode",
                "mode: mtls needs listen.tls.client_ca with client_auth: required",
            ));
        }
        return Ok(Authentication {
            authn: if raw.mode == RawMode::Mtls {
                Authn::Certificate
            } else {
                Authn::None
            },
            max_revocations,
            admin_token,
        });
    }
    let (public_url, listen_path) = (listen.public_url.as_ref(), listen.path.as_str());
    let resource = match (&raw.resource, public_url) {
        (Some(r), _) => parse_url(&cx, r, "authentication.resource")?,
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
    let metadata = ResourceMetadata::new(
        &resource,
        listen_path,
        raw.authorization_servers.as_deref().unwrap_or(
            &raw.issuers
                .iter()
                .map(|i| i.issuer.clone())
                .collect::<Vec<_>>(),
        ),
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
        .map(|(i, r)| issuer(&cx, r, i, &metadata.resource, &http, watched))
        .collect::<Result<Vec<_>, _>>()?;
    let revoked = revocation
        .file
        .as_ref()
        .map(|f| {
            let path = cx.base.join(f);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                cx.err(
                    "authentication.revocation.file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            watched.push(path);
            RevocationList::parse(&text, max_revocations, crate::authn::now())
                .map_err(|e| cx.err("authentication.revocation.file", e.to_string()))
        })
        .transpose()?;
    let authenticator = Authenticator::new(
        issuers,
        max_token_bytes,
        raw.required_scopes.clone(),
        metadata,
        revoked,
        raw.cache_size.unwrap_or(10_000),
    );
    Ok(Authentication {
        authn: Authn::Jwt(Arc::new(authenticator)),
        max_revocations,
        admin_token,
    })
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

fn issuer(
    cx: &Ctx<'_>,
    raw: &RawIssuer,
    i: usize,
    resource: &str,
    http: &HttpClient,
    watched: &mut Vec<PathBuf>,
) -> Result<Issuer, ConfigError> {
    let at = |f: &str| format!("authentication.issuers[{i}].{f}");
    if raw.issuer.is_empty() {
        return Err(cx.err(&at("issuer"), "must not be empty"));
    }
    let algorithms = raw
        .algorithms
        .iter()
        .map(|a| {
            token::algorithm(a).ok_or_else(|| {
                cx.err(
                    &at("algorithms"),
                    format!(
                        "`{a}` is not a supported algorithm \
                    (RS256/384/512, PS256/384/512, ES256/384, EdDSA, HS256/384/512)"
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let hmac = algorithms.iter().filter(|a| token::is_hmac(**a)).count();
    if algorithms.is_empty() {
        return Err(cx.err(&at("algorithms"), "list at least one algorithm"));
    }
    if hmac > 0 && hmac < algorithms.len() {
        return Err(cx.err(
            &at("algorithms"),
            "HMAC and asymmetric algorithms cannot be mixed for one issuer",
        ));
    }
    let leeway = duration(raw.leeway, 30);
    if leeway > Duration::from_secs(300) {
        return Err(cx.err(&at("leeway"), "at most 5m"));
    }
    let max_lifetime = duration(raw.max_lifetime, 3600);
    if max_lifetime.is_zero() || max_lifetime > Duration::from_secs(86_400) {
        return Err(cx.err(&at("max_lifetime"), "between 1s and 24h"));
    }
    let max_age = raw.max_age.map_or(max_lifetime, |d| d.0);
    let keys = key_source(cx, raw, &at, &algorithms, hmac > 0, http, watched)?;
    let token_type = match raw.token_type.as_deref() {
        None => Some("at+jwt".to_owned()),
        Some("any") => None,
        Some(t) => Some(
            t.to_ascii_lowercase()
                .trim_start_matches("application/")
                .to_owned(),
        ),
    };
    let names = ClaimNames {
        tenant: raw.tenant_claim.clone(),
        roles: raw.roles_claim.clone().unwrap_or_else(|| "roles".into()),
        groups: raw.groups_claim.clone().unwrap_or_else(|| "groups".into()),
    };
    Ok(Issuer {
        rules: ClaimRules {
            issuer: raw.issuer.clone(),
            audiences: raw
                .audiences
                .clone()
                .unwrap_or_else(|| vec![resource.to_owned()]),
            leeway: leeway.as_secs(),
            max_lifetime: max_lifetime.as_secs(),
            max_age: max_age.as_secs(),
            required: raw.required_claims.clone(),
        },
        algorithms,
        token_type,
        names,
        keys,
    })
}

fn key_source(
    cx: &Ctx<'_>,
    raw: &RawIssuer,
    at: &dyn Fn(&str) -> String,
    algorithms: &[Algorithm],
    hmac: bool,
    http: &HttpClient,
    watched: &mut Vec<PathBuf>,
) -> Result<KeySource, ConfigError> {
    let sources = usize::from(raw.jwks_url.is_some())
        + usize::from(raw.discovery)
        + usize::from(raw.jwks_file.is_some())
        + usize::from(raw.hmac_secret_file.is_some());
    if sources != 1 {
        return Err(cx.err(
            &at("issuer"),
            "give exactly one of jwks_url, discovery, jwks_file, hmac_secret_file",
        ));
    }
    if hmac != raw.hmac_secret_file.is_some() {
        return Err(cx.err(
            &at("algorithms"),
            "HS* algorithms go with hmac_secret_file, and only with it",
        ));
    }
    if let Some(f) = &raw.hmac_secret_file {
        let [alg] = algorithms else {
            return Err(cx.err(
                &at("algorithms"),
                "an HMAC secret verifies exactly one algorithm",
            ));
        };
        let path = cx.base.join(f);
        let secret = hmac_secret(&path, *alg).map_err(|m| cx.err(&at("hmac_secret_file"), m))?;
        watched.push(path);
        let key = VerifyKey {
            kid: None,
            alg: *alg,
            key: DecodingKey::from_secret(&secret),
        };
        return Ok(KeySource::Static(Arc::new(KeySet::from_keys(vec![key]))));
    }
    if let Some(f) = &raw.jwks_file {
        let path = cx.base.join(f);
        let bytes = std::fs::read(&path).map_err(|e| {
            cx.err(
                &at("jwks_file"),
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let set = KeySet::from_jwks(&bytes, algorithms).map_err(|m| cx.err(&at("jwks_file"), m))?;
        if set.is_empty() {
            return Err(cx.err(
                &at("jwks_file"),
                format!("no usable key: {}", set.skipped.join("; ")),
            ));
        }
        for why in &set.skipped {
            tracing::warn!(file = %path.display(), %why, "JWKS key skipped");
        }
        watched.push(path);
        return Ok(KeySource::Static(Arc::new(set)));
    }
    let source = match &raw.jwks_url {
        Some(u) => {
            let url = parse_url(cx, u, &at("jwks_url"))?;
            if !allowed_url(&url) {
                return Err(cx.err(&at("jwks_url"), "must be https (http only on loopback)"));
            }
            Source::Jwks(url)
        }
        None => {
            let url = parse_url(cx, &raw.issuer, &at("issuer"))?;
            if !allowed_url(&url) {
                return Err(cx.err(
                    &at("issuer"),
                    "discovery needs an https issuer (http only on loopback)",
                ));
            }
            Source::Discovery(raw.issuer.clone())
        }
    };
    let r = &raw.refresh;
    let policy = RefreshPolicy {
        interval: duration(r.interval, 600),
        min_interval: duration(r.min_interval, 60),
        max_interval: duration(r.max_interval, 86_400),
        unknown_kid_cooldown: duration(r.unknown_kid_cooldown, 30),
        max_stale: duration(r.max_stale, 86_400),
    };
    if policy.min_interval > policy.max_interval || policy.min_interval.is_zero() {
        return Err(cx.err(&at("refresh"), "need 0 < min_interval <= max_interval"));
    }
    let timeout = duration(r.timeout, 5);
    let http = if timeout == Duration::from_secs(5) {
        http.clone()
    } else {
        HttpClient::new(timeout, crate::authn::keys::MAX_JWKS_BYTES)
            .map_err(|m| cx.err(&at("refresh"), m))?
    };
    Ok(KeySource::Remote(Arc::new(RemoteKeys::new(
        source,
        algorithms.to_vec(),
        policy,
        http,
    ))))
}

/// Reads a base64 HMAC secret and refuses one shorter than the hash output
/// (RFC 7518 §3.2): a password is not a key.
fn hmac_secret(path: &Path, alg: Algorithm) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let text = text.trim();
    let secret = base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
        .map_err(|_| {
            "the HMAC secret file must hold base64 (e.g. `openssl rand -base64 48`)".to_owned()
        })?;
    let need = match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    };
    if secret.len() < need {
        return Err(format!(
            "the HMAC secret is {} bytes; {alg:?} needs at least {need} random bytes",
            secret.len()
        ));
    }
    Ok(secret)
}
