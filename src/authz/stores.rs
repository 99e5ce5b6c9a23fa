//! The Cedar entity stores decisions are evaluated against, built from the
//! principal and the objects acted on, and remembered (see [`super::memo`]).
//!
//! A store depends on the principal's facts, the upstream (whose configured
//! facts are fixed for the life of the engine that owns these memos) and the
//! object or list of objects; never on the request's context. So a remembered
//! store gives exactly the decision a fresh one would. List decisions are
//! remembered too, keyed by the store and by the context attributes the
//! policies read (see [`super::reads`]), since a list answer is the same for
//! the same caller, facts and policies.
//!
//! When no policy can tell callers apart by identity (see
//! [`CallerView::identity`](super::entities::CallerView)), stores are keyed
//! by the caller's [`Shape`], and a store's principal is the first caller of
//! that shape: its uid is the request's principal for every caller of the
//! shape. Nothing but that uid differs between their entities, and no policy
//! reads it. An evaluation error may name it, though (a policy reading a
//! principal attribute that an edited schema declares and the gateway never
//! sets): such a decision is made again with the caller's own entity, so
//! that its errors name the caller (see [`Store::is_for`]).

use super::config::UpstreamFacts;
use super::engine::QueryError;
use super::entities::{self, CallerView, Object, Shape, Types};
use super::memo::{self, Keys, Memo, OwnedObject};
use crate::authn::Principal;
use cedar_policy::{Entities, EntityUid};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

/// How many stores are kept for single decisions, for lists, and how many
/// list decisions.
const STORES: usize = 4096;
const LISTS: usize = 64;
const SEEN: usize = 256;

/// The entities of one decision: a principal, an upstream and an object.
#[derive(Debug)]
pub struct Store {
    /// The first caller of its shape.
    principal: Principal,
    upstream: String,
    object: OwnedObject,
    /// The principal's uid.
    pub principal_uid: EntityUid,
    /// The object's uid (the upstream's for [`Object::Upstream`]).
    pub resource: EntityUid,
    /// Everything the policies may dereference.
    pub entities: Entities,
}

impl Store {
    /// Whether this store's principal is `p` itself, not another caller of
    /// its shape.
    pub fn is_for(&self, p: &Principal) -> bool {
        memo::same_principal(&self.principal, p)
    }
}

/// The entities of one list: a principal, an upstream and every object listed.
#[derive(Debug)]
pub struct ListStore {
    principal: Principal,
    upstream: String,
    /// Shared with the list's [`Objects`], as are `resources` and `classes`:
    /// a caller's first list copies none of them.
    objects: Arc<[OwnedObject]>,
    /// The principal's uid.
    pub principal_uid: EntityUid,
    /// Each object's uid, in list order.
    pub resources: Arc<[EntityUid]>,
    /// Each object's class, in list order: objects of one class have the same
    /// type, upstream and values of every resource attribute a policy reads,
    /// so policies that use `resource` only through those attributes (and a
    /// scope that is not `resource == …`) decide them alike. `None` when a
    /// policy uses `resource` whole.
    pub classes: Option<Arc<Vec<u32>>>,
    /// Whether `entities` holds only the objects a sliced decision evaluates:
    /// every object some scope names, and the first other object of each
    /// class (the later ones take its decision). A decision without slices
    /// must not use such a store.
    pub partial: bool,
    /// Everything the policies may dereference.
    pub entities: Entities,
    key: u64,
}

/// The context facts a list decision depended on (`None`: no policy reads it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListFacts {
    /// The action's method.
    pub method: String,
    /// `now.epoch`.
    pub now: Option<u64>,
    /// `client_ip`.
    pub client_ip: Option<IpAddr>,
    /// `era`.
    pub era: Option<String>,
    /// `protocol_version`.
    pub protocol_version: Option<String>,
    /// `session_labels`.
    pub session_labels: Option<Vec<String>>,
}

/// The entities of a list's objects, whoever asks, as a store of their own
/// (attributes evaluated, transitive closure computed): a caller's store is
/// this one with the caller's entities added, which repairs the closure only
/// around them instead of recomputing it over every object.
#[derive(Debug)]
struct Objects {
    upstream: String,
    objects: Arc<[OwnedObject]>,
    resources: Arc<[EntityUid]>,
    classes: Option<Arc<Vec<u32>>>,
    partial: bool,
    store: Entities,
}

/// The entities of one object (and its upstream), whoever asks.
#[derive(Debug)]
struct ObjectStore {
    upstream: String,
    object: OwnedObject,
    resource: EntityUid,
    store: Entities,
}

#[derive(Debug)]
struct Seen {
    list: Arc<ListStore>,
    facts: ListFacts,
    visible: Arc<Vec<bool>>,
}

