//! Authorization through the running gateway: Cedar decisions per tenant and
//! role, list filtering, denied calls that read like unknown tools (checked
//! against the real Python SDK and rmcp answers), argument rules at their
//! boundaries, input validation, flow rules across real sessions, and reload.

use crate::support::auth::{self, Keys};
use crate::support::gateway::{audit_events, default_yaml};
use crate::support::http::{Reply, Req, initialize, modern_body};
use crate::support::{Gateway, Peer};
use portcullis::demo::server::DemoServer;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

pub fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/mcp.cedarschema")
}

/// Policies in a folder of their own, and the `authorization:` section for them.
pub struct Policies {
    pub dir: tempfile::TempDir,
}

impl Policies {
    pub fn new(text: &str) -> Policies {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.cedar"), text).unwrap();
        Policies { dir }
    }

    pub fn file(&self) -> PathBuf {
        self.dir.path().join("p.cedar")
    }

    /// `authorization:` with these policies; `extra` lines are two-space indented.
    pub fn section(&self, extra: &str) -> String {
        format!(
            "authorization:\n  policies: [{}, {}]\n{extra}",
            schema().display(),
            self.file().display()
        )
    }
}

/// Connect and lists for everyone; used by most tests.
pub const BASE: &str = "permit (principal, action in [Mcp::Action::\"connect\", Mcp::Action::\"tools/list\"], resource);\n";

/// A gateway trusting `keys` in front of `upstream` with `authorization`.
pub async fn gateway_with(upstream: &str, keys: Option<&Keys>, authorization: &str) -> Gateway {
    let mut yaml = default_yaml(upstream);
    if let Some(keys) = keys {
        yaml = yaml.replace("authentication:\n  mode: none\n", &auth::section(keys, ""));
    }
    Gateway::start_yaml(&format!("{yaml}{authorization}")).await
}

pub async fn demo_upstream() -> DemoServer {
    portcullis::demo::server::start("127.0.0.1:0")
        .await
        .unwrap()
}

pub fn demo_url(d: &DemoServer) -> String {
    format!("http://{}/mcp", d.addr())
}

/// A token for `sub` with `roles` in tenant `tenant`.
pub async fn token(keys: &Keys, sub: &str, tenant: &str, roles: &[&str]) -> String {
    let claims = auth::claims_with(json!({"sub": sub, "tid": tenant, "roles": roles}));
    keys.token(json!({"alg": "EdDSA", "claims": claims})).await
}

