//! Validating one bearer token: the compiled issuers, their keys, and the cache.
//!
//! Order, and why: a cached token is answered first (after re-checking that its
//! key is still published and its `jti` not revoked); otherwise the token is
//! read with size bounds ([`super::token`]), its unverified `iss` only selects
//! the issuer whose keys may verify it, the header's `alg` must be in that
//! issuer's allow-list and match the key's pinned algorithm, the signature is
//! verified, and only then are claims checked ([`super::claims`]) and turned into
//! a [`Principal`]. No claim of an unverified token decides anything but which
//! keys to try.

use super::cache::{Entry, TokenCache};
use super::claims::{self, ClaimRules};
use super::jwks::RemoteKeys;
use super::keys::{KeySet, VerifyKey};
use super::metadata::ResourceMetadata;
use super::principal::{self, ClaimNames, Principal};
use super::revocation::{RevocationList, Revocations};
use super::shared_revocations::SharedRevocations;
use super::{Reason, token};
use jsonwebtoken::Algorithm;
use std::sync::Arc;

/// Where an issuer's keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Loaded with the configuration (JWKS file or HMAC secret).
    Static(Arc<KeySet>),
    /// Fetched and rotated.
    Remote(Arc<RemoteKeys>),
}

/// One trusted issuer.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// Claim rules, including the exact `iss`.
    pub rules: ClaimRules,
    /// Accepted `alg` values.
    pub algorithms: Vec<Algorithm>,
    /// The required `typ` (lower case, without `application/`); `None` accepts any.
    pub token_type: Option<String>,
    /// Which claims carry tenant, roles and groups.
    pub names: ClaimNames,
    /// The keys.
    pub keys: KeySource,
}

/// The compiled authentication of one configuration snapshot.
#[derive(Debug)]
pub struct Authenticator {
    /// The trusted issuers.
    pub issuers: Vec<Issuer>,
    /// Largest token accepted, bytes.
    pub max_token_bytes: usize,
    /// Scopes every token must carry (else 403).
    pub required_scopes: Vec<String>,
    /// The protected resource metadata and challenges.
    pub metadata: ResourceMetadata,
    /// Revocations from the configured file.
    pub revoked: Option<RevocationList>,
    /// Revocations shared through Redis, if configured.
    pub shared: Option<Arc<SharedRevocations>>,
    cache: TokenCache,
}

impl Authenticator {
    /// Assembles a compiled authenticator.
    pub fn new(
        issuers: Vec<Issuer>,
        max_token_bytes: usize,
        required_scopes: Vec<String>,
        metadata: ResourceMetadata,
        revoked: Option<RevocationList>,
        cache_size: usize,
    ) -> Authenticator {
        Authenticator {
            issuers,
            max_token_bytes,
            required_scopes,
            metadata,
            revoked,
            shared: None,
            cache: TokenCache::new(cache_size),
        }
    }

    /// Adds revocations shared through Redis.
    pub fn with_shared_revocations(mut self, shared: Arc<SharedRevocations>) -> Authenticator {
        self.shared = Some(shared);
        self
    }

    /// Starts fetching every remote key set and mirroring shared revocations
    /// (at start-up and after a reload).
    pub fn prefetch(&self) {
        if let Some(shared) = &self.shared {
            shared.start();
        }
        for issuer in &self.issuers {
            if let KeySource::Remote(remote) = &issuer.keys {
                remote.refresh_if_due();
            }
        }
    }

    /// Takes over the remote keys of `previous` (the configuration this one
    /// replaces) for issuers whose key source did not change.
    pub fn adopt_keys(&self, previous: &Authenticator) {
        for issuer in &self.issuers {
            let KeySource::Remote(remote) = &issuer.keys else {
                continue;
            };
            let before = previous.issuers.iter().find_map(|p| match &p.keys {
                KeySource::Remote(r) if p.rules.issuer == issuer.rules.issuer => Some(r),
                _ => None,
            });
            if let Some(before) = before {
                remote.adopt(before);
            }
        }
    }