/// Builds and remembers stores.
#[derive(Debug)]
pub struct Stores {
    types: Types,
    /// The resource attributes the policies read (sorted), or `None` when a
    /// policy uses `resource` whole: what list classes are made of.
    class_attributes: Option<Vec<String>>,
    /// The principal attributes and parents the policies can see: a caller's
    /// entity holds only these.
    caller: CallerView,
    /// The facts of a caller that key its stores.
    shape: Shape,
    /// The resources some policy scope names (`resource == …`), when every
    /// list decision is sliced; `None` keeps every listed object in stores.
    named: Option<HashSet<EntityUid>>,
    keys: Keys,
    stores: Memo<Store>,
    lists: Memo<ListStore>,
    objects: Memo<Objects>,
    object: Memo<ObjectStore>,
    seen: Memo<Seen>,
}

impl Stores {
    /// Empty memos, for policies that read `class_attributes` of `resource`
    /// (`None`: they use it whole) and see `caller` of `principal`, and
    /// whose scopes name the resources `named` (`None`: some list decision is
    /// not sliced).
    pub fn new(
        class_attributes: Option<Vec<String>>,
        caller: CallerView,
        named: Option<HashSet<EntityUid>>,
    ) -> Result<Stores, String> {
        let named = named.filter(|_| class_attributes.is_some());
        Ok(Stores {
            types: Types::new()?,
            class_attributes,
            shape: caller.shape(),
            caller,
            named,
            keys: Keys::default(),
            stores: Memo::new(STORES),
            lists: Memo::new(LISTS),
            objects: Memo::new(LISTS),
            object: Memo::new(STORES),
            seen: Memo::new(SEEN),
        })
    }

    /// The store of one decision.
    pub fn decision(
        &self,
        principal: &Principal,
        upstream: &str,
        object: &Object<'_>,
        facts: Option<&UpstreamFacts>,
    ) -> Result<Arc<Store>, QueryError> {
        let of_object = self.object_key(upstream, object);
        let mut h = self.keys.hasher();
        h.write_u64(of_object);
        memo::hash_caller(&mut h, principal, &self.shape);
        let key = h.finish();
        if let Some(s) = self.stores.get(key)
            && s.upstream == upstream
            && s.object.is(object)
            && memo::same_caller(&s.principal, principal, &self.shape)
        {
            return Ok(s);
        }
        let store = Arc::new(self.build(of_object, principal, upstream, object, facts)?);
        self.stores.put(key, Arc::clone(&store));
        Ok(store)
    }

    /// The store of one decision with `principal`'s own entity, remembered
    /// nowhere: for a decision whose diagnostics must name the caller (see
    /// [`Store::is_for`]).
    pub fn own(
        &self,
        principal: &Principal,
        upstream: &str,
        object: &Object<'_>,
        facts: Option<&UpstreamFacts>,
    ) -> Result<Store, QueryError> {
        let of_object = self.object_key(upstream, object);
        self.build(of_object, principal, upstream, object, facts)
    }

    /// The memo key of `object` on `upstream`, whoever asks.
    fn object_key(&self, upstream: &str, object: &Object<'_>) -> u64 {
        let mut h = self.keys.hasher();
        h.write(upstream.as_bytes());
        h.write_u8(0xff);
        memo::hash_object(&mut h, object);
        h.finish()
    }

    /// A store for `principal` and `object` (whose key is `of_object`).
    fn build(
        &self,
        of_object: u64,
        principal: &Principal,
        upstream: &str,
        object: &Object<'_>,
        facts: Option<&UpstreamFacts>,
    ) -> Result<Store, QueryError> {
        let built = match self.object.get(of_object) {
            Some(b) if b.upstream == upstream && b.object.is(object) => b,
            _ => {
                let (resource, made) = entities::object(&self.types, upstream, object, facts)?;
                let b = Arc::new(ObjectStore {
                    upstream: upstream.to_owned(),
                    object: OwnedObject::of(object),
                    resource,
                    store: Entities::from_entities(made, None)
                        .map_err(|e| QueryError::Build(e.to_string()))?,
                });
                self.object.put(of_object, Arc::clone(&b));
                b
            }
        };
        let (principal_uid, caller) = entities::principal(&self.types, principal, &self.caller)?;
        let entities = with_caller(&built.store, caller)?;
        Ok(Store {
            principal: principal.clone(),
            upstream: upstream.to_owned(),
            object: OwnedObject::of(object),
            principal_uid,
            resource: built.resource.clone(),
            entities,
        })
    }