/// A modern `tools/list`: the names listed.
pub async fn list(gw: &Gateway, token: Option<&str>) -> Vec<String> {
    let reply = send(gw, token, "tools/list", None, json!({})).await;
    let m = reply.message();
    m["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {m}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// A modern `tools/call`.
pub async fn call(gw: &Gateway, token: Option<&str>, tool: &str, args: Value) -> Reply {
    send(
        gw,
        token,
        "tools/call",
        Some(tool),
        json!({"name": tool, "arguments": args}),
    )
    .await
}

async fn send(
    gw: &Gateway,
    token: Option<&str>,
    method: &str,
    name: Option<&str>,
    params: Value,
) -> Reply {
    let mut req = Req::post(&gw.url())
        .modern(method, name)
        .body(modern_body(7, method, params));
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    req.send().await
}

fn text_of(reply: &Reply) -> String {
    let m = reply.message();
    m["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no result text in {m}"))
        .to_owned()
}

#[tokio::test]
async fn tools_list_hides_denied_tools_and_calls_to_them_read_as_unknown() {
    let demo = demo_upstream().await;
    let policies = Policies::new(&format!(
        "{BASE}permit (principal, action == Mcp::Action::\"tools/call\", resource) when {{ resource.read_only }};\n\
         forbid (principal, action == Mcp::Action::\"tools/call\", resource) when {{ resource.destructive && !resource.read_only }};\n"
    ));
    let gw = gateway_with(&demo_url(&demo), None, &policies.section("")).await;
    assert_eq!(list(&gw, None).await, ["echo", "add", "fetch_page"]);
    let allowed = call(&gw, None, "echo", json!({"text": "hi"})).await;
    assert_eq!(text_of(&allowed), "hi");
    let denied = call(&gw, None, "delete_records", json!({"table": "users"})).await;
    let unknown = call(&gw, None, "no_such_tool", json!({})).await;
    assert_eq!(denied.status, 200);
    let (d, u) = (denied.message(), unknown.message());
    assert_eq!(d["error"]["code"], u["error"]["code"], "{d} vs {u}");
    assert_eq!(d["error"]["message"], "Unknown tool: delete_records");
    assert_eq!(u["error"]["message"], "Unknown tool: no_such_tool");

    // The audit trail tells the security team what the client was not told:
    // denied by policy, which policy, under which policy set version.
    let folder = gw.stop().await;
    let events = audit_events(&folder.path().join("audit"));
    let call_of = |tool: &str| {
        events
            .iter()
            .find(|e| e["api"]["operation"] == "tools/call" && e["resources"][0]["name"] == tool)
            .unwrap_or_else(|| panic!("no audit event for {tool}"))
            .clone()
    };
    let (echo, delete) = (call_of("echo"), call_of("delete_records"));
    let decision = |e: &Value| e["unmapped"]["portcullis"]["decision"].clone();
    assert_eq!(decision(&echo)["verdict"], "allowed", "{echo}");
    assert_eq!(decision(&delete)["verdict"], "denied", "{delete}");
    let version = decision(&delete)["policy_version"].clone();
    assert!(version.as_str().is_some_and(|v| v.len() >= 16), "{delete}");
    assert_eq!(decision(&echo)["policy_version"], version);
    for e in [&echo, &delete] {
        assert!(
            decision(e)["policies"]
                .as_array()
                .is_some_and(|p| !p.is_empty()),
            "the deciding policies are named: {e}"
        );
    }
    let authorization = &delete["actor"]["authorizations"][0];
    assert_eq!(authorization["decision"], "denied", "{delete}");
    assert_eq!(
        authorization["policy"]["uid"],
        decision(&delete)["policies"][0]
    );
}

#[tokio::test]
async fn a_denied_call_reads_like_the_python_sdks_answer_for_an_unknown_tool() {
    let fixture = Peer::python_fixture().await;
    let policies = Policies::new(&format!(
        "{BASE}permit (principal, action, resource);\n\
         forbid (principal, action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"test_simple_text\");\n"
    ));
    let gw = gateway_with(
        &fixture.url,
        None,
        &policies.section("  unknown_tool: python-sdk\n"),
    )
    .await;
    let names = list(&gw, None).await;
    assert!(
        !names.contains(&"test_simple_text".to_owned())
            && names.contains(&"test_image_content".to_owned())
    );
    let denied = call(&gw, None, "test_simple_text", json!({}))
        .await
        .message();
    // Sent straight to the upstream, a tool that does not exist.
    let direct = Req::post(&fixture.url)
        .modern("tools/call", Some("test_simple_texx"))
        .body(modern_body(
            7,
            "tools/call",
            json!({"name": "test_simple_texx", "arguments": {}}),
        ))
        .send()
        .await
        .message();
    let strip = |mut v: Value| {
        let text = v["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or("")
            .replace("texx", "text");
        v["result"]["content"][0]["text"] = json!(text);
        v
    };
    assert_eq!(denied, strip(direct));
}

#[tokio::test]
async fn a_denied_call_reads_like_rmcps_answer_for_an_unknown_tool() {
    let (url, task) = crate::clients::rmcp_server().await;
    let policies = Policies::new(&format!(
        "{BASE}permit (principal, action, resource);\n\
         forbid (principal, action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"sum\");\n"
    ));
    let gw = gateway_with(&url, None, &policies.section("  unknown_tool: rmcp\n")).await;
    let legacy_call = |base: String, session: Option<String>, tool: &'static str| async move {
        let mut req = Req::post(&base)
            .mcp()
            .header("mcp-protocol-version", "2025-06-18")
            .body(json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":tool,"arguments":{"a":1,"b":2}}}));
        if let Some(s) = session {
            req = req.header("mcp-session-id", &s);
        }
        req.send().await.message()
    };
    let (direct_session, _) = initialize(&url, "2025-06-18").await;
    let direct = legacy_call(url.clone(), direct_session, "nope").await;
    let (session, _) = initialize(&gw.url(), "2025-06-18").await;
    let mut list = Req::post(&gw.url())
        .mcp()
        .header("mcp-protocol-version", "2025-06-18")
        .body(json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}));
    if let Some(s) = &session {
        list = list.header("mcp-session-id", s);
    }
    let listed = list.send().await.message();
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["echo"]);
    let denied = legacy_call(gw.url(), session, "sum").await;
    assert_eq!(denied["error"], direct["error"], "{denied} vs {direct}");
    task.abort();
}

