//! Compiling `upstreams.<name>.oauth`: the token endpoint client the gateway
//! uses to obtain the upstream's own token ([`crate::upstream::oauth`]).
//! Nothing is fetched at load: a token is asked for with the first request.

use super::super::{ConfigError, RawUpstreamOauth, secret};
use crate::upstream::oauth::{Grant, UpstreamOauth};
use http::Uri;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Compiles `oauth` for the upstream at `url`; `path` names it in errors.
pub(super) fn oauth(
    raw: &RawUpstreamOauth,
    url: &str,
    file: &Path,
    base: &Path,
    path: &str,
    watched: &mut Vec<PathBuf>,
) -> Result<Arc<UpstreamOauth>, ConfigError> {
    use crate::authn::upstream_token::{TokenClient, TokenRequest, UpstreamTokens};
    let at = |field: &str, m: String| ConfigError::at(file, &format!("{path}.{field}"), m);
    let grant = match raw.grant.as_str() {
        "client_credentials" => Grant::ClientCredentials,
        "token_exchange" => Grant::TokenExchange,
        other => {
            return Err(at(
                "grant",
                format!("`{other}` is not a grant; use client_credentials or token_exchange"),
            ));
        }
    };
    let endpoint: Uri = raw
        .token_endpoint
        .parse()
        .ok()
        .filter(crate::authn::http::allowed_url)
        .ok_or_else(|| {
            at(
                "token_endpoint",
                format!(
                    "`{}` must be an https:// URL (http:// only on a loopback host)",
                    raw.token_endpoint
                ),
            )
        })?;
    if raw.client_id.is_empty() {
        return Err(at("client_id", "must not be empty".into()));
    }
    let client_secret = secret(
        &raw.client_secret,
        base,
        file,
        &format!("{path}.client_secret"),
    )?;
    if let Some(f) = &raw.client_secret.file {
        watched.push(base.join(f));
    }
    let margin = raw.refresh_margin.map_or(Duration::from_secs(30), |d| d.0);
    let http = crate::authn::http::HttpClient::new(Duration::from_secs(10), 64 * 1024)
        .map_err(|e| at("token_endpoint", format!("no HTTP client: {e}")))?;
    let nonempty = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    Ok(Arc::new(UpstreamOauth {
        grant,
        tokens: UpstreamTokens::new(
            TokenClient::new(endpoint, &raw.client_id, &client_secret),
            http,
            margin,
        ),
        request: TokenRequest {
            scope: nonempty(&raw.scope),
            resource: Some(nonempty(&raw.resource).unwrap_or_else(|| url.to_owned())),
            audience: nonempty(&raw.audience),
        },
    }))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    /// Loads a whole configuration whose upstream section is `upstreams` and
    /// whose authentication section is `authn`; the error text on failure.
    fn load(upstreams: &str, authn: &str) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let file: PathBuf = dir.path().join("portcullis.yaml");
        let yaml = format!(
            "listen:\n  address: 127.0.0.1:0\naudit:\n  disabled: true\n{authn}upstreams:\n  \
             up:\n    url: http://127.0.0.1:9/mcp\n{upstreams}"
        );
        std::fs::write(&file, yaml).unwrap();
        crate::config::load::load(&file)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    const NONE: &str = "authentication:\n  mode: none\n";

    fn oauth(fields: &str) -> String {
        format!(
            "    oauth:\n      grant: client_credentials\n      client_id: gw\n      \
             client_secret: {{ value: s, allow_inline: true }}\n{fields}"
        )
    }

    #[test]
    fn a_well_formed_section_loads_and_bad_fields_are_named() {
        let endpoint = "      token_endpoint: http://127.0.0.1:8/token\n";
        load(&oauth(endpoint), NONE).unwrap();
        let cases = [
            (
                oauth("      token_endpoint: http://as.example/token\n"),
                "up.oauth.token_endpoint",
                "http:// only on a loopback host",
            ),
            (
                oauth(endpoint).replace("client_credentials", "password"),
                "up.oauth.grant",
                "`password` is not a grant",
            ),
            (
                oauth(endpoint).replace("client_id: gw", "client_id: \"\""),
                "up.oauth.client_id",
                "must not be empty",
            ),
            (
                oauth(endpoint).replace("{ value: s, allow_inline: true }", "{ value: s }"),
                "up.oauth.client_secret",
                "inline `value` is refused",
            ),
            (
                format!(
                    "    headers:\n      Authorization: {{ value: x, allow_inline: true }}\n{}",
                    oauth(endpoint)
                ),
                "up.oauth",
                "from `oauth` or from `headers`, not both",
            ),
            (
                format!("    transport: sse\n{}", oauth(endpoint)),
                "up.oauth",
                "`oauth` is for streamable_http upstreams",
            ),
            (
                oauth(endpoint).replace("client_credentials", "token_exchange"),
                "upstreams",
                "needs `authentication.mode: jwt`",
            ),
        ];
        for (section, path, says) in cases {
            let err = load(&section, NONE).unwrap_err();
            assert!(err.contains(path) && err.contains(says), "{err}");
        }
    }
}
