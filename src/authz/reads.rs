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
use std::collections::HashSet;

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
        let mut reads = Reads::default();
        for policy in set.policies() {
            match policy.to_json() {
                Ok(json) => {
                    let conditions = json.get("conditions").unwrap_or(&Value::Null);
                    visit(conditions, var, &mut reads);
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

fn is_var(v: &Value, var: &str) -> bool {
    v.get("Var").and_then(Value::as_str) == Some(var)
}

fn visit(v: &Value, var: &str, reads: &mut Reads) {
    match v {
        Value::Object(map) => {
            if is_var(v, var) {
                reads.all = true;
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
                    if let (Some(left), Some(attr)) = (inner.get("left"), attr)
                        && is_var(left, var)
                    {
                        reads.names.insert(attr.to_owned());
                        continue;
                    }
                }
                visit(inner, var, reads);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| visit(i, var, reads)),
        _ => {}
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
    fn nested_has_paths_name_their_first_attribute() {
        let r = reads(
            r#"permit (principal, action, resource) when { context has now.hour && context.now.hour < 18 };"#,
        );
        assert!(r.wants("now"));
        assert!(!r.wants("arguments"));
    }
}
