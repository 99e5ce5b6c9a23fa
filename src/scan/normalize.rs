//! Normalisation: the folded text that rules and the model read, with a map
//! back to the original bytes and the signals each step raised.
//!
//! Steps, in one pass over the input: compatibility decomposition (NFKD, which
//! folds full-width, mathematical and enclosed letters the way NFKC does) with
//! combining marks dropped; removal of zero-width, bidi, tag and variation
//! characters; confusable folding of Cyrillic, Greek and small-capital
//! lookalikes to ASCII; lower-casing; runs of whitespace collapsed to one space
//! (or one newline when the run holds one). Tag characters that spell ASCII are
//! collected into [`Normalized::tag_text`] so that the smuggled text is scanned.
//!
//! Invariants: the folded text is never longer than 4x the input; rule
//! literals are folded by this same function, so a literal and the text it
//! should match agree; [`Normalized::original_span`] always returns a range on
//! char boundaries of the original, inside it.

use super::fold::{self, CharClass};
use crate::scan::swar::{HIGH, ONES, has_byte_below};
use std::ops::Range;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Which normalisation step raised a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalKind {
    /// Zero-width or other invisible characters between letters.
    Invisible,
    /// Bidi embedding/override/isolate controls.
    Bidi,
    /// Unicode tag characters spelling ASCII text.
    TagSmuggling,
    /// A run of variation selectors (can encode arbitrary bytes).
    VariationSelectors,
    /// Letters from another script that look like Latin letters, next to Latin letters.
    Homoglyph,
    /// Full-width, mathematical or enclosed forms of ASCII letters.
    Compatibility,
}

impl SignalKind {
    /// The finding id for this signal.
    pub fn rule_id(self) -> &'static str {
        match self {
            SignalKind::Invisible => "obf.invisible-characters",
            SignalKind::Bidi => "obf.bidi-controls",
            SignalKind::TagSmuggling => "obf.unicode-tag-smuggling",
            SignalKind::VariationSelectors => "obf.variation-selectors",
            SignalKind::Homoglyph => "obf.homoglyphs",
            SignalKind::Compatibility => "obf.compatibility-forms",
        }
    }
}

/// One signal: what, where in the original (first to last occurrence), how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    /// The step.
    pub kind: SignalKind,
    /// Original byte span from the first to the last occurrence.
    pub span: Range<usize>,
    /// Occurrences.
    pub count: usize,
}

/// The folded text with its offset map.
#[derive(Debug, Clone, Default)]
pub struct Normalized {
    /// The folded text.
    pub text: String,
    /// (folded offset, original offset) at every point where their difference changes.
    anchors: Vec<(u32, u32)>,
    orig_len: usize,
    /// Signals raised, at most one per kind.
    pub signals: Vec<Signal>,
    /// ASCII spelled by tag characters, with the original span that held them.
    pub tag_text: Option<(Range<usize>, String)>,
}

/// Folds `input`; see the module docs.
pub fn normalize(input: &str) -> Normalized {
    let mut folded = Normalized::default();
    normalize_into(input, &mut folded);
    folded
}

/// Folds `input` into `into`, reusing its buffers: the same result as
/// [`normalize`] without allocating for each of many short texts (the string
/// leaves of one JSON message).
pub fn normalize_into(input: &str, into: &mut Normalized) {
    let mut out = std::mem::take(&mut into.text).into_bytes();
    out.clear();
    out.reserve(input.len() + 8);
    let mut anchors = std::mem::take(&mut into.anchors);
    anchors.clear();
    // The map starts at (0, 0) so that a text without any change maps 1:1.
    anchors.push((0, 0));
    let mut signals = std::mem::take(&mut into.signals);
    signals.clear();
    let mut n = Folder {
        out,
        anchors,
        delta: 0,
        pending: None,
        signals,
        tags: String::new(),
        tag_span: None,
        variation_run: 0,
    };
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // Fast path: a run of printable ASCII with single spaces maps 1:1
        // (only lower-casing), so it is copied in bulk.
        if (0x21..0x7F).contains(&b) && n.pending.is_none() {
            let start = i;
            // Eight bytes at a time while all are simple, then byte by byte.
            while let Some(chunk) = bytes.get(i..i + 8) {
                if !simple_chunk(chunk, bytes.get(i + 8)) {
                    break;
                }
                i += 8;
            }
            while i < bytes.len() {
                if !is_simple(bytes[i], bytes.get(i + 1)) {
                    break;
                }
                i += 1;
            }
            n.copy_ascii(&bytes[start..i], start);
            continue;
        }
        if matches!(b, b' ' | b'\n' | b'\t' | b'\r') {
            // A whitespace run (indentation, blank lines) collapses to one
            // pending space or newline, as byte-by-byte handling would.
            let start = i;
            let mut newline = false;
            while i < bytes.len() && matches!(bytes[i], b' ' | b'\n' | b'\t' | b'\r') {
                newline |= bytes[i] == b'\n';
                i += 1;
            }
            n.variation_run = 0;
            n.space(newline, start);
            continue;
        }
        if b < 0x80 {
            n.ascii(b, i);
            i += 1;
            continue;
        }
        let Some(c) = input[i..].chars().next() else {
            break;
        };
        n.non_ascii(c, i, input);
        i += c.len_utf8();
    }
    *into = n.finish(input.len());
}

