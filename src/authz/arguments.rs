//! Tool arguments as Cedar sees them: the `Mcp::Arguments` record the schema
//! declares, and the projection of a call's JSON arguments onto it.
//!
//! Invariants: only declared argument names reach Cedar (others are dropped,
//! so policies cannot read what the schema does not promise); a declared
//! argument whose value does not have the declared type is an error (the call
//! is refused as invalid params), never silently dropped, because a dropped
//! value would let a `forbid` that tests it fail open. Every top-level
//! argument attribute must be optional: tools differ in their arguments.

use cedar_policy::{RestrictedExpression, SchemaFragment};
use serde_json::Value;

/// A declared argument type.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgType {
    /// `String`.
    String,
    /// `Long` (a JSON integer in i64 range).
    Long,
    /// `Bool`.
    Bool,
    /// `decimal` (a JSON number with at most four decimals, or a string).
    Decimal,
    /// `ipaddr` (a string).
    Ip,
    /// `Set<T>` (a JSON array).
    Set(Box<ArgType>),
    /// A record: (name, type, required).
    Record(Vec<(String, ArgType, bool)>),
}

/// Reads `Mcp::Arguments` from the schema; `Err` explains what is wrong.
pub fn declared(fragment: &SchemaFragment) -> Result<ArgType, String> {
    let json = fragment
        .clone()
        .to_json_value()
        .map_err(|e| format!("schema: {e}"))?;
    let common = json
        .get("Mcp")
        .and_then(|n| n.get("commonTypes"))
        .ok_or("the schema must declare namespace Mcp with `type Arguments = {...}`")?;
    let args = common
        .get("Arguments")
        .ok_or("the schema must declare `type Arguments = {...}` in namespace Mcp")?;
    let ty = read_type(args, common, 0)?;
    if let ArgType::Record(fields) = &ty {
        if let Some((name, _, _)) = fields.iter().find(|(_, _, required)| *required) {
            return Err(format!(
                "Arguments.{name} must be optional (`{name}?: ...`): tools differ in their arguments"
            ));
        }
        Ok(ty)
    } else {
        Err("Arguments must be a record type".into())
    }
}

fn read_type(t: &Value, common: &Value, depth: usize) -> Result<ArgType, String> {
    if depth > 16 {
        return Err("Arguments nests too deeply".into());
    }
    let kind = t.get("type").and_then(Value::as_str).unwrap_or_default();
    let name = t.get("name").and_then(Value::as_str).unwrap_or_default();
    let named = |n: &str| -> Result<ArgType, String> {
        match n.trim_start_matches("__cedar::") {
            "String" => Ok(ArgType::String),
            "Long" => Ok(ArgType::Long),
            "Bool" | "Boolean" => Ok(ArgType::Bool),
            "decimal" => Ok(ArgType::Decimal),
            "ipaddr" => Ok(ArgType::Ip),
            other => match common.get(other) {
                Some(c) => read_type(c, common, depth + 1),
                None => Err(format!(
                    "Arguments uses `{other}`: arguments may be String, Long, Bool, decimal, ipaddr, sets and records"
                )),
            },
        }
    };
    match kind {
        "Set" => Ok(ArgType::Set(Box::new(read_type(
            t.get("element").ok_or("a Set without element type")?,
            common,
            depth + 1,
        )?))),
        "Record" => {
            let mut fields = Vec::new();
            if let Some(attrs) = t.get("attributes").and_then(Value::as_object) {
                for (n, a) in attrs {
                    let required = a.get("required").and_then(Value::as_bool).unwrap_or(true);
                    fields.push((n.clone(), read_type(a, common, depth + 1)?, required));
                }
            }
            Ok(ArgType::Record(fields))
        }
        "EntityOrCommon" | "Extension" => named(name),
        "Boolean" | "String" | "Long" => named(kind),
        other => Err(format!("Arguments uses an unsupported type `{other}`")),
    }
}

/// Projects `value` onto `ty`; `Err` is the argument path that does not fit.
pub fn project(value: &Value, ty: &ArgType, path: &str) -> Result<RestrictedExpression, String> {
    let wrong = || {
        Err(format!(
            "argument `{path}` does not have the type the policy schema declares"
        ))
    };
    match (ty, value) {
        (ArgType::String, Value::String(s)) => Ok(RestrictedExpression::new_string(s.clone())),
        (ArgType::Long, Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(RestrictedExpression::new_long(i)),
            None => wrong(),
        },
        (ArgType::Bool, Value::Bool(b)) => Ok(RestrictedExpression::new_bool(*b)),
        (ArgType::Decimal, Value::Number(n)) => match decimal_text(n) {
            Some(text) => Ok(RestrictedExpression::new_decimal(text)),
            None => wrong(),
        },
        (ArgType::Decimal, Value::String(s)) if s.contains('.') && s.parse::<f64>().is_ok() => {
            Ok(RestrictedExpression::new_decimal(s.clone()))
        }
        (ArgType::Ip, Value::String(s)) if s.parse::<std::net::IpAddr>().is_ok() => {
            Ok(RestrictedExpression::new_ip(s.clone()))
        }
        (ArgType::Set(element), Value::Array(items)) => {
            let items: Result<Vec<_>, _> = items
                .iter()
                .enumerate()
                .map(|(i, v)| project(v, element, &format!("{path}[{i}]")))
                .collect();
            Ok(RestrictedExpression::new_set(items?))
        }
        (ArgType::Record(fields), Value::Object(map)) => {
            let inner = |name: &str| {
                if path.is_empty() {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                }
            };
            let mut out = Vec::with_capacity(fields.len().min(map.len()));
            if map.len() < fields.len() {
                // Fewer arguments than declarations (the usual call): each
                // argument finds its declaration by name, without hashing
                // every declared name into the map.
                for (name, v) in map {
                    if let Some((_, t, _)) = fields.iter().find(|(n, _, _)| n == name)
                        && !v.is_null()
                    {
                        out.push((name.clone(), project(v, t, &inner(name))?));
                    }
                }
                let missing = |n: &String| map.get(n).is_none_or(Value::is_null);
                if fields
                    .iter()
                    .any(|(n, _, required)| *required && missing(n))
                {
                    return wrong();
                }
            } else {
                for (name, t, required) in fields {
                    match map.get(name) {
                        Some(v) if !v.is_null() => {
                            out.push((name.clone(), project(v, t, &inner(name))?));
                        }
                        _ if *required => return wrong(),
                        _ => {}
                    }
                }
            }
            RestrictedExpression::new_record(out).map_err(|e| e.to_string())
        }
        _ => wrong(),
    }
}