#[tokio::test]
async fn roles_and_tenants_decide_who_calls_what() {
    let demo = demo_upstream().await;
    let keys = Keys::generate().await;
    let policies = Policies::new(
        "forbid (principal, action, resource) unless { resource.tenants.contains(principal.tenant) };\n\
         permit (principal, action in [Mcp::Action::\"connect\", Mcp::Action::\"tools/list\"], resource);\n\
         permit (principal in Mcp::Role::\"reader\", action == Mcp::Action::\"tools/call\", resource) when { resource.read_only };\n\
         permit (principal in Mcp::Role::\"admin\", action == Mcp::Action::\"tools/call\", resource);\n",
    );
    let section = policies.section("  upstreams:\n    default: { tenants: [acme] }\n");
    let gw = gateway_with(&demo_url(&demo), Some(&keys), &section).await;
    let reader = token(&keys, "alice", "acme", &["reader"]).await;
    let admin = token(&keys, "carol", "acme", &["admin"]).await;
    let outsider = token(&keys, "eve", "globex", &["admin"]).await;
    assert_eq!(
        list(&gw, Some(&reader)).await,
        ["echo", "add", "fetch_page"]
    );
    assert_eq!(
        list(&gw, Some(&admin)).await,
        ["echo", "add", "fetch_page", "delete_records"]
    );
    assert!(
        call(&gw, Some(&reader), "delete_records", json!({"table": "t"}))
            .await
            .message()["error"]
            .is_object()
    );
    assert_eq!(
        text_of(&call(&gw, Some(&admin), "delete_records", json!({"table": "t"})).await),
        "Deleted 1,204 records from table t."
    );
    // Another tenant's admin reaches nothing: not even the list.
    let refused = send(&gw, Some(&outsider), "tools/list", None, json!({})).await;
    assert_eq!(refused.message()["error"]["code"], -32601, "{refused:?}");
    let refused = call(&gw, Some(&outsider), "echo", json!({"text": "x"})).await;
    assert_eq!(refused.message()["error"]["message"], "Unknown tool: echo");
}

#[tokio::test]
async fn argument_rules_hold_at_their_boundaries() {
    let demo = demo_upstream().await;
    let policies = Policies::new(&format!(
        "{BASE}permit (principal, action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"echo\")\n\
           when {{ context.arguments has text && context.arguments.text like \"/srv/shared/*\" && !(context.arguments.text like \"*..*\") }};\n\
         permit (principal, action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"fetch_page\")\n\
           when {{ [\"docs.example.com\"].containsAll(context.url_hosts) }};\n"
    ));
    let gw = gateway_with(&demo_url(&demo), None, &policies.section("")).await;
    list(&gw, None).await;
    let ok = |r: &Reply| r.message()["result"].is_object();
    assert!(ok(&call(
        &gw,
        None,
        "echo",
        json!({"text": "/srv/shared/a"})
    )
    .await));
    assert!(!ok(&call(
        &gw,
        None,
        "echo",
        json!({"text": "/srv/shared"})
    )
    .await));
    assert!(!ok(&call(
        &gw,
        None,
        "echo",
        json!({"text": "/srv/shared/../etc"})
    )
    .await));
    assert!(!ok(&call(
        &gw,
        None,
        "echo",
        json!({"text": "/srv/sharedx/a"})
    )
    .await));
    assert!(ok(&call(
        &gw,
        None,
        "fetch_page",
        json!({"url": "https://docs.example.com/x"})
    )
    .await));
    assert!(!ok(&call(
        &gw,
        None,
        "fetch_page",
        json!({"url": "https://docs.example.com.evil.example/x"})
    )
    .await));
    assert!(!ok(&call(
        &gw,
        None,
        "fetch_page",
        json!({"url": "https://docs.example.com@evil.example/x"})
    )
    .await));
    // A declared argument of the wrong type is refused as invalid params.
    let wrong = call(&gw, None, "echo", json!({"text": 5})).await.message();
    assert_eq!(wrong["error"]["code"], -32602, "{wrong}");
    assert!(
        wrong["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`text`"),
        "{wrong}"
    );
}

