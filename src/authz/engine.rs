//! The decision: one [`Query`] (who, which MCP operation, on what, with which
//! arguments and facts) against the loaded Cedar policy set.
//!
//! Pure: values in, a [`Decision`] out; no clock, no socket. Semantics:
//! default deny, any satisfied `forbid` overrides every `permit` (Cedar's);
//! an allow whose deciding permits all carry `@approval` needs a human
//! approval. A policy that errors (reads an argument the call lacks without
//! `has`) does not apply. Every decision carries the policy set's version.

use super::config::Settings;
use super::context::Contexts;
use super::entities::{self, Object, Types};
use super::policies::{LoadedPolicies, PolicyInfo};
use super::reads::Reads;
use super::stores::{ListFacts, Stores};
use cedar_policy::{
    Authorizer, Decision as CedarDecision, Entities, EntityUid, PolicyId, PolicySet, Request,
    Schema,
};
use foldhash::fast::RandomState as FastHash;
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Every action of the schema, by MCP method. Methods not listed (initialize,
/// ping, notifications, responses, discovery, the legacy GET stream) are
/// `connect`: reaching the upstream at all.
pub const ACTIONS: [&str; 18] = [
    "tools/call",
    "prompts/get",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "completion/complete",
    "subscriptions/listen",
    "logging/setLevel",
    "sampling/createMessage",
    "elicitation/create",
    "roots/list",
    "connect",
    // Kept last: not actions, but methods mapped onto `connect`.
    "initialize",
    "ping",
];

/// A finding of the injection filter, as policies see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingFact {
    /// The rule id.
    pub rule: String,
    /// Its category.
    pub category: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
}

/// What is being decided.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// The caller.
    pub principal: &'a crate::authn::Principal,
    /// The MCP method.
    pub method: &'a str,
    /// The upstream the request goes to.
    pub upstream: &'a str,
    /// The tool, prompt or resource, if the method names one.
    pub object: Object<'a>,
    /// `params.arguments` of the request.
    pub arguments: Option<&'a Value>,
    /// The client's address.
    pub client_ip: IpAddr,
    /// Seconds since the epoch.
    pub now: u64,
    /// `legacy` or `modern`.
    pub era: &'a str,
    /// The protocol version, or "".
    pub protocol_version: &'a str,
    /// Labels of the tools already used in the session.
    pub session_labels: &'a [String],
    /// Injection findings on the request.
    pub findings: &'a [FindingFact],
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Forward.
    Allow,
    /// Refuse.
    Deny,
    /// Forward once a human approves; the text is the `@approval` annotation.
    Approval(String),
}

/// A decision and why.
#[derive(Debug, Clone)]
pub struct Decision {
    /// What to do (after shadow mode).
    pub effect: Effect,
    /// The policies that decided: satisfied permits for an allow, satisfied
    /// forbids for a deny (empty when nothing permitted).
    pub policies: Vec<String>,
    /// Policies that could not be evaluated, with why.
    pub errors: Vec<String>,
    /// The policy set version.
    pub version: Arc<str>,
    /// True when enforcement would have denied but shadow mode allowed.
    pub shadowed: bool,
}

/// Why a query could not be decided: the request itself is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// An argument does not fit the schema's declared type.
    #[error("{0}")]
    Arguments(String),
    /// Building the Cedar request failed (logged; refused).
    #[error("cannot build the authorization request: {0}")]
    Build(String),
}

/// A compiled policy set with its settings.
#[derive(Debug)]
pub struct Engine {
    /// `sha256:…` of the policy files.
    pub version: Arc<str>,
    /// Everything but the policies.
    pub settings: Settings,
    /// The files read (reload watches them).
    pub files: Vec<PathBuf>,
    schema: Schema,
    all: PolicySet,
    /// Per action (looked up on every decision; keyed by the policy set's
    /// actions, so a seeded fast hash will do, as for the maps below).
    parts: HashMap<EntityUid, super::policies::Slices, FastHash>,
    info: HashMap<PolicyId, PolicyInfo>,
    types: Types,
    actions: HashMap<&'static str, EntityUid, FastHash>,
    connect: EntityUid,
    authorizer: Authorizer,
    contexts: Contexts,
    stores: Stores,
}

