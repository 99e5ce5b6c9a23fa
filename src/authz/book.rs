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

/// Tools by (upstream, outward name).
#[derive(Debug, Default)]
pub struct ToolBook {
    tools: RwLock<HashMap<(String, String), Arc<ToolEntry>>>,
    meta: RwLock<HashMap<String, Value>>,
}

impl ToolBook {
    /// Records the tools of one `tools/list` result page.
    pub fn learn(&self, upstream: &str, tools: &[Value]) {
        let Ok(mut map) = self.tools.write() else {
            return;
        };
        for tool in tools {
            let Some(name) = tool.get("name").and_then(Value::as_str) else {
                continue;
            };
            let key = (upstream.to_owned(), name.to_owned());
            let schema = tool.get("inputSchema").cloned().unwrap_or(Value::Null);
            let hints = Hints::of(tool);
            if let Some(old) = map.get(&key)
                && old.schema == schema
                && old.hints == hints
            {
                continue;
            }
            if map.len() >= MAX_TOOLS && !map.contains_key(&key) {
                break;
            }
            let validator = super::validate::compile_schema(&schema);
            map.insert(
                key,
                Arc::new(ToolEntry {
                    hints,
                    schema,
                    validator,
                }),
            );
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
        let map = self.tools.read().ok()?;
        map.get(&(upstream.to_owned(), name.to_owned())).cloned()
    }
}
