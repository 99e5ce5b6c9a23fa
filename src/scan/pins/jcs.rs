//! RFC 8785 JSON Canonicalization Scheme (JCS): object members sorted by
//! their UTF-16 code units, no insignificant whitespace, strings escaped as
//! ECMAScript's `JSON.stringify` does, numbers in ECMAScript's shortest form.
//!
//! Invariant: two JSON values that are equal as data canonicalise to the
//! same bytes, whatever their key order or number spelling (`1.0` and `1`).

use serde_json::Value;
use std::fmt::Write as _;

/// The canonical form of `value`.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{}", number(i as f64, Some(i.to_string())));
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{}", number(u as f64, Some(u.to_string())));
            } else {
                out.push_str(&number(n.as_f64().unwrap_or(0.0), None));
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                if let Some(v) = map.get(k) {
                    write_value(v, out);
                }
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// ECMAScript Number::toString for finite doubles. Integers that fit exactly
/// keep their decimal spelling (`exact`) when below 1e21.
fn number(f: f64, exact: Option<String>) -> String {
    if f == 0.0 {
        return "0".into();
    }
    if let Some(e) = exact
        && f.abs() < 1e21
        && (f as i128).to_string() == e
    {
        return e;
    }
    let sign = if f < 0.0 { "-" } else { "" };
    // `{:e}` gives the shortest round-trip digits: d.ddd e±x.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i32;
    let n = exp.parse::<i32>().unwrap_or(0) + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let sign_e = if e < 0 { "-" } else { "+" };
        let rest = if k > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        format!("{}{rest}e{sign_e}{}", &digits[..1], e.abs())
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_whitespace_removed() {
        let v: Value =
            serde_json::from_str(r#"{ "b": [1, 2], "a": {"d": true, "c": null} }"#).unwrap();
        assert_eq!(canonical(&v), r#"{"a":{"c":null,"d":true},"b":[1,2]}"#);
    }

    #[test]
    fn numbers_use_the_ecmascript_form() {
        let cases = [
            (json!(1.0), "1"),
            (json!(-0.0), "0"),
            (json!(1e21), "1e+21"),
            (json!(1e-7), "1e-7"),
            (json!(0.000001), "0.000001"),
            (json!(123.456), "123.456"),
            (json!(4.5e100), "4.5e+100"),
            (json!(9007199254740991i64), "9007199254740991"),
        ];
        for (v, want) in cases {
            assert_eq!(canonical(&v), want, "{v}");
        }
    }

    #[test]
    fn strings_escape_like_json_stringify() {
        assert_eq!(
            canonical(&json!("a\"b\\c\n\u{1}é€")),
            "\"a\\\"b\\\\c\\n\\u0001é€\""
        );
    }

    #[test]
    fn keys_sort_by_utf16_code_units_not_bytes() {
        // U+1F600 (surrogates D83D DE00) sorts before U+E000 in UTF-16,
        // after it in UTF-8 bytes.
        let v = json!({"\u{E000}": 2, "\u{1F600}": 1});
        assert_eq!(canonical(&v), "{\"\u{1F600}\":1,\"\u{E000}\":2}");
    }
}
