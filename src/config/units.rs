//! Human units in configuration: durations (`250ms`, `5s`, `2m`, `1h`) and byte
//! sizes (`512`, `64KiB`, `4MiB`, `1GiB`). A unit is always required for
//! durations, so that `30` can never be misread as milliseconds or seconds.

use serde::de::{self, Deserialize, Deserializer};
use std::fmt;
use std::time::Duration;

/// A duration written with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

/// A size in bytes, written as a number or with a binary unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl HumanDuration {
    /// Parses `250ms`, `5s`, `2m`, `1h`.
    pub fn parse(s: &str) -> Result<HumanDuration, String> {
        let s = s.trim();
        let split = s
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("`{s}` has no unit; write e.g. `5s` or `250ms`"))?;
        let (digits, unit) = s.split_at(split);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("`{s}` does not start with a whole number"))?;
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            _ => return Err(format!("`{s}` has an unknown unit; use ms, s, m or h")),
        };
        Ok(HumanDuration(d))
    }
}

impl ByteSize {
    /// Parses `4096`, `64KiB`, `4MiB`, `1GiB` (also `KB`/`MB`/`GB` as powers of 1000).
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("`{s}` does not start with a whole number"))?;
        let factor: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            _ => return Err(format!("`{s}` has an unknown unit; use B, KiB, MiB or GiB")),
        };
        n.checked_mul(factor)
            .map(ByteSize)
            .ok_or_else(|| format!("`{s}` is too large"))
    }

    /// The size as `usize`, saturating on 32-bit targets.
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with a unit, such as `5s` or `250ms`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<HumanDuration, E> {
                HumanDuration::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as `4096`, `64KiB` or `4MiB`")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ByteSize, E> {
                u64::try_from(n)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ByteSize, E> {
                ByteSize::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

// The schema matches what `parse` accepts, surrounding whitespace included;
// the one superset: a number too large for 64 bits passes the pattern and is
// refused when the file is loaded.
impl schemars::JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration: a whole number and a unit, `ms`, `s`, `m` or `h` (`250ms`, `5s`, `2m`, `1h`). The unit is required.",
            "type": "string",
            "pattern": DURATION_PATTERN,
            "examples": ["250ms", "30s", "10m", "1h"],
        })
    }
}

impl schemars::JsonSchema for ByteSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ByteSize".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A size in bytes: a whole number, or a whole number and a unit: `B`, `KiB`, `MiB`, `GiB` (powers of 1024) or `KB`, `MB`, `GB` (powers of 1000).",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": BYTE_SIZE_PATTERN },
            ],
            "examples": ["64KiB", "4MiB", 4096],
        })
    }
}

/// What [`HumanDuration::parse`] accepts, as an ECMA-262 regex.
const DURATION_PATTERN: &str = r"^\s*[0-9]+(ms|s|m|h)\s*$";

/// What [`ByteSize::parse`] accepts, as an ECMA-262 regex.
const BYTE_SIZE_PATTERN: &str = r"^\s*[0-9]+\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_units() {
        assert_eq!(
            HumanDuration::parse("250ms").unwrap().0,
            Duration::from_millis(250)
        );
        assert_eq!(
            HumanDuration::parse("2m").unwrap().0,
            Duration::from_secs(120)
        );
        assert!(HumanDuration::parse("30").is_err());
        assert!(HumanDuration::parse("5 parsecs").is_err());
        assert!(HumanDuration::parse("s").is_err());
    }

    // The schema's patterns and the parsers agree on every sample, so editor
    // validation neither rejects a value the gateway takes nor the reverse.
    #[test]
    fn schema_patterns_match_the_parsers() {
        let duration = regex::Regex::new(DURATION_PATTERN).unwrap();
        let size = regex::Regex::new(BYTE_SIZE_PATTERN).unwrap();
        let samples = [
            "250ms",
            "5s",
            "2m",
            "1h",
            " 5s ",
            "0s",
            "30",
            "5 s",
            "5sec",
            "s",
            "-1s",
            "1.5s",
            "",
            "4MiB",
            "4096",
            "1 KiB",
            "4 parsecs",
            "10KB",
            "1GB",
            "B",
            "4mib",
            "1TiB",
            "12B",
        ];
        for s in samples {
            assert_eq!(
                duration.is_match(s),
                HumanDuration::parse(s).is_ok(),
                "duration `{s}`"
            );
            assert_eq!(size.is_match(s), ByteSize::parse(s).is_ok(), "size `{s}`");
        }
    }

    #[test]
    fn sizes_accept_binary_units() {
        assert_eq!(ByteSize::parse("4MiB").unwrap().0, 4 << 20);
        assert_eq!(ByteSize::parse("4096").unwrap().0, 4096);
        assert_eq!(ByteSize::parse("1 KiB").unwrap().0, 1024);
        assert!(ByteSize::parse("4 parsecs").is_err());
        assert!(ByteSize::parse("99999999999999999999GiB").is_err());
    }
}
