//! MCP methods the gateway looks inside, and the object a request acts on.

use serde_json::{Map, Value};

/// What a request names as its object: the thing policy, scanning and audit key on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// `tools/call`: the tool's name.
    Tool(String),
    /// `prompts/get`: the prompt's name.
    Prompt(String),
    /// `resources/read`, `resources/subscribe`, `resources/unsubscribe`: the URI.
    Resource(String),
}

impl Target {
    /// The name or URI itself.
    pub fn name(&self) -> &str {
        match self {
            Target::Tool(n) | Target::Prompt(n) | Target::Resource(n) => n,
        }
    }

    /// `tool`, `prompt` or `resource`, for logs and audit records.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Tool(_) => "tool",
            Target::Prompt(_) => "prompt",
            Target::Resource(_) => "resource",
        }
    }
}

/// Reads the target of a request. A method that names an object must name it with
/// a string: `Err` carries the reason otherwise, because a gateway that cannot say
/// which tool is called cannot decide whether the call is allowed.
pub fn target_of(
    method: &str,
    params: Option<&Map<String, Value>>,
) -> Result<Option<Target>, String> {
    let (field, make): (&str, fn(String) -> Target) = match method {
        "tools/call" => ("name", Target::Tool),
        "prompts/get" => ("name", Target::Prompt),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
            ("uri", Target::Resource)
        }
        _ => return Ok(None),
    };
    match params.and_then(|p| p.get(field)) {
        Some(Value::String(s)) => Ok(Some(make(s.clone()))),
        Some(_) => Err(format!("`params.{field}` of {method} must be a string")),
        None => Err(format!("{method} requires `params.{field}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn targets_are_read_from_the_right_field() {
        let p = params(json!({"name": "echo", "uri": "x"}));
        assert_eq!(
            target_of("tools/call", Some(&p)),
            Ok(Some(Target::Tool("echo".into())))
        );
        assert_eq!(
            target_of("prompts/get", Some(&p)),
            Ok(Some(Target::Prompt("echo".into())))
        );
        assert_eq!(
            target_of("resources/read", Some(&p)),
            Ok(Some(Target::Resource("x".into())))
        );
        assert_eq!(target_of("tools/list", Some(&p)), Ok(None));
    }

    #[test]
    fn a_missing_or_non_string_target_is_an_error() {
        assert!(target_of("tools/call", None).is_err());
        let p = params(json!({"name": 7}));
        assert!(target_of("tools/call", Some(&p)).is_err());
    }
}
