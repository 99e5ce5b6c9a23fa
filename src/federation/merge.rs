//! Merging what several upstreams answer to one request into one answer:
//! list results (renamed, paginated together), capabilities, `initialize` and
//! `server/discover` results. Pure functions over JSON values.

use super::naming::Naming;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The list methods the gateway answers by fanning out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// `tools/list`
    Tools,
    /// `prompts/list`
    Prompts,
    /// `resources/list`
    Resources,
    /// `resources/templates/list`
    Templates,
}

impl ListKind {
    /// The list method for `method`, if it is one.
    pub fn of(method: &str) -> Option<ListKind> {
        match method {
            "tools/list" => Some(ListKind::Tools),
            "prompts/list" => Some(ListKind::Prompts),
            "resources/list" => Some(ListKind::Resources),
            "resources/templates/list" => Some(ListKind::Templates),
            _ => None,
        }
    }

    /// The array member of the result.
    pub fn field(self) -> &'static str {
        match self {
            ListKind::Tools => "tools",
            ListKind::Prompts => "prompts",
            ListKind::Resources => "resources",
            ListKind::Templates => "resourceTemplates",
        }
    }

    /// Whether item names are prefixed (resources keep their URIs).
    fn renamed(self) -> bool {
        matches!(self, ListKind::Tools | ListKind::Prompts)
    }
}

/// Where each upstream is in a paginated fan-out: upstream index → its cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursors(pub BTreeMap<usize, String>);

impl Cursors {
    /// The opaque cursor handed to the client, `None` when every upstream is done.
    pub fn encode(&self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        let map: BTreeMap<String, &String> =
            self.0.iter().map(|(i, c)| (i.to_string(), c)).collect();
        serde_json::to_vec(&map)
            .ok()
            .map(|b| URL_SAFE_NO_PAD.encode(b))
    }

    /// Reads a client cursor; `None` if it is not one the gateway issued.
    pub fn decode(cursor: &str, upstreams: usize) -> Option<Cursors> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let map: BTreeMap<String, String> = serde_json::from_slice(&bytes).ok()?;
        let mut out = BTreeMap::new();
        for (k, v) in map {
            let i: usize = k.parse().ok()?;
            if i >= upstreams {
                return None;
            }
            out.insert(i, v);
        }
        (!out.is_empty()).then_some(Cursors(out))
    }
}

/// One upstream's result in a fan-out.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    /// The upstream's index.
    pub index: usize,
    /// Its JSON-RPC `result`.
    pub result: &'a Value,
}

