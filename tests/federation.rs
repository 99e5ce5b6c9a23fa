//! Several upstreams behind one endpoint (a Python SDK server over Streamable
//! HTTP, `server-everything` over stdio), seen by the real Python SDK client;
//! sealed session ids served by any replica holding the key, refused (404) when
//! tampered with or sealed under a key the replica does not hold.

use crate::support::http::{Req, initialize};
use crate::support::peers::{node, node_module, python, run, script};
use crate::support::{Gateway, Peer};
use http::StatusCode;
use serde_json::{Value, json};

const KEY_1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const KEY_2: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f";

fn head() -> &'static str {
    "listen:\n  address: 127.0.0.1:0\nreload:\n  poll_interval: 0s\nlogging:\n  format: text\nauthentication:\n  mode: none\nlimits:\n  shutdown_grace: 2s\n"
}

fn keys(keys: &[(&str, &str)]) -> String {
    let mut out = String::from("sessions:\n  keys:\n");
    for (id, secret) in keys {
        out.push_str(&format!(
            "    - id: {id}\n      secret: {{ value: \"{secret}\", allow_inline: true }}\n"
        ));
    }
    out
}

fn single(upstream: &str, keys_yaml: &str) -> String {
    format!(
        "{}upstream:\n  url: {upstream}\n  response_timeout: 20s\n{keys_yaml}",
        head()
    )
}

/// The fixture over HTTP as `fx`, server-everything over stdio as `ev`, and
/// optionally an upstream whose program does not exist as `gone`.
fn federated(fixture: &str, with_gone: bool) -> String {
    federated_with(fixture, with_gone, "", "")
}

/// As [`federated`], with `marker` in the stdio child's environment and
/// `extra` upstreams appended.
fn federated_with(fixture: &str, with_gone: bool, marker: &str, extra: &str) -> String {
    let index = node_module("@modelcontextprotocol/server-everything/dist/index.js");
    let mut yaml = format!(
        "{}upstreams:\n  fx:\n    url: {fixture}\n    response_timeout: 20s\n  ev:\n    stdio:\n      command: [{:?}, {:?}, stdio]\n      env:\n        PORTCULLIS_TEST_MARKER: {{ value: \"{marker}\" }}\n      restart: {{ initial_backoff: 100ms, max_backoff: 1s }}\n{extra}",
        head(),
        node().display().to_string(),
        index.display().to_string(),
    );
    if with_gone {
        yaml.push_str("  gone:\n    stdio:\n      command: [/nonexistent/mcp-server]\n");
    }
    yaml
}

async fn py_call(url: &str, args: &[&str]) -> Value {
    let script = script("py_call.py");
    let mut all = vec![script.to_str().unwrap(), url];
    all.extend_from_slice(args);
    let out = run(&python(), &all, None).await;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("py_call output {out:?}: {e}"))
}

fn first_text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_real_client_sees_two_upstreams_as_one_server_in_both_eras() {
    let fixture = Peer::python_fixture().await;
    let gw = Gateway::start_yaml(&federated(&fixture.url, false)).await;
    for mode in ["legacy", "2026-07-28"] {
        let names = py_call(&gw.url(), &["--list", "--mode", mode]).await;
        let names: Vec<&str> = names
            .as_array()
            .unwrap_or_else(|| panic!("{mode}: {names}"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(names.contains(&"fx__test_simple_text"), "{mode}: {names:?}");
        assert!(names.contains(&"ev__echo"), "{mode}: {names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("fx__") || n.starts_with("ev__")),
            "every tool carries its upstream's prefix: {names:?}"
        );
    }
    let echoed = py_call(
        &gw.url(),
        &[
            "ev__echo",
            r#"{"message":"through the gateway"}"#,
            "--mode",
            "legacy",
        ],
    )
    .await;
    assert_eq!(first_text(&echoed), "Echo: through the gateway", "{echoed}");
    let simple = py_call(
        &gw.url(),
        &["fx__test_simple_text", "{}", "--mode", "legacy"],
    )
    .await;
    assert!(!first_text(&simple).is_empty(), "{simple}");
    let unknown = py_call(&gw.url(), &["nobody__echo", "{}", "--mode", "legacy"]).await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nobody__echo"),
        "{unknown}"
    );
}

/// The pid of the process whose environment holds `marker`.
fn pid_with_marker(marker: &str) -> Option<u32> {
    let needle = format!("PORTCULLIS_TEST_MARKER={marker}");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            environ
                .split(|b| *b == 0)
                .any(|v| v == needle.as_bytes())
                .then_some(pid)
        })
}

