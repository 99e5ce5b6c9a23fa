//! Signed checkpoints: at intervals, the writer states how many events a segment
//! holds and the fingerprint of the last one, signed with Ed25519.
//!
//! A checkpoint is one JSON line, `{"portcullis_checkpoint": {...}}`, written to
//! the log (in order with the events) and to a separate checkpoint file. The
//! signature covers a fixed text form ([`Checkpoint::signed_text`]), in the
//! spirit of C2SP signed notes, so any Ed25519 tool can check it.
//!
//! Invariant: a checkpoint is only produced from the chain state right after the
//! events it counts were written, so `count` and `last_sha256` always describe a
//! prefix of the segment as it is in the file.

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The top-level key that marks a checkpoint line.
pub const KEY: &str = "portcullis_checkpoint";

/// One checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Format version, 1.
    pub v: u32,
    /// The segment (`attestation.chain_uid` of its events).
    pub chain_uid: String,
    /// Events in the segment up to this checkpoint.
    pub count: u64,
    /// `attestation.uid` of the last of them (absent when `count` is 0).
    pub last_uid: Option<String>,
    /// Hex fingerprint of the last of them (absent when `count` is 0).
    pub last_sha256: Option<String>,
    /// When it was made (RFC 3339, UTC).
    pub time: String,
    /// Whether the segment was closed after this (rotation or shutdown): no
    /// event may follow it in the segment.
    pub r#final: bool,
    /// The signing key's id (first 16 hex digits of SHA-256 of the public key).
    pub key_id: Option<String>,
    /// Base64 Ed25519 signature of [`Checkpoint::signed_text`].
    pub signature: Option<String>,
}

/// The checkpoint signer: an Ed25519 key from configuration.
#[derive(Clone)]
pub struct CheckpointKey {
    key: SigningKey,
    id: String,
}

impl std::fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CheckpointKey({})", self.id)
    }
}

impl CheckpointKey {
    /// Loads a PKCS#8 PEM private key (`openssl genpkey -algorithm ed25519`).
    pub fn from_pem_file(path: &Path) -> Result<CheckpointKey, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let key = SigningKey::from_pkcs8_pem(&text).map_err(|e| {
            format!(
                "{} is not a PKCS#8 Ed25519 private key: {e}",
                path.display()
            )
        })?;
        Ok(CheckpointKey::from_key(key))
    }

    /// Wraps a signing key.
    pub fn from_key(key: SigningKey) -> CheckpointKey {
        let id = key_id(&key.verifying_key());
        CheckpointKey { key, id }
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Signs a checkpoint in place.
    pub fn sign(&self, cp: &mut Checkpoint) {
        use base64::Engine;
        cp.key_id = Some(self.id.clone());
        let sig = self.key.sign(cp.signed_text().as_bytes());
        cp.signature = Some(base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()));
    }
}

/// The id of a public key.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// Loads an SPKI PEM public key (`openssl pkey -pubout`).
pub fn public_key_from_pem(text: &str) -> Result<VerifyingKey, String> {
    VerifyingKey::from_public_key_pem(text).map_err(|e| format!("not an Ed25519 public key: {e}"))
}

/// Why a checkpoint's signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The checkpoint carries no signature.
    #[error("checkpoint is not signed")]
    Unsigned,
    /// Signed by another key.
    #[error("checkpoint is signed by key {0}, not by the key given")]
    OtherKey(String),
    /// The signature does not verify.
    #[error("checkpoint signature is invalid")]
    Invalid,
}

impl Checkpoint {
    /// The text the signature covers.
    pub fn signed_text(&self) -> String {
        format!(
            "portcullis-audit-checkpoint/v1\n{}\n{}\n{}\n{}\n{}\n{}\n",
            self.chain_uid,
            self.count,
            self.last_uid.as_deref().unwrap_or("-"),
            self.last_sha256.as_deref().unwrap_or("-"),
            self.time,
            self.r#final
        )
    }

    /// Checks the signature against `key`.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), SignatureError> {
        use base64::Engine;
        let sig = self.signature.as_deref().ok_or(SignatureError::Unsigned)?;
        let id = key_id(key);
        if let Some(k) = &self.key_id
            && *k != id
        {
            return Err(SignatureError::OtherKey(k.clone()));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .map_err(|_| SignatureError::Invalid)?;
        let bytes: [u8; 64] = bytes.try_into().map_err(|_| SignatureError::Invalid)?;
        key.verify(
            self.signed_text().as_bytes(),
            &Signature::from_bytes(&bytes),
        )
        .map_err(|_| SignatureError::Invalid)
    }

    /// The checkpoint as one JSON line (without newline).
    pub fn to_line(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        let wrapped = serde_json::json!({ KEY: self });
        super::canonical::write(&wrapped, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CheckpointKey {
        CheckpointKey::from_key(SigningKey::from_bytes(&[7u8; 32]))
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            v: 1,
            chain_uid: "seg".into(),
            count: 3,
            last_uid: Some("seg:2".into()),
            last_sha256: Some("ab".repeat(32)),
            time: "2026-01-01T00:00:00.000000Z".into(),
            r#final: false,
            key_id: None,
            signature: None,
        }
    }

    #[test]
    fn a_signed_checkpoint_verifies_and_a_changed_one_does_not() {
        let k = key();
        let mut cp = checkpoint();
        k.sign(&mut cp);
        let public = k.key.verifying_key();
        assert_eq!(cp.verify(&public), Ok(()));
        let mut changed = cp.clone();
        changed.count = 2;
        assert_eq!(changed.verify(&public), Err(SignatureError::Invalid));
        let other = SigningKey::from_bytes(&[8u8; 32]).verifying_key();
        assert!(matches!(
            cp.verify(&other),
            Err(SignatureError::OtherKey(_))
        ));
        assert_eq!(checkpoint().verify(&public), Err(SignatureError::Unsigned));
    }

    #[test]
    fn a_checkpoint_line_parses_back() {
        let mut cp = checkpoint();
        key().sign(&mut cp);
        let line = cp.to_line();
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        let back: Checkpoint = serde_json::from_value(v[KEY].clone()).unwrap();
        assert_eq!(back, cp);
    }
}