#[tokio::test]
async fn arguments_that_fail_the_tools_schema_never_reach_the_upstream() {
    let demo = demo_upstream().await;
    let policies = Policies::new(&format!(
        "{BASE}permit (principal, action == Mcp::Action::\"tools/call\", resource);\n"
    ));
    let strict = "  upstreams:\n    default:\n      tools:\n        echo:\n          input_schema: { type: object, properties: { text: { maxLength: 5 } } }\n";
    let gw = gateway_with(&demo_url(&demo), None, &policies.section(strict)).await;
    // Never listed: refused as unknown (fail closed).
    let unlisted = call(&gw, None, "add", json!({"a": 1, "b": 2}))
        .await
        .message();
    assert_eq!(unlisted["error"]["message"], "Unknown tool: add");
    list(&gw, None).await;
    assert_eq!(
        text_of(&call(&gw, None, "add", json!({"a": 1, "b": 2})).await),
        "3"
    );
    let bad = call(&gw, None, "add", json!({"a": "one", "b": 2}))
        .await
        .message();
    assert_eq!(bad["error"]["code"], -32602);
    assert!(
        bad["error"]["message"].as_str().unwrap().contains("/a"),
        "{bad}"
    );
    assert!(
        !bad["error"]["message"].as_str().unwrap().contains("one"),
        "values are not echoed: {bad}"
    );
    let missing = call(&gw, None, "add", json!({"a": 1})).await.message();
    assert_eq!(missing["error"]["code"], -32602);
    assert_eq!(
        text_of(&call(&gw, None, "echo", json!({"text": "12345"})).await),
        "12345"
    );
    let long = call(&gw, None, "echo", json!({"text": "123456"}))
        .await
        .message();
    assert_eq!(
        long["error"]["code"], -32602,
        "the stricter configured schema applies: {long}"
    );
}

#[tokio::test]
async fn a_flow_rule_blocks_exfiltration_after_a_fetch_in_the_same_session_only() {
    let fixture = Peer::python_fixture().await;
    let policies = Policies::new(&format!(
        "{BASE}permit (principal, action == Mcp::Action::\"tools/call\", resource);\n\
         forbid (principal, action == Mcp::Action::\"tools/call\", resource)\n\
           when {{ context.session_labels.contains(\"untrusted_content\") && resource.labels.contains(\"exfiltration\") }};\n"
    ));
    let facts = "  unknown_tool: python-sdk\n  upstreams:\n    default:\n      tools:\n        test_simple_text: { labels: [untrusted_content] }\n        test_image_content: { labels: [exfiltration] }\n";
    let gw = gateway_with(&fixture.url, None, &policies.section(facts)).await;
    let legacy = |session: Option<String>, id: u64, method: &str, params: Value| {
        let mut req = Req::post(&gw.url())
            .mcp()
            .header("mcp-protocol-version", "2025-11-25")
            .body(json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}));
        if let Some(s) = session {
            req = req.header("mcp-session-id", &s);
        }
        async move { req.send().await.message() }
    };
    let (one, _) = initialize(&gw.url(), "2025-11-25").await;
    let (two, _) = initialize(&gw.url(), "2025-11-25").await;
    assert!(one.is_some() && one != two, "the fixture issues sessions");
    legacy(one.clone(), 1, "tools/list", json!({})).await;
    let image = |s: Option<String>, id| {
        legacy(
            s,
            id,
            "tools/call",
            json!({"name": "test_image_content", "arguments": {}}),
        )
    };
    let before = image(one.clone(), 2).await;
    assert_eq!(
        before["result"]["content"][0]["type"], "image",
        "before the fetch it works: {before}"
    );
    let fetched = legacy(
        one.clone(),
        3,
        "tools/call",
        json!({"name": "test_simple_text", "arguments": {}}),
    )
    .await;
    assert!(fetched["result"]["content"].is_array(), "{fetched}");
    let blocked = image(one.clone(), 4).await;
    assert_eq!(
        blocked["result"]["content"][0]["text"], "Unknown tool: test_image_content",
        "{blocked}"
    );
    assert_eq!(blocked["result"]["isError"], true);
    let listed = legacy(one, 5, "tools/list", json!({})).await;
    assert!(
        !listed.to_string().contains("test_image_content"),
        "hidden from this session's list too"
    );
    let other = image(two, 6).await;
    assert_eq!(
        other["result"]["content"][0]["type"], "image",
        "another session is unaffected: {other}"
    );
}

