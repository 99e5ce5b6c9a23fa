//! Demo credentials: a fresh Ed25519 key per run, its JWKS written to a
//! temporary file the demo configuration trusts, and short-lived access tokens
//! signed with it, so `portcullis demo` shows authentication with zero setup.
//!
//! The private key never leaves the process memory and dies with it; the tokens
//! are valid only for the demo gateway's resource URI.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The demo token issuer.
pub const ISSUER: &str = "https://demo-issuer.portcullis.invalid";
const KID: &str = "demo-1";

/// Tokens to paste into the printed commands.
#[derive(Debug, Clone)]
pub struct DemoTokens {
    /// Valid for ten minutes, scope `mcp:tools`.
    pub valid: String,
    /// Expired ten minutes ago.
    pub expired: String,
    /// Correctly signed but valid for a year: refused as too long-lived.
    pub long_lived: String,
}

/// Why demo credentials could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Key generation or signing failed.
    #[error("cannot create the demo signing key or tokens")]
    Crypto,
    /// The JWKS file could not be written.
    #[error("cannot write the demo JWKS to {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

/// A demo signing key.
pub struct DemoKey {
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl std::fmt::Debug for DemoKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DemoKey")
    }
}

impl DemoKey {
    /// A fresh key.
    pub fn generate() -> Result<DemoKey, TokenError> {
        let pkcs8 =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| TokenError::Crypto)?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| TokenError::Crypto)?;
        Ok(DemoKey {
            public: pair.public_key().as_ref().to_vec(),
            pkcs8: pkcs8.as_ref().to_vec(),
        })
    }

    /// Writes the public JWKS into `dir` and returns its path.
    pub fn write_jwks(&self, dir: &Path) -> Result<PathBuf, TokenError> {
        let jwks = json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(&self.public),
            "kid": KID, "alg": "EdDSA", "use": "sig"
        }]});
        let path = dir.join("demo-jwks.json");
        std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&path, jwks.to_string()))
            .map_err(|e| TokenError::Write(path.clone(), e))?;
        Ok(path)
    }

    /// The three demo tokens for `resource`, at `now`.
    pub fn tokens(&self, resource: &str, now: u64) -> Result<DemoTokens, TokenError> {
        let claims = |iat: u64, exp: u64, jti: &str| {
            json!({"iss": ISSUER, "aud": resource, "sub": "demo-user", "client_id": "demo-agent",
                   "scope": "mcp:tools", "iat": iat, "exp": exp, "jti": jti})
        };
        Ok(DemoTokens {
            valid: self.sign(&claims(now, now + 600, "demo-valid"))?,
            expired: self.sign(&claims(now - 1200, now - 600, "demo-expired"))?,
            long_lived: self.sign(&claims(now, now + 365 * 86_400, "demo-long"))?,
        })
    }

    fn sign(&self, claims: &Value) -> Result<String, TokenError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some(KID.into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&self.pkcs8))
            .map_err(|_| TokenError::Crypto)
    }
}
