//! Tokens the gateway obtains for itself to call upstreams, so that the client's
//! token never has to be passed through (MCP authorization spec, "token
//! passthrough"): the OAuth 2.0 client-credentials grant (RFC 6749 §4.4) and
//! token exchange (RFC 8693), against a configured authorization server.
//!
//! Invariants: tokens are cached until `refresh_margin` before they expire and
//! never past it (a token without `expires_in` is not cached); the cache is keyed
//! by a SHA-256 of the request (the subject token is not kept); the client secret
//! is sent with HTTP Basic (RFC 6749 §2.3.1) and never logged; the endpoint's
//! error text is not passed on, only its `error` code.
//!
//! This is the API the upstream layer calls; wiring it to upstream configuration
//! belongs to the federation work.

use super::http::{FetchError, HttpClient, urlencode};
use base64::Engine;
use http::{HeaderValue, StatusCode, Uri};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// RFC 8693 token type of an access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// RFC 8693 token type of a JWT.
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
const EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const MAX_CACHED: usize = 10_000;

/// Why no token was obtained.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The endpoint could not be reached.
    #[error("token endpoint unreachable: {0}")]
    Fetch(#[from] FetchError),
    /// The endpoint refused, with its OAuth `error` code.
    #[error("token endpoint refused ({status}): {code}")]
    Refused {
        /// The HTTP status.
        status: StatusCode,
        /// The OAuth `error` code, or `unknown`.
        code: String,
    },
    /// A 200 answer that is not a usable token response.
    #[error("token endpoint answered with an invalid token response: {0}")]
    Invalid(&'static str),
}

/// A confidential client at an authorization server's token endpoint.
#[derive(Clone)]
pub struct TokenClient {
    /// The token endpoint.
    pub token_url: Uri,
    /// The client id.
    pub client_id: String,
    basic: HeaderValue,
}

impl std::fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenClient")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl TokenClient {
    /// A client authenticating with `client_id` and `client_secret`.
    pub fn new(token_url: Uri, client_id: &str, client_secret: &str) -> TokenClient {
        let pair = format!("{}:{}", urlencode(client_id), urlencode(client_secret));
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        let mut basic = HeaderValue::from_str(&format!("Basic {encoded}"))
            .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
        basic.set_sensitive(true);
        TokenClient {
            token_url,
            client_id: client_id.to_owned(),
            basic,
        }
    }
}

/// What to ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// Space-separated scopes.
    pub scope: Option<String>,
    /// RFC 8707 resource indicator (the upstream's URL).
    pub resource: Option<String>,
    /// RFC 8693 logical audience.
    pub audience: Option<String>,
}

/// An access token for an upstream.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The token (send as `Authorization: Bearer`).
    pub token: String,
    /// When it expires, if the endpoint said.
    pub expires_at: Option<Instant>,
    /// RFC 8693 `issued_token_type`, for exchanges.
    pub issued_token_type: Option<String>,
}

/// Obtains and caches upstream tokens from one token endpoint.
#[derive(Debug)]
pub struct UpstreamTokens {
    client: TokenClient,
    http: HttpClient,
    refresh_margin: Duration,
    cache: Mutex<HashMap<[u8; 32], Arc<AccessToken>>>,
}

