//! Which context attributes a policy set reads.
//!
//! Why: Cedar evaluates every attribute of the context record when a request
//! is built, and with a dozen attributes that was half of a decision. An
//! attribute no policy reads cannot change a decision, so the engine builds
//! only the ones that are read. The analysis walks each policy's JSON form and
//! is conservative: `context.x`, `context["x"]` and `context has x` name `x`;
//! any other use of `context` (compared whole, passed to a function) counts as
//! reading everything.

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

    /// What the policies of `set` (templates' links included) read.
    pub fn of(set: &PolicySet) -> Reads {
        let mut reads = Reads::default();
        for policy in set.policies() {
            match policy.to_json() {
                Ok(json) => visit(&json, &mut reads),
                Err(_) => return Reads::everything(),
            }
            if reads.all {
                break;
            }
        }
        reads
    }

    /// Whether the attribute `name` is read.
    pub fn wants(&self, name: &str) -> bool {
        self.all || self.names.contains(name)
    }
}

fn is_context(v: &Value) -> bool {
    v.get("Var").and_then(Value::as_str) == Some("context")
}

fn visit(v: &Value, reads: &mut Reads) {
    match v {
        Value::Object(map) => {
            if is_context(v) {
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
                        && is_context(left)
                    {
                        reads.names.insert(attr.to_owned());
                        continue;
                    }
                }
                visit(inner, reads);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| visit(i, reads)),
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
    fn nested_has_paths_name_their_first_attribute() {
        let r = reads(
            r#"permit (principal, action, resource) when { context has now.hour && context.now.hour < 18 };"#,
        );
        assert!(r.wants("now"));
        assert!(!r.wants("arguments"));
    }
}
