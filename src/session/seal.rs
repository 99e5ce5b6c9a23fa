//! Sealed tokens: state the gateway hands to a client and gets back, encrypted
//! and authenticated so that the client can neither read nor alter it, and so
//! that any replica holding the key can open it (no shared store, no sticky
//! routing).
//!
//! AES-256-GCM with a random 96-bit nonce per token (aws-lc-rs, the provider
//! rustls already uses). A token is `<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`:
//! visible ASCII only, as MCP session ids must be. The key id and a purpose label
//! are authenticated as associated data, so a token sealed for one purpose (a
//! session) cannot be replayed as another (a cursor), and a key id cannot be
//! swapped. Several keys may be configured: the first seals, every key opens, so
//! keys rotate without breaking live sessions. No key derivation runs per token:
//! keys are 32 random bytes from configuration, and sealing costs microseconds.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// What a token is for; part of the authenticated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// An `Mcp-Session-Id`.
    Session,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Session => b"portcullis/session/v1",
        }
    }
}

/// Why a token did not open. Callers treat every case alike (an unknown
/// session); the distinction is for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Not `<kid>.<base64url>`, or too short to hold a nonce and tag.
    #[error("malformed token")]
    Malformed,
    /// No configured key has this id.
    #[error("unknown key id")]
    UnknownKey,
    /// Authentication failed: tampered, truncated, or sealed under another key
    /// or purpose.
    #[error("token does not authenticate")]
    Forged,
}

/// Why a sealer could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No keys.
    #[error("at least one key is required")]
    NoKeys,
    /// A key id that is empty, repeated, or not `[A-Za-z0-9_-]`.
    #[error("key id `{0}` must be unique and use only letters, digits, `-` and `_`")]
    BadId(String),
    /// Key material of the wrong length.
    #[error("key `{0}` must be exactly 32 bytes")]
    BadLength(String),
}

struct Key {
    id: String,
    key: RandomizedNonceKey,
}

/// Seals with the first key, opens with any.
pub struct Sealer {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Sealer").field("key_ids", &ids).finish()
    }
}

impl Sealer {
    /// Keys as (id, 32 bytes), the sealing key first.
    pub fn new(keys: &[(String, Vec<u8>)]) -> Result<Sealer, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::NoKeys);
        }
        let mut built: Vec<Key> = Vec::with_capacity(keys.len());
        for (id, bytes) in keys {
            let valid = !id.is_empty()
                && id.len() <= 32
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && built.iter().all(|k| &k.id != id);
            if !valid {
                return Err(KeyError::BadId(id.clone()));
            }
            if bytes.len() != 32 {
                return Err(KeyError::BadLength(id.clone()));
            }
            let key = RandomizedNonceKey::new(&AES_256_GCM, bytes)
                .map_err(|_| KeyError::BadLength(id.clone()))?;
            built.push(Key {
                id: id.clone(),
                key,
            });
        }
        Ok(Sealer { keys: built })
    }

    /// A sealer with one random key: tokens survive neither a restart nor a hop
    /// to another replica. For single-process use and tests.
    pub fn ephemeral() -> Result<Sealer, KeyError> {
        let mut bytes = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| KeyError::BadLength("ephemeral".into()))?;
        Sealer::new(&[("ephemeral".to_owned(), bytes)])
    }

    /// The id of the sealing key.
    pub fn current_key_id(&self) -> &str {
        self.keys.first().map_or("", |k| k.id.as_str())
    }

    /// Seals `plaintext`; `None` only if the system random source fails.
    pub fn seal(&self, purpose: Purpose, plaintext: &[u8]) -> Option<String> {
        let key = self.keys.first()?;
        let mut in_out = plaintext.to_vec();
        let nonce = key
            .key
            .seal_in_place_append_tag(aad(&key.id, purpose), &mut in_out)
            .ok()?;
        let mut raw = Vec::with_capacity(NONCE_LEN + in_out.len());
        raw.extend_from_slice(nonce.as_ref());
        raw.extend_from_slice(&in_out);
        let mut token = String::with_capacity(key.id.len() + 1 + raw.len() * 4 / 3 + 4);
        token.push_str(&key.id);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&raw, &mut token);
        Some(token)
    }

    /// Opens a token sealed by any configured key for `purpose`.
    pub fn open(&self, purpose: Purpose, token: &str) -> Result<Vec<u8>, OpenError> {
        let (id, body) = token.split_once('.').ok_or(OpenError::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or(OpenError::UnknownKey)?;
        let mut raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| OpenError::Malformed)?;
        if raw.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(OpenError::Malformed);
        }
        let (nonce, sealed) = raw.split_at_mut(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError::Malformed)?;
        let plain = key
            .key
            .open_in_place(nonce, aad(id, purpose), sealed)
            .map_err(|_| OpenError::Forged)?;
        Ok(plain.to_vec())
    }
}