impl UpstreamTokens {
    /// Tokens from `client`'s endpoint, renewed `refresh_margin` before expiry.
    pub fn new(client: TokenClient, http: HttpClient, refresh_margin: Duration) -> UpstreamTokens {
        UpstreamTokens {
            client,
            http,
            refresh_margin,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A token for the gateway itself (client-credentials grant).
    pub async fn client_credentials(
        &self,
        request: &TokenRequest,
    ) -> Result<Arc<AccessToken>, TokenError> {
        self.obtain(&[("grant_type", "client_credentials")], request)
            .await
    }

    /// A token for an upstream on behalf of the caller whose (already
    /// validated) token is `subject_token` (RFC 8693).
    pub async fn exchange(
        &self,
        subject_token: &str,
        subject_token_type: &str,
        request: &TokenRequest,
    ) -> Result<Arc<AccessToken>, TokenError> {
        let form = [
            ("grant_type", EXCHANGE_GRANT),
            ("subject_token", subject_token),
            ("subject_token_type", subject_token_type),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
        ];
        self.obtain(&form, request).await
    }

    async fn obtain(
        &self,
        grant: &[(&str, &str)],
        request: &TokenRequest,
    ) -> Result<Arc<AccessToken>, TokenError> {
        let mut form: Vec<(&str, &str)> = grant.to_vec();
        for (name, value) in [
            ("scope", &request.scope),
            ("resource", &request.resource),
            ("audience", &request.audience),
        ] {
            if let Some(v) = value {
                form.push((name, v));
            }
        }
        let key = cache_key(&form);
        let now = Instant::now();
        if let Some(hit) = self.cached(&key, now) {
            return Ok(hit);
        }
        let answer = self
            .http
            .post_form(&self.client.token_url, &form, Some(&self.client.basic))
            .await?;
        let token = Arc::new(parse_response(answer.status, &answer.body, now)?);
        if let Some(expires) = token.expires_at
            && expires > now + self.refresh_margin
        {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= MAX_CACHED {
                let margin = self.refresh_margin;
                cache.retain(|_, t| t.expires_at.is_some_and(|e| e > now + margin));
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
            }
            cache.insert(key, Arc::clone(&token));
        }
        Ok(token)
    }

    fn cached(&self, key: &[u8; 32], now: Instant) -> Option<Arc<AccessToken>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let token = cache.get(key)?;
        let usable = token
            .expires_at
            .is_some_and(|e| e > now + self.refresh_margin);
        usable.then(|| Arc::clone(token))
    }
}

fn cache_key(form: &[(&str, &str)]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for (k, v) in form {
        ctx.update(&(k.len() as u64).to_be_bytes());
        ctx.update(k.as_bytes());
        ctx.update(&(v.len() as u64).to_be_bytes());
        ctx.update(v.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Reads a token endpoint answer (RFC 6749 §5.1/§5.2, RFC 8693 §2.2).
pub fn parse_response(
    status: StatusCode,
    body: &[u8],
    now: Instant,
) -> Result<AccessToken, TokenError> {
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| TokenError::Invalid("not JSON"))?;
    if status != StatusCode::OK {
        let code = doc
            .get("error")
            .and_then(|e| e.as_str())
            .filter(|e| e.len() <= 64 && e.chars().all(|c| c.is_ascii_graphic()))
            .unwrap_or("unknown");
        return Err(TokenError::Refused {
            status,
            code: code.to_owned(),
        });
    }
    let token = doc
        .get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or(TokenError::Invalid("no access_token"))?;
    let token_type = doc.get("token_type").and_then(|t| t.as_str());
    if !token_type.is_some_and(|t| t.eq_ignore_ascii_case("bearer")) {
        return Err(TokenError::Invalid("token_type is not Bearer"));
    }
    let expires_at = doc
        .get("expires_in")
        .and_then(|e| e.as_u64())
        .map(|s| now + Duration::from_secs(s));
    Ok(AccessToken {
        token: token.to_owned(),
        expires_at,
        issued_token_type: doc
            .get("issued_token_type")
            .and_then(|t| t.as_str())
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_response_is_read_and_errors_keep_only_their_code() {
        let now = Instant::now();
        let ok = br#"{"access_token":"t","token_type":"Bearer","expires_in":300}"#;
        let t = parse_response(StatusCode::OK, ok, now).unwrap();
        assert_eq!(t.token, "t");
        assert_eq!(t.expires_at, Some(now + Duration::from_secs(300)));
        let err = br#"{"error":"invalid_client","error_description":"secret leaked here"}"#;
        let e = parse_response(StatusCode::UNAUTHORIZED, err, now).unwrap_err();
        assert_eq!(
            e.to_string(),
            "token endpoint refused (401 Unauthorized): invalid_client"
        );
        let mac = br#"{"access_token":"t","token_type":"N_A"}"#;
        assert!(parse_response(StatusCode::OK, mac, now).is_err());
    }

    #[test]
    fn cache_keys_separate_fields() {
        assert_ne!(cache_key(&[("a", "bc")]), cache_key(&[("ab", "c")]));
    }
}
