use crate::authn::Principal;
use crate::authn::principal::Authenticated;
use crate::authz::config::{RawAuthorization, RawPaths, RawUpstreamFacts};
use crate::authz::entities::{Hints, Object};
use crate::authz::{Effect, Engine, Query};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

const POLICIES: &str = r#"
permit (principal in Mcp::Role::"reader", action == Mcp::Action::"tools/call", resource)
  when { resource.read_only };
permit (principal in Mcp::Role::"admin", action == Mcp::Action::"tools/call", resource);
forbid (principal, action, resource) when { context.now.hour >= 22 };
"#;

fn engine() -> Arc<Engine> {
    engine_with(POLICIES)
}

fn engine_with(policies: &str) -> Arc<Engine> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.cedar"), policies).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/mcp.cedarschema");
    let raw = RawAuthorization {
        policies: RawPaths::Many(vec![schema, dir.path().join("p.cedar")]),
        schema: None,
        mode: None,
        unknown_tool: None,
        upstreams: HashMap::from([("up".to_owned(), RawUpstreamFacts::default())]),
        input_validation: Default::default(),
        approvals: Default::default(),
        flows: Default::default(),
    };
    crate::authz::compile(&raw, dir.path(), dir.path(), &mut Vec::new()).unwrap()
}

fn who(subject: &str, role: &str) -> Principal {
    Principal {
        subject: subject.into(),
        roles: vec![role.into()],
        authenticated: Authenticated::Token,
        ..Principal::anonymous()
    }
}

fn tool(name: &str, read_only: bool) -> Object<'_> {
    Object::Tool {
        name,
        upstream_name: name,
        hints: Hints {
            read_only,
            ..Hints::default()
        },
    }
}

fn query<'a>(p: &'a Principal, object: Object<'a>, hour: u64) -> Query<'a> {
    Query {
        principal: p,
        method: "tools/call",
        upstream: "up",
        object,
        arguments: None,
        client_ip: [127, 0, 0, 1].into(),
        now: 1_795_000_000 - 1_795_000_000 % 86_400 + hour * 3600,
        era: "modern",
        protocol_version: "2026-07-28",
        session_labels: &[],
        findings: &[],
    }
}

/// Remembered stores and list answers never carry one caller's, one
/// object's or one moment's decision over to another.
#[test]
fn remembered_stores_decide_exactly_as_fresh_ones() {
    let e = engine();
    let (reader, admin) = (who("r", "reader"), who("a", "admin"));
    let list = [tool("read", true), tool("drop", false)];
    for _ in 0..3 {
        for (p, hour, want) in [
            (&reader, 10, vec![true, false]),
            (&admin, 10, vec![true, true]),
            (&reader, 23, vec![false, false]),
            (&admin, 23, vec![false, false]),
        ] {
            let q = query(p, Object::Upstream, hour);
            assert_eq!(
                e.visible(&q, "tools/call", &list).unwrap(),
                want,
                "{p:?} at {hour}"
            );
            for (object, visible) in list.iter().zip(&want) {
                let d = e.decide(&query(p, object.clone(), hour)).unwrap();
                let allowed = d.effect == Effect::Allow;
                assert_eq!(allowed, *visible, "{p:?} {object:?} at {hour}");
            }
        }
    }
    // The same names with other hints are other objects.
    let relabelled = [tool("read", false), tool("drop", true)];
    let q = query(&reader, Object::Upstream, 10);
    assert_eq!(
        e.visible(&q, "tools/call", &relabelled).unwrap(),
        vec![false, true]
    );
}

