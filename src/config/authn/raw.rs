//! The `authentication:` section as written: serde types. Every loosening
//! option says so in its doc; `compile` turns these into the runtime.

use super::super::units::{ByteSize, HumanDuration};
use serde::Deserialize;
use std::path::PathBuf;

/// `authentication:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
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
    /// Revocations shared by every replica through Redis.
    #[serde(default)]
    pub redis: Option<RawRedis>,
}

/// `revocation.redis:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRedis {
    /// e.g. `redis://127.0.0.1:6379/0` (`rediss://` for TLS).
    pub url: String,
    /// The sorted set holding `jti` -> `exp`. Default `portcullis:revoked`.
    #[serde(default)]
    pub key: Option<String>,
    /// How often each replica mirrors the set. Default `2s`.
    #[serde(default)]
    pub poll_interval: Option<HumanDuration>,
}
