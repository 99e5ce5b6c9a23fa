//! List filtering: `tools/list`, `prompts/list`, `resources/list` and
//! `resources/templates/list` answers show only what the caller could use,
//! decided by the same policies as the calls themselves (see
//! [`super::engine::Engine::visible`]).
//!
//! Invariant: when the decision cannot be made, the list is emptied (fail
//! closed); the rest of the result (`nextCursor`, `_meta`) is kept. Every
//! `tools/list` page also teaches the [`super::book::ToolBook`] the tools'
//! annotations and input schemas, before filtering.

use super::State;
use super::engine::{Effect, Engine, Query};
use super::entities::{Hints, Object};
use crate::authn::Principal;
use serde_json::{Map, Value};
use std::net::IpAddr;
use std::sync::Arc;

/// The facts of the request whose list answer is being filtered.
#[derive(Debug, Clone)]
pub struct Lister {
    /// The policy set in force for the request.
    pub engine: Arc<Engine>,
    /// State kept across requests.
    pub state: Arc<State>,
    /// The caller.
    pub principal: Arc<Principal>,
    /// The upstream answering (its configured name).
    pub upstream: String,
    /// Its index in the federation, for the names clients see.
    pub index: usize,
    /// The federation's naming scheme.
    pub naming: crate::federation::Naming,
    /// The client's address.
    pub client_ip: IpAddr,
    /// `legacy` or `modern`.
    pub era: &'static str,
    /// The protocol version or "".
    pub protocol_version: &'static str,
    /// The key the session's flow labels are kept under
    /// ([`super::gate::flow_key`]): they are read at each decision, so a
    /// long stream sees the labels the session has now.
    pub flow_key: String,
}

impl Lister {
    /// The message to send instead of `message` (a list answer for `method`),
    /// or `None` to send it unchanged.
    pub fn rewrite(
        &self,
        method: &str,
        message: &Map<String, Value>,
    ) -> Option<Map<String, Value>> {
        let (field, using) = match method {
            "tools/list" => ("tools", "tools/call"),
            "prompts/list" => ("prompts", "prompts/get"),
            "resources/list" => ("resources", "resources/read"),
            "resources/templates/list" => ("resourceTemplates", "resources/read"),
            _ => return None,
        };
        let items = message.get("result")?.get(field)?.as_array()?;
        if method == "tools/list" {
            self.state.book.learn(&self.upstream, items);
            let meta = message.get("result").and_then(|r| r.get("_meta"));
            self.state.book.learn_meta(&self.upstream, meta);
        }
        let keep = self.visible(using, items);
        if keep.iter().all(|k| *k) && keep.len() == items.len() {
            return None;
        }
        let kept: Vec<Value> = items
            .iter()
            .zip(keep.iter().chain(std::iter::repeat(&false)))
            .filter(|(_, k)| **k)
            .map(|(i, _)| i.clone())
            .collect();
        // Copy everything but the list itself, which is replaced.
        let mut out = Map::with_capacity(message.len());
        for (k, v) in message {
            let copy = match (k.as_str(), v) {
                ("result", Value::Object(result)) => Value::Object(
                    result
                        .iter()
                        .map(|(rk, rv)| match rk == field {
                            true => (rk.clone(), Value::Null),
                            false => (rk.clone(), rv.clone()),
                        })
                        .collect(),
                ),
                _ => v.clone(),
            };
            out.insert(k.clone(), copy);
        }
        if let Some(result) = out.get_mut("result").and_then(Value::as_object_mut) {
            result.insert(field.to_owned(), Value::Array(kept));
        }
        Some(out)
    }

    /// Whether the caller may read the resource at `uri`. A
    /// `notifications/resources/updated` reaches only such a caller: a server
    /// that tells every session of every change (the SDKs leave tracking
    /// subscriptions to the server), a `subscriptions/listen` naming a URI the
    /// caller may not read, or a subscription made before a policy change must
    /// not tell the caller that a resource it cannot see exists and changed.
    /// Decided like a `resources/list` entry: fail closed, shadow mode logs.
    pub fn may_read(&self, uri: &str) -> bool {
        let item = serde_json::json!({ "uri": uri });
        self.visible("resources/read", std::slice::from_ref(&item))
            .first()
            .copied()
            .unwrap_or(false)
    }

