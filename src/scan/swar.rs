//! Byte tests on eight bytes at once: a little-endian `u64` read from the
//! text, tested without a branch per byte. Normalisation skips plain ASCII
//! with them, and the decoders' probes rule out runs too short to decode.
//!
//! Invariant: each test answers exactly whether some byte of the word passes
//! (not which); the tests below hold each to a byte-by-byte reading.

/// `0x01` in every byte.
pub const ONES: u64 = 0x0101_0101_0101_0101;
/// The top bit of every byte.
pub const HIGH: u64 = ONES * 0x80;

/// The eight bytes of `b` from `at` (which must leave eight), as one word.
#[inline]
pub fn word_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Whether a byte of `w` is below `n` (at most `0x80`). Subtracting `n` from
/// every byte sets the top bit of the lowest byte under it; the bytes below
/// that one borrow nothing, so the answer is exact about whether one exists.
#[inline]
pub fn has_byte_below(w: u64, n: u8) -> bool {
    w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH != 0
}

/// Whether a byte of `w` is in `lo..=hi` (both ASCII). Per byte, without
/// carries between bytes: with `t` the byte's low seven bits, `0x80 + hi - t`
/// keeps its top bit for `t <= hi`, `t + 0x80 - lo` gains it for `t >= lo`,
/// and `!w` has it for an ASCII byte.
#[inline]
pub fn has_byte_in(w: u64, lo: u8, hi: u8) -> bool {
    let t = w & (ONES * 0x7F);
    let at_most = ONES * (0x80 + u64::from(hi)) - t;
    let at_least = t + ONES * (0x80 - u64::from(lo));
    at_most & at_least & !w & HIGH != 0
}

/// Whether `test` finds a byte among the eight ending at `p` and among the
/// eight starting there: then a run of bytes `test` never finds, through
/// `p`, is at most 13 bytes long. `false` within seven bytes of either end.
#[inline]
pub fn on_both_sides(b: &[u8], p: usize, test: impl Fn(u64) -> bool) -> bool {
    p >= 7 && p + 8 <= b.len() && test(word_at(b, p - 7)) && test(word_at(b, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value at every position of a word, among random others:
    /// `test` on the word says what `byte` says of some byte of it.
    fn agrees(test: impl Fn(u64) -> bool, byte: impl Fn(u8) -> bool) {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let filler = (0..=255u8).find(|&c| !byte(c)).unwrap();
        for round in 0..40_000 {
            let mut bytes = [0u8; 8];
            for b in &mut bytes {
                *b = crate::scan::draw(&mut seed, 256) as u8;
            }
            if round < 2_048 {
                // One byte under test among bytes that are not.
                bytes = [filler; 8];
                bytes[round / 256] = (round % 256) as u8;
            }
            let w = u64::from_le_bytes(bytes);
            assert_eq!(test(w), bytes.iter().any(|&c| byte(c)), "{bytes:?}");
        }
    }

    #[test]
    fn the_word_tests_read_each_byte_of_the_word() {
        for n in [1, 0x20, b'%', 0x80] {
            agrees(|w| has_byte_below(w, n), |c| c < n);
        }
        for (lo, hi) in [(b'g', b'w'), (b'a', b'z'), (0, 0x7F), (b'0', b'0')] {
            agrees(|w| has_byte_in(w, lo, hi), |c| (lo..=hi).contains(&c));
        }
    }

    #[test]
    fn both_sides_means_a_byte_found_in_each_window() {
        let b = b"0123456789abcdef0123";
        let has_a = |w: u64| has_byte_in(w, b'a', b'a');
        assert!(on_both_sides(b, 10, has_a));
        assert!(
            !on_both_sides(b, 11, has_a),
            "no a among the eight starting at 11"
        );
        assert!(!on_both_sides(b, 3, |_| true), "too near the start");
        assert!(!on_both_sides(b, 13, |_| true), "too near the end");
        assert!(on_both_sides(b, 12, |_| true));
    }
}
