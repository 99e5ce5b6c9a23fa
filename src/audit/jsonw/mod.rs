//! A direct writer of canonical JSON events, without building a `Value`.
//!
//! Rendering to a `serde_json::Value` and serializing it cost about 20 µs an
//! event (allocation-bound); this writer costs a fraction, which is what lets
//! one core write 100,000 events a second.
//!
//! [`EventWriter`] collects an event's top-level fields (each rendered into a
//! shared scratch buffer), then writes them sorted by name. Inside a field, [`W`]
//! writes nested objects as the renderer calls it: **a renderer must write nested
//! keys in byte order** (the canonical form of [`super::canonical`]). Every
//! string passes through redaction ([`super::redact::scrub_str`]) on its way out.
//!
//! Invariant: the bytes written equal `canonical::write` of the parsed event; the
//! tests check it for every record kind (and `audit verify` would fail on any
//! event where it did not hold, since it recomputes fingerprints from the parse).

mod event;

pub use event::EventWriter;

use super::redact;
use serde_json::Value;

/// A writer positioned inside a JSON value.
pub struct W<'a> {
    out: &'a mut Vec<u8>,
    secrets: &'a [String],
    first: Vec<bool>,
}

impl<'a> W<'a> {
    fn new(out: &'a mut Vec<u8>, secrets: &'a [String]) -> W<'a> {
        W {
            out,
            secrets,
            first: Vec::with_capacity(8),
        }
    }

    fn key(&mut self, k: &str) {
        if let Some(first) = self.first.last_mut() {
            if !*first {
                self.out.push(b',');
            }
            *first = false;
        }
        self.raw_str(k);
        self.out.push(b':');
    }

    pub(crate) fn raw_str(&mut self, s: &str) {
        write_json_str(self.out, s);
    }

    /// A string value, redacted.
    pub fn str_value(&mut self, s: &str) {
        match redact::scrub_str(s, self.secrets) {
            Some(clean) => self.raw_str(&clean),
            None => self.raw_str(s),
        }
    }

    /// `"k":"v"` (redacted).
    pub fn s(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        self.str_value(v);
        self
    }

    /// `"k":"v"` for text the gateway itself produced (captions, hex digests,
    /// event uids): no redaction scan. Falls back to escaping if `v` needs it,
    /// so a wrong call can cost speed, never validity.
    pub fn lit(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        self.raw_str(v);
        self
    }

    /// `"k":"v"` when `v` is present.
    pub fn os(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.s(k, v);
        }
        self
    }

    /// `"k":n`.
    pub fn n(&mut self, k: &str, v: impl Into<i128>) -> &mut Self {
        self.key(k);
        write_int(self.out, v.into());
        self
    }

    /// `"k":n` when present.
    pub fn on(&mut self, k: &str, v: Option<impl Into<i128>>) -> &mut Self {
        if let Some(v) = v {
            self.n(k, v);
        }
        self
    }

    /// `"k":true|false`.
    pub fn b(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        self
    }

    /// `"k":null`.
    pub fn null(&mut self, k: &str) -> &mut Self {
        self.key(k);
        self.out.extend_from_slice(b"null");
        self
    }

    /// `"k":v` for any JSON value (canonical, redacted).
    pub fn value(&mut self, k: &str, v: &Value) -> &mut Self {
        self.key(k);
        self.any(v);
        self
    }

    fn any(&mut self, v: &Value) {
        match v {
            Value::String(s) => self.str_value(s),
            Value::Array(items) => {
                self.out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.any(item);
                }
                self.out.push(b']');
            }
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                self.begin();
                for (k, v) in entries {
                    self.key_redacted(k);
                    self.any(v);
                }
                self.end();
            }
            other => super::canonical::write(other, self.out),
        }
    }

    fn key_redacted(&mut self, k: &str) {
        match redact::scrub_str(k, self.secrets) {
            Some(clean) => self.key(&clean),
            None => self.key(k),
        }
    }

    /// `"k":{...}`, the closure writing the members in byte order.
    pub fn obj(&mut self, k: &str, f: impl FnOnce(&mut W<'_>)) -> &mut Self {
        self.key(k);
        self.begin();
        f(self);
        self.end();
        self
    }

    /// `"k":[...]` of objects.
    pub fn objs<T>(
        &mut self,
        k: &str,
        items: &[T],
        mut f: impl FnMut(&mut W<'_>, &T),
    ) -> &mut Self {
        self.key(k);
        self.out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.begin();
            f(self, item);
            self.end();
        }
        self.out.push(b']');
        self
    }

    /// `"k":["a","b"]`.
    pub fn strs<'s>(&mut self, k: &str, items: impl IntoIterator<Item = &'s str>) -> &mut Self {
        self.key(k);
        self.out.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.str_value(item);
        }
        self.out.push(b']');
        self
    }

    /// `"k":[n,m]`.
    pub fn nums(&mut self, k: &str, items: &[u64]) -> &mut Self {
        self.key(k);
        self.out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_int(self.out, i128::from(*item));
        }
        self.out.push(b']');
        self
    }

    /// `[{...},...]` as a bare value.
    pub fn objs_value<T>(&mut self, items: &[T], mut f: impl FnMut(&mut W<'_>, &T)) {
        self.out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.begin();
            f(self, item);
            self.end();
        }
        self.out.push(b']');
    }

    /// `["a","b"]` as a bare value.
    pub fn strs_value<'s>(&mut self, items: impl IntoIterator<Item = &'s str>) {
        self.out.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.str_value(item);
        }
        self.out.push(b']');
    }

    /// `"k":{...}` from fields collected (in any order) in `inner`.
    pub fn nested(&mut self, k: &str, inner: EventWriter<'_>) -> &mut Self {
        self.key(k);
        inner.finish(self.out);
        self
    }

    pub(crate) fn begin(&mut self) {
        self.out.push(b'{');
        self.first.push(true);
    }

    pub(crate) fn end(&mut self) {
        self.first.pop();
        self.out.push(b'}');
    }

    /// The offset of the next byte to be written.
    pub fn position(&self) -> usize {
        self.out.len()
    }
}

/// Writes a JSON string: the bytes as they are when nothing needs escaping (the
/// common case), `serde_json`'s escaping otherwise (the same escapes RFC 8785
/// prescribes).
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // No early exit: the fold vectorizes, and most strings are clean.
    let dirty = s
        .bytes()
        .fold(false, |d, b| d | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if !dirty {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

/// Writes an integer in decimal, without allocating.
pub fn write_int(out: &mut Vec<u8>, v: i128) {
    let mut buf = [0u8; 40];
    let mut i = buf.len();
    let negative = v < 0;
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        i -= 1;
        buf[i] = b'-';
    }
    out.extend_from_slice(&buf[i..]);
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_strings_match_serde_json() {
        for v in [
            0i128,
            7,
            -1,
            1_790_000_000_123,
            i128::from(u64::MAX),
            i128::from(i64::MIN),
        ] {
            let mut out = Vec::new();
            write_int(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
        for s in [
            "plain",
            "quote\" back\\ slash",
            "tab\t nl\n ctl\u{1}",
            "é ☃",
        ] {
            let mut out = Vec::new();
            write_json_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap());
        }
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
    }
}
