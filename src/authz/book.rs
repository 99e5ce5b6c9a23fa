//! What the gateway has learnt about each upstream's tools from the
//! `tools/list` answers passing through it: annotations (for policy) and the
//! compiled input schema (for validation). Bounded, so a hostile upstream
//! cannot grow it without limit; a tool listed again with the same schema
//! keeps its compiled validator.

use super::entities::Hints;
use jsonschema::Validator;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Most tools remembered across upstreams.
const MAX_TOOLS: usize = 10_000;

/// One learnt tool.
#[derive(Debug)]
pub struct ToolEntry {
    /// Its annotations.
    pub hints: Hints,
    /// Its input schema as listed.
    pub schema: Value,
    /// The compiled schema, or why it cannot be used.
    pub validator: Result<Validator, String>,
}

/// Tools by upstream, then name.
#[derive(Debug, Default)]
pub struct ToolBook {
    tools: RwLock<Tools>,
    meta: RwLock<HashMap<String, Value>>,
}

#[derive(Debug, Default)]
struct Tools {
    by_upstream: HashMap<String, HashMap<String, Arc<ToolEntry>>>,
    count: usize,
}

/// What the book keeps of one listed tool, read in one pass over its fields.
struct Listed<'a> {
    name: &'a str,
    schema: &'a Value,
    hints: Hints,
}

impl<'a> Listed<'a> {
    /// `None` for a tool without a string `name`.
    fn of(tool: &'a Value) -> Option<Listed<'a>> {
        const NONE: &Value = &Value::Null;
        let (mut name, mut schema, mut annotations) = (None, NONE, None);
        for (field, value) in tool.as_object()? {
            match field.as_str() {
                "name" => name = value.as_str(),
                "inputSchema" => schema = value,
                "annotations" => annotations = Some(value),
                _ => {}
            }
        }
        Some(Listed {
            name: name?,
            schema,
            hints: Hints::of_annotations(annotations),
        })
    }

    /// Whether `entry` is this tool as listed now (same schema and hints).
    fn is(&self, entry: &ToolEntry) -> bool {
        entry.hints == self.hints && *self.schema == entry.schema
    }
}

impl Tools {
    fn get(&self, upstream: &str, name: &str) -> Option<&Arc<ToolEntry>> {
        self.by_upstream.get(upstream)?.get(name)
    }

    /// Whether `tool` is known as listed now.
    fn knows(&self, upstream: &str, tool: &Listed<'_>) -> bool {
        self.get(upstream, tool.name)
            .is_some_and(|old| tool.is(old))
    }

    /// Whether every one of `tools` is known as listed now.
    fn knows_all(&self, upstream: &str, tools: &[Listed<'_>]) -> bool {
        match self.by_upstream.get(upstream) {
            Some(known) => tools
                .iter()
                .all(|t| known.get(t.name).is_some_and(|old| t.is(old))),
            None => tools.is_empty(),
        }
    }
}

impl ToolBook {
    /// Records the tools of one `tools/list` result page.
    pub fn learn(&self, upstream: &str, tools: &[Value]) {
        let listed: Vec<Listed<'_>> = tools.iter().filter_map(Listed::of).collect();
        // The same list again (the usual case) only reads.
        match self.tools.read() {
            Ok(map) if map.knows_all(upstream, &listed) => return,
            Err(_) => return,
            Ok(_) => {}
        }
        let Ok(mut map) = self.tools.write() else {
            return;
        };
        for tool in &listed {
            if map.knows(upstream, tool) {
                continue;
            }
            let known = map.get(upstream, tool.name).is_some();
            if map.count >= MAX_TOOLS && !known {
                break;
            }
            let schema = tool.schema.clone();
            let entry = Arc::new(ToolEntry {
                hints: tool.hints,
                validator: super::validate::compile_schema(&schema),
                schema,
            });
            map.by_upstream
                .entry(upstream.to_owned())
                .or_default()
                .insert(tool.name.to_owned(), entry);
            if !known {
                map.count += 1;
            }
        }
    }

    /// Records the `_meta` a list result carried (2026-07-28 servers name
    /// themselves there), so a denied call's result carries the same.
    pub fn learn_meta(&self, upstream: &str, meta: Option<&Value>) {
        if let (Some(meta), Ok(mut map)) = (meta, self.meta.write())
            && (map.len() < 1024 || map.contains_key(upstream))
        {
            map.insert(upstream.to_owned(), meta.clone());
        }
    }

    /// The last `_meta` seen on the upstream's list results.
    pub fn meta(&self, upstream: &str) -> Option<Value> {
        self.meta.read().ok()?.get(upstream).cloned()
    }

    /// The tool, if it has been listed.
    pub fn get(&self, upstream: &str, name: &str) -> Option<Arc<ToolEntry>> {
        self.tools.read().ok()?.get(upstream, name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hints_come_from_boolean_annotations_and_default_otherwise() {
        let tool = json!({"name": "t", "annotations": {
            "readOnlyHint": true, "destructiveHint": false, "idempotentHint": "yes", "title": "T"}});
        assert_eq!(
            Hints::of(&tool),
            Hints {
                read_only: true,
                destructive: false,
                idempotent: false,
                open_world: true,
            }
        );
        assert_eq!(Hints::of(&json!({"name": "t"})), Hints::default());
        assert_eq!(
            Hints::of(&json!({"name": "t", "annotations": [true]})),
            Hints::default()
        );
    }

    #[test]
    fn a_tool_listed_again_is_kept_until_its_schema_or_hints_change() {
        let book = ToolBook::default();
        let list = |hint: bool, max: u64| {
            vec![
                json!({"name": "read", "inputSchema": {"type": "object", "maxProperties": max},
                       "annotations": {"readOnlyHint": hint}}),
                json!({"name": 7}),
                json!("not a tool"),
            ]
        };
        book.learn("up", &list(true, 1));
        let first = book.get("up", "read").expect("learnt");
        assert!(first.hints.read_only);
        assert!(book.get("up", "7").is_none());
        book.learn("up", &list(true, 1));
        assert!(Arc::ptr_eq(&first, &book.get("up", "read").expect("kept")));
        book.learn("up", &list(false, 1));
        let hint = book.get("up", "read").expect("relearnt");
        assert!(!hint.hints.read_only);
        book.learn("up", &list(false, 2));
        let schema = book.get("up", "read").expect("relearnt");
        assert!(!Arc::ptr_eq(&hint, &schema));
        assert_eq!(schema.schema["maxProperties"], 2);
        assert!(book.get("other", "read").is_none());
    }
}
