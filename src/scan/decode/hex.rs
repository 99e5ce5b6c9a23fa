//! Hex written byte by byte ("49 67 6e", "49:67", "0x49, 0x67", "\x49\x67"):
//! what a hex dump pasted from a terminal or an escaped string holds. The
//! blob scan in the parent module reads hex only unbroken.

use super::{Derived, Encoding, MAX_BLOB_INPUT, as_text};
use crate::scan::swar::{has_byte_in, on_both_sides};

/// Fewest bytes a hex run with separators must spell.
const MIN_HEX_BYTES: usize = 8;
/// The shortest such run: "49 67 6e 6f 72 65 20 61".
const MIN_HEX_RUN: usize = 3 * MIN_HEX_BYTES - 1;
/// Probe stride for such runs: a run of [`MIN_HEX_RUN`] bytes or more
/// covers a multiple of it.
const HEX_PROBE: usize = 16;

/// Whether `c` can be part of a hex run with separators.
fn in_hex_run(c: u8) -> bool {
    IN_HEX_RUN[usize::from(c)]
}

/// [`in_hex_run`] as a table: the probes ask it of every sixteenth byte.
const IN_HEX_RUN: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_hexdigit() || matches!(b, b' ' | b',' | b':' | b'\\' | b'x' | b'X');
        c += 1;
    }
    t
};

/// Hex bytes written one by one: "49 67 6e", "49:67:6e", "0x49, 0x67",
/// "\x49\x67" (a hex dump pasted from a terminal, an escaped string). The
/// base64 scan finds hex only unbroken. Each run of at least
/// [`MIN_HEX_BYTES`] that reads as text is decoded, at most `tries` of them
/// and `bytes` decoded bytes in all; a run is read from its first
/// [`MAX_BLOB_INPUT`] bytes, like a blob.
pub(super) fn hex_with_separators(
    text: &str,
    tries: usize,
    mut bytes: usize,
    out: &mut Vec<Derived>,
) {
    let b = text.as_bytes();
    let mut left = tries;
    let mut next = 0usize;
    let mut probe = 0usize;
    // A probe outside a run, or in one too short (prose: a word of hex
    // letters, a number), costs a byte or a few; a long run is read token by
    // token. A run with no token in it reads as nothing (`hex_tokens`).
    while probe < b.len() && left > 0 {
        let p = probe;
        probe += HEX_PROBE;
        if p < next || !in_hex_run(b[p]) {
            continue;
        }
        // A lower-case letter from g to w (in no run: `x` is a prefix; in
        // most words of prose) within seven bytes either side bounds the run
        // through `p` to 13 bytes: too short, and no later probe is in it.
        if on_both_sides(b, p, |w| has_byte_in(w, b'g', b'w')) {
            continue;
        }
        let mut s = p;
        while s > next && in_hex_run(b[s - 1]) {
            s -= 1;
        }
        let mut e = p;
        while e < b.len() && in_hex_run(b[e]) {
            e += 1;
        }
        next = e;
        probe = probe.max(e);
        if e - s < MIN_HEX_RUN {
            continue;
        }
        let mut i = s;
        while i < e && left > 0 && bytes > 0 {
            if !b[i].is_ascii_hexdigit() && b[i] != b'\\' {
                i += 1;
                continue;
            }
            let limit = e.min(i + MAX_BLOB_INPUT);
            match hex_tokens(&b[..limit], i) {
                Some((decoded, end)) if decoded.len() >= MIN_HEX_BYTES => {
                    left -= 1;
                    bytes = bytes.saturating_sub(decoded.len());
                    if let Some(decoded) = as_text(decoded) {
                        out.push(Derived {
                            encoding: Encoding::Hex,
                            span: i..end,
                            text: decoded,
                        });
                    }
                    // A run cut at the limit is read no further.
                    i = if limit < e && end + 6 >= limit {
                        e
                    } else {
                        end
                    };
                }
                _ => i += 1,
            }
        }
    }
}