/// True for a byte the fast path copies as is: printable ASCII, or a space
/// followed by printable ASCII other than a space (`next`).
#[inline]
fn is_simple(c: u8, next: Option<&u8>) -> bool {
    (0x21..0x7F).contains(&c) || (c == b' ' && next.is_some_and(|d| (0x21..0x7F).contains(d)))
}

/// True when every byte of the 8-byte `chunk` [`is_simple`] (`next` is the
/// byte after it), tested on the chunk as one u64: prose has a space every
/// few bytes, so the test admits single spaces instead of stopping at them.
#[inline]
fn simple_chunk(chunk: &[u8], next: Option<&u8>) -> bool {
    let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
        return false;
    };
    let w = u64::from_le_bytes(bytes);
    // All below 0x80, then none below 0x20 and none equal to 0x7F (the
    // usual "has a byte less than n" and "has a zero byte" tests).
    if w & HIGH != 0 || has_byte_below(w, 0x20) || has_byte_below(w ^ (ONES * 0x7F), 1) {
        return false;
    }
    // The high bit of each byte that is a space (exact: no carries cross bytes).
    let z = w ^ (ONES * 0x20);
    let spaces = !(((z & !HIGH) + !HIGH) | z) & HIGH;
    // No space followed by a space, and a last space followed by a simple byte.
    spaces & (spaces >> 8) == 0
        && (spaces >> 63 == 0 || next.is_some_and(|d| (0x21..0x7F).contains(d)))
}

/// Lower-cases and folds a rule literal exactly as text is folded.
pub fn fold_literal(s: &str) -> String {
    normalize(s).text.trim().to_owned()
}

/// A Hangul syllable or a kana, kept whole by folding: decomposed, Korean
/// would become jamo, and a voiced kana would lose its mark ("プ" read as
/// "フ"), so the words packs spell in those scripts ("무시", "プロンプト")
/// would never match the folded text. Spacing and combining voicing marks
/// fold as before.
fn is_syllable(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{3041}'..='\u{3098}' | '\u{309D}'..='\u{30FF}')
}

struct Folder {
    out: Vec<u8>,
    anchors: Vec<(u32, u32)>,
    delta: i64,
    pending: Option<(u8, usize)>,
    signals: Vec<Signal>,
    tags: String,
    tag_span: Option<Range<usize>>,
    variation_run: usize,
}

impl Folder {
    /// Records an anchor when the folded/original difference changes at `orig`.
    #[inline]
    fn sync(&mut self, orig: usize) {
        let d = self.out.len() as i64 - orig as i64;
        if d != self.delta {
            self.anchors.push((self.out.len() as u32, orig as u32));
            self.delta = d;
        }
    }

    #[inline]
    fn flush_space(&mut self) {
        if let Some((sp, at)) = self.pending.take()
            && !self.out.is_empty()
        {
            self.sync(at);
            self.out.push(sp);
        }
    }

    #[inline]
    fn space(&mut self, newline: bool, at: usize) {
        match &mut self.pending {
            Some((sp, _)) => {
                if newline {
                    *sp = b'\n';
                }
            }
            None => self.pending = Some((if newline { b'\n' } else { b' ' }, at)),
        }
    }

    /// Appends printable ASCII (with single spaces) lower-cased, starting at original `at`.
    fn copy_ascii(&mut self, run: &[u8], at: usize) {
        self.variation_run = 0;
        if self.delta != self.out.len() as i64 - at as i64 {
            self.sync(at);
        }
        let from = self.out.len();
        self.out.extend_from_slice(run);
        self.out[from..].make_ascii_lowercase();
    }

    #[inline]
    fn ascii(&mut self, b: u8, at: usize) {
        self.variation_run = 0;
        match b {
            b'\n' => self.space(true, at),
            b' ' | b'\t' | b'\r' | 0x0B | 0x0C => self.space(false, at),
            0..=0x1F | 0x7F => self.space(false, at),
            _ => {
                self.flush_space();
                if self.delta != self.out.len() as i64 - at as i64 {
                    self.sync(at);
                }
                self.out.push(b.to_ascii_lowercase());
            }
        }
    }

    fn signal(&mut self, kind: SignalKind, span: Range<usize>) {
        match self.signals.iter_mut().find(|s| s.kind == kind) {
            Some(s) => {
                s.span.end = span.end;
                s.count += 1;
            }
            None => self.signals.push(Signal {
                kind,
                span,
                count: 1,
            }),
        }
    }

