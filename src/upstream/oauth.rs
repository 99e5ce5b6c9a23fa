//! An upstream's own OAuth token (`upstreams.<name>.oauth`): the gateway never
//! passes a client's token on, so an upstream that wants a token gets one the
//! gateway obtained for it from the authorization server, through
//! [`crate::authn::upstream_token`]:
//!
//! - `client_credentials`: a token for the gateway itself (one for every
//!   caller, cached until shortly before it expires);
//! - `token_exchange` (RFC 8693): the caller's validated token exchanged for a
//!   token for this upstream, so that the upstream sees who acts (`sub`) and
//!   through whom (`act`), cached per caller token.
//!
//! Every Streamable HTTP request to the upstream goes through
//! [`super::HttpUpstream::send`], which asks here for the `Authorization` value.
//! No token, no request: the client gets a JSON-RPC error and the reason stays
//! in the gateway's log.

use super::UpstreamError;
use crate::authn::upstream_token::{ACCESS_TOKEN_TYPE, TokenRequest, UpstreamTokens};
use http::HeaderValue;

/// Which grant gets the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// The gateway's own token.
    ClientCredentials,
    /// The caller's token exchanged for one for this upstream.
    TokenExchange,
}

/// How one upstream's tokens are obtained.
#[derive(Debug)]
pub struct UpstreamOauth {
    /// The grant.
    pub grant: Grant,
    /// The token endpoint client and its cache.
    pub tokens: UpstreamTokens,
    /// Scope, resource indicator and audience asked for.
    pub request: TokenRequest,
}

impl UpstreamOauth {
    /// The `Authorization` value for a request made for the caller whose
    /// validated bearer token is `subject` (`None`: the gateway's own request
    /// or an unauthenticated caller, which token exchange cannot serve).
    pub async fn authorization(&self, subject: Option<&str>) -> Result<HeaderValue, UpstreamError> {
        let token = match (self.grant, subject) {
            (Grant::ClientCredentials, _) => self.tokens.client_credentials(&self.request).await,
            (Grant::TokenExchange, Some(subject)) => {
                self.tokens
                    .exchange(subject, ACCESS_TOKEN_TYPE, &self.request)
                    .await
            }
            (Grant::TokenExchange, None) => {
                return Err(UpstreamError::Token(
                    "token exchange needs the caller's bearer token, and this request has none"
                        .into(),
                ));
            }
        }
        .map_err(|e| UpstreamError::Token(e.to_string()))?;
        let mut value = HeaderValue::try_from(format!("Bearer {}", token.token))
            .map_err(|_| UpstreamError::Token("the token is not a valid header value".into()))?;
        value.set_sensitive(true);
        Ok(value)
    }
}
