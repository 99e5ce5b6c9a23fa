//! Which attributes of `context` (or of `resource`) a policy set reads.
//!
//! Why: Cedar evaluates every attribute of the context record when a request
//! is built, and with a dozen attributes that was half of a decision. An
//! attribute no policy reads cannot change a decision, so the engine builds
//! only the ones that are read. Likewise, two listed objects whose read
//! attributes are equal get the same list decision from policies that never
//! use `resource` otherwise (see [`super::stores`]). The analysis walks each
//! policy's JSON form and is conservative: `context.x`, `context["x"]` and
//! `context has x` name `x`; any other use of the variable (compared whole,
//! tested with `in`, passed to a function) counts as reading everything. The
//! scope is not read here: it never names `context`, and a `resource` scope
//! is handled by the caller.

use cedar_policy::PolicySet;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The context attributes a policy set reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    all: bool,
    names: HashSet<String>,
}

impl Reads {
    /// Every attribute (the safe answer when a policy cannot be analysed).
    pub fn everything() -> Reads {
        Reads {
            all: true,
            names: HashSet::new(),
        }
    }

    /// What the policies of `set` (templates' links included) read of `context`.
    pub fn of(set: &PolicySet) -> Reads {
        Reads::of_var(set, "context")
    }

    /// What the policies of `set` read of the variable `var` in their
    /// conditions.
    pub fn of_var(set: &PolicySet, var: &str) -> Reads {
        Reads::walk(set, &Walk { var, entity: None })
    }

    /// Which attributes of the entity `var` (`principal`) the policies of
    /// `set` read. Unlike [`Reads::of_var`], using the entity whole (`==`,
    /// `in`, `is`, in a set) reads none of its attributes: those compare its
    /// identity and ancestors. An entity literal of one of `types` (last path
    /// segment, `User` for `Mcp::User::"alice"`) in a condition may have its
    /// attributes read without naming `var`, so it counts as reading
    /// everything.
    pub fn of_entity(set: &PolicySet, var: &str, types: &[&str]) -> Reads {
        Reads::walk(
            set,
            &Walk {
                var,
                entity: Some(types),
            },
        )
    }

    fn walk(set: &PolicySet, walk: &Walk<'_>) -> Reads {
        let mut reads = Reads::default();
        for policy in set.policies() {
            match policy.to_json() {
                Ok(json) => {
                    let conditions = json.get("conditions").unwrap_or(&Value::Null);
                    visit(conditions, walk, &mut reads);
                }
                Err(_) => return Reads::everything(),
            }
            if reads.all {
                break;
            }
        }
        reads
    }

    /// The attributes read, sorted; `None` when the variable is used whole.
    pub fn names(&self) -> Option<Vec<&str>> {
        if self.all {
            return None;
        }
        let mut names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        names.sort_unstable();
        Some(names)
    }

    /// Whether the attribute `name` is read.
    pub fn wants(&self, name: &str) -> bool {
        self.all || self.names.contains(name)
    }
}

/// What a walk looks for: reads of `var`, and whether `var` is an entity
/// (then the literal types whose attributes count as `var`'s).
struct Walk<'a> {
    var: &'a str,
    entity: Option<&'a [&'a str]>,
}

fn is_var(v: &Value, var: &str) -> bool {
    v.get("Var").and_then(Value::as_str) == Some(var)
}

/// Whether `v` is an entity literal (`{"__entity": {"type": …}}`) of one of `types`.
fn is_literal_of(v: &Value, types: &[&str]) -> bool {
    v.get("__entity")
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| types.contains(&t.rsplit("::").next().unwrap_or(t)))
}

/// Whether the expression `v` mentions `var` or a literal of `types`
/// anywhere, so that it may evaluate to such an entity.
fn may_be(v: &Value, var: &str, types: &[&str]) -> bool {
    if is_var(v, var) || is_literal_of(v, types) {
        return true;
    }
    match v {
        Value::Object(map) => map.values().any(|i| may_be(i, var, types)),
        Value::Array(items) => items.iter().any(|i| may_be(i, var, types)),
        _ => false,
    }
}