#[tokio::test]
async fn a_broken_policy_file_on_reload_keeps_enforcing_the_previous_set() {
    let demo = demo_upstream().await;
    let policies = Policies::new(&format!(
        "{BASE}permit (principal, action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"echo\");\n"
    ));
    let yaml = format!("{}{}", default_yaml(&demo_url(&demo)), policies.section(""))
        .replace("poll_interval: 0s", "poll_interval: 100ms");
    let gw = Gateway::start_yaml(&yaml).await;
    assert_eq!(list(&gw, None).await, ["echo"]);
    std::fs::write(
        policies.file(),
        "permit (principal, action, resource) when { resource.colour == \"red\" };",
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(
        list(&gw, None).await,
        ["echo"],
        "the broken set is not installed"
    );
    assert!(
        call(&gw, None, "add", json!({"a": 1, "b": 1}))
            .await
            .message()["error"]
            .is_object()
    );
    std::fs::write(
        policies.file(),
        format!("{BASE}permit (principal, action == Mcp::Action::\"tools/call\", resource);"),
    )
    .unwrap();
    let mut names = Vec::new();
    for _ in 0..30 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        names = list(&gw, None).await;
        if names.len() == 4 {
            break;
        }
    }
    assert_eq!(
        names,
        ["echo", "add", "fetch_page", "delete_records"],
        "a valid set is installed"
    );
}

#[tokio::test]
async fn shadow_mode_forwards_what_it_would_deny() {
    let demo = demo_upstream().await;
    let policies = Policies::new(BASE);
    let gw = gateway_with(
        &demo_url(&demo),
        None,
        &policies.section("  mode: shadow\n"),
    )
    .await;
    assert_eq!(list(&gw, None).await.len(), 4);
    assert_eq!(
        text_of(&call(&gw, None, "echo", json!({"text": "x"})).await),
        "x"
    );
}

#[test]
fn policy_errors_in_the_configuration_name_the_policy_file_line_and_column() {
    let policies = Policies::new(
        "permit (principal, action, resource)\n  when { resource.colour == \"red\" };\n",
    );
    let yaml = format!(
        "{}{}audit:\n  disabled: true\n",
        default_yaml("http://127.0.0.1:9/mcp"),
        policies.section("")
    );
    let file = policies.dir.path().join("gw.yaml");
    std::fs::write(&file, yaml).unwrap();
    let err = portcullis::config::load(&file).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}:2:10:", policies.file().display())),
        "{err}"
    );
}

#[tokio::test]
async fn in_a_federation_policies_see_the_upstream_and_its_own_tool_names() {
    let (one, two) = (demo_upstream().await, demo_upstream().await);
    let policies = Policies::new(&format!(
        "{BASE}permit (principal, action == Mcp::Action::\"tools/call\", resource) \
         when {{ resource.upstream == \"a\" && resource.upstream_name == \"echo\" && resource.name == \"a__echo\" }};\n"
    ));
    let yaml = format!(
        "listen:\n  address: 127.0.0.1:0\nreload:\n  poll_interval: 0s\nauthentication:\n  mode: none\n\
         upstreams:\n  a:\n    url: {}\n  b:\n    url: {}\n{}",
        demo_url(&one),
        demo_url(&two),
        policies.section("")
    );
    let gw = Gateway::start_yaml(&yaml).await;
    assert_eq!(list(&gw, None).await, ["a__echo"]);
    assert_eq!(
        text_of(&call(&gw, None, "a__echo", json!({"text": "hi"})).await),
        "hi"
    );
    for hidden in ["b__echo", "a__add"] {
        let denied = call(&gw, None, hidden, json!({"text": "hi"})).await;
        assert_eq!(
            denied.message()["error"]["message"],
            format!("Unknown tool: {hidden}"),
            "{denied:?}"
        );
    }
}
