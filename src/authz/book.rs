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

impl Tools {
    fn get(&self, upstream: &str, name: &str) -> Option<&Arc<ToolEntry>> {
        self.by_upstream.get(upstream)?.get(name)
    }

    /// Whether `tool` is known as listed now (same schema and hints).
    fn knows(&self, upstream: &str, name: &str, tool: &Value) -> bool {
        self.get(upstream, name).is_some_and(|old| {
            old.hints == Hints::of(tool)
                && tool.get("inputSchema").unwrap_or(&Value::Null) == &old.schema
        })
    }
}

impl ToolBook {
    /// Records the tools of one `tools/list` result page.
    pub fn learn(&self, upstream: &str, tools: &[Value]) {
        let named = || {
            tools
                .iter()
                .filter_map(|t| Some((t.get("name")?.as_str()?, t)))
        };
        // The same list again (the usual case) only reads.
        match self.tools.read() {
            Ok(map) if named().all(|(name, tool)| map.knows(upstream, name, tool)) => return,
            Err(_) => return,
            Ok(_) => {}
        }
        let Ok(mut map) = self.tools.write() else {
            return;
        };
        for (name, tool) in named() {
            if map.knows(upstream, name, tool) {
                continue;
            }
            let known = map.get(upstream, name).is_some();
            if map.count >= MAX_TOOLS && !known {
                break;
            }
            let schema = tool.get("inputSchema").cloned().unwrap_or(Value::Null);
            let entry = Arc::new(ToolEntry {
                hints: Hints::of(tool),
                validator: super::validate::compile_schema(&schema),
                schema,
            });
            map.by_upstream
                .entry(upstream.to_owned())
                .or_default()
                .insert(name.to_owned(), entry);
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
