//! Byte-level replacement of one member of a JSON object, so that a message whose
//! id (or progress token, or subscription id) the multiplexer maps back keeps every
//! other byte the upstream wrote: key order, spacing and number formatting survive.
//!
//! Pure and bounded: the input has already been accepted by the strict parser, so
//! it is valid JSON without duplicate keys; the scanner never recurses (nested
//! values are skipped by counting brackets), and it answers `None` rather than
//! guessing on anything unexpected.

use bytes::Bytes;
use std::ops::Range;

/// Replaces the value found at `path` (object keys from the top level down) with
/// `value`, which must itself be valid JSON. `None` when the path does not exist.
pub fn replace(raw: &[u8], path: &[&str], value: &[u8]) -> Option<Bytes> {
    let span = find(raw, path)?;
    let mut out = Vec::with_capacity(raw.len() - span.len() + value.len());
    out.extend_from_slice(&raw[..span.start]);
    out.extend_from_slice(value);
    out.extend_from_slice(&raw[span.end..]);
    Some(Bytes::from(out))
}

/// The byte range of the value at `path`, if every step is an object member.
pub fn find(raw: &[u8], path: &[&str]) -> Option<Range<usize>> {
    let mut pos = skip_ws(raw, 0);
    for (depth, key) in path.iter().enumerate() {
        if raw.get(pos) != Some(&b'{') {
            return None;
        }
        pos += 1;
        let value = loop {
            pos = skip_ws(raw, pos);
            match raw.get(pos)? {
                b',' => {
                    pos += 1;
                    continue;
                }
                b'"' => {}
                _ => return None,
            }
            let key_end = string_end(raw, pos)?;
            let matches = key_equals(&raw[pos..key_end], key);
            pos = skip_ws(raw, key_end);
            if raw.get(pos) != Some(&b':') {
                return None;
            }
            let start = skip_ws(raw, pos + 1);
            let end = value_end(raw, start)?;
            if matches {
                break start..end;
            }
            pos = end;
        };
        if depth + 1 == path.len() {
            return Some(value);
        }
        pos = value.start;
    }
    None
}

fn skip_ws(raw: &[u8], mut pos: usize) -> usize {
    while matches!(raw.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

/// `quoted` includes both quotes. Keys with escapes are decoded before comparing.
fn key_equals(quoted: &[u8], key: &str) -> bool {
    let inner = &quoted[1..quoted.len() - 1];
    if !inner.contains(&b'\\') {
        return inner == key.as_bytes();
    }
    serde_json::from_slice::<String>(quoted).is_ok_and(|decoded| decoded == key)
}

/// `pos` is at an opening quote; returns the index just past the closing one.
fn string_end(raw: &[u8], pos: usize) -> Option<usize> {
    let mut i = pos + 1;
    loop {
        let found = memchr::memchr2(b'"', b'\\', raw.get(i..)?)?;
        i += found;
        if raw[i] == b'\\' {
            i += 2;
        } else {
            return Some(i + 1);
        }
    }
}

/// `pos` is at the first byte of a value; returns the index just past it.
fn value_end(raw: &[u8], pos: usize) -> Option<usize> {
    match raw.get(pos)? {
        b'"' => string_end(raw, pos),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = pos;
            loop {
                match raw.get(i)? {
                    b'"' => {
                        i = string_end(raw, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let len = raw[pos..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(raw.len() - pos);
            (len > 0).then_some(pos + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(raw: &'a str, path: &[&str]) -> Option<&'a str> {
        find(raw.as_bytes(), path).map(|r| &raw[r])
    }

    #[test]
    fn top_level_members_are_found_wherever_they_sit() {
        let raw = r#" { "result" : {"id":"inner","x":[1,{"id":2}]} , "id" : 17 ,"jsonrpc":"2.0"} "#;
        assert_eq!(at(raw, &["id"]), Some("17"));
        assert_eq!(at(raw, &["result", "id"]), Some(r#""inner""#));
        assert_eq!(at(raw, &["missing"]), None);
        assert_eq!(at(raw, &["id", "deeper"]), None);
    }

    #[test]
    fn strings_with_quotes_braces_and_escaped_keys_do_not_confuse_the_scanner() {
        let raw = r#"{"a":"}\"{,\\","\u0069d":"x\"y","params":{"_meta":{"progressToken":-3}}}"#;
        assert_eq!(at(raw, &["id"]), Some(r#""x\"y""#));
        assert_eq!(at(raw, &["params", "_meta", "progressToken"]), Some("-3"));
    }

    #[test]
    fn replacing_keeps_every_other_byte() {
        let raw = br#"{"result":{"b":1.50,"a":true},  "id":9}"#;
        let out = replace(raw, &["id"], br#""client-7""#).unwrap();
        assert_eq!(
            &out[..],
            br#"{"result":{"b":1.50,"a":true},  "id":"client-7"}"#
        );
    }

    #[test]
    fn truncated_or_non_object_input_finds_nothing() {
        assert_eq!(at(r#"{"id":"#, &["id"]), None);
        assert_eq!(at(r#"{"a":"unterminated"#, &["id"]), None);
        assert_eq!(at("[1,2]", &["id"]), None);
        assert_eq!(at("", &["id"]), None);
        assert_eq!(at(r#"{"a":[[[}"#, &["id"]), None);
    }
}
