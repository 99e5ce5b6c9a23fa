//! What the gateway has learnt about its upstreams from answers passing through
//! it: each tool's `x-mcp-header` annotations (which `Mcp-Param-*` headers a
//! call must carry), which upstream owns which resource URIs (routing
//! `resources/read` in a federation), and the versions upstreams advertise.
//! Bounded, so a hostile upstream cannot grow it without limit.

use crate::protocol::Version;
use crate::protocol::mirrored::{self, ParamHeader};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Most tools, and most resource URIs, remembered.
const MAX_ENTRIES: usize = 10_000;

/// A tool's `x-mcp-header` parameters, by (upstream index, tool name).
type ToolHeaders = HashMap<(usize, String), Arc<[ParamHeader]>>;

/// Facts learnt from `tools/list`, `resources/list`, templates and
/// `server/discover` results, per upstream (by index).
#[derive(Debug, Default)]
pub struct Catalog {
    tools: RwLock<ToolHeaders>,
    resources: RwLock<HashMap<String, usize>>,
    templates: RwLock<Vec<(String, usize)>>,
    versions: RwLock<Option<Vec<Version>>>,
}

impl Catalog {
    /// Records the tools of one `tools/list` result page of upstream `index`.
    pub fn learn_tools(&self, index: usize, result: &Value) {
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
            let key = (index, name.to_owned());
            if map.len() >= MAX_ENTRIES && !map.contains_key(&key) {
                break;
            }
            map.insert(key, mirrored::param_headers_of(tool).into());
        }
    }

    /// The `x-mcp-header` annotations of upstream `index`'s tool, if listed.
    pub fn param_headers(&self, index: usize, tool: &str) -> Option<Arc<[ParamHeader]>> {
        self.tools
            .read()
            .ok()?
            .get(&(index, tool.to_owned()))
            .cloned()
    }

    /// Records the resources (or templates) of a list result of upstream `index`.
    pub fn learn_resources(&self, index: usize, result: &Value) {
        if let Some(list) = result.get("resources").and_then(Value::as_array)
            && let Ok(mut map) = self.resources.write()
        {
            for uri in list.iter().filter_map(|r| r.get("uri")?.as_str()) {
                if map.len() < MAX_ENTRIES || map.contains_key(uri) {
                    map.entry(uri.to_owned()).or_insert(index);
                }
            }
        }
        if let Some(list) = result.get("resourceTemplates").and_then(Value::as_array)
            && let Ok(mut templates) = self.templates.write()
        {
            for template in list.iter().filter_map(|r| r.get("uriTemplate")?.as_str()) {
                // The literal part before the first expression identifies it.
                let prefix = template.split('{').next().unwrap_or_default().to_owned();
                if !prefix.is_empty()
                    && templates.len() < MAX_ENTRIES
                    && !templates.iter().any(|(p, _)| *p == prefix)
                {
                    templates.push((prefix, index));
                }
            }
        }
    }

    /// The upstream that listed `uri`, or whose template's literal prefix is
    /// the longest match.
    pub fn resource_owner(&self, uri: &str) -> Option<usize> {
        if let Some(index) = self.resources.read().ok()?.get(uri) {
            return Some(*index);
        }
        let templates = self.templates.read().ok()?;
        templates
            .iter()
            .filter(|(prefix, _)| uri.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, index)| *index)
    }

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
    /// once an upstream has advertised its own, that it supports too.
    pub fn supported_versions(&self) -> Vec<Version> {
        let advertised = self.versions.read().ok().and_then(|v| v.clone());
        Version::ALL
            .into_iter()
            .filter(|v| advertised.as_ref().is_none_or(|a| a.contains(v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn listed_tools_are_remembered_per_upstream_with_their_header_annotations() {
        let c = Catalog::default();
        assert!(c.param_headers(0, "t").is_none());
        c.learn_tools(0, &json!({"tools":[
            {"name":"t","inputSchema":{"type":"object","properties":{"r":{"type":"string","x-mcp-header":"R"}}}},
            {"name":"u","inputSchema":{"type":"object"}}]}));
        assert_eq!(c.param_headers(0, "t").unwrap().len(), 1);
        assert_eq!(c.param_headers(0, "u").unwrap().len(), 0);
        assert!(
            c.param_headers(1, "t").is_none(),
            "another upstream's tool of the same name"
        );
    }

    #[test]
    fn resources_belong_to_the_upstream_that_listed_them() {
        let c = Catalog::default();
        c.learn_resources(1, &json!({"resources":[{"uri":"file:///a","name":"a"}]}));
        c.learn_resources(
            2,
            &json!({"resourceTemplates":[{"uriTemplate":"db://{table}/rows","name":"t"}]}),
        );
        assert_eq!(c.resource_owner("file:///a"), Some(1));
        assert_eq!(c.resource_owner("db://users/rows"), Some(2));
        assert_eq!(c.resource_owner("file:///b"), None);
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
