//! Reading a JWS compact serialization before any key is chosen (pure).
//!
//! Invariants: the token is bounded in size before it is decoded; it has exactly
//! three base64url segments without padding; header and claims are JSON objects
//! with no duplicated member at any depth (RFC 7519 §4 lets a parser pick either
//! duplicate; the gateway and the issuer might pick differently, so neither is
//! picked); `alg` is one the gateway implements (so `none` never is); no header
//! can point at a key (`jwk`, `jku`, `x5u`, `x5c`), and any `crit` is refused
//! because the gateway understands no extension (RFC 7515 §4.1.11). Nothing here
//! is trusted yet: the signature is checked by the caller with a key it chose.

use super::Reason;
use crate::protocol::strict;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

/// Longest `kid` looked up; a longer one cannot be a configured key.
pub const MAX_KID_BYTES: usize = 256;
/// Largest encoded header segment.
pub const MAX_HEADER_BYTES: usize = 2048;
/// Deepest JSON nesting in a header or claims object.
const MAX_DEPTH: usize = 16;

/// A token taken apart, signature not yet verified.
#[derive(Debug, Clone)]
pub struct Unverified<'t> {
    /// The signing algorithm named by the header.
    pub alg: Algorithm,
    /// The key id, if any.
    pub kid: Option<String>,
    /// The `typ` header, if any.
    pub typ: Option<String>,
    /// The claims object.
    pub claims: Map<String, Value>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'t str,
    /// The encoded signature segment.
    pub signature: &'t str,
}

/// Splits and decodes `token`, refusing anything larger than `max_bytes`.
pub fn read(token: &str, max_bytes: usize) -> Result<Unverified<'_>, Reason> {
    if token.len() > max_bytes {
        return Err(Reason::Oversized);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Reason::Malformed);
    };
    if header.len() > MAX_HEADER_BYTES {
        return Err(Reason::Oversized);
    }
    // The header first: an `alg: none` token (empty signature) is reported as such.
    let header = object(header)?;
    let (alg, kid, typ) = check_header(&header)?;
    if payload.is_empty() || signature.is_empty() {
        return Err(Reason::Malformed);
    }
    let claims = object(payload)?;
    let signing_input = &token[..token.len() - signature.len() - 1];
    Ok(Unverified {
        alg,
        kid,
        typ,
        claims,
        signing_input,
        signature,
    })
}

fn object(segment: &str) -> Result<Map<String, Value>, Reason> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Reason::Malformed)?;
    match strict::from_slice(&bytes, MAX_DEPTH) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Reason::Malformed),
        Err(e) if e.to_string().contains("duplicate object key") => Err(Reason::DuplicateMember),
        Err(_) => Err(Reason::Malformed),
    }
}

type HeaderFacts = (Algorithm, Option<String>, Option<String>);

fn check_header(header: &Map<String, Value>) -> Result<HeaderFacts, Reason> {
    for forbidden in ["jwk", "jku", "x5u", "x5c", "crit"] {
        if header.contains_key(forbidden) {
            return Err(Reason::ForbiddenHeader);
        }
    }
    if header.contains_key("enc") || header.contains_key("zip") {
        // A JWE, or compressed content: not an access token this gateway reads.
        return Err(Reason::Malformed);
    }
    let alg = match header.get("alg") {
        Some(Value::String(s)) => algorithm(s).ok_or(Reason::AlgorithmNotAllowed)?,
        _ => return Err(Reason::Malformed),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) if k.len() <= MAX_KID_BYTES => Some(k.clone()),
        Some(Value::String(_)) => return Err(Reason::UnknownKey),
        Some(_) => return Err(Reason::Malformed),
    };
    let typ = match header.get("typ") {
        None => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(_) => return Err(Reason::Malformed),
    };
    Ok((alg, kid, typ))
}

/// The algorithm named exactly (case-sensitive, RFC 7518 names) among those the
/// gateway implements; `none` and unknown names are `None`.
pub fn algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        _ => return None,
    })
}

/// Whether `alg` is an HMAC algorithm.
pub fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, claims: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64(claims))
    }

    #[test]
    fn a_well_formed_token_is_taken_apart() {
        let t = token(
            r#"{"alg":"ES256","kid":"k1","typ":"at+jwt"}"#,
            r#"{"sub":"a"}"#,
        );
        let u = read(&t, 8192).unwrap();
        assert_eq!(u.alg, Algorithm::ES256);
        assert_eq!(u.kid.as_deref(), Some("k1"));
        assert_eq!(u.typ.as_deref(), Some("at+jwt"));
        assert_eq!(u.claims["sub"], "a");
        assert_eq!(u.signature, "c2ln");
        assert!(t.starts_with(u.signing_input));
    }

    #[test]
    fn none_and_unknown_algorithms_are_refused_in_any_case() {
        for alg in ["none", "None", "NONE", "nOnE", "rs256", "ES512", ""] {
            let t = token(&format!(r#"{{"alg":"{alg}"}}"#), "{}");
            assert_eq!(read(&t, 8192).unwrap_err(), Reason::AlgorithmNotAllowed);
        }
    }

    #[test]
    fn headers_that_carry_keys_or_critical_extensions_are_refused() {
        for h in [
            r#"{"alg":"RS256","jwk":{"kty":"oct","k":"AA"}}"#,
            r#"{"alg":"RS256","jku":"https://evil.example/jwks"}"#,
            r#"{"alg":"RS256","x5u":"https://evil.example/cert"}"#,
            r#"{"alg":"RS256","x5c":["AA"]}"#,
            r#"{"alg":"RS256","crit":["exp"],"exp":1}"#,
        ] {
            assert_eq!(
                read(&token(h, "{}"), 8192).unwrap_err(),
                Reason::ForbiddenHeader
            );
        }
    }

    #[test]
    fn duplicated_members_are_refused_in_header_and_claims() {
        let t = token(r#"{"alg":"RS256","alg":"HS256"}"#, "{}");
        assert_eq!(read(&t, 8192).unwrap_err(), Reason::DuplicateMember);
        let t = token(r#"{"alg":"RS256"}"#, r#"{"tenant":"a","tenant":"b"}"#);
        assert_eq!(read(&t, 8192).unwrap_err(), Reason::DuplicateMember);
    }

    #[test]
    fn bad_framing_is_malformed_and_size_is_bounded_first() {
        let good = token(r#"{"alg":"RS256"}"#, "{}");
        for bad in [
            "a.b",
            "a.b.c.d",
            &format!("{good}.x"),
            &format!("{}=.{}", &good[..10], &good[11..]),
            "..",
            "e30.e30.",
            "!!!.e30.c2ln",
        ] {
            assert_eq!(read(bad, 8192).unwrap_err(), Reason::Malformed, "{bad}");
        }
        assert_eq!(read(&good, 10).unwrap_err(), Reason::Oversized);
        let t = token(r#"{"alg":"RS256"}"#, "[1]");
        assert_eq!(read(&t, 8192).unwrap_err(), Reason::Malformed);
    }

    #[test]
    fn an_overlong_kid_cannot_match_any_key() {
        let kid = "k".repeat(MAX_KID_BYTES + 1);
        let t = token(&format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#), "{}");
        assert_eq!(read(&t, 8192).unwrap_err(), Reason::UnknownKey);
    }
}