    /// Whether policy lets this upstream ask the caller's client for `action`
    /// (`sampling/createMessage`, `elicitation/create`, `roots/list`): an
    /// action on the upstream, as `connect` is. Only a plain permit counts: a
    /// permit that asks for approval does not, since a server's request cannot
    /// wait for a human here. Fail closed; shadow mode logs and permits.
    pub fn permits(&self, action: &str) -> bool {
        let labels = self.labels();
        let query = self.query(action, &labels);
        match self.engine.decide(&query) {
            Ok(d) if d.effect == Effect::Allow => {
                if d.shadowed {
                    tracing::info!(target: "portcullis::authz", shadow = true, method = action,
                        policy.version = %d.version, "would withhold a server's request (shadow mode): delivered");
                }
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(target: "portcullis::authz", error = %e, method = action,
                    "server request not decided; withheld");
                false
            }
        }
    }

    /// A query for `method` by the caller on the upstream (the objects of a
    /// list are given to the engine beside it).
    fn query<'a>(&'a self, method: &'a str, labels: &'a [String]) -> Query<'a> {
        Query {
            principal: &self.principal,
            method,
            upstream: &self.upstream,
            object: Object::Upstream,
            arguments: None,
            client_ip: self.client_ip,
            now: crate::authn::now(),
            era: self.era,
            protocol_version: self.protocol_version,
            session_labels: labels,
            findings: &[],
        }
    }

    /// The labels the session's calls have collected so far.
    fn labels(&self) -> Vec<String> {
        let ttl = self.engine.settings.flows.idle_ttl;
        self.state
            .flows
            .labels(&self.flow_key, std::time::Instant::now(), ttl)
    }

    fn visible(&self, using: &str, items: &[Value]) -> Vec<bool> {
        let (names, hints): (Vec<String>, Vec<Hints>) =
            items.iter().map(|i| entry(using, i)).unzip();
        // Entries carry the upstream's own names; policies see both.
        let outward: Vec<String> = names
            .iter()
            .map(|n| self.naming.outward(self.index, n))
            .collect();
        let objects: Vec<Object<'_>> = names
            .iter()
            .zip(&outward)
            .zip(hints)
            .map(|((name, outward), hints)| match using {
                "tools/call" => Object::Tool {
                    name: outward,
                    upstream_name: name,
                    hints,
                },
                "prompts/get" => Object::Prompt {
                    name: outward,
                    upstream_name: name,
                },
                _ => Object::Resource { uri: name },
            })
            .collect();
        let labels = self.labels();
        let query = self.query(using, &labels);
        match self.engine.visible(&query, using, &objects) {
            Ok(keep) if !self.engine.settings.shadow => keep,
            Ok(keep) => {
                let hidden = keep.iter().filter(|k| !**k).count();
                if hidden > 0 {
                    tracing::info!(target: "portcullis::authz", shadow = true, hidden, method = using,
                        policy.version = %self.engine.version, "list filter would hide entries");
                }
                vec![true; items.len()]
            }
            Err(e) => {
                tracing::warn!(target: "portcullis::authz", error = %e, "list filter failed; hiding every entry");
                vec![false; items.len()]
            }
        }
    }
}

/// The lister for upstream `index`'s messages to a request, when authorization
/// is on: it filters list answers and decides who hears of a resource's
/// update, which any stream (a request's, a GET's, a `subscriptions/listen`)
/// can carry.
pub fn lister_for(
    cx: &crate::pipeline::context::RequestContext,
    rt: &crate::config::Runtime,
    shared: &crate::pipeline::Shared,
    index: usize,
) -> Option<Lister> {
    let engine = rt.authorization.as_ref()?;
    let upstream = rt.federation.upstreams.get(index)?.name.clone();
    Some(Lister {
        engine: Arc::clone(engine),
        state: Arc::clone(&shared.authz),
        principal: cx.principal.clone()?,
        upstream,
        index,
        naming: rt.federation.naming.clone(),
        client_ip: cx.peer.ip(),
        era: cx.era.map_or("legacy", crate::protocol::Era::as_str),
        protocol_version: cx.version.map_or("", |v| v.as_str()),
        flow_key: super::gate::flow_key(cx),
    })
}