/// A caller's entity holds the attributes the policies read and no other,
/// and decides on them exactly as the full entity would.
#[test]
fn callers_carry_only_the_attributes_policies_read() {
    let policies = r#"
permit (principal, action == Mcp::Action::"tools/call", resource)
  when { principal.scopes.contains("tools") && principal has tenant && principal.tenant == "acme" };
forbid (principal in Mcp::Role::"banned", action, resource);
"#;
    let set: cedar_policy::PolicySet = policies.parse().unwrap();
    let view = super::CallerView::of(&set);
    let stores = super::Stores::new(None, view, None).unwrap();
    let mut p = who("alice", "reader");
    p.tenant = Some("acme".into());
    p.scopes = vec!["tools".into()];
    p.groups = vec!["eng".into()];
    let store = stores.decision(&p, "up", &tool("t", true), None).unwrap();
    let caller = store.entities.get(&store.principal_uid).unwrap();
    assert!(caller.attr("scopes").is_some() && caller.attr("tenant").is_some());
    // Only roles are tested with `in`: groups and the tenant are not parents.
    let parent = |t: &str| {
        store
            .entities
            .is_ancestor_of(&t.parse().unwrap(), &store.principal_uid)
    };
    assert!(parent(r#"Mcp::Role::"reader""#));
    assert!(!parent(r#"Mcp::Group::"eng""#) && !parent(r#"Mcp::Tenant::"acme""#));
    for unread in [
        "subject",
        "issuer",
        "roles",
        "groups",
        "client_id",
        "actors",
    ] {
        assert!(caller.attr(unread).is_none(), "{unread}");
    }
    let e = engine_with(policies);
    let decide = |p: &Principal| e.decide(&query(p, tool("t", true), 10)).unwrap().effect;
    assert_eq!(decide(&p), Effect::Allow);
    let mut other = p.clone();
    other.tenant = Some("globex".into());
    assert_eq!(decide(&other), Effect::Deny);
    let mut unscoped = p.clone();
    unscoped.scopes.clear();
    assert_eq!(decide(&unscoped), Effect::Deny);
    let mut banned = p.clone();
    banned.roles.push("banned".into());
    assert_eq!(decide(&banned), Effect::Deny);
    // A literal whose attributes are read: the caller carries everything.
    let literal: cedar_policy::PolicySet =
        r#"permit (principal, action, resource) when { Mcp::User::"root".tenant == "" };"#
            .parse()
            .unwrap();
    let view = super::CallerView::of(&literal);
    let stores = super::Stores::new(None, view, None).unwrap();
    let store = stores.decision(&p, "up", &tool("t", true), None).unwrap();
    let caller = store.entities.get(&store.principal_uid).unwrap();
    assert!(caller.attr("subject").is_some() && caller.attr("actors").is_some());
    assert!(!store.entities.is_ancestor_of(
        &r#"Mcp::Role::"reader""#.parse().unwrap(),
        &store.principal_uid
    ));
}

/// Groups and the tenant stay parents when a policy names their kind, and
/// membership decides through them as through roles.
#[test]
fn parents_of_a_kind_policies_name_decide_membership() {
    let e = engine_with(
        r#"
permit (principal in Mcp::Group::"eng", action == Mcp::Action::"tools/call", resource);
forbid (principal in Mcp::Tenant::"globex", action, resource);
"#,
    );
    let decide = |p: &Principal| e.decide(&query(p, tool("t", true), 10)).unwrap().effect;
    let mut p = who("alice", "reader");
    assert_eq!(decide(&p), Effect::Deny);
    p.groups = vec!["eng".into()];
    assert_eq!(decide(&p), Effect::Allow);
    p.tenant = Some("acme".into());
    assert_eq!(decide(&p), Effect::Allow);
    p.tenant = Some("globex".into());
    assert_eq!(decide(&p), Effect::Deny);
}

/// Listed objects decided once per class decide exactly as each one alone,
/// whatever the policies do with `resource`: through attributes only
/// (classes used), whole in a condition (classes off), named by a scope
/// (its own slice), or only named by scopes (no general slice at all).
#[test]
fn list_classes_decide_exactly_as_each_object_alone() {
    let call = r#"action == Mcp::Action::"tools/call""#;
    // The policies, and whether the list's store leaves objects out (one
    // per class is enough).
    for (policies, partial) in [
        (
            format!("permit (principal, {call}, resource) when {{ resource.read_only }};"),
            true,
        ),
        (
            format!(
                "permit (principal, {call}, resource) when {{ resource.read_only }};\n\
                 forbid (principal, {call}, resource == Mcp::Tool::\"b\");\n\
                 permit (principal, {call}, resource == Mcp::Tool::\"c\");"
            ),
            true,
        ),
        (
            format!(
                "permit (principal, {call}, resource) when {{ resource == Mcp::Tool::\"a\" || resource.name == \"c\" }};"
            ),
            false,
        ),
        (
            format!("permit (principal, {call}, resource) when {{ resource.name like \"*d\" }};"),
            false,
        ),
        (
            format!(
                "permit (principal, {call}, resource == Mcp::Tool::\"a\");\n\
                 permit (principal, {call}, resource == Mcp::Tool::\"d\");"
            ),
            true,
        ),
    ] {
        let e = engine_with(&policies);
        let p = who("r", "reader");
        let list = [
            tool("a", true),
            tool("b", true),
            tool("c", false),
            tool("d", false),
            tool("e", true),
        ];
        let listed = e
            .visible(&query(&p, Object::Upstream, 10), "tools/call", &list)
            .unwrap();
        let alone: Vec<bool> = list
            .iter()
            .map(|o| e.decide(&query(&p, o.clone(), 10)).unwrap().effect == Effect::Allow)
            .collect();
        assert_eq!(listed, alone, "{policies}");
        assert_eq!(e.list_store(&p, "up", &list).partial, partial, "{policies}");
    }
}

/// A policy's id reaches the decision as written in its `@id`, so the
/// policy's facts are found: an approval rule whose id has a quote or a
/// backslash still asks for approval (Cedar's `Display` escapes such ids,
/// and a lookup by the escaped text found nothing and allowed the call).
#[test]
fn ids_with_quotes_keep_their_approval() {
    let e = engine_with(
        r#"@id("transfers \"over\" 10k \\ finance")
@approval("two people sign transfers")
permit (principal in Mcp::Role::"admin", action == Mcp::Action::"tools/call", resource);
"#,
    );
    let p = who("a", "admin");
    let d = e.decide(&query(&p, tool("pay", false), 10)).unwrap();
    assert_eq!(
        d.effect,
        Effect::Approval("two people sign transfers".into())
    );
    assert_eq!(
        d.policies,
        vec![r#"transfers "over" 10k \ finance"#.to_owned()]
    );
    assert!(e.policy(&d.policies[0]).is_some());
}
