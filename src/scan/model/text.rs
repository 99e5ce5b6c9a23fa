//! Byte-level reading of folded text shared by the featuriser, the plan and
//! the decoders: word bytes and UTF-8 lengths, scripts written without
//! spaces, record lines, the words that may lead an order, and whether a
//! sentence dictates a literal string for the reader's reply.

use super::sentence::SentenceState;
use crate::scan::lexicon::{Cue, Lexicon, word_hash};

/// Words that may precede the imperative verb of a sentence ("please
/// ignore", "now write").
#[inline]
pub(crate) fn is_leader(word: &[u8]) -> bool {
    matches!(
        word,
        b"please"
            | b"kindly"
            | b"now"
            | b"also"
            | b"then"
            | b"and"
            | b"first"
            | b"finally"
            | b"just"
            | b"so"
            | b"but"
            | b"instead"
            | b"additionally"
            | b"immediately"
            | b"simply"
            | b"always"
            | b"never"
            | b"bitte"
            | b"puis"
            | b"luego"
            | b"ahora"
            | b"tambien"
            | b"por"
            | b"favor"
            | b"ensuite"
            | b"maintenant"
            | b"dann"
            | b"jetzt"
    )
}

/// The sentence `s`, ended by the colon at `colon`, is followed by a quoted
/// string and is prose of three words or more ([`SentenceState::is_prose`])
/// that holds an order (an imperative other than "answer" or "reply": "Thanks for
/// your answer: '...'" quotes a reply, it dictates none), names the reader's
/// reply (a response word and a second-person word) and ends on it: "... and
/// include it in your response", "... empendulweni yakho", or on the encoding
/// the string must take there: "përfshi në përgjigjen tënde këtë varg të koduar
/// në base64: 'TEST'" (include in your answer this string encoded in base64). "Begin your
/// response with" ends on "with": how a reply opens is what users ask of their
/// assistant all the time.
///
/// Cheapest checks first: the sentence's cue classes, then the quote; only
/// then are its words (split as the featuriser splits them) looked up again,
/// rather than tracked for every word of every text.
pub(super) fn dictates_literal(
    text: &str,
    s: &SentenceState,
    colon: usize,
    lexicon: &Lexicon,
) -> bool {
    let need = Cue::Response.bit() | Cue::SecondPerson.bit();
    let b = text.as_bytes();
    if s.mask & need != need || s.tokens < 3 || !s.is_prose() || !quoted_follows(b, colon + 1) {
        return false;
    }
    let (mut order, mut last, mut last_word) = (false, 0u64, &b[..0]);
    let mut i = s.start;
    while i < colon {
        let Some(end) = super::plan::token_at(text, i) else {
            i += utf8_len(b[i]);
            continue;
        };
        last_word = &b[i..end];
        last = lexicon.classes(word_hash(last_word));
        order |= last & (Cue::Imperative.bit() | Cue::Response.bit()) == Cue::Imperative.bit();
        i = end;
    }
    order && (last & need != 0 || is_encoding(last_word))
}

/// The name of an encoding a string can be ordered into: `base64`, `hex`, ...
fn is_encoding(word: &[u8]) -> bool {
    matches!(
        word,
        b"base64" | b"base32" | b"base16" | b"hex" | b"hexadecimal" | b"rot13"
    )
}

/// A quoted string starts at `from` (after spaces) and closes on the same
/// line within 120 bytes: `: 'I live in London'`.
fn quoted_follows(b: &[u8], from: usize) -> bool {
    let rest = b.get(from..).unwrap_or_default();
    let start = rest.iter().position(|&c| c != b' ' && c != b'\t');
    let Some(q) = start.map(|k| (k, rest[k])) else {
        return false;
    };
    matches!(q.1, b'\'' | b'"' | b'`')
        && rest[q.0 + 1..]
            .iter()
            .take(120)
            .take_while(|&&c| c != b'\n')
            .any(|&c| c == q.1)
}

