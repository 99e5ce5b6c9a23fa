//! The Cedar entities of one request, built from the principal and the object
//! acted on, in the shape `policies/mcp.cedarschema` declares (a test builds
//! them with the schema to keep the two in step).
//!
//! A principal is a `Mcp::User` when a token names a person (its subject is
//! not its client), else a `Mcp::Workload`; it is `in` a `Mcp::Role`,
//! `Mcp::Group` and `Mcp::Tenant` per role, group and tenant (parents named by
//! uid, with no entity of their own: they would hold nothing; a kind no policy
//! names is left out, see [`CallerView`]). Tools, prompts and resources are
//! `in` their `Mcp::Upstream`.

use super::config::UpstreamFacts;
use super::engine::QueryError;
use super::reads::Reads;
use crate::authn::Principal;
use crate::authn::principal::Authenticated;
use cedar_policy::{Entity, EntityId, EntityTypeName, EntityUid, PolicySet, RestrictedExpression};
use foldhash::fast::RandomState as FastHash;
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

/// Tool annotations, with the MCP defaults when the upstream gives none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hints {
    /// `readOnlyHint` (default false).
    pub read_only: bool,
    /// `destructiveHint` (default true).
    pub destructive: bool,
    /// `idempotentHint` (default false).
    pub idempotent: bool,
    /// `openWorldHint` (default true).
    pub open_world: bool,
}

impl Default for Hints {
    fn default() -> Self {
        Hints {
            read_only: false,
            destructive: true,
            idempotent: false,
            open_world: true,
        }
    }
}

impl Hints {
    /// Reads a tool definition's `annotations`.
    pub fn of(tool: &serde_json::Value) -> Hints {
        Hints::of_annotations(tool.get("annotations"))
    }

    /// Reads an `annotations` object; a hint that is absent or not a boolean
    /// keeps its default. One pass over the object's fields: a list of 500
    /// tools spent a quarter of its filtering time looking each hint up by
    /// name.
    pub fn of_annotations(annotations: Option<&serde_json::Value>) -> Hints {
        let mut hints = Hints::default();
        let Some(fields) = annotations.and_then(serde_json::Value::as_object) else {
            return hints;
        };
        for (name, value) in fields {
            let Some(flag) = value.as_bool() else {
                continue;
            };
            match name.as_str() {
                "readOnlyHint" => hints.read_only = flag,
                "destructiveHint" => hints.destructive = flag,
                "idempotentHint" => hints.idempotent = flag,
                "openWorldHint" => hints.open_world = flag,
                _ => {}
            }
        }
        hints
    }
}

/// What a request acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object<'a> {
    /// Nothing in particular: the upstream itself (lists, connect, ...).
    Upstream,
    /// A tool: the name clients see, the upstream's name, its hints.
    Tool {
        /// Outward name.
        name: &'a str,
        /// The upstream's own name.
        upstream_name: &'a str,
        /// Its annotations.
        hints: Hints,
    },
    /// A prompt.
    Prompt {
        /// Outward name.
        name: &'a str,
        /// The upstream's own name.
        upstream_name: &'a str,
    },
    /// A resource URI.
    Resource {
        /// The URI.
        uri: &'a str,
    },
}

/// Entity type names, parsed once.
#[derive(Debug)]
pub struct Types {
    user: EntityTypeName,
    workload: EntityTypeName,
    tenant: EntityTypeName,
    role: EntityTypeName,
    group: EntityTypeName,
    upstream: EntityTypeName,
    tool: EntityTypeName,
    prompt: EntityTypeName,
    resource: EntityTypeName,
}

impl Types {
    /// Parses the names.
    pub fn new() -> Result<Types, String> {
        let t = |n: &str| EntityTypeName::from_str(n).map_err(|e| e.to_string());
        Ok(Types {
            user: t("Mcp::User")?,
            workload: t("Mcp::Workload")?,
            tenant: t("Mcp::Tenant")?,
            role: t("Mcp::Role")?,
            group: t("Mcp::Group")?,
            upstream: t("Mcp::Upstream")?,
            tool: t("Mcp::Tool")?,
            prompt: t("Mcp::Prompt")?,
            resource: t("Mcp::Resource")?,
        })
    }
}

/// `Mcp::Action::"name"`.
pub fn action_uid(name: &str) -> Result<EntityUid, String> {
    let t = EntityTypeName::from_str("Mcp::Action").map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(name)))
}

fn uid(t: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(t.clone(), EntityId::new(id))
}

fn s(v: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(v.to_owned())
}

fn set<'a>(items: impl IntoIterator<Item = &'a String>) -> RestrictedExpression {
    RestrictedExpression::new_set(items.into_iter().map(|i| s(i)))
}

fn entity(
    uid: EntityUid,
    attrs: HashMap<String, RestrictedExpression>,
    parents: HashSet<EntityUid>,
) -> Result<Entity, QueryError> {
    Entity::new(uid, attrs, parents).map_err(|e| QueryError::Build(e.to_string()))
}

