//! Input validation: `tools/call` arguments against the tool's declared
//! `inputSchema` (JSON Schema; 2020-12 unless the schema names another draft)
//! and against a stricter schema from configuration.
//!
//! Invariants: no schema reference is ever fetched (the `jsonschema` crate is
//! built without HTTP or file resolution, so a remote `$ref` makes the schema
//! unusable, and calls to that tool are refused); the error message names the
//! failing location and keyword, never the rejected value.

use jsonschema::Validator;
use serde_json::Value;

/// Compiles a schema; `Err` says why it cannot be used.
pub fn compile_schema(schema: &Value) -> Result<Validator, String> {
    jsonschema::validator_for(schema)
        .map_err(|e| format!("not a usable JSON Schema: {}", e.masked()))
}

/// Checks `arguments` (absent counts as `{}`) against `validator`; `Err` is a
/// message for the client's invalid-params error.
pub fn check(validator: &Validator, arguments: Option<&Value>) -> Result<(), String> {
    let empty = Value::Object(serde_json::Map::new());
    let instance = arguments.unwrap_or(&empty);
    match validator.validate(instance) {
        Ok(()) => Ok(()),
        Err(e) => {
            let at = e.instance_path().to_string();
            let at = if at.is_empty() { "/".to_owned() } else { at };
            Err(format!("invalid arguments at {at}: {}", e.masked()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_are_checked_without_echoing_their_values() {
        let v = compile_schema(&json!({"type":"object","properties":{"n":{"type":"integer","maximum":10}},"required":["n"]})).unwrap();
        assert!(check(&v, Some(&json!({"n": 3}))).is_ok());
        let err = check(&v, Some(&json!({"n": 11}))).unwrap_err();
        assert!(err.contains("/n"), "{err}");
        assert!(!err.contains("11"), "{err}");
        assert!(check(&v, None).unwrap_err().contains("required"));
    }

    #[test]
    fn a_remote_reference_makes_a_schema_unusable() {
        let schema = json!({"$ref": "https://schemas.example.invalid/x.json"});
        assert!(compile_schema(&schema).is_err());
    }

    #[test]
    fn draft_2020_12_keywords_apply_by_default() {
        let v = compile_schema(
            &json!({"type":"array","prefixItems":[{"type":"string"}],"items":false}),
        )
        .unwrap();
        assert!(check(&v, Some(&json!(["a"]))).is_ok());
        assert!(check(&v, Some(&json!(["a", 1]))).is_err());
    }
}