fn visit(v: &Value, walk: &Walk<'_>, reads: &mut Reads) {
    let var = walk.var;
    match v {
        Value::Object(map) => {
            if is_var(v, var) {
                // A record used whole is read whole; an entity used whole is
                // compared by identity.
                reads.all |= walk.entity.is_none();
                return;
            }
            for (key, inner) in map {
                if key == "." || key == "has" {
                    // `has a.b` names a path: its first step is the attribute.
                    let attr = match inner.get("attr") {
                        Some(Value::Array(path)) => path.first().and_then(Value::as_str),
                        Some(a) => a.as_str(),
                        None => None,
                    };
                    if let (Some(left), Some(attr)) = (inner.get("left"), attr) {
                        if is_var(left, var) {
                            reads.names.insert(attr.to_owned());
                            continue;
                        }
                        // An attribute of something that may be the entity
                        // (`(if c then principal else …).tenant`,
                        // `Mcp::User::"alice".tenant`): any attribute.
                        if let Some(types) = walk.entity
                            && may_be(left, var, types)
                        {
                            reads.all = true;
                            return;
                        }
                    }
                }
                visit(inner, walk, reads);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| visit(i, walk, reads)),
        _ => {}
    }
}

/// The entities named anywhere in the policies of `set`, scopes and
/// conditions: each type (the last path segment: `Role` for `Mcp::Role`)
/// with the ids named. `None` when a policy has no JSON form or holds a
/// template slot, whose linked value could be any entity.
pub fn named_entities(set: &PolicySet) -> Option<HashMap<String, HashSet<String>>> {
    let mut named = HashMap::new();
    for policy in set.policies() {
        let json = policy.to_json().ok()?;
        if !collect_named(&json, &mut named) {
            return None;
        }
    }
    Some(named)
}

/// Adds every entity reference in `v` (`{"type": …, "id": …}`, in a scope or
/// inside `__entity`) to `out`; false at a slot.
fn collect_named(v: &Value, out: &mut HashMap<String, HashSet<String>>) -> bool {
    match v {
        Value::Object(map) => {
            if map.contains_key("slot") {
                return false;
            }
            if let (Some(Value::String(t)), Some(id)) = (map.get("type"), map.get("id")) {
                // An id that is not a string is no form Cedar writes: name
                // everything rather than guess.
                let Value::String(id) = id else {
                    return false;
                };
                out.entry(t.rsplit("::").next().unwrap_or(t).to_owned())
                    .or_default()
                    .insert(id.clone());
            }
            map.values().all(|i| collect_named(i, out))
        }
        Value::Array(items) => items.iter().all(|i| collect_named(i, out)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn reads(text: &str) -> Reads {
        Reads::of(&PolicySet::from_str(text).unwrap())
    }

    #[test]
    fn attribute_reads_are_named_and_other_uses_read_everything() {
        let r = reads(
            r#"permit (principal, action, resource)
                 when { context.arguments has path && context.arguments.path like "/srv/*" };
               forbid (principal, action, resource)
                 when { context has findings && context["session_labels"].contains("x") };"#,
        );
        for name in ["arguments", "findings", "session_labels"] {
            assert!(r.wants(name), "{name}");
        }
        for name in ["now", "client_ip", "url_hosts", "listing"] {
            assert!(!r.wants(name), "{name}");
        }
        let whole = reads(r#"permit (principal, action, resource) when { context == {} };"#);
        assert!(whole.wants("now") && whole.wants("anything"));
        let none = reads(r#"permit (principal, action, resource);"#);
        assert_eq!(none, Reads::default());
    }

    #[test]
    fn resource_reads_are_attributes_unless_the_resource_is_used_whole() {
        let set = |text: &str| PolicySet::from_str(text).unwrap();
        let r = Reads::of_var(
            &set(r#"permit (principal, action, resource == Mcp::Tool::"x")
                      when { resource.read_only && resource has labels };
                    forbid (principal, action, resource in Mcp::Upstream::"u")
                      unless { resource.tenants.contains(principal.tenant) };"#),
            "resource",
        );
        assert_eq!(r.names(), Some(vec!["labels", "read_only", "tenants"]));
        for whole in [
            r#"permit (principal, action, resource) when { resource == Mcp::Tool::"x" };"#,
            r#"permit (principal, action, resource) when { resource in Mcp::Upstream::"u" };"#,
            r#"permit (principal, action, resource) when { principal.tools.contains(resource) };"#,
        ] {
            assert_eq!(
                Reads::of_var(&set(whole), "resource").names(),
                None,
                "{whole}"
            );
        }
    }

    #[test]
    fn principal_reads_are_attributes_and_literals_of_its_types_read_everything() {
        let set = |text: &str| PolicySet::from_str(text).unwrap();
        let of = |text: &str| Reads::of_entity(&set(text), "principal", &["User", "Workload"]);
        let r = of(
            r#"permit (principal in Mcp::Role::"admin", action, resource)
                        when { principal in Mcp::Group::"eng" && principal has scopes
                               && resource.tenants.contains(principal.tenant)
                               && principal != Mcp::Workload::"w" };"#,
        );
        assert_eq!(r.names(), Some(vec!["scopes", "tenant"]));
        let identity =
            of(r#"permit (principal, action, resource) when { principal is Mcp::User };"#);
        assert_eq!(identity.names(), Some(vec![]));
        for literal in [
            r#"permit (principal, action, resource) when { Mcp::User::"alice".tenant == "acme" };"#,
            r#"permit (principal, action, resource) when { Mcp::Workload::"w" has scopes };"#,
            r#"permit (principal, action, resource) when { (if resource.read_only then principal else principal).roles.isEmpty() };"#,
        ] {
            assert_eq!(of(literal).names(), None, "{literal}");
        }
        let role = of(r#"permit (principal, action, resource)
                           when { principal in Mcp::Role::"r" && [Mcp::Workload::"w"].contains(principal)
                                  && Mcp::Role::"r".x == 1 };"#);
        assert_eq!(role.names(), Some(vec![]));
    }

    #[test]
    fn named_entities_are_read_from_scopes_and_conditions_and_a_slot_names_all() {
        let named = |text: &str| named_entities(&PolicySet::from_str(text).unwrap());
        let types = |text: &str| {
            named(text).map(|t| {
                let mut t: Vec<String> = t.into_keys().collect();
                t.sort();
                t
            })
        };
        assert_eq!(
            types(
                r#"permit (principal in Mcp::Role::"admin", action == Mcp::Action::"tools/call", resource)
                     when { principal in [Mcp::Group::"eng"] };
                   forbid (principal is Mcp::User in Mcp::Tenant::"t", action, resource)
                     unless { context.arguments == {type: "x", id: "y"} };"#
            ),
            Some(vec![
                "Action".to_owned(),
                "Group".to_owned(),
                "Role".to_owned(),
                "Tenant".to_owned()
            ])
        );
        let ids = named(
            r#"permit (principal in Mcp::Role::"admin", action, resource)
                 when { principal in [Mcp::Role::"ops", Mcp::Role::"sre"] };"#,
        )
        .unwrap();
        let mut roles: Vec<&String> = ids["Role"].iter().collect();
        roles.sort();
        assert_eq!(roles, ["admin", "ops", "sre"]);
        assert_eq!(
            types(r#"permit (principal, action, resource) when { principal.tenant == "acme" };"#),
            Some(vec![])
        );
        let mut set = PolicySet::from_str(r#"permit (principal, action, resource);"#).unwrap();
        let template = cedar_policy::Template::parse(
            Some(cedar_policy::PolicyId::new("t")),
            r#"permit (principal in ?principal, action, resource);"#,
        )
        .unwrap();
        set.add_template(template).unwrap();
        set.link(
            cedar_policy::PolicyId::new("t"),
            cedar_policy::PolicyId::new("linked"),
            std::collections::HashMap::from([(
                cedar_policy::SlotId::principal(),
                cedar_policy::EntityUid::from_str(r#"Mcp::Group::"eng""#).unwrap(),
            )]),
        )
        .unwrap();
        let linked = named_entities(&set);
        assert!(
            linked.is_none()
                || linked.is_some_and(|t| t.get("Group").is_some_and(|g| g.contains("eng"))),
            "a linked policy's parent must not be missed"
        );
    }

    #[test]
    fn nested_has_paths_name_their_first_attribute() {
        let r = reads(
            r#"permit (principal, action, resource) when { context has now.hour && context.now.hour < 18 };"#,
        );
        assert!(r.wants("now"));
        assert!(!r.wants("arguments"));
    }
}
