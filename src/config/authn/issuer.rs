//! Compiling one `authentication.issuers[i]` entry: algorithms, claim rules
//! and its key source (static keys are loaded here; remote ones are set up to be
//! fetched).

use super::raw::RawIssuer;
use super::{Ctx, duration, parse_url};
use crate::authn::authenticator::{Issuer, KeySource};
use crate::authn::claims::ClaimRules;
use crate::authn::http::{HttpClient, allowed_url};
use crate::authn::jwks::{RefreshPolicy, RemoteKeys, Source};
use crate::authn::keys::{KeySet, VerifyKey};
use crate::authn::principal::ClaimNames;
use crate::authn::token;
use crate::config::ConfigError;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub(super) fn issuer(
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
    match (&raw.hmac_secret_file, &raw.jwks_file) {
        (Some(f), _) => hmac_key(cx, f, at, algorithms, watched),
        (_, Some(f)) => jwks_file(cx, f, at, algorithms, watched),
        (None, None) => remote(cx, raw, at, algorithms, http),
    }
}

fn hmac_key(
    cx: &Ctx<'_>,
    f: &Path,
    at: &dyn Fn(&str) -> String,
    algorithms: &[Algorithm],
    watched: &mut Vec<PathBuf>,
) -> Result<KeySource, ConfigError> {
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
    Ok(KeySource::Static(Arc::new(KeySet::from_keys(vec![key]))))
}

fn jwks_file(
    cx: &Ctx<'_>,
    f: &Path,
    at: &dyn Fn(&str) -> String,
    algorithms: &[Algorithm],
    watched: &mut Vec<PathBuf>,
) -> Result<KeySource, ConfigError> {
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
    Ok(KeySource::Static(Arc::new(set)))
}

fn remote(
    cx: &Ctx<'_>,
    raw: &RawIssuer,
    at: &dyn Fn(&str) -> String,
    algorithms: &[Algorithm],
    http: &HttpClient,
) -> Result<KeySource, ConfigError> {
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
