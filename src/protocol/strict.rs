//! Strict JSON reading: duplicate object keys and nesting beyond a bound are errors.
//!
//! Parsers disagree on duplicate keys (first wins, last wins, error). A gateway that
//! checks `{"name":"safe","name":"evil"}` one way while the upstream reads it the
//! other way has been bypassed, so the gateway refuses such input outright. The depth
//! bound keeps hostile nesting from costing stack or time; it must stay below
//! serde_json's own recursion limit (128) so that our error is the one reported.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// The deepest nesting the strict reader accepts, whatever the configuration says.
pub const MAX_DEPTH_CEILING: usize = 120;

/// Parses `bytes` as one JSON value with the strict rules above. The error text is
/// serde_json's, which carries a line and column.
pub fn from_slice(bytes: &[u8], max_depth: usize) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict {
        depth_left: max_depth.min(MAX_DEPTH_CEILING),
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

#[derive(Clone, Copy)]
struct Strict {
    depth_left: usize,
}

impl Strict {
    fn nested<E: de::Error>(self) -> Result<Strict, E> {
        match self.depth_left.checked_sub(1) {
            Some(depth_left) => Ok(Strict { depth_left }),
            None => Err(E::custom("JSON nesting is deeper than the gateway allows")),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate object key `{}`",
                    shorten(&key)
                )));
            }
            let value = map.next_value_seed(inner)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Keeps error messages short when a hostile key is huge.
fn shorten(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((cut, _)) => &s[..cut],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_rejected_at_any_depth() {
        let err = from_slice(br#"{"a":{"b":1,"b":2}}"#, 16).unwrap_err();
        assert!(
            err.to_string().contains("duplicate object key `b`"),
            "{err}"
        );
        assert!(from_slice(br#"{"a":1,"A":2}"#, 16).is_ok());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}{}", "[".repeat(20), "]".repeat(20));
        assert!(from_slice(deep.as_bytes(), 20).is_ok());
        let err = from_slice(deep.as_bytes(), 19).unwrap_err();
        assert!(err.to_string().contains("deeper"), "{err}");
        let hostile = "[".repeat(100_000);
        assert!(from_slice(hostile.as_bytes(), 64).is_err());
    }

    #[test]
    fn trailing_garbage_and_invalid_utf8_are_errors() {
        assert!(from_slice(br#"{"a":1} x"#, 8).is_err());
        assert!(from_slice(b"{\"a\":\"\xff\"}", 8).is_err());
        assert!(from_slice(br#"{"a":"\ud800"}"#, 8).is_err());
    }

    #[test]
    fn values_round_trip() {
        let v = from_slice(
            br#"{"n":-1,"u":18446744073709551615,"f":1.5,"s":"x","z":null,"t":true}"#,
            8,
        )
        .unwrap();
        assert_eq!(v["u"], serde_json::json!(u64::MAX));
        assert_eq!(v["f"], serde_json::json!(1.5));
    }
}
