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
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/mcp.cedarschema");
    engine_with_schema(policies, &std::fs::read_to_string(schema).unwrap())
}

fn engine_with_schema(policies: &str, schema_text: &str) -> Arc<Engine> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.cedar"), policies).unwrap();
    let schema = dir.path().join("mcp.cedarschema");
    std::fs::write(&schema, schema_text).unwrap();
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
    p.roles.push("banned".into());
    let store = stores.decision(&p, "up", &tool("t", true), None).unwrap();
    let caller = store.entities.get(&store.principal_uid).unwrap();
    assert!(caller.attr("scopes").is_some() && caller.attr("tenant").is_some());
    // Only the role a policy names is a parent: no policy tests `reader`,
    // and groups and the tenant are never tested with `in`.
    let parent = |t: &str| {
        store
            .entities
            .is_ancestor_of(&t.parse().unwrap(), &store.principal_uid)
    };
    assert!(parent(r#"Mcp::Role::"banned""#));
    assert!(!parent(r#"Mcp::Role::"reader""#));
    assert!(!parent(r#"Mcp::Group::"eng""#) && !parent(r#"Mcp::Tenant::"acme""#));
    p.roles.pop();
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

/// Callers whose entities differ only in who they are share one store and
/// are decided alike; any fact a policy sees (type, a read attribute, a
/// parent) makes another store; and once a policy names a user or a
/// workload, every caller has its own store again.
#[test]
fn callers_of_one_shape_share_a_store_unless_a_policy_names_one() {
    let policies = r#"
permit (principal in Mcp::Role::"reader", action == Mcp::Action::"tools/call", resource)
  when { principal.tenant == "acme" };
"#;
    let set: cedar_policy::PolicySet = policies.parse().unwrap();
    let stores = super::Stores::new(None, super::CallerView::of(&set), None).unwrap();
    let mut alice = who("alice", "reader");
    alice.tenant = Some("acme".into());
    // Scopes and groups are neither read nor parents here.
    let mut bob = alice.clone();
    bob.subject = "bob".into();
    bob.scopes = vec!["mcp:tools".into()];
    bob.groups = vec!["eng".into()];
    let mut globex = alice.clone();
    globex.tenant = Some("globex".into());
    let mut writer = alice.clone();
    writer.roles = vec!["writer".into()];
    let mut workload = alice.clone();
    workload.authenticated = Authenticated::Certificate;
    // A role no policy names is no parent, and `roles` is not read.
    let mut auditor = bob.clone();
    auditor.roles.push("auditor".into());
    let store = |p: &Principal| stores.decision(p, "up", &tool("t", true), None).unwrap();
    let first = store(&alice);
    assert!(Arc::ptr_eq(&first, &store(&bob)));
    assert!(Arc::ptr_eq(&first, &store(&auditor)));
    for other in [&globex, &writer, &workload] {
        assert!(!Arc::ptr_eq(&first, &store(other)), "{other:?}");
    }
    let list = |p: &Principal| {
        stores
            .list(p, "up", &[tool("t", true), tool("u", false)], None)
            .unwrap()
    };
    assert!(Arc::ptr_eq(&list(&alice), &list(&bob)));
    assert!(!Arc::ptr_eq(&list(&alice), &list(&writer)));

    let e = engine_with(policies);
    let decide = |e: &Engine, p: &Principal| e.decide(&query(p, tool("t", true), 10)).unwrap();
    let visible = |e: &Engine, p: &Principal| {
        e.visible(
            &query(p, Object::Upstream, 10),
            "tools/call",
            &[tool("t", true)],
        )
        .unwrap()
    };
    for (p, want) in [
        (&alice, true),
        (&bob, true),
        (&auditor, true),
        (&globex, false),
        (&writer, false),
        (&workload, true),
    ] {
        assert_eq!(decide(&e, p).effect == Effect::Allow, want, "{p:?}");
        assert_eq!(visible(&e, p), vec![want], "{p:?}");
    }

    // Parents named only inside a condition's set are kept.
    let e = engine_with(&format!(
        r#"{policies}forbid (principal, action, resource)
             when {{ principal in [Mcp::Role::"suspended", Mcp::Role::"revoked"]
                     || principal in Mcp::Group::"contractors" }};"#
    ));
    assert_eq!(decide(&e, &alice).effect, Effect::Allow);
    let mut suspended = alice.clone();
    suspended.roles.push("suspended".into());
    let mut contractor = alice.clone();
    contractor.groups.push("contractors".into());
    for p in [&suspended, &contractor] {
        assert_eq!(decide(&e, p).effect, Effect::Deny, "{p:?}");
        assert_eq!(visible(&e, p), vec![false], "{p:?}");
    }

    // Bob is named, in a scope or in a condition: asked right after Alice,
    // whose store would fit him otherwise, he is denied and sees nothing.
    for named in [
        r#"forbid (principal == Mcp::User::"bob", action, resource);"#,
        r#"forbid (principal is Mcp::User, action, resource) when { [Mcp::User::"bob"].contains(principal) };"#,
    ] {
        let e = engine_with(&format!("{policies}{named}"));
        assert_eq!(decide(&e, &alice).effect, Effect::Allow, "{named}");
        assert_eq!(visible(&e, &alice), vec![true], "{named}");
        assert_eq!(decide(&e, &bob).effect, Effect::Deny, "{named}");
        assert_eq!(visible(&e, &bob), vec![false], "{named}");
        let set: cedar_policy::PolicySet = format!("{policies}{named}").parse().unwrap();
        let stores = super::Stores::new(None, super::CallerView::of(&set), None).unwrap();
        let store = |p: &Principal| stores.decision(p, "up", &tool("t", true), None).unwrap();
        assert!(!Arc::ptr_eq(&store(&alice), &store(&bob)), "{named}");
    }
}

/// An edited schema may declare a principal attribute the gateway never
/// sets; a policy reading it errors. Callers of one shape share a store
/// whose principal is the first of them, yet each decision's errors name
/// its own caller.
#[test]
fn errors_name_the_caller_not_the_first_of_its_shape() {
    let schema = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/mcp.cedarschema"),
    )
    .unwrap();
    let edited = schema.replacen(
        "entity User in [Role, Group, Tenant] = {",
        "entity User in [Role, Group, Tenant] = {\n    department: String,",
        1,
    );
    assert_ne!(edited, schema);
    let e = engine_with_schema(
        r#"permit (principal is Mcp::User, action, resource) when { principal.department == "ops" };
permit (principal in Mcp::Role::"reader", action, resource);"#,
        &edited,
    );
    for name in ["alice", "bob", "carol"] {
        let d = e
            .decide(&query(&who(name, "reader"), tool("t", true), 10))
            .unwrap();
        assert_eq!(d.effect, Effect::Allow, "{name}");
        assert_eq!(d.errors.len(), 1, "{name}: {:?}", d.errors);
        assert!(d.errors[0].contains(name), "{name}: {:?}", d.errors);
    }
}