/// Whether the line starting at `line` is record-like ([`is_data_line`]) and
/// whether it is a table row (opens with `|` after spaces), in one pass.
#[inline]
pub(crate) fn line_kind(line: &[u8]) -> (bool, bool) {
    let mut i = 0;
    while i < line.len() && line[i] == b' ' {
        i += 1;
    }
    let rest = &line[i..];
    if rest.first() == Some(&b'|') {
        return (true, true);
    }
    if rest.starts_with(b"```") {
        return (true, false);
    }
    // A key is at most 25 bytes of letters, digits, `_` and spaces, then
    // `: `. Most lines have no colon that early: one search rules them out.
    let Some(key) = memchr::memchr(b':', &rest[..rest.len().min(26)]) else {
        return (false, false);
    };
    let record = key >= 2
        && rest[..key]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b' ')
        && rest.get(key) == Some(&b':')
        && rest.get(key + 1) == Some(&b' ')
        && rest.get(key + 2).is_some_and(|c| *c != b'\n' && *c != b' ');
    (record, false)
}

/// Whether the line holding byte `at` and the line above it are both
/// items of a list ("- ", "* ", "+ ", "• ", "3. ", "3) "): a step of a list
/// of steps, not an order alone.
pub(crate) fn in_list(text: &[u8], at: usize) -> bool {
    let at = at.min(text.len());
    let start = memchr::memrchr(b'\n', &text[..at]).map_or(0, |k| k + 1);
    if start == 0 {
        return false;
    }
    let above = memchr::memrchr(b'\n', &text[..start - 1]).map_or(0, |k| k + 1);
    is_list_item(&text[start..]) && is_list_item(&text[above..start - 1])
}

/// Whether `line` opens with a list marker after spaces.
fn is_list_item(line: &[u8]) -> bool {
    let line = line.trim_ascii_start();
    let digits = line.iter().take_while(|c| c.is_ascii_digit()).count();
    let marker = if digits > 0 && digits <= 3 {
        matches!(line.get(digits), Some(b'.' | b')')).then_some(digits + 1)
    } else if line.starts_with("•".as_bytes()) {
        Some("•".len())
    } else {
        matches!(line.first(), Some(b'-' | b'*' | b'+')).then_some(1)
    };
    marker.is_some_and(|m| line.get(m) == Some(&b' '))
}

/// Whether a line of folded `text` opens a commit, as `git log` prints one
/// (`commit 3fa1c2e`, with or without a colon, quotes or a decoration after
/// the id): the document is a commit log.
pub(crate) fn is_commit_log(text: &[u8]) -> bool {
    text.split(|&c| c == b'\n').any(|line| {
        let Some(rest) = line.strip_prefix(b"commit") else {
            return false;
        };
        let rest = rest.strip_prefix(b":").unwrap_or(rest);
        let Some(rest) = rest.strip_prefix(b" ") else {
            return false;
        };
        let rest = rest.strip_prefix(b"'").unwrap_or(rest);
        let hex = rest.iter().take_while(|c| c.is_ascii_hexdigit()).count();
        (7..=64).contains(&hex)
            && rest
                .get(hex)
                .is_none_or(|c| matches!(c, b' ' | b'\'' | b'\r'))
    })
}

/// A line that reads as a record: a table row, a code fence, or `key: value`.
pub(crate) fn is_data_line(line: &[u8]) -> bool {
    line_kind(line).0
}

#[inline]
pub(crate) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[inline]
pub(crate) fn utf8_len(lead: u8) -> usize {
    match lead {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Ideographic and syllabic scripts written without spaces: one token per character.
#[inline]
pub(crate) fn is_cjk_at(text: &str, i: usize) -> bool {
    let lead = text.as_bytes()[i];
    if !(0xE3..=0xED).contains(&lead) && lead != 0xF0 {
        return false;
    }
    text[i..].chars().next().is_some_and(|c| {
        matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0x20000..=0x2FFFF)
    })
}
