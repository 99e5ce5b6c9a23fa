//! Verification keys: a JWKS document turned into keys pinned to one algorithm
//! each (pure).
//!
//! Invariants (RFC 8725 §3.1, SECURITY.md §1.2 rows 2, 25, 26): every key verifies
//! exactly one algorithm, taken from the JWK's `alg` or, when absent, the only one
//! its type and curve allow among the issuer's algorithms; keys whose `use` is
//! not `sig` or whose `key_ops` lack `verify` are skipped; RSA moduli under 2048
//! bits are skipped; an RSA modulus with leading zero octets is canonicalised
//! (aws-lc-rs would otherwise fail every signature); symmetric (`oct`) keys are
//! never taken from a JWKS, so public-key material can never become an HMAC
//! secret. The document and its key count are bounded.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Most keys kept from one JWKS document.
pub const MAX_KEYS: usize = 64;
/// Largest JWKS document read.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// One verification key, pinned to one algorithm.
#[derive(Clone)]
pub struct VerifyKey {
    /// The key id, if the JWK had one.
    pub kid: Option<String>,
    /// The only algorithm this key verifies.
    pub alg: Algorithm,
    /// The key itself.
    pub key: DecodingKey,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The keys of one issuer, by `kid`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    by_kid: HashMap<String, Arc<VerifyKey>>,
    all: Vec<Arc<VerifyKey>>,
    /// Why some JWKs were skipped (for a warning at load time).
    pub skipped: Vec<String>,
}

impl KeySet {
    /// A set from already-built keys (e.g. one HMAC secret).
    pub fn from_keys(keys: Vec<VerifyKey>) -> KeySet {
        let mut set = KeySet::default();
        for k in keys {
            set.push(k);
        }
        set
    }

    fn push(&mut self, key: VerifyKey) {
        let key = Arc::new(key);
        if let Some(kid) = &key.kid {
            self.by_kid.insert(kid.clone(), Arc::clone(&key));
        }
        self.all.push(key);
    }

    /// Parses a JWKS document, keeping the keys usable with `allowed` algorithms.
    /// Fails only if the document is not a JWKS at all; unusable keys are skipped
    /// and listed in [`KeySet::skipped`].
    pub fn from_jwks(bytes: &[u8], allowed: &[Algorithm]) -> Result<KeySet, String> {
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(format!("JWKS larger than {MAX_JWKS_BYTES} bytes"));
        }
        let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
            return Err("not a JWKS: no `keys` array".into());
        };
        let mut set = KeySet::default();
        for (i, jwk) in keys.iter().enumerate() {
            if set.all.len() == MAX_KEYS {
                set.skipped
                    .push(format!("keys past the first {MAX_KEYS} ignored"));
                break;
            }
            match jwk_key(jwk, allowed) {
                Ok(key) => set.push(key),
                Err(why) => set.skipped.push(format!("key {i}: {why}")),
            }
        }
        Ok(set)
    }

    /// The key for a token's `kid` and `alg`. Without a `kid`, the set's only key.
    pub fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&Arc<VerifyKey>> {
        // A token's kid selects among named keys; a set of one unnamed key (an
        // HMAC secret, a single-key JWKS without kid) has nothing to select.
        let only_unnamed = || match self.all.as_slice() {
            [k] if k.kid.is_none() => Some(k),
            _ => None,
        };
        let key = match kid {
            Some(kid) => self.by_kid.get(kid).or_else(only_unnamed)?,
            None if self.all.len() == 1 => self.all.first()?,
            None => return None,
        };
        (key.alg == alg).then_some(key)
    }

    /// Whether `key` is still one of this set's keys (same allocation).
    pub fn holds(&self, key: &Arc<VerifyKey>) -> bool {
        match &key.kid {
            Some(kid) => self.by_kid.get(kid).is_some_and(|k| Arc::ptr_eq(k, key)),
            None => self.all.iter().any(|k| Arc::ptr_eq(k, key)),
        }
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }
}

fn text<'a>(jwk: &'a Value, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Value::as_str)
}

fn b64(jwk: &Value, name: &str) -> Result<Vec<u8>, String> {
    let s = text(jwk, name).ok_or_else(|| format!("missing `{name}`"))?;
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| format!("`{name}` is not base64url"))
}