fn aad(key_id: &str, purpose: Purpose) -> Aad<Vec<u8>> {
    let mut data = Vec::with_capacity(key_id.len() + 32);
    data.extend_from_slice(purpose.label());
    data.push(0);
    data.extend_from_slice(key_id.as_bytes());
    Aad::from(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> (String, Vec<u8>) {
        (id.to_owned(), vec![byte; 32])
    }

    #[test]
    fn a_sealed_token_opens_and_is_visible_ascii() {
        let s = Sealer::new(&[key("k1", 1)]).unwrap();
        let token = s.seal(Purpose::Session, b"state").unwrap();
        assert!(token.starts_with("k1."));
        assert!(token.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert_eq!(s.open(Purpose::Session, &token).unwrap(), b"state");
        assert_ne!(
            s.seal(Purpose::Session, b"state").unwrap(),
            token,
            "nonces differ"
        );
    }

    #[test]
    fn tampered_truncated_and_foreign_tokens_do_not_open() {
        let s = Sealer::new(&[key("k1", 1)]).unwrap();
        let other = Sealer::new(&[key("k1", 2)]).unwrap();
        let token = s.seal(Purpose::Session, b"state").unwrap();
        let mut bytes = token.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(s.open(Purpose::Session, &tampered), Err(OpenError::Forged));
        assert_eq!(
            s.open(Purpose::Session, &token[..token.len() - 4]),
            Err(OpenError::Forged)
        );
        assert_eq!(other.open(Purpose::Session, &token), Err(OpenError::Forged));
        assert_eq!(
            s.open(Purpose::Session, "k9.AAAA"),
            Err(OpenError::UnknownKey)
        );
        assert_eq!(
            s.open(Purpose::Session, "no-dot"),
            Err(OpenError::Malformed)
        );
        assert_eq!(s.open(Purpose::Session, "k1.!!"), Err(OpenError::Malformed));
        assert_eq!(
            s.open(Purpose::Session, "k1.AAAA"),
            Err(OpenError::Malformed)
        );
        let swapped = token.replacen("k1.", "k2.", 1);
        let both = Sealer::new(&[key("k1", 1), key("k2", 1)]).unwrap();
        assert_eq!(
            both.open(Purpose::Session, &swapped),
            Err(OpenError::Forged),
            "key id is authenticated"
        );
    }

    #[test]
    fn rotation_seals_with_the_new_key_and_opens_old_tokens() {
        let old = Sealer::new(&[key("old", 1)]).unwrap();
        let token = old.seal(Purpose::Session, b"s").unwrap();
        let rotated = Sealer::new(&[key("new", 2), key("old", 1)]).unwrap();
        assert_eq!(rotated.open(Purpose::Session, &token).unwrap(), b"s");
        assert!(
            rotated
                .seal(Purpose::Session, b"s")
                .unwrap()
                .starts_with("new.")
        );
        assert_eq!(rotated.current_key_id(), "new");
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(Sealer::new(&[]).err(), Some(KeyError::NoKeys));
        assert!(matches!(
            Sealer::new(&[("a b".into(), vec![0; 32])]),
            Err(KeyError::BadId(_))
        ));
        assert!(matches!(
            Sealer::new(&[key("a", 1), key("a", 2)]),
            Err(KeyError::BadId(_))
        ));
        assert!(matches!(
            Sealer::new(&[("a".into(), vec![0; 16])]),
            Err(KeyError::BadLength(_))
        ));
    }
}