#[tokio::test]
async fn three_real_servers_behind_one_endpoint_survive_one_being_killed() {
    let fixture = Peer::python_fixture().await;
    let (rmcp_url, rmcp) = crate::clients::rmcp_server().await;
    let marker = format!("fed-{}", std::process::id());
    let extra = format!("  rs:\n    url: {rmcp_url}\n");
    let gw = Gateway::start_yaml(&federated_with(&fixture.url, false, &marker, &extra)).await;
    let names = py_call(&gw.url(), &["--list", "--mode", "legacy"]).await;
    for name in ["fx__test_simple_text", "ev__echo", "rs__echo", "rs__sum"] {
        assert!(
            names.as_array().unwrap().contains(&json!(name)),
            "{name}: {names}"
        );
    }
    let sum = py_call(
        &gw.url(),
        &["rs__sum", r#"{"a":2,"b":40}"#, "--mode", "legacy"],
    )
    .await;
    assert_eq!(first_text(&sum), "42", "{sum}");

    // Kill the stdio server: the others keep serving, and it comes back.
    let pid = pid_with_marker(&marker).expect("the stdio server runs with the marker");
    assert!(
        std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let simple = py_call(
        &gw.url(),
        &["fx__test_simple_text", "{}", "--mode", "legacy"],
    )
    .await;
    assert!(!first_text(&simple).is_empty(), "{simple}");
    let echo = py_call(
        &gw.url(),
        &["rs__echo", r#"{"text":"still"}"#, "--mode", "legacy"],
    )
    .await;
    assert_eq!(first_text(&echo), "still", "{echo}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let back = py_call(
            &gw.url(),
            &["ev__echo", r#"{"message":"back"}"#, "--mode", "legacy"],
        )
        .await;
        if first_text(&back) == "Echo: back" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never came back: {back}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let restarted = pid_with_marker(&marker).expect("restarted");
    assert_ne!(restarted, pid, "a new process serves");
    rmcp.abort();
    // Its fall and its return are audit events; nobody else's.
    let folder = gw.stop().await;
    let health: Vec<Value> = crate::support::gateway::audit_events(&folder.path().join("audit"))
        .into_iter()
        .filter(|e| e["api"]["operation"] == "portcullis/upstream_health")
        .collect();
    let seen: Vec<(String, bool)> = health
        .iter()
        .map(|e| {
            (
                e["dst_endpoint"]["name"].as_str().unwrap_or("").to_owned(),
                e["unmapped"]["portcullis"]["upstream_up"] == true,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [("ev".to_owned(), false), ("ev".to_owned(), true)],
        "{health:#?}"
    );
}

#[tokio::test]
async fn an_upstream_that_is_down_fails_only_its_own_tools() {
    let fixture = Peer::python_fixture().await;
    let gw = Gateway::start_yaml(&federated(&fixture.url, true)).await;
    let (session, _) = initialize(&gw.url(), "2025-11-25").await;
    let session = session.unwrap();
    let post = |body: Value| {
        Req::post(&gw.url())
            .mcp()
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
            .body(body)
    };
    let list = post(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .send()
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let tools = list.message()["result"]["tools"].clone();
    let names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"ev__echo") && names.contains(&"fx__test_simple_text"));
    assert!(!names.iter().any(|n| n.starts_with("gone__")), "{names:?}");

    let call = post(json!({"jsonrpc":"2.0","id":2,"method":"tools/call",
        "params":{"name":"ev__echo","arguments":{"message":"still here"}}}))
    .send()
    .await;
    assert_eq!(call.status, StatusCode::OK);
    assert_eq!(
        call.message()["result"]["content"][0]["text"],
        "Echo: still here"
    );
    // A name the down upstream owns fails with an error naming it.
    let gone = post(json!({"jsonrpc":"2.0","id":3,"method":"tools/call",
        "params":{"name":"gone__anything","arguments":{}}}))
    .send()
    .await;
    let error = &gone.message()["error"];
    assert_eq!(error["code"], -32603, "{gone:?}");
    assert_eq!(error["data"]["upstream"], "gone", "{gone:?}");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`gone` is unavailable"),
        "the error names what failed: {gone:?}"
    );
}

#[tokio::test]
async fn a_replica_holding_the_key_serves_a_session_another_replica_opened() {
    let fixture = Peer::python_fixture().await;
    let a = Gateway::start_yaml(&single(&fixture.url, &keys(&[("k1", KEY_1)]))).await;
    let b = Gateway::start_yaml(&single(&fixture.url, &keys(&[("k1", KEY_1)]))).await;
    // A replica that has rotated to k2 and still accepts k1 during the grace period.
    let rotated = Gateway::start_yaml(&single(
        &fixture.url,
        &keys(&[("k2", KEY_2), ("k1", KEY_1)]),
    ))
    .await;
    let stranger = Gateway::start_yaml(&single(&fixture.url, &keys(&[("k2", KEY_2)]))).await;
    let (session, _) = initialize(&a.url(), "2025-11-25").await;
    let session = session.unwrap();
    let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
    let ask = |url: String, id: String| {
        let list = list.clone();
        async move {
            Req::post(&url)
                .mcp()
                .header("mcp-session-id", &id)
                .header("mcp-protocol-version", "2025-11-25")
                .body(list)
                .send()
                .await
        }
    };
    for gw in [&a, &b, &rotated] {
        let reply = ask(gw.url(), session.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert!(
            !reply.message()["result"]["tools"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
    let foreign = ask(stranger.url(), session.clone()).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{foreign:?}");

    // Any single changed character makes the id unknown.
    let mut tampered: Vec<char> = session.chars().collect();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let reply = ask(b.url(), tampered).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{reply:?}");
    let made_up = ask(b.url(), "s-1".into()).await;
    assert_eq!(made_up.status, StatusCode::NOT_FOUND, "{made_up:?}");
    assert_eq!(made_up.json()["error"]["code"], -32600);
}

#[test]
fn configuration_mistakes_name_the_upstream_and_what_to_do() {
    let cases = [
        (
            "upstreams:\n  old:\n    transport: sse\n    stdio: { command: [x] }\n",
            "upstreams.old",
            "`url` (streamable_http or sse)",
        ),
        (
            "upstreams:\n  a:\n    url: http://127.0.0.1:9/mcp\n    prefix: \"\"\n  b:\n    url: http://127.0.0.1:9/mcp\n",
            "prefix",
            "",
        ),
        (
            "upstreams:\n  bad name:\n    url: http://127.0.0.1:9/mcp\n",
            "bad name",
            "letters, digits",
        ),
        (
            "upstream:\n  url: http://127.0.0.1:9/mcp\nsessions:\n  keys:\n    - id: k1\n      secret: { value: \"short\", allow_inline: true }\n",
            "sessions",
            "32",
        ),
    ];
    for (body, path, words) in cases {
        let yaml = format!("{}{body}audit:\n  disabled: true\n", head());
        let err = portcullis::config::load_str(&yaml, std::path::Path::new("gw.yaml"))
            .err()
            .unwrap_or_else(|| panic!("accepted: {body}"))
            .to_string();
        assert!(
            err.contains(path) && err.contains(words),
            "{body}\n=> {err}"
        );
    }
}

/// Issue 3: an HTTP upstream that was down when a legacy session opened joins
/// that session when it is back (the client's session id cannot change), and
/// its tools are listed and called like the others'.
#[tokio::test]
async fn an_http_upstream_down_at_initialize_joins_the_session_when_it_is_back() {
    let other = Peer::python_fixture().await;
    let port = crate::support::peers::free_port();
    let yaml = format!(
        "{}upstreams:\n  up:\n    url: {}\n    response_timeout: 20s\n  late:\n    url: http://127.0.0.1:{port}/mcp\n    response_timeout: 20s\n",
        head(),
        other.url
    );
    let gw = Gateway::start_yaml(&yaml).await;
    let (session, _) = initialize(&gw.url(), "2025-11-25").await;
    let session = session.expect("a session while `late` is down");
    let post = |body: Value| {
        Req::post(&gw.url())
            .mcp()
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
            .body(body)
    };
    let names = |list: &Value| -> Vec<String> {
        list["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    };
    let before = post(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .send()
        .await;
    assert!(
        !names(&before.message())
            .iter()
            .any(|n| n.starts_with("late__"))
    );

    let _late = Peer::python_fixture_on(port).await;
    // The failed join of the first list is retried after 5 s.
    let mut listed = Vec::new();
    for id in 2..20 {
        let after = post(json!({"jsonrpc":"2.0","id":id,"method":"tools/list"}))
            .send()
            .await;
        listed = names(&after.message());
        if listed.iter().any(|n| n.starts_with("late__")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    assert!(
        listed.iter().any(|n| n == "late__test_simple_text")
            && listed.iter().any(|n| n == "up__test_simple_text"),
        "{listed:?}"
    );
    let call = post(json!({"jsonrpc":"2.0","id":30,"method":"tools/call",
        "params":{"name":"late__test_simple_text","arguments":{}}}))
    .send()
    .await;
    assert_eq!(call.status, StatusCode::OK, "{call:?}");
    assert!(
        first_text(&call.message()["result"]).contains("simple text"),
        "{call:?}"
    );
}

/// A stdio server that speaks 2026-07-28 (the Python SDK, `era: auto`) has
/// no session version; a session-era client opening a session through the
/// gateway keeps the version it asked for, and the gateway envelopes its
/// requests. (The gateway had answered `2026-07-28` to `initialize`, and the
/// Python SDK's session client refused it: "Unsupported protocol version".)
#[tokio::test]
async fn a_session_era_client_keeps_its_version_in_front_of_a_2026_07_28_stdio_server() {
    let yaml = format!(
        "{}{}upstreams:\n  local:\n    prefix: \"\"\n    stdio:\n      command: [{:?}, {:?}, stdio, plain]\n",
        head(),
        keys(&[("k1", KEY_1)]),
        python().display().to_string(),
        script("error_server.py").display().to_string(),
    );
    let gw = Gateway::start_yaml(&yaml).await;
    for version in ["2025-03-26", "2025-06-18", "2025-11-25"] {
        let (session, reply) = initialize(&gw.url(), version).await;
        assert!(session.is_some(), "{reply:?}");
        assert_eq!(
            reply.message()["result"]["protocolVersion"],
            version,
            "{reply:?}"
        );
    }
    for mode in ["legacy", "2026-07-28", "auto"] {
        let got = py_call(
            &gw.url(),
            &["missing", r#"{"record": "42"}"#, "--mode", mode],
        )
        .await;
        assert_eq!(
            got["error"]["message"], "No record 42 in table customers. Check the id and try again.",
            "{mode}: {got}"
        );
    }
}