/// Which parents of one kind (roles, groups, the tenant) a caller's entity
/// gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parents {
    /// All of them.
    Every,
    /// Only those with these names (none when empty).
    Only(Arc<HashSet<String, FastHash>>),
}

impl Parents {
    /// The parents policies that name `ids` (of this kind) can test.
    fn named(ids: Option<&HashSet<String>>) -> Parents {
        Parents::Only(Arc::new(ids.into_iter().flatten().cloned().collect()))
    }

    /// Whether the parent `name` is kept.
    pub fn keeps(&self, name: &str) -> bool {
        match self {
            Parents::Every => true,
            Parents::Only(names) => names.contains(name),
        }
    }

    /// `Every` when the attribute of the same name is read (it holds all of
    /// them), else `self`.
    fn or_read(&self, read: bool) -> Parents {
        if read { Parents::Every } else { self.clone() }
    }
}

/// What of a caller a policy set can see: the attributes it reads and the
/// parents it can test with `in`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerView {
    /// The principal attributes read.
    pub reads: Reads,
    /// The roles that are parents.
    pub roles: Parents,
    /// The groups that are parents.
    pub groups: Parents,
    /// The tenants that are parents.
    pub tenant: Parents,
    /// Some policy may tell two callers apart by who they are: it names a
    /// user or a workload (`principal == Mcp::User::"alice"`, or such a
    /// literal's attributes), or a template slot could. Without that, a
    /// policy sees a caller only through its type, the attributes it reads
    /// and the parents above, so callers equal in those (one [`Shape`]) are
    /// decided alike.
    pub identity: bool,
}

/// Which of a principal's facts its entity is made of under a
/// [`CallerView`]: callers equal in these get the same decisions, and the
/// engine keeps one entity store for all of them (see [`super::stores`]).
/// The type (user or workload) always counts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct Shape {
    /// Every fact counts: callers are told apart by identity.
    pub whole: bool,
    /// `subject` is read.
    pub subject: bool,
    /// `issuer` is read.
    pub issuer: bool,
    /// The tenant, if read or kept as a parent.
    pub tenant: Parents,
    /// The roles read, or kept as parents.
    pub roles: Parents,
    /// The groups read, or kept as parents.
    pub groups: Parents,
    /// `scopes` is read.
    pub scopes: bool,
    /// `client_id` is read.
    pub client_id: bool,
    /// `actors` is read.
    pub actors: bool,
    /// `authenticated` is read.
    pub authenticated: bool,
}

impl CallerView {
    /// Every attribute and parent (schema checks).
    pub fn everything() -> CallerView {
        CallerView {
            reads: Reads::everything(),
            roles: Parents::Every,
            groups: Parents::Every,
            tenant: Parents::Every,
            identity: true,
        }
    }

    /// The facts a caller's entity is made of under this view.
    pub fn shape(&self) -> Shape {
        let read = |name: &str| self.reads.wants(name);
        Shape {
            whole: self.identity,
            subject: read("subject"),
            issuer: read("issuer"),
            tenant: self.tenant.or_read(read("tenant")),
            roles: self.roles.or_read(read("roles")),
            groups: self.groups.or_read(read("groups")),
            scopes: read("scopes"),
            client_id: read("client_id"),
            actors: read("actors"),
            authenticated: read("authenticated"),
        }
    }

    /// What the policies of `set` see. `principal in X` is true when X is
    /// the principal or one of its ancestors; the gateway puts no entity in
    /// an attribute or the context, and a role, group or tenant has no
    /// parents of its own, so every X a decision tests is an entity some
    /// policy names. A parent no policy names cannot change a decision, and
    /// leaving it out spares Cedar its transitive-closure work when a caller
    /// is first seen and lets callers who differ only in such parents share
    /// a store.
    pub fn of(set: &PolicySet) -> CallerView {
        let reads = Reads::of_entity(set, "principal", &["User", "Workload"]);
        match super::reads::named_entities(set) {
            Some(named) => CallerView {
                reads,
                roles: Parents::named(named.get("Role")),
                groups: Parents::named(named.get("Group")),
                tenant: Parents::named(named.get("Tenant")),
                identity: named.contains_key("User") || named.contains_key("Workload"),
            },
            None => CallerView {
                reads,
                ..CallerView::everything()
            },
        }
    }
}

/// Whether `p` is a `Mcp::Workload` (else a `Mcp::User`): not a person's
/// token, or a token whose subject is its own client.
pub fn is_workload(p: &Principal) -> bool {
    p.authenticated != Authenticated::Token || p.client_id.as_deref() == Some(p.subject.as_str())
}