impl Engine {
    /// Builds the engine from a loaded set and settings.
    pub fn new(loaded: LoadedPolicies, settings: Settings) -> Result<Engine, String> {
        let types = Types::new()?;
        let mut actions = HashMap::with_hasher(FastHash::default());
        for (i, name) in ACTIONS.iter().enumerate() {
            let action = if i >= 16 { "connect" } else { name };
            actions.insert(*name, entities::action_uid(action)?);
        }
        let uids: Vec<EntityUid> = ACTIONS[..16]
            .iter()
            .filter_map(|a| actions.get(a).cloned())
            .collect();
        let parts = super::policies::by_action(&loaded.set, &uids);
        let contexts = Contexts::new(Reads::of(&loaded.set), loaded.arguments);
        let caller = entities::CallerView::of(&loaded.set);
        let class_attributes = Reads::of_var(&loaded.set, "resource")
            .names()
            .map(|names| names.into_iter().map(str::to_owned).collect());
        // Lists are decided for these actions; partial list stores need every
        // one of them sliced.
        let listed = ["tools/call", "prompts/get", "resources/read"];
        let named = listed
            .iter()
            .all(|a| actions.get(a).is_some_and(|uid| parts.contains_key(uid)))
            .then(|| parts.values().flat_map(|s| s.named().cloned()).collect());
        Ok(Engine {
            version: Arc::from(loaded.version.as_str()),
            settings,
            files: loaded.files,
            schema: loaded.schema,
            all: loaded.set,
            parts,
            info: loaded.info,
            types,
            actions,
            connect: entities::action_uid("connect")?,
            authorizer: Authorizer::new(),
            contexts,
            stores: Stores::new(class_attributes, caller, named)?,
        })
    }