/// Merges list results: items renamed to their outward names, in upstream
/// order; caching hints the most conservative of all; the cursor resumes every
/// upstream that has more.
pub fn list(kind: ListKind, naming: &Naming, parts: &[Part<'_>]) -> Value {
    let mut items = Vec::new();
    let mut cursors = Cursors::default();
    for part in parts {
        if let Some(list) = part.result.get(kind.field()).and_then(Value::as_array) {
            for item in list {
                let mut item = item.clone();
                if kind.renamed()
                    && let Some(name) = item.get("name").and_then(Value::as_str)
                {
                    item["name"] = Value::String(naming.outward(part.index, name));
                }
                items.push(item);
            }
        }
        if let Some(next) = part.result.get("nextCursor").and_then(Value::as_str) {
            cursors.0.insert(part.index, next.to_owned());
        }
    }
    let mut out = Map::new();
    out.insert(kind.field().into(), Value::Array(items));
    if let Some(next) = cursors.encode() {
        out.insert("nextCursor".into(), Value::String(next));
    }
    caching_and_type(&mut out, parts);
    Value::Object(out)
}

/// `ttlMs` is the smallest given, `cacheScope` private if any is, and
/// `resultType` kept when the upstreams speak 2026-07-28.
fn caching_and_type(out: &mut Map<String, Value>, parts: &[Part<'_>]) {
    let ttl = parts
        .iter()
        .filter_map(|p| p.result.get("ttlMs").and_then(Value::as_u64))
        .min();
    if let Some(ttl) = ttl {
        out.insert("ttlMs".into(), json!(ttl));
    }
    let scopes: Vec<&str> = parts
        .iter()
        .filter_map(|p| p.result.get("cacheScope").and_then(Value::as_str))
        .collect();
    if !scopes.is_empty() {
        let scope = if scopes.iter().all(|s| *s == "public") {
            "public"
        } else {
            "private"
        };
        out.insert("cacheScope".into(), json!(scope));
    }
    if parts.iter().any(|p| p.result.get("resultType").is_some()) {
        out.insert("resultType".into(), json!("complete"));
    }
}

/// The union of capability objects: a capability any upstream has is present,
/// and a boolean flag is true if any upstream sets it.
pub fn capabilities<'a>(caps: impl IntoIterator<Item = &'a Value>) -> Value {
    let mut out = Map::new();
    for cap in caps {
        let Some(cap) = cap.as_object() else { continue };
        for (name, value) in cap {
            let slot = out.entry(name.clone()).or_insert_with(|| json!({}));
            if let (Some(slot), Some(value)) = (slot.as_object_mut(), value.as_object()) {
                for (flag, v) in value {
                    match (slot.get(flag), v) {
                        (Some(Value::Bool(true)), _) => {}
                        _ => {
                            slot.insert(flag.clone(), v.clone());
                        }
                    }
                }
            }
        }
    }
    Value::Object(out)
}

fn instructions(parts: &[Part<'_>], names: &[String]) -> Option<String> {
    let texts: Vec<String> = parts
        .iter()
        .filter_map(|p| {
            let text = p.result.get("instructions")?.as_str()?;
            let name = names.get(p.index).map_or("upstream", String::as_str);
            Some(format!("[{name}] {text}"))
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n\n"))
}

/// An `initialize` result for a federated session: the oldest version any
/// upstream negotiated, the union of capabilities, the gateway as the server,
/// and each upstream's instructions labelled with its name.
pub fn initialize(parts: &[Part<'_>], names: &[String], server_info: Value) -> Value {
    let version = parts
        .iter()
        .filter_map(|p| p.result.get("protocolVersion").and_then(Value::as_str))
        .min()
        .unwrap_or("2025-11-25")
        .to_owned();
    let mut out = Map::new();
    out.insert("protocolVersion".into(), json!(version));
    out.insert(
        "capabilities".into(),
        capabilities(parts.iter().filter_map(|p| p.result.get("capabilities"))),
    );
    out.insert("serverInfo".into(), server_info);
    if let Some(text) = instructions(parts, names) {
        out.insert("instructions".into(), json!(text));
    }
    Value::Object(out)
}

/// A `server/discover` result for a federation: the versions every upstream
/// supports, the union of capabilities, the gateway as the server.
pub fn discover(parts: &[Part<'_>], names: &[String], server_info: Value) -> Value {
    let mut versions: Option<Vec<String>> = None;
    for part in parts {
        let theirs: Vec<String> = part
            .result
            .get("supportedVersions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        versions = Some(match versions {
            None => theirs,
            Some(v) => v.into_iter().filter(|x| theirs.contains(x)).collect(),
        });
    }
    let mut out = Map::new();
    out.insert(
        "supportedVersions".into(),
        json!(versions.unwrap_or_default()),
    );
    out.insert(
        "capabilities".into(),
        capabilities(parts.iter().filter_map(|p| p.result.get("capabilities"))),
    );
    out.insert(
        "_meta".into(),
        json!({"io.modelcontextprotocol/serverInfo": server_info}),
    );
    if let Some(text) = instructions(parts, names) {
        out.insert("instructions".into(), json!(text));
    }
    caching_and_type(&mut out, parts);
    Value::Object(out)
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
