//! A map hasher for keys that are hashes already (the scanner's word
//! lexicon and JSON leaf memo, the authorization memos): hashing them again
//! would only cost time.

use std::hash::{BuildHasherDefault, Hasher};

/// Builds [`Prehashed`] hashers.
pub type BuildPrehashed = BuildHasherDefault<Prehashed>;

/// Passes a `u64` key through; other input is folded in, byte by byte.
#[derive(Debug, Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