    /// The list store of `objects` for `principal` (tests look inside it).
    #[cfg(test)]
    pub(crate) fn list_store(
        &self,
        principal: &crate::authn::Principal,
        upstream: &str,
        objects: &[Object<'_>],
    ) -> Arc<super::stores::ListStore> {
        let facts = self.settings.upstreams.get(upstream);
        self.stores
            .list(principal, upstream, objects, facts)
            .expect("a list store")
    }

    /// The facts of a policy, for explanations.
    pub fn policy(&self, id: &str) -> Option<&PolicyInfo> {
        self.info.get(&PolicyId::new(id))
    }

    /// The number of policies.
    pub fn len(&self) -> usize {
        self.info.len()
    }

    /// Whether the set is empty (everything is denied).
    pub fn is_empty(&self) -> bool {
        self.info.is_empty()
    }

    fn action(&self, method: &str) -> &EntityUid {
        self.actions.get(method).unwrap_or(&self.connect)
    }

    /// Decides one request.
    pub fn decide(&self, q: &Query<'_>) -> Result<Decision, QueryError> {
        let facts = self.settings.upstreams.get(q.upstream);
        let store = self
            .stores
            .decision(q.principal, q.upstream, &q.object, facts)?;
        let response = self.authorize(q, &store)?;
        if response.diagnostics().errors().next().is_some() && !store.is_for(q.principal) {
            // The store is another caller's of the same shape: same decision,
            // but its errors would name that caller.
            let own = self.stores.own(q.principal, q.upstream, &q.object, facts)?;
            return Ok(self.conclude(self.authorize(q, &own)?));
        }
        Ok(self.conclude(response))
    }

    fn authorize(
        &self,
        q: &Query<'_>,
        store: &super::stores::Store,
    ) -> Result<cedar_policy::Response, QueryError> {
        let context = self.contexts.build(q, false, false)?;
        let action = self.action(q.method);
        let policies = self
            .parts
            .get(action)
            .map_or(&self.all, |s| s.for_resource(&store.resource));
        let request = Request::new(
            store.principal_uid.clone(),
            action.clone(),
            store.resource.clone(),
            context,
            None,
        )
        .map_err(|e| QueryError::Build(e.to_string()))?;
        Ok(self
            .authorizer
            .is_authorized(&request, policies, &store.entities))
    }

    /// Whether some policy reads the context attribute `name` (a policy
    /// that uses `context` whole reads them all).
    pub fn reads_context(&self, name: &str) -> bool {
        self.contexts.reads(name)
    }

    /// Which of `objects` the principal could use (list filtering): the
    /// decision for the object's use (`tools/call`, `prompts/get`,
    /// `resources/read`) without arguments, where a permit that reads an
    /// argument counts as possible and a forbid that reads one does not apply.
    pub fn visible(
        &self,
        q: &Query<'_>,
        method: &str,
        objects: &[Object<'_>],
    ) -> Result<Vec<bool>, QueryError> {
        let facts = self.settings.upstreams.get(q.upstream);
        let list = self.stores.list(q.principal, q.upstream, objects, facts)?;
        let read = |name: &str| self.contexts.reads(name);
        let depends = ListFacts {
            method: method.to_owned(),
            now: read("now").then_some(q.now),
            client_ip: read("client_ip").then_some(q.client_ip),
            era: read("era").then(|| q.era.to_owned()),
            protocol_version: read("protocol_version").then(|| q.protocol_version.to_owned()),
            session_labels: read("session_labels").then(|| q.session_labels.to_vec()),
        };
        let visible = self
            .stores
            .visible(&list, depends, || self.decide_list(q, method, &list))?;
        Ok(visible.to_vec())
    }

    /// [`Engine::visible`], evaluated.
    fn decide_list(
        &self,
        q: &Query<'_>,
        method: &str,
        list: &super::stores::ListStore,
    ) -> Result<Vec<bool>, QueryError> {
        let context = self.contexts.build(q, true, false)?;
        let slices = self.parts.get(self.action(method));
        if list.partial && slices.is_none() {
            // Unreachable with the list actions (a partial store exists only
            // when they are all sliced); refuse rather than decide without
            // the objects' entities.
            return Err(QueryError::Build(format!(
                "no sliced policies for `{method}` over a partial list store"
            )));
        }
        let action = self.action(method).clone();
        // Objects of one class under the general slice are decided once: those
        // policies use `resource` only through the attributes the class holds
        // equal (see `ListStore::classes`). A resource a scope names has a
        // slice of its own and is decided alone.
        let mut decided: HashMap<u32, bool> = HashMap::new();
        list.resources
            .iter()
            .enumerate()
            .map(|(i, resource)| {
                let policies = slices.map_or(&self.all, |s| s.for_resource(resource));
                let class = match (slices, &list.classes) {
                    (Some(s), Some(classes)) if s.is_general(policies) => classes.get(i).copied(),
                    _ => None,
                };
                if let Some(seen) = class.and_then(|c| decided.get(&c)) {
                    return Ok(*seen);
                }
                let request = Request::new(
                    list.principal_uid.clone(),
                    action.clone(),
                    resource.clone(),
                    context.clone(),
                    None,
                )
                .map_err(|e| QueryError::Build(e.to_string()))?;
                let r = self
                    .authorizer
                    .is_authorized(&request, policies, &list.entities);
                let forbidden = r.diagnostics().reason().next().is_some();
                let visible = match r.decision() {
                    CedarDecision::Allow => true,
                    CedarDecision::Deny => {
                        !forbidden
                            && r.diagnostics().errors().any(|e| {
                                let cedar_policy::AuthorizationError::PolicyEvaluationError(e) = e;
                                self.info
                                    .get(e.policy_id())
                                    .is_some_and(|i| i.effect == cedar_policy::Effect::Permit)
                            })
                    }
                };
                if let Some(c) = class {
                    decided.insert(c, visible);
                }
                Ok(visible)
            })
            .collect()
    }

    fn conclude(&self, r: cedar_policy::Response) -> Decision {
        // Ids as written (`AsRef`): `Display` escapes quotes and backslashes,
        // and the escaped text names no policy.
        let reasons = || r.diagnostics().reason();
        let policies: Vec<String> = reasons()
            .map(|id| AsRef::<str>::as_ref(id).to_owned())
            .collect();
        let errors = r.diagnostics().errors().map(ToString::to_string).collect();
        let effect = match r.decision() {
            CedarDecision::Deny => Effect::Deny,
            CedarDecision::Allow => {
                // Approval is needed when every permit that allowed asks for it.
                let approvals: Vec<&str> = reasons()
                    .map(|id| self.info.get(id).and_then(|i| i.approval.as_deref()))
                    .collect::<Option<Vec<_>>>()
                    .unwrap_or_default();
                match approvals.first() {
                    Some(reason) if !policies.is_empty() => Effect::Approval((*reason).to_owned()),
                    _ => Effect::Allow,
                }
            }
        };
        let shadowed = effect == Effect::Deny && self.settings.shadow;
        Decision {
            effect: if shadowed { Effect::Allow } else { effect },
            policies,
            errors,
            version: Arc::clone(&self.version),
            shadowed,
        }
    }

    /// Checks that a query's entities and context conform to the schema (the
    /// hot path skips this; tests and `policy test` call it).
    pub fn conforms(&self, q: &Query<'_>) -> Result<(), String> {
        let facts = self.settings.upstreams.get(q.upstream);
        let (principal, mut all) = entities::principal(
            &self.types,
            q.principal,
            &entities::CallerView::everything(),
        )
        .map_err(|e| e.to_string())?;
        let (resource, objects) = entities::object(&self.types, q.upstream, &q.object, facts)
            .map_err(|e| e.to_string())?;
        all.extend(objects);
        Entities::from_entities(all, Some(&self.schema)).map_err(|e| e.to_string())?;
        let context = self
            .contexts
            .build(q, false, true)
            .map_err(|e| e.to_string())?;
        Request::new(
            principal,
            self.action(q.method).clone(),
            resource,
            context,
            Some(&self.schema),
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    }
}
