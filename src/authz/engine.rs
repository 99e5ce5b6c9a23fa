//! The decision: one [`Query`] (who, which MCP operation, on what, with which
//! arguments and facts) against the loaded Cedar policy set.
//!
//! Pure: values in, a [`Decision`] out; no clock, no socket. Semantics:
//! default deny, any satisfied `forbid` overrides every `permit` (Cedar's);
//! an allow whose deciding permits all carry `@approval` needs a human
//! approval. A policy that errors (reads an argument the call lacks without
//! `has`) does not apply. Every decision carries the policy set's version.

use super::arguments::{self, ArgType};
use super::config::Settings;
use super::entities::{self, Object, Types};
use super::policies::{LoadedPolicies, PolicyInfo};
use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityUid, PolicyId,
    PolicySet, Request, RestrictedExpression, Schema,
};
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
    parts: HashMap<EntityUid, super::policies::Slices>,
    info: HashMap<PolicyId, PolicyInfo>,
    arguments: ArgType,
    types: Types,
    actions: HashMap<&'static str, EntityUid>,
    connect: EntityUid,
    authorizer: Authorizer,
}

impl Engine {
    /// Builds the engine from a loaded set and settings.
    pub fn new(loaded: LoadedPolicies, settings: Settings) -> Result<Engine, String> {
        let types = Types::new()?;
        let mut actions = HashMap::new();
        for (i, name) in ACTIONS.iter().enumerate() {
            let action = if i >= 16 { "connect" } else { name };
            actions.insert(*name, entities::action_uid(action)?);
        }
        let uids: Vec<EntityUid> = ACTIONS[..16]
            .iter()
            .filter_map(|a| actions.get(a).cloned())
            .collect();
        let parts = super::policies::by_action(&loaded.set, &uids);
        Ok(Engine {
            version: Arc::from(loaded.version.as_str()),
            settings,
            files: loaded.files,
            schema: loaded.schema,
            all: loaded.set,
            parts,
            info: loaded.info,
            arguments: loaded.arguments,
            types,
            actions,
            connect: entities::action_uid("connect")?,
            authorizer: Authorizer::new(),
        })
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
        let (principal, mut all) = entities::principal(&self.types, q.principal)?;
        let (resource, objects) = entities::object(&self.types, q.upstream, &q.object, facts)?;
        all.extend(objects);
        let context = self.context(q, false)?;
        let response = self.evaluate(principal, q.method, resource, context, all)?;
        Ok(self.conclude(response))
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
        let (principal, mut all) = entities::principal(&self.types, q.principal)?;
        let mut resources = Vec::with_capacity(objects.len());
        let mut seen = std::collections::HashSet::new();
        for object in objects {
            let (uid, made) = entities::object(&self.types, q.upstream, object, facts)?;
            for e in made {
                if seen.insert(e.uid()) {
                    all.push(e);
                }
            }
            resources.push(uid);
        }
        let store =
            Entities::from_entities(all, None).map_err(|e| QueryError::Build(e.to_string()))?;
        let context = self.context(q, true)?;
        let slices = self.parts.get(self.action(method));
        let action = self.action(method).clone();
        resources
            .into_iter()
            .map(|resource| {
                let policies = slices.map_or(&self.all, |s| s.for_resource(&resource));
                let request = Request::new(
                    principal.clone(),
                    action.clone(),
                    resource,
                    context.clone(),
                    None,
                )
                .map_err(|e| QueryError::Build(e.to_string()))?;
                let r = self.authorizer.is_authorized(&request, policies, &store);
                let forbidden = r.diagnostics().reason().next().is_some();
                Ok(match r.decision() {
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
                })
            })
            .collect()
    }

    fn evaluate(
        &self,
        principal: EntityUid,
        method: &str,
        resource: EntityUid,
        context: Context,
        all: Vec<Entity>,
    ) -> Result<cedar_policy::Response, QueryError> {
        let store =
            Entities::from_entities(all, None).map_err(|e| QueryError::Build(e.to_string()))?;
        let action = self.action(method);
        let policies = self
            .parts
            .get(action)
            .map_or(&self.all, |s| s.for_resource(&resource));
        let request = Request::new(principal, action.clone(), resource, context, None)
            .map_err(|e| QueryError::Build(e.to_string()))?;
        Ok(self.authorizer.is_authorized(&request, policies, &store))
    }

