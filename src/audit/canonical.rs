//! Canonical JSON: the byte form that fingerprints and digests are computed over.
//!
//! Object keys are sorted (byte order, which equals RFC 8785's UTF-16 order for
//! the ASCII keys events use), no whitespace, strings escaped as `serde_json`
//! escapes them (the same escapes RFC 8785 prescribes). Events carry integers
//! and strings only, so number formatting never differs from RFC 8785 either.
//!
//! Invariant: `write(v)` is a pure function of the value: the same value gives the
//! same bytes whatever map ordering `serde_json` was built with, which is what
//! lets `audit verify` recompute a fingerprint from a parsed line.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Appends the canonical form of `value` to `out`.
pub fn write(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            out.push(b'{');
            let sorted = map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b);
            if sorted {
                write_entries(map.iter(), out);
            } else {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                write_entries(entries.into_iter(), out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_str(s, out),
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
    }
}

fn write_entries<'a>(entries: impl Iterator<Item = (&'a String, &'a Value)>, out: &mut Vec<u8>) {
    for (i, (key, value)) in entries.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(key, out);
        out.push(b':');
        write(value, out);
    }
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    // serde_json's string escaping cannot fail when writing into a Vec.
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

/// Writes `value` (an object) canonically and returns the offset at which an
/// entry named `key` would start inside its object member `member`: the start of
/// the first entry of `member` whose name sorts after `key`. `None` when
/// `member` is not an object or no entry sorts after `key` (the caller then
/// cannot splice without a comma fix-up). Lets the hash chain write an event
/// once and splice its fingerprint in, instead of serializing it twice.
pub fn write_marking(value: &Value, member: &str, key: &str, out: &mut Vec<u8>) -> Option<usize> {
    let Value::Object(map) = value else {
        write(value, out);
        return None;
    };
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut mark = None;
    out.push(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(k, out);
        out.push(b':');
        match v {
            Value::Object(inner) if k == member => {
                let mut inner_entries: Vec<_> = inner.iter().collect();
                inner_entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push(b'{');
                for (j, (ik, iv)) in inner_entries.into_iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    if mark.is_none() && ik.as_str() > key {
                        mark = Some(out.len());
                    }
                    write_str(ik, out);
                    out.push(b':');
                    write(iv, out);
                }
                out.push(b'}');
            }
            _ => write(v, out),
        }
    }
    out.push(b'}');
    mark
}

/// The canonical bytes of `value`.
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    write(value, &mut out);
    out
}

/// Lower-case hex SHA-256 of the canonical form: the digest recorded for call
/// arguments (and bound into approvals), comparable across gateways.
pub fn digest(value: &Value) -> String {
    super::jsonw::hex(&Sha256::digest(to_vec(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_whitespace_dropped() {
        let v = json!({"b": 1, "a": [true, null, "x\n"], "c": {"z": -2, "y": "é"}});
        assert_eq!(
            String::from_utf8(to_vec(&v)).unwrap(),
            r#"{"a":[true,null,"x\n"],"b":1,"c":{"y":"é","z":-2}}"#
        );
    }

    #[test]
    fn digest_ignores_key_order() {
        let a: Value = serde_json::from_str(r#"{"x":1,"y":2}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{ "y": 2, "x": 1 }"#).unwrap();
        assert_eq!(digest(&a), digest(&b));
        assert_eq!(digest(&a).len(), 64);
    }
}