    fn non_ascii(&mut self, c: char, at: usize, input: &str) {
        let span = at..at + c.len_utf8();
        let class = fold::classify(c);
        if class != CharClass::Variation {
            self.variation_run = 0;
        }
        match class {
            CharClass::Space => self.space(c == '\u{2028}' || c == '\u{2029}' || c == '\u{85}', at),
            CharClass::Invisible => {
                let prev_letter = self.out.last().is_some_and(|b| b.is_ascii_alphanumeric());
                let next_letter = input[span.end..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphanumeric);
                if prev_letter && next_letter && !fold::is_quiet_invisible(c) {
                    self.signal(SignalKind::Invisible, span);
                }
            }
            CharClass::Bidi => self.signal(SignalKind::Bidi, span),
            CharClass::Tag(ascii) => {
                if let Some(a) = ascii {
                    self.tags.push(a as char);
                    let start = self.tag_span.as_ref().map_or(at, |s| s.start);
                    self.tag_span = Some(start..span.end);
                }
            }
            CharClass::Variation => {
                self.variation_run += 1;
                if self.variation_run == 4 {
                    self.signal(SignalKind::VariationSelectors, span);
                }
            }
            CharClass::Keep => self.fold_char(c, span, input),
        }
    }

    fn fold_char(&mut self, c: char, span: Range<usize>, input: &str) {
        self.flush_space();
        self.sync(span.start);
        if let Some(p) = fold::punctuation(c) {
            self.out.push(p as u8);
            self.sync(span.end);
            return;
        }
        let mut buf = [0u8; 4];
        if is_syllable(c) {
            self.out
                .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            self.sync(span.end);
            return;
        }
        let start = self.out.len();
        let mut compat = false;
        let mut homoglyph = false;
        decompose_compatible(c, |d| {
            if is_combining_mark(d) {
                return;
            }
            for l in d.to_lowercase() {
                let f = match fold::confusable(l) {
                    Some(f) => {
                        homoglyph = true;
                        f
                    }
                    None => l,
                };
                if f.is_ascii_alphanumeric() && !c.is_alphabetic() || (c as u32) >= 0xFF00 {
                    compat = true;
                }
                if f.is_whitespace() {
                    self.out.push(b' ');
                } else {
                    self.out
                        .extend_from_slice(f.encode_utf8(&mut buf).as_bytes());
                }
            }
        });
        if homoglyph {
            let prev_latin = input[..span.start]
                .chars()
                .next_back()
                .is_some_and(|p| p.is_ascii_alphabetic());
            let next_latin = input[span.end..]
                .chars()
                .next()
                .is_some_and(|n| n.is_ascii_alphabetic());
            if prev_latin || next_latin {
                self.signal(SignalKind::Homoglyph, span.clone());
            }
        }
        let is_math = (0x1D400..=0x1D7FF).contains(&(c as u32));
        if (compat || is_math) && self.out[start..].iter().all(u8::is_ascii) {
            self.signal(SignalKind::Compatibility, span.clone());
        }
        self.sync(span.end);
    }

    fn finish(mut self, orig_len: usize) -> Normalized {
        // Trailing whitespace is dropped; the map still covers the end.
        self.pending = None;
        self.sync(orig_len);
        let text = String::from_utf8(self.out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let mut signals = self.signals;
        let tag_text = if self.tags.trim().len() >= 4 {
            let span = self.tag_span.unwrap_or(0..0);
            signals.push(Signal {
                kind: SignalKind::TagSmuggling,
                span: span.clone(),
                count: self.tags.len(),
            });
            Some((span, self.tags))
        } else {
            None
        };
        Normalized {
            text,
            anchors: self.anchors,
            orig_len,
            signals,
            tag_text,
        }
    }
}

impl Normalized {
    /// The original byte offset that folded offset `pos` came from.
    fn original_offset(&self, pos: usize) -> usize {
        let i = self.anchors.partition_point(|&(n, _)| n as usize <= pos);
        let Some(&(n, o)) = i.checked_sub(1).and_then(|i| self.anchors.get(i)) else {
            return 0;
        };
        let mut orig = o as usize + (pos - n as usize);
        if let Some(&(_, next_o)) = self.anchors.get(i) {
            orig = orig.min(next_o as usize);
        }
        orig.min(self.orig_len)
    }

    /// Maps a folded byte range to the original byte range it came from, widened
    /// to char boundaries of `original` (the string this was folded from).
    pub fn original_span(&self, folded: Range<usize>, original: &str) -> Range<usize> {
        let mut start = self.original_offset(folded.start);
        let mut end = self.original_offset(folded.end).max(start);
        while start > 0 && !original.is_char_boundary(start) {
            start -= 1;
        }
        while end < original.len() && !original.is_char_boundary(end) {
            end += 1;
        }
        start.min(original.len())..end.min(original.len())
    }
}

#[cfg(test)]
#[path = "normalize_tests.rs"]
mod tests;