/// A JSON number as Cedar decimal text (at most four decimals, i64 range).
fn decimal_text(n: &serde_json::Number) -> Option<String> {
    if let Some(i) = n.as_i64() {
        return Some(format!("{i}.0"));
    }
    let f = n.as_f64()?;
    let scaled = f * 10_000.0;
    if !scaled.is_finite() || scaled.fract() != 0.0 || scaled.abs() > 9.2e18 {
        return None;
    }
    Some(format!("{f:.4}"))
}

/// Hosts (lower-case) of every `http`/`https` URL among string values, at any
/// depth; an unparseable URL gives the empty host, which no allow-list holds.
pub fn url_hosts(value: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > 32 || out.len() > 256 {
        return;
    }
    match value {
        Value::String(s) => {
            let lower = s.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
            if lower.starts_with("http://") || lower.starts_with("https://") {
                let host = s
                    .parse::<http::Uri>()
                    .ok()
                    .and_then(|u| {
                        u.host()
                            .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
                    })
                    .unwrap_or_default();
                if !out.contains(&host) {
                    out.push(host);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| url_hosts(v, out, depth + 1)),
        Value::Object(map) => map.values().for_each(|v| url_hosts(v, out, depth + 1)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args() -> ArgType {
        let text = "namespace Mcp { type Arguments = { path?: String, amount?: Long, price?: decimal, tags?: Set<String>, opt?: { deep?: Bool } }; }";
        declared(&SchemaFragment::from_cedarschema_str(text).unwrap().0).unwrap()
    }

    #[test]
    fn declared_arguments_are_read_from_the_schema() {
        let ArgType::Record(fields) = args() else {
            panic!()
        };
        assert!(fields.contains(&("amount".into(), ArgType::Long, false)));
        assert!(fields.contains(&(
            "tags".into(),
            ArgType::Set(Box::new(ArgType::String)),
            false
        )));
    }

    #[test]
    fn a_required_argument_attribute_is_refused() {
        let text = "namespace Mcp { type Arguments = { path: String }; }";
        let err = declared(&SchemaFragment::from_cedarschema_str(text).unwrap().0).unwrap_err();
        assert!(err.contains("Arguments.path must be optional"), "{err}");
    }

    #[test]
    fn undeclared_arguments_are_dropped_and_mistyped_ones_refused() {
        let ty = args();
        assert!(project(&json!({"path": "/a", "other": 1}), &ty, "").is_ok());
        let err = project(&json!({"amount": "12"}), &ty, "").unwrap_err();
        assert!(err.contains("`amount`"), "{err}");
        assert!(project(&json!({"amount": 1.5}), &ty, "").is_err());
        assert!(project(&json!({"price": 1.25}), &ty, "").is_ok());
        assert!(project(&json!({"price": 1.000_01}), &ty, "").is_err());
        assert!(
            project(&json!({"opt": {"deep": 3}}), &ty, "")
                .unwrap_err()
                .contains("opt.deep")
        );
    }

    /// A call with fewer arguments than declarations is read argument by
    /// argument, one with more declaration by declaration: the same record.
    #[test]
    fn few_and_many_arguments_project_alike() {
        let ty = args();
        let text = |v: Value| format!("{:?}", project(&v, &ty, ""));
        let few = json!({"amount": 3, "other": "x", "path": null});
        let many = json!({"amount": 3, "a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "path": null});
        assert_eq!(text(few), text(many));
        let nested =
            "namespace Mcp { type Arguments = { opt?: { need: Long, a?: Long, b?: Long } }; }";
        let ty = declared(&SchemaFragment::from_cedarschema_str(nested).unwrap().0).unwrap();
        assert!(project(&json!({"opt": {"need": 1}}), &ty, "").is_ok());
        for missing in [json!({"opt": {"a": 1}}), json!({"opt": {"need": null}})] {
            assert!(project(&missing, &ty, "").unwrap_err().contains("`opt`"));
        }
    }

    #[test]
    fn url_hosts_are_collected_at_any_depth() {
        let mut hosts = Vec::new();
        url_hosts(
            &json!({"a": "HTTPS://Docs.Example.com./x", "b": [{"c": "http://user@evil.example:8080/"}], "d": "https://"}),
            &mut hosts,
            0,
        );
        hosts.sort();
        assert_eq!(hosts, ["", "docs.example.com", "evil.example"]);
    }
}