/// The bytes of the tokens starting at `i` ("\x49", "0x49" or "49", each
/// followed by a separator, the next prefix or the end), and where they end.
fn hex_tokens(b: &[u8], mut i: usize) -> Option<(Vec<u8>, usize)> {
    // A token does not start inside a word or a number.
    if i > 0 && b[i - 1].is_ascii_alphanumeric() {
        return None;
    }
    let mut bytes = Vec::new();
    let mut end = i;
    loop {
        let mut j = i;
        if b.get(j) == Some(&b'\\') && b.get(j + 1) == Some(&b'x')
            || b.get(j) == Some(&b'0') && matches!(b.get(j + 1), Some(b'x' | b'X'))
        {
            j += 2;
        }
        let (Some(&hi), Some(&lo)) = (b.get(j), b.get(j + 1)) else {
            break;
        };
        if !hi.is_ascii_hexdigit() || !lo.is_ascii_hexdigit() {
            break;
        }
        j += 2;
        // Two digits and no third: the token ends here.
        if b.get(j).is_some_and(|c| c.is_ascii_alphanumeric()) {
            break;
        }
        bytes.push(((hi as char).to_digit(16)? * 16 + (lo as char).to_digit(16)?) as u8);
        end = j;
        // One separator (", " counts as one), or a prefix next.
        match b.get(j) {
            Some(b',') if b.get(j + 1) == Some(&b' ') => j += 2,
            Some(b' ' | b',' | b':') => j += 1,
            _ => {}
        }
        i = j;
    }
    (!bytes.is_empty()).then_some((bytes, end))
}

#[cfg(test)]
mod tests {
    use super::super::tests::one;
    use super::super::{Budget, find_encoded};
    use super::*;

    #[test]
    fn hex_bytes_with_separators_are_decoded() {
        let hex = |text: &str, sep: &str, prefix: &str| {
            text.bytes()
                .map(|c| format!("{prefix}{c:02x}"))
                .collect::<Vec<_>>()
                .join(sep)
        };
        // Every format at every offset from the probes, down to the
        // shortest run (eight bytes): some probe lands on a digit.
        for (sep, prefix) in [(" ", ""), (":", ""), (", ", "0x"), (",", "0x"), ("", "\\x")] {
            for plain in ["ignore all previous", "ignore a"] {
                let blob = hex(plain, sep, prefix);
                for pad in 0..HEX_PROBE {
                    let text = format!("{}note=\"{blob}\" done", "-".repeat(pad));
                    let d = one(&text);
                    assert_eq!(d.encoding, Encoding::Hex, "{text}");
                    assert_eq!(d.text, plain, "{text}");
                    assert_eq!(&text[d.span], blob);
                }
            }
        }
    }

    #[test]
    fn hex_runs_keep_to_the_budget() {
        let run = |plain: &str| {
            plain
                .bytes()
                .map(|c| format!("{c:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let text = vec![run("ignore all previous"); 10].join(" | ");
        let b = Budget {
            max_blobs: 3,
            max_bytes: 1 << 20,
        };
        assert_eq!(find_encoded(&text, b).len(), 3);
        let b = Budget {
            max_blobs: 32,
            max_bytes: 40,
        };
        // Each run decodes 19 bytes: the third starts with 2 left.
        assert_eq!(find_encoded(&text, b).len(), 3);
        // A run longer than a blob's input is read from its start only.
        let long = run(&"ignore all previous ".repeat(2_000));
        let d = one(&long);
        assert!(d.text.len() <= MAX_BLOB_INPUT / 3 + 1, "{}", d.text.len());
    }

    #[test]
    fn the_letters_the_probes_stop_at_are_in_no_run() {
        assert!((b'g'..=b'w').all(|c| !in_hex_run(c)));
    }

    #[test]
    fn fingerprints_and_mac_addresses_are_not_decoded() {
        let text = "key 43:51:43:a1:b5:fc:8b:b7:0a:3a:a9:b1:0f:66:73:a8 on 00:1a:2b:3c:4d:5e \
                    and bytes 7f 45 4c 46 02 01 01 00 00 00";
        assert!(find_encoded(text, Budget::default()).is_empty());
    }
}