/// A list entry's name as policies see it (a resource's `uri`, else its
/// `uriTemplate`; otherwise `name`; empty when missing) and its tool hints,
/// read in one pass over its fields: looking each field up by name was a
/// quarter of filtering a 500-tool list.
fn entry(using: &str, item: &Value) -> (String, Hints) {
    let (mut name, mut uri, mut template, mut annotations) = (None, None, None, None);
    for (field, value) in item.as_object().into_iter().flatten() {
        match field.as_str() {
            "name" => name = value.as_str(),
            "uri" => uri = value.as_str(),
            "uriTemplate" => template = value.as_str(),
            "annotations" => annotations = Some(value),
            _ => {}
        }
    }
    let name = match using {
        "resources/read" => uri.filter(|u| !u.is_empty()).or(template),
        _ => name,
    };
    (
        name.unwrap_or_default().to_owned(),
        Hints::of_annotations(annotations),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_are_named_as_policies_see_them() {
        let tool = json!({"name": "read", "annotations": {"readOnlyHint": true}});
        let (name, hints) = entry("tools/call", &tool);
        assert_eq!(name, "read");
        assert!(hints.read_only);
        let read = "resources/read";
        assert_eq!(
            entry(read, &json!({"uri": "file:///a", "name": "A"})).0,
            "file:///a"
        );
        assert_eq!(
            entry(read, &json!({"uri": "", "uriTemplate": "db://{t}"})).0,
            "db://{t}"
        );
        assert_eq!(
            entry(read, &json!({"uriTemplate": "db://{t}", "name": "T"})).0,
            "db://{t}"
        );
        assert_eq!(entry("prompts/get", &json!({"name": 3})).0, "");
        assert_eq!(
            entry("tools/call", &json!("not an entry")),
            (String::new(), Hints::default())
        );
    }
    /// A lister over `policies` (with the shipped schema), in `mode`.
    fn lister(policies: &str, mode: &str) -> Lister {
        use crate::authz::config::{RawAuthorization, RawPaths};
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.cedar"), policies).unwrap();
        let schema =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/mcp.cedarschema");
        let raw = RawAuthorization {
            policies: RawPaths::Many(vec![schema, dir.path().join("p.cedar")]),
            schema: None,
            mode: Some(mode.into()),
            unknown_tool: None,
            upstreams: Default::default(),
            input_validation: Default::default(),
            approvals: Default::default(),
            flows: Default::default(),
        };
        let engine = crate::authz::compile(&raw, dir.path(), dir.path(), &mut Vec::new()).unwrap();
        Lister {
            engine,
            state: Arc::default(),
            principal: Arc::new(Principal::anonymous()),
            upstream: "default".into(),
            index: 0,
            naming: crate::federation::Naming::new(vec![None], "_").unwrap(),
            client_ip: [127, 0, 0, 1].into(),
            era: "modern",
            protocol_version: "2026-07-28",
            flow_key: "anonymous".into(),
        }
    }

    #[test]
    fn servers_requests_and_resource_updates_are_decided_and_fail_closed() {
        let policies = r#"
            permit (principal, action == Mcp::Action::"sampling/createMessage", resource);
            @approval("a human looks first")
            permit (principal, action == Mcp::Action::"roots/list", resource);
            permit (principal, action == Mcp::Action::"resources/read", resource)
              when { resource.uri == "notes://public" };
        "#;
        let enforcing = lister(policies, "enforce");
        assert!(enforcing.permits("sampling/createMessage"));
        assert!(!enforcing.permits("elicitation/create"), "no permit");
        assert!(
            !enforcing.permits("roots/list"),
            "a permit asking for approval"
        );
        assert!(!enforcing.permits("x/unknown"), "no such action");
        assert!(enforcing.may_read("notes://public"));
        assert!(!enforcing.may_read("notes://secret"));
        // Shadow mode logs what it would withhold and delivers it.
        let shadow = lister(policies, "shadow");
        assert!(shadow.permits("elicitation/create"));
        assert!(shadow.may_read("notes://secret"));
    }
}
