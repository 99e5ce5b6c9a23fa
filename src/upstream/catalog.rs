//! What the gateway has learnt about the upstream's tools from `tools/list`
//! answers passing through it: for now, each tool's `x-mcp-header` annotations,
//! which the mirrored-header check needs to know which `Mcp-Param-*` headers a
//! call must carry. Bounded, so a hostile upstream cannot grow it without limit.

use crate::protocol::Version;
use crate::protocol::mirrored::{self, ParamHeader};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Most tools remembered.
const MAX_TOOLS: usize = 10_000;

/// Facts learnt from `tools/list` and `server/discover` results.
#[derive(Debug, Default)]
pub struct Catalog {
    tools: RwLock<HashMap<String, Arc<[ParamHeader]>>>,
    versions: RwLock<Option<Vec<Version>>>,
}

impl Catalog {
    /// Records the versions a `server/discover` result advertises.
    pub fn learn_versions(&self, result: &Value) {
        let Some(list) = result.get("supportedVersions").and_then(Value::as_array) else {
            return;
        };
        let known: Vec<Version> = list
            .iter()
            .filter_map(Value::as_str)
            .filter_map(Version::parse)
            .collect();
        if let Ok(mut versions) = self.versions.write() {
            *versions = Some(known);
        }
    }

    /// The versions to offer in a `-32022` error: those the gateway knows and,
    /// once the upstream has advertised its own, that the upstream supports too.
    pub fn supported_versions(&self) -> Vec<Version> {
        let advertised = self.versions.read().ok().and_then(|v| v.clone());
        Version::ALL
            .into_iter()
            .filter(|v| advertised.as_ref().is_none_or(|a| a.contains(v)))
            .collect()
    }

    /// Records the tools of one `tools/list` result page.
    pub fn learn_tools(&self, result: &Value) {
        let Some(tools) = result.get("tools").and_then(Value::as_array) else {
            return;
        };
        let Ok(mut map) = self.tools.write() else {
            return;
        };
        for tool in tools {
            let Some(name) = tool.get("name").and_then(Value::as_str) else {
                continue;
            };
            if map.len() >= MAX_TOOLS && !map.contains_key(name) {
                break;
            }
            map.insert(name.to_owned(), mirrored::param_headers_of(tool).into());
        }
    }

    /// The `x-mcp-header` annotations of a tool, if it has been listed.
    pub fn param_headers(&self, tool: &str) -> Option<Arc<[ParamHeader]>> {
        self.tools.read().ok()?.get(tool).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn listed_tools_are_remembered_with_their_header_annotations() {
        let c = Catalog::default();
        assert!(c.param_headers("t").is_none());
        c.learn_tools(&json!({"tools":[
            {"name":"t","inputSchema":{"type":"object","properties":{"r":{"type":"string","x-mcp-header":"R"}}}},
            {"name":"u","inputSchema":{"type":"object"}}]}));
        assert_eq!(c.param_headers("t").unwrap().len(), 1);
        assert_eq!(c.param_headers("u").unwrap().len(), 0);
    }

    #[test]
    fn offered_versions_narrow_to_what_the_upstream_advertises() {
        let c = Catalog::default();
        assert_eq!(c.supported_versions().len(), Version::ALL.len());
        c.learn_versions(&json!({"supportedVersions":["2026-07-28","2025-11-25","2099-01-01"]}));
        assert_eq!(
            c.supported_versions(),
            vec![Version::V2025_11_25, Version::V2026_07_28]
        );
    }
}