    fn conclude(&self, r: cedar_policy::Response) -> Decision {
        let policies: Vec<String> = r.diagnostics().reason().map(ToString::to_string).collect();
        let errors = r.diagnostics().errors().map(ToString::to_string).collect();
        let effect = match r.decision() {
            CedarDecision::Deny => Effect::Deny,
            CedarDecision::Allow => {
                let approvals: Vec<&str> = policies
                    .iter()
                    .map(|p| self.policy(p).and_then(|i| i.approval.as_deref()))
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

    /// The context record. While listing, `arguments` and `url_hosts` are left
    /// out, so policies that read them error (and do not apply).
    fn context(&self, q: &Query<'_>, listing: bool) -> Result<Context, QueryError> {
        let mut pairs: Vec<(String, RestrictedExpression)> = Vec::with_capacity(13);
        if !listing {
            let empty = Value::Object(serde_json::Map::new());
            let args = match q.arguments {
                None | Some(Value::Null) => &empty,
                Some(v @ Value::Object(_)) => v,
                Some(_) => {
                    return Err(QueryError::Arguments(
                        "`arguments` must be an object".into(),
                    ));
                }
            };
            let projected =
                arguments::project(args, &self.arguments, "").map_err(QueryError::Arguments)?;
            pairs.push(("arguments".into(), projected));
            let mut hosts = Vec::new();
            arguments::url_hosts(args, &mut hosts, 0);
            pairs.push(("url_hosts".into(), strings(&hosts)));
        }
        let (days, secs) = (q.now / 86_400, q.now % 86_400);
        let now = RestrictedExpression::new_record([
            (
                "epoch".to_owned(),
                RestrictedExpression::new_long(i64::try_from(q.now).unwrap_or(i64::MAX)),
            ),
            (
                "hour".to_owned(),
                RestrictedExpression::new_long(i64::try_from(secs / 3600).unwrap_or(0)),
            ),
            // 1970-01-01 was a Thursday (3, Monday = 0).
            (
                "weekday".to_owned(),
                RestrictedExpression::new_long(i64::try_from((days + 3) % 7).unwrap_or(0)),
            ),
        ])
        .map_err(|e| QueryError::Build(e.to_string()))?;
        pairs.push(("now".into(), now));
        pairs.push((
            "client_ip".into(),
            RestrictedExpression::new_ip(q.client_ip.to_string()),
        ));
        pairs.push((
            "era".into(),
            RestrictedExpression::new_string(q.era.to_owned()),
        ));
        pairs.push((
            "protocol_version".into(),
            RestrictedExpression::new_string(q.protocol_version.to_owned()),
        ));
        pairs.push(("session_labels".into(), strings(q.session_labels)));
        let mut findings = Vec::with_capacity(q.findings.len());
        let mut categories = Vec::new();
        let mut severity = 0;
        for f in q.findings {
            findings.push(
                RestrictedExpression::new_record([
                    (
                        "rule".to_owned(),
                        RestrictedExpression::new_string(f.rule.clone()),
                    ),
                    (
                        "category".to_owned(),
                        RestrictedExpression::new_string(f.category.clone()),
                    ),
                    (
                        "severity".to_owned(),
                        RestrictedExpression::new_string(f.severity.clone()),
                    ),
                ])
                .map_err(|e| QueryError::Build(e.to_string()))?,
            );
            if !categories.contains(&f.category) {
                categories.push(f.category.clone());
            }
            severity = severity.max(match f.severity.as_str() {
                "low" => 1,
                "medium" => 2,
                "high" => 3,
                "critical" => 4,
                _ => 0,
            });
        }
        pairs.push(("findings".into(), RestrictedExpression::new_set(findings)));
        pairs.push(("finding_categories".into(), strings(&categories)));
        pairs.push((
            "finding_severity".into(),
            RestrictedExpression::new_long(severity),
        ));
        pairs.push(("listing".into(), RestrictedExpression::new_bool(listing)));
        Context::from_pairs(pairs).map_err(|e| QueryError::Build(e.to_string()))
    }

    /// Checks that a query's entities and context conform to the schema (the
    /// hot path skips this; tests and `policy test` call it).
    pub fn conforms(&self, q: &Query<'_>) -> Result<(), String> {
        let facts = self.settings.upstreams.get(q.upstream);
        let (principal, mut all) =
            entities::principal(&self.types, q.principal).map_err(|e| e.to_string())?;
        let (resource, objects) = entities::object(&self.types, q.upstream, &q.object, facts)
            .map_err(|e| e.to_string())?;
        all.extend(objects);
        Entities::from_entities(all, Some(&self.schema)).map_err(|e| e.to_string())?;
        let context = self.context(q, false).map_err(|e| e.to_string())?;
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

fn strings(items: &[String]) -> RestrictedExpression {
    RestrictedExpression::new_set(
        items
            .iter()
            .map(|s| RestrictedExpression::new_string(s.clone())),
    )
}