    /// The store of one list.
    pub fn list(
        &self,
        principal: &Principal,
        upstream: &str,
        objects: &[Object<'_>],
        facts: Option<&UpstreamFacts>,
    ) -> Result<Arc<ListStore>, QueryError> {
        let mut h = self.keys.hasher();
        h.write(upstream.as_bytes());
        h.write_u8(0xff);
        h.write_usize(objects.len());
        for o in objects {
            memo::hash_object(&mut h, o);
        }
        let listed = h.finish();
        let mut h = self.keys.hasher();
        h.write_u64(listed);
        memo::hash_caller(&mut h, principal, &self.shape);
        let key = h.finish();
        let same = |u: &str, o: &[OwnedObject]| {
            u == upstream && o.len() == objects.len() && o.iter().zip(objects).all(|(a, b)| a.is(b))
        };
        if let Some(s) = self.lists.get(key)
            && same(&s.upstream, &s.objects)
            && memo::same_caller(&s.principal, principal, &self.shape)
        {
            return Ok(s);
        }
        let built = match self.objects.get(listed) {
            Some(b) if same(&b.upstream, &b.objects) => b,
            _ => {
                let b = Arc::new(self.objects(upstream, objects, facts)?);
                self.objects.put(listed, Arc::clone(&b));
                b
            }
        };
        let (principal_uid, caller) = entities::principal(&self.types, principal, &self.caller)?;
        let entities = with_caller(&built.store, caller)?;
        let list = Arc::new(ListStore {
            principal: principal.clone(),
            upstream: upstream.to_owned(),
            objects: Arc::clone(&built.objects),
            principal_uid,
            resources: Arc::clone(&built.resources),
            classes: built.classes.clone(),
            partial: built.partial,
            entities,
            key,
        });
        self.lists.put(key, Arc::clone(&list));
        Ok(list)
    }

    fn objects(
        &self,
        upstream: &str,
        objects: &[Object<'_>],
        facts: Option<&UpstreamFacts>,
    ) -> Result<Objects, QueryError> {
        let mut resources = Vec::with_capacity(objects.len());
        let mut entities = Vec::with_capacity(objects.len() + 1);
        let mut uids = HashSet::new();
        let mut classes = self.class_attributes.as_ref().map(|_| Classes::default());
        let mut represented = HashSet::new();
        let mut partial = false;
        for object in objects {
            let (uid, made) = entities::object(&self.types, upstream, object, facts)?;
            let mut keep = true;
            if let (Some(classes), Some(names), Some(entity)) =
                (&mut classes, &self.class_attributes, made.first())
            {
                let class = classes.add(&uid, upstream, entity, names);
                if let Some(named) = &self.named {
                    keep = named.contains(&uid) || represented.insert(class);
                }
            }
            partial |= !keep;
            // The object's entity first, then its upstream (always kept).
            for (i, e) in made.into_iter().enumerate() {
                if (keep || i > 0) && uids.insert(e.uid()) {
                    entities.push(e);
                }
            }
            resources.push(uid);
        }
        Ok(Objects {
            upstream: upstream.to_owned(),
            objects: objects.iter().map(OwnedObject::of).collect(),
            resources: resources.into(),
            classes: classes.map(|c| Arc::new(c.of)),
            partial,
            store: Entities::from_entities(entities, None)
                .map_err(|e| QueryError::Build(e.to_string()))?,
        })
    }

    /// The remembered decision for `list` under `facts`, or the one `decide`
    /// makes (then remembered).
    pub fn visible(
        &self,
        list: &Arc<ListStore>,
        facts: ListFacts,
        decide: impl FnOnce() -> Result<Vec<bool>, QueryError>,
    ) -> Result<Arc<Vec<bool>>, QueryError> {
        let mut h = self.keys.hasher();
        list.key.hash(&mut h);
        facts.hash(&mut h);
        let key = h.finish();
        if let Some(seen) = self.seen.get(key)
            && Arc::ptr_eq(&seen.list, list)
            && seen.facts == facts
        {
            return Ok(Arc::clone(&seen.visible));
        }
        let visible = Arc::new(decide()?);
        self.seen.put(
            key,
            Arc::new(Seen {
                list: Arc::clone(list),
                facts,
                visible: Arc::clone(&visible),
            }),
        );
        Ok(visible)
    }
}

/// Numbers the classes of a list's objects as they come.
#[derive(Debug, Default)]
struct Classes {
    ids: HashMap<String, u32>,
    of: Vec<u32>,
}

impl Classes {
    /// Adds the object `uid` of `upstream` whose entity is `entity`, classed
    /// by its type, its upstream (its parent) and the attributes `names`.
    /// Values are compared by their debug form: equal forms are equal values;
    /// two forms of one value (a set printed in another order) only make two
    /// classes where one would do.
    fn add(
        &mut self,
        uid: &EntityUid,
        upstream: &str,
        entity: &cedar_policy::Entity,
        names: &[String],
    ) -> u32 {
        let mut key = format!("{}\u{0}{upstream}", uid.type_name());
        for name in names {
            key.push('\u{0}');
            key.push_str(&format!("{:?}", entity.attr(name)));
        }
        let next = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        let id = *self.ids.entry(key).or_insert(next);
        self.of.push(id);
        id
    }
}

/// `objects` with the caller's entities added. Cedar repairs the transitive
/// closure around the added entities only. An added entity that an object
/// store already holds must be identical (Cedar refuses a differing
/// duplicate), which holds: callers add users, workloads, roles, groups and
/// tenants, objects are tools, prompts, resources and upstreams.
fn with_caller(
    objects: &Entities,
    caller: Vec<cedar_policy::Entity>,
) -> Result<Entities, QueryError> {
    objects
        .clone()
        .add_entities(caller, None)
        .map_err(|e| QueryError::Build(e.to_string()))
}

#[cfg(test)]
#[path = "stores_tests.rs"]
mod tests;