    /// Validates `token` at `now` (seconds since the epoch). `revoked` holds
    /// revocations made at run time (admin endpoint); the file's are checked too.
    pub async fn validate(
        &self,
        token: &str,
        now: u64,
        revoked: &dyn Revocations,
    ) -> Result<Arc<Principal>, Reason> {
        if let Some(hit) = self.cache.get(token, now)
            && self.still_published(hit.issuer, &hit.key)
        {
            self.check_revoked(&hit.principal, now, revoked)?;
            return Ok(hit.principal);
        }
        let unverified = token::read(token, self.max_token_bytes)?;
        let iss = match unverified.claims.get("iss") {
            Some(serde_json::Value::String(iss)) => iss.as_str(),
            _ => return Err(Reason::UnknownIssuer),
        };
        let (index, issuer) = self
            .issuers
            .iter()
            .enumerate()
            .find(|(_, i)| i.rules.issuer == iss)
            .ok_or(Reason::UnknownIssuer)?;
        if !issuer.algorithms.contains(&unverified.alg) {
            return Err(Reason::AlgorithmNotAllowed);
        }
        if let Some(required) = &issuer.token_type
            && !type_matches(unverified.typ.as_deref(), required)
        {
            return Err(Reason::WrongType);
        }
        let key = issuer
            .key(unverified.kid.as_deref(), unverified.alg)
            .await?;
        let verified = jsonwebtoken::crypto::verify(
            unverified.signature,
            unverified.signing_input.as_bytes(),
            &key.key,
            key.alg,
        );
        if !matches!(verified, Ok(true)) {
            return Err(Reason::BadSignature);
        }
        let window = claims::check(&unverified.claims, &issuer.rules, now)?;
        let principal = Arc::new(principal::from_claims(
            &unverified.claims,
            &issuer.names,
            window.expires,
        ));
        self.check_revoked(&principal, now, revoked)?;
        let rules = &issuer.rules;
        let valid_until = window
            .expires
            .saturating_add(rules.leeway)
            .min(window.issued.saturating_add(rules.max_age));
        self.cache.insert(
            token,
            Entry {
                principal: Arc::clone(&principal),
                valid_until,
                issuer: index,
                key,
            },
            now,
        );
        Ok(principal)
    }

    /// Whether `principal` holds every required scope.
    pub fn has_required_scopes(&self, principal: &Principal) -> bool {
        self.required_scopes.iter().all(|s| principal.has_scope(s))
    }

    fn still_published(&self, issuer: usize, key: &Arc<VerifyKey>) -> bool {
        match self.issuers.get(issuer).map(|i| &i.keys) {
            Some(KeySource::Static(_)) => true,
            Some(KeySource::Remote(remote)) => {
                remote.refresh_if_due();
                remote.keys().is_some_and(|set| set.holds(key))
            }
            None => false,
        }
    }

    fn check_revoked(
        &self,
        principal: &Principal,
        now: u64,
        revoked: &dyn Revocations,
    ) -> Result<(), Reason> {
        let Some(jti) = principal.token_id.as_deref() else {
            return Ok(());
        };
        let in_file = self
            .revoked
            .as_ref()
            .is_some_and(|r| r.is_revoked(jti, now));
        let shared = self.shared.as_ref().is_some_and(|r| r.is_revoked(jti, now));
        if in_file || shared || revoked.is_revoked(jti, now) {
            return Err(Reason::Revoked);
        }
        Ok(())
    }
}

impl Issuer {
    async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<Arc<VerifyKey>, Reason> {
        match &self.keys {
            KeySource::Static(set) => set.find(kid, alg).cloned().ok_or(Reason::UnknownKey),
            KeySource::Remote(remote) => {
                remote.refresh_if_due();
                match remote.keys() {
                    Some(keys) => match keys.find(kid, alg) {
                        Some(key) => return Ok(Arc::clone(key)),
                        None => remote.refresh_for_unknown_kid().await,
                    },
                    None => remote.refresh_now().await,
                }
                let keys = remote.keys().ok_or(Reason::KeysUnavailable)?;
                keys.find(kid, alg).cloned().ok_or(Reason::UnknownKey)
            }
        }
    }
}

/// RFC 9068 §4: `typ` compared case-insensitively, `application/` optional.
fn type_matches(typ: Option<&str>, required: &str) -> bool {
    typ.is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t.strip_prefix("application/").unwrap_or(&t) == required
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_types_compare_without_case_or_media_prefix() {
        assert!(type_matches(Some("at+jwt"), "at+jwt"));
        assert!(type_matches(Some("application/AT+JWT"), "at+jwt"));
        assert!(!type_matches(Some("JWT"), "at+jwt"));
        assert!(!type_matches(None, "at+jwt"));
    }
}