fn jwk_key(jwk: &Value, allowed: &[Algorithm]) -> Result<VerifyKey, String> {
    if let Some(u) = jwk.get("use")
        && u.as_str() != Some("sig")
    {
        return Err("`use` is not `sig`".into());
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verify = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|o| o.as_str() == Some("verify")));
        if !verify {
            return Err("`key_ops` does not include `verify`".into());
        }
    }
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(k)) if k.len() <= super::token::MAX_KID_BYTES => Some(k.clone()),
        Some(_) => return Err("`kid` is not a short string".into()),
    };
    let kty = text(jwk, "kty").ok_or("missing `kty`")?;
    let candidates: &[Algorithm] = match (kty, text(jwk, "crv")) {
        ("RSA", _) => &[
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        ("EC", Some("P-256")) => &[Algorithm::ES256],
        ("EC", Some("P-384")) => &[Algorithm::ES384],
        ("OKP", Some("Ed25519")) => &[Algorithm::EdDSA],
        ("oct", _) => return Err("symmetric keys are never taken from a JWKS".into()),
        (kty, crv) => return Err(format!("unsupported key type {kty} {crv:?}")),
    };
    let alg = match text(jwk, "alg") {
        Some(name) => {
            let alg = super::token::algorithm(name)
                .filter(|a| candidates.contains(a))
                .ok_or_else(|| format!("`alg` {name} does not fit a {kty} key"))?;
            if !allowed.contains(&alg) {
                return Err(format!("`alg` {name} is not allowed for this issuer"));
            }
            alg
        }
        None => {
            let mut fitting = candidates.iter().filter(|a| allowed.contains(a));
            match (fitting.next(), fitting.next()) {
                (Some(a), None) => *a,
                (None, _) => return Err(format!("no allowed algorithm fits a {kty} key")),
                (Some(_), Some(_)) => {
                    return Err(
                        "no `alg` and several allowed algorithms fit: pin one with `alg`".into(),
                    );
                }
            }
        }
    };
    let key = match kty {
        "RSA" => rsa_key(jwk)?,
        "EC" => DecodingKey::from_ec_components(
            text(jwk, "x").ok_or("missing `x`")?,
            text(jwk, "y").ok_or("missing `y`")?,
        )
        .map_err(|e| format!("bad EC key: {e}"))?,
        _ => DecodingKey::from_ed_components(text(jwk, "x").ok_or("missing `x`")?)
            .map_err(|e| format!("bad Ed25519 key: {e}"))?,
    };
    Ok(VerifyKey { kid, alg, key })
}

fn rsa_key(jwk: &Value) -> Result<DecodingKey, String> {
    let n = b64(jwk, "n")?;
    let e = b64(jwk, "e")?;
    let first = n.iter().position(|b| *b != 0).unwrap_or(n.len());
    let n = &n[first..];
    let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
    if bits < 2048 {
        return Err(format!("RSA modulus of {bits} bits is below 2048"));
    }
    if first > 0 {
        tracing::warn!("an RSA JWK carried leading zero octets in `n`; canonicalised");
    }
    Ok(DecodingKey::from_rsa_raw_components(n, &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALL: [Algorithm; 4] = [
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::HS256,
    ];

    fn rsa(bytes: usize, lead: bool, extra: Value) -> Value {
        let mut n = vec![0xC1u8; bytes];
        if lead {
            n.insert(0, 0);
        }
        let mut jwk = json!({"kty":"RSA","kid":"r","n":URL_SAFE_NO_PAD.encode(n),"e":"AQAB"});
        if let (Some(o), Some(extra)) = (jwk.as_object_mut(), extra.as_object()) {
            o.extend(extra.clone());
        }
        jwk
    }

    fn set(keys: Vec<Value>) -> KeySet {
        KeySet::from_jwks(json!({ "keys": keys }).to_string().as_bytes(), &ALL).unwrap()
    }

    #[test]
    fn keys_are_pinned_to_one_algorithm_and_found_by_kid() {
        let s = set(vec![rsa(256, false, json!({}))]);
        assert_eq!(s.len(), 1);
        assert!(s.find(Some("r"), Algorithm::RS256).is_some());
        assert!(s.find(Some("r"), Algorithm::PS256).is_none());
        assert!(s.find(Some("../../dev/null"), Algorithm::RS256).is_none());
        assert!(s.find(None, Algorithm::RS256).is_some());
    }

    #[test]
    fn unusable_keys_are_skipped_with_a_reason() {
        let s = set(vec![
            rsa(128, false, json!({})),
            rsa(256, false, json!({"use":"enc","kid":"e"})),
            rsa(256, false, json!({"key_ops":["encrypt"],"kid":"o"})),
            json!({"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0","kid":"h"}),
            rsa(256, false, json!({"alg":"ES256","kid":"x"})),
        ]);
        assert!(s.is_empty(), "{:?}", s.skipped);
        assert_eq!(s.skipped.len(), 5);
    }

    #[test]
    fn a_leading_zero_in_the_modulus_is_canonicalised() {
        let s = set(vec![rsa(256, true, json!({}))]);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn an_rsa_key_without_alg_needs_a_single_allowed_rsa_algorithm() {
        let doc = json!({"keys":[rsa(256, false, json!({}))]}).to_string();
        let both = [Algorithm::RS256, Algorithm::PS256];
        assert!(KeySet::from_jwks(doc.as_bytes(), &both).unwrap().is_empty());
    }
}