/// The principal's uid and its entity (parents by uid only), with the
/// attributes and parents `view` names (a decision evaluates no other; schema
/// checks pass [`CallerView::everything`]).
pub fn principal(
    types: &Types,
    p: &Principal,
    view: &CallerView,
) -> Result<(EntityUid, Vec<Entity>), QueryError> {
    let id = uid(
        if is_workload(p) {
            &types.workload
        } else {
            &types.user
        },
        &p.subject,
    );
    // Roles, groups and the tenant are parents by uid only: `principal in
    // Mcp::Role::"r"` reads the principal's ancestors, and these entities
    // would hold no attribute or parent of their own.
    let mut parents = HashSet::new();
    let roles = p.roles.iter().filter(|r| view.roles.keeps(r));
    parents.extend(roles.map(|r| uid(&types.role, r)));
    let groups = p.groups.iter().filter(|g| view.groups.keeps(g));
    parents.extend(groups.map(|g| uid(&types.group, g)));
    if let Some(t) = &p.tenant
        && view.tenant.keeps(t)
    {
        parents.insert(uid(&types.tenant, t));
    }
    let authenticated = match p.authenticated {
        Authenticated::Token => "token",
        Authenticated::Certificate => "certificate",
        Authenticated::Anonymous => "anonymous",
    };
    let mut attrs = HashMap::new();
    let mut attr = |name: &str, value: &dyn Fn() -> RestrictedExpression| {
        if view.reads.wants(name) {
            attrs.insert(name.to_owned(), value());
        }
    };
    attr("subject", &|| s(&p.subject));
    attr("issuer", &|| s(p.issuer.as_deref().unwrap_or("")));
    attr("tenant", &|| s(p.tenant.as_deref().unwrap_or("")));
    attr("roles", &|| set(&p.roles));
    attr("groups", &|| set(&p.groups));
    attr("scopes", &|| set(&p.scopes));
    attr("client_id", &|| s(p.client_id.as_deref().unwrap_or("")));
    attr("actors", &|| {
        RestrictedExpression::new_set(p.actors.iter().map(|a| s(&a.subject)))
    });
    attr("authenticated", &|| s(authenticated));
    Ok((id.clone(), vec![entity(id, attrs, parents)?]))
}

/// The object's uid and entities (itself and its upstream).
pub fn object(
    types: &Types,
    upstream: &str,
    object: &Object<'_>,
    facts: Option<&UpstreamFacts>,
) -> Result<(EntityUid, Vec<Entity>), QueryError> {
    let none = Vec::new();
    let tenants = facts.map_or(&none, |f| &f.tenants);
    let up_labels = facts.map_or(&none, |f| &f.labels);
    let up = uid(&types.upstream, upstream);
    let up_entity = entity(
        up.clone(),
        HashMap::from([
            ("name".to_owned(), s(upstream)),
            ("tenants".to_owned(), set(tenants)),
            ("labels".to_owned(), set(up_labels)),
        ]),
        HashSet::new(),
    )?;
    let parents = HashSet::from([up.clone()]);
    let labels = |name: &str| -> RestrictedExpression {
        let tool = facts
            .and_then(|f| f.tools.get(name))
            .map_or(&none, |t| &t.labels);
        set(up_labels.iter().chain(tool.iter()))
    };
    let (id, attrs) = match object {
        Object::Upstream => return Ok((up, vec![up_entity])),
        Object::Tool {
            name,
            upstream_name,
            hints,
        } => (
            uid(&types.tool, name),
            HashMap::from([
                ("name".to_owned(), s(name)),
                ("upstream".to_owned(), s(upstream)),
                ("upstream_name".to_owned(), s(upstream_name)),
                ("tenants".to_owned(), set(tenants)),
                ("labels".to_owned(), labels(name)),
                (
                    "read_only".to_owned(),
                    RestrictedExpression::new_bool(hints.read_only),
                ),
                (
                    "destructive".to_owned(),
                    RestrictedExpression::new_bool(hints.destructive),
                ),
                (
                    "idempotent".to_owned(),
                    RestrictedExpression::new_bool(hints.idempotent),
                ),
                (
                    "open_world".to_owned(),
                    RestrictedExpression::new_bool(hints.open_world),
                ),
            ]),
        ),
        Object::Prompt {
            name,
            upstream_name,
        } => (
            uid(&types.prompt, name),
            HashMap::from([
                ("name".to_owned(), s(name)),
                ("upstream".to_owned(), s(upstream)),
                ("upstream_name".to_owned(), s(upstream_name)),
                ("tenants".to_owned(), set(tenants)),
                ("labels".to_owned(), labels(name)),
            ]),
        ),
        Object::Resource { uri } => (
            uid(&types.resource, uri),
            HashMap::from([
                ("uri".to_owned(), s(uri)),
                ("upstream".to_owned(), s(upstream)),
                ("tenants".to_owned(), set(tenants)),
                ("labels".to_owned(), set(up_labels)),
            ]),
        ),
    };
    Ok((id.clone(), vec![entity(id, attrs, parents)?, up_entity]))
}
