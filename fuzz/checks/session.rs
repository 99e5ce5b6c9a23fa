//! Sealed session ids (`session::Sealer`, `SessionState`).
//!
//! Input: the first byte picks the check, the rest is its data. Beyond "no
//! panic": an arbitrary string never opens under a key that has sealed
//! nothing (nobody without the key can mint a session); whatever is sealed opens to exactly itself, under the sealing key
//! and under a rotated set that still holds it, but not for another key; a
//! sealed token is visible ASCII; any change to a sealed token makes it fail
//! to open; a session state survives seal then open unchanged.
//!
//! Shared by the libFuzzer target (`fuzz/fuzz_targets/session.rs`) and the CI
//! smoke test (`tests/fuzz_smoke.rs`), which runs it on the committed seeds
//! and on deterministic mutations of them.

use portcullis::session::{Purpose, Sealer, SessionState};
use std::sync::OnceLock;

struct Sealers {
    current: Sealer,
    rotated: Sealer,
    foreign: Sealer,
    /// Never seals. libFuzzer learns the bytes its input is compared with, so
    /// it can replay a token `current` sealed in an earlier run; a key that
    /// never seals makes "an arbitrary string never opens" exact.
    guarded: Sealer,
}

fn sealers() -> &'static Sealers {
    static SEALERS: OnceLock<Sealers> = OnceLock::new();
    SEALERS.get_or_init(|| {
        let key = |id: &str, byte: u8| (id.to_owned(), vec![byte; 32]);
        Sealers {
            current: Sealer::new(&[key("k1", 1)]).expect("valid key"),
            rotated: Sealer::new(&[key("k2", 2), key("k1", 1)]).expect("valid keys"),
            foreign: Sealer::new(&[key("k1", 9)]).expect("valid key"),
            guarded: Sealer::new(&[key("k1", 3), key("k2", 4)]).expect("valid keys"),
        }
    })
}

/// Runs every check on one input; panics when an invariant fails.
pub fn check(data: &[u8]) {
    let [mode, rest @ ..] = data else {
        return;
    };
    let s = sealers();
    match mode % 4 {
        0 => {
            let token = String::from_utf8_lossy(rest);
            assert!(
                s.guarded.open(Purpose::Session, &token).is_err(),
                "forged: {token:?}"
            );
            assert!(SessionState::open(&s.guarded, &token).is_err());
        }
        1 => {
            let token = s
                .current
                .seal(Purpose::Session, rest)
                .expect("sealing works");
            assert!(
                token.bytes().all(|b| (0x21..=0x7e).contains(&b)),
                "not visible ASCII"
            );
            assert_eq!(
                s.current.open(Purpose::Session, &token).as_deref(),
                Ok(rest)
            );
            assert_eq!(
                s.rotated.open(Purpose::Session, &token).as_deref(),
                Ok(rest)
            );
            assert!(s.foreign.open(Purpose::Session, &token).is_err());
        }
        2 => {
            // rest = [position, byte, plaintext...]: change one byte of the token.
            let [position, byte, plain @ ..] = rest else {
                return;
            };
            let token = s
                .current
                .seal(Purpose::Session, plain)
                .expect("sealing works");
            let mut bytes = token.clone().into_bytes();
            let at = usize::from(*position) % bytes.len();
            bytes[at] = *byte;
            let tampered = String::from_utf8_lossy(&bytes);
            if tampered != token {
                assert!(
                    s.current.open(Purpose::Session, &tampered).is_err(),
                    "a tampered token opened: {tampered:?}"
                );
            }
            // Truncated and extended tokens never open either.
            let cut = usize::from(*byte) % token.len();
            assert!(s.current.open(Purpose::Session, &token[..cut]).is_err());
            let longer = format!("{token}{}", char::from(b'A' + byte % 26));
            assert!(s.current.open(Purpose::Session, &longer).is_err());
        }
        _ => {
            let Ok(state) = serde_json::from_slice::<SessionState>(rest) else {
                return;
            };
            let token = state.seal(&s.current).expect("sealing works");
            assert_eq!(SessionState::open(&s.current, &token).as_ref(), Ok(&state));
        }
    }
}
