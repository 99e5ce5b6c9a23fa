//! Issue 3, "Downstream legacy SSE": clients that only speak the HTTP+SSE
//! transport of MCP 2024-11-05 use the gateway through `listen.legacy_sse`,
//! with the real Python SDK's `sse_client`, and every security stage of the
//! main endpoint applies (tokens on the GET and each POST, the stream bound to
//! its principal, policies that make a denied tool read like an unknown one).

use crate::authz::{BASE, Policies, demo_upstream, demo_url, token};
use crate::support::Gateway;
use crate::support::auth::{self, Keys};
use crate::support::gateway::{audit_events, default_yaml};
use crate::support::http::Req;
use crate::support::peers::{node, peers_dir, python, run, script};
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// `listen.legacy_sse` on `/sse`, posts on `/messages`.
const LEGACY: &str = "listen:\n  address: 127.0.0.1:0\n  legacy_sse:\n    path: /sse\n";

/// A JWT-authenticated gateway in front of the demo upstream, with the legacy
/// transport on and the read-only-tools policy of the authz tests.
async fn legacy_gateway(keys: &Keys) -> (Gateway, portcullis::demo::server::DemoServer, Policies) {
    let demo = demo_upstream().await;
    let policies = Policies::new(&format!(
        "{BASE}permit (principal, action == Mcp::Action::\"tools/call\", resource) when {{ resource.read_only }};\n\
         forbid (principal, action == Mcp::Action::\"tools/call\", resource) when {{ resource.destructive && !resource.read_only }};\n"
    ));
    let yaml = default_yaml(&demo_url(&demo))
        .replace("listen:\n  address: 127.0.0.1:0\n", LEGACY)
        .replace("authentication:\n  mode: none\n", &auth::section(keys, ""));
    let gw = Gateway::start_yaml(&format!("{yaml}{}", policies.section(""))).await;
    (gw, demo, policies)
}

fn sse_url(gw: &Gateway) -> String {
    gw.url().replace("/mcp", "/sse")
}

fn base(gw: &Gateway) -> String {
    gw.url().replace("/mcp", "")
}

async fn python_session(url: &str, bearer: Option<&str>, calls: &[(&str, Value)]) -> Value {
    let script = script("py_legacy_sse.py");
    let mut args = vec![script.to_str().unwrap().to_owned(), url.to_owned()];
    if let Some(t) = bearer {
        args.extend(["--bearer".to_owned(), t.to_owned()]);
    }
    for (name, arguments) in calls {
        args.extend([
            "--call".to_owned(),
            (*name).to_owned(),
            arguments.to_string(),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&python(), &args, None).await;
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Opens a legacy stream as `bearer` and returns the POST endpoint it announced.
async fn open_stream(
    gw: &Gateway,
    bearer: &str,
) -> (String, http::Response<hyper::body::Incoming>) {
    let mut response = Req::get(&sse_url(gw))
        .header("accept", "text/event-stream")
        .header("authorization", &format!("Bearer {bearer}"))
        .open()
        .await;
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    while !text.contains("\n\n") {
        let frame = response.body_mut().frame().await.unwrap().unwrap();
        text.push_str(std::str::from_utf8(frame.data_ref().unwrap()).unwrap());
    }
    assert!(text.starts_with("event: endpoint\n"), "{text}");
    let endpoint = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap()
        .to_owned();
    assert!(endpoint.starts_with("/messages?sessionId="), "{endpoint}");
    (endpoint, response)
}

async fn post_status(url: &str, bearer: Option<&str>) -> u16 {
    let mut req = Req::post(url)
        .header("content-type", "application/json")
        .body(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    if let Some(t) = bearer {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    req.send().await.status.as_u16()
}

#[tokio::test]
async fn a_python_sse_client_lists_calls_and_is_denied_like_an_unknown_tool() {
    let keys = Keys::generate().await;
    let (gw, _demo, _policies) = legacy_gateway(&keys).await;
    let alice = token(&keys, "alice", "acme", &["dev"]).await;
    let out = python_session(
        &sse_url(&gw),
        Some(&alice),
        &[
            ("echo", json!({"text": "hi"})),
            ("delete_records", json!({"table": "users"})),
            ("no_such_tool", json!({})),
        ],
    )
    .await;
    assert!(out["protocol"].is_string(), "{out}");
    assert_eq!(out["tools"], json!(["add", "echo", "fetch_page"]), "{out}");
    let calls = out["calls"].as_array().unwrap();
    assert_eq!(calls[0]["content"][0]["text"], "hi", "{out}");
    let (denied, unknown) = (&calls[1]["error"], &calls[2]["error"]);
    assert_eq!(denied["code"], unknown["code"], "{out}");
    assert_eq!(denied["message"], "Unknown tool: delete_records");
    assert_eq!(unknown["message"], "Unknown tool: no_such_tool");
}

#[tokio::test]
async fn a_python_sse_client_without_a_valid_token_gets_401() {
    let keys = Keys::generate().await;
    let (gw, _demo, _policies) = legacy_gateway(&keys).await;
    let none = python_session(&sse_url(&gw), None, &[]).await;
    assert_eq!(none, json!({"status": 401}));
    let bad = python_session(&sse_url(&gw), Some("not.a.token"), &[]).await;
    assert_eq!(bad, json!({"status": 401}));
}

#[tokio::test]
async fn posts_need_the_token_and_the_principal_of_the_stream() {
    let keys = Keys::generate().await;
    let (gw, _demo, _policies) = legacy_gateway(&keys).await;
    let alice = token(&keys, "alice", "acme", &["dev"]).await;
    let bob = token(&keys, "bob", "acme", &["dev"]).await;
    let (endpoint, stream) = open_stream(&gw, &alice).await;
    let url = format!("{}{endpoint}", base(&gw));
    assert_eq!(post_status(&url, None).await, 401);
    assert_eq!(post_status(&url, Some("not.a.token")).await, 401);
    assert_eq!(post_status(&url, Some(&bob)).await, 404, "a foreign stream");
    let unknown = format!(
        "{}/messages?sessionId=00000000000000000000000000000000",
        base(&gw)
    );
    assert_eq!(post_status(&unknown, Some(&alice)).await, 404);
    let missing = format!("{}/messages", base(&gw));
    assert_eq!(post_status(&missing, Some(&alice)).await, 404);
    assert_eq!(post_status(&url, Some(&alice)).await, 202);
    // A closed stream is forgotten.
    drop(stream);
    let mut status = 0;
    for _ in 0..50 {
        status = post_status(&url, Some(&alice)).await;
        if status == 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, 404, "a closed stream");
    // The GET itself needs a token.
    let get = Req::get(&sse_url(&gw))
        .header("accept", "text/event-stream")
        .send()
        .await;
    assert_eq!(get.status, 401);
    // The refusals are in the audit trail, as on the main endpoint.
    let folder = gw.stop().await;
    let events = audit_events(&folder.path().join("audit"));
    let refused = events.iter().filter(|e| e["class_uid"] == 3002).count();
    assert!(refused >= 3, "{events:?}");
}

/// A JWT-authenticated gateway in front of the demo upstream with the legacy
/// transport on and `setting` (a line under `legacy_sse:`).
async fn capped_gateway(
    keys: &Keys,
    setting: &str,
) -> (Gateway, portcullis::demo::server::DemoServer) {
    let demo = demo_upstream().await;
    let yaml = default_yaml(&demo_url(&demo))
        .replace(
            "listen:\n  address: 127.0.0.1:0\n",
            &format!("{LEGACY}    {setting}\n"),
        )
        .replace("authentication:\n  mode: none\n", &auth::section(keys, ""));
    (Gateway::start_yaml(&yaml).await, demo)
}

/// Opens a stream for `bearer` and expects it refused over a cap: `status`,
/// `Retry-After: 5` and the retry hint in the JSON-RPC error's data. Returns
/// the error body.
async fn assert_refused(gw: &Gateway, bearer: &str, status: u16) -> Value {
    let refused = Req::get(&sse_url(gw))
        .header("accept", "text/event-stream")
        .header("authorization", &format!("Bearer {bearer}"))
        .send()
        .await;
    assert_eq!(refused.status, status, "{refused:?}");
    assert_eq!(refused.header("retry-after"), Some("5"), "{refused:?}");
    let body: Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(body["error"]["data"]["retry_after_ms"], 5000, "{body}");
    body
}

/// The refusals over `limit` are counted under `scope` and in the audit
/// trail: a rate-limit event naming the limit per refusal, and one denied
/// request event whose reason is `reason`.
async fn assert_refusals_recorded(gw: Gateway, scope: &str, limit: &str, reason: &str) {
    let metrics = Req::get(&format!("http://{}/metrics", gw.admin.unwrap()))
        .send()
        .await;
    let metrics = String::from_utf8_lossy(&metrics.body);
    let counted = format!("portcullis_rate_limited_total{{scope=\"{scope}\"}} 1");
    assert!(metrics.lines().any(|l| l == counted), "{metrics}");
    let folder = gw.stop().await;
    let events = audit_events(&folder.path().join("audit"));
    let limited: Vec<&Value> = events
        .iter()
        .filter(|e| e["api"]["operation"] == "portcullis/rate_limited")
        .collect();
    assert_eq!(limited.len(), 1, "{events:#?}");
    assert_eq!(limited[0]["unmapped"]["portcullis"]["limit"], limit);
    let denied: Vec<&Value> = events
        .iter()
        .filter(|e| e["unmapped"]["portcullis"]["decision"]["reason"] == reason)
        .collect();
    assert_eq!(denied.len(), 1, "{events:#?}");
    assert_eq!(
        denied[0]["unmapped"]["portcullis"]["decision"]["verdict"],
        "denied"
    );
}

#[tokio::test]
async fn one_principal_holds_at_most_its_cap_of_streams() {
    let keys = Keys::generate().await;
    let (gw, _demo) = capped_gateway(&keys, "max_streams_per_principal: 2").await;
    let alice = token(&keys, "alice", "acme", &["dev"]).await;
    let bob = token(&keys, "bob", "acme", &["dev"]).await;
    let (_, first) = open_stream(&gw, &alice).await;
    let (_, _second) = open_stream(&gw, &alice).await;
    assert_refused(&gw, &alice, 429).await;
    // Another principal is not held back by alice's streams.
    let (_, _bobs) = open_stream(&gw, &bob).await;
    // A stream that ends frees its slot.
    drop(first);
    let mut status = 0;
    for _ in 0..50 {
        let again = Req::get(&sse_url(&gw))
            .header("accept", "text/event-stream")
            .header("authorization", &format!("Bearer {alice}"))
            .open()
            .await;
        status = again.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, 200, "the closed stream's slot");
    // Counted and audited as the pipeline's own limits are.
    assert_refusals_recorded(
        gw,
        "principal",
        "listen.legacy_sse.max_streams_per_principal",
        "rate limit listen.legacy_sse.max_streams_per_principal exceeded",
    )
    .await;
}

#[tokio::test]
async fn a_replica_at_its_stream_cap_answers_503_with_retry_after_and_audits_it() {
    let keys = Keys::generate().await;
    let (gw, _demo) = capped_gateway(&keys, "max_streams: 2").await;
    let alice = token(&keys, "alice", "acme", &["dev"]).await;
    let bob = token(&keys, "bob", "acme", &["dev"]).await;
    let (_, _first) = open_stream(&gw, &alice).await;
    let (_, _second) = open_stream(&gw, &bob).await;
    let body = assert_refused(&gw, &bob, 503).await;
    assert_eq!(
        body["error"]["data"]["limit"], "listen.legacy_sse.max_streams",
        "{body}"
    );
    assert_refusals_recorded(
        gw,
        "replica",
        "listen.legacy_sse.max_streams",
        "capacity listen.legacy_sse.max_streams reached",
    )
    .await;
}

#[tokio::test]
async fn the_legacy_endpoints_are_off_by_default() {
    let demo = demo_upstream().await;
    let gw = Gateway::start(&demo_url(&demo)).await;
    let get = Req::get(&sse_url(&gw))
        .header("accept", "text/event-stream")
        .send()
        .await;
    assert_eq!(get.status, 404);
}

#[tokio::test]
async fn a_typescript_sse_client_transport_lists_and_calls() {
    let keys = Keys::generate().await;
    let (gw, _demo, _policies) = legacy_gateway(&keys).await;
    let alice = token(&keys, "alice", "acme", &["dev"]).await;
    let out = tokio::process::Command::new(node())
        .arg(script("ts_legacy_sse.mjs"))
        .args([sse_url(&gw), alice])
        .env("PEERS_NODE_MODULES", peers_dir().join("node/node_modules"))
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "ts client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out["tools"], json!(["add", "echo", "fetch_page"]), "{out}");
    assert_eq!(out["echo"]["content"][0]["text"], "hi", "{out}");
    let denied = out["denied"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(denied.contains("Unknown tool: delete_records"), "{out}");
}

/// Reads `response`'s events into `text` until it contains `wanted`.
async fn read_until(
    response: &mut http::Response<hyper::body::Incoming>,
    text: &mut String,
    wanted: &str,
) -> bool {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    while !text.contains(wanted) {
        let frame = tokio::time::timeout_at(deadline, response.body_mut().frame()).await;
        match frame {
            Ok(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    text.push_str(std::str::from_utf8(data).unwrap());
                }
            }
            _ => return false,
        }
    }
    true
}

/// Notifications an upstream sends outside any request (the Python fixture's
/// `notifications/tools/list_changed`, on its legacy GET stream) reach a
/// legacy client's stream once its session is initialized.
#[tokio::test]
async fn notifications_sent_outside_a_request_reach_the_legacy_stream() {
    let fixture = crate::support::peers::Peer::python_fixture().await;
    let yaml = default_yaml(&fixture.url).replace("listen:\n  address: 127.0.0.1:0\n", LEGACY);
    let gw = Gateway::start_yaml(&yaml).await;
    let mut response = Req::get(&sse_url(&gw))
        .header("accept", "text/event-stream")
        .open()
        .await;
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    assert!(read_until(&mut response, &mut text, "\n\n").await, "{text}");
    let endpoint = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap()
        .to_owned();
    let post = |message: Value| {
        let url = format!("{}{endpoint}", base(&gw));
        async move {
            let status = Req::post(&url)
                .header("content-type", "application/json")
                .body(message)
                .send()
                .await
                .status;
            assert_eq!(status, 202);
        }
    };
    post(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {},
        "clientInfo": {"name": "raw-legacy", "version": "0"}}}),
    )
    .await;
    assert!(
        read_until(&mut response, &mut text, "\"id\":1").await,
        "{text}"
    );
    post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    // The standalone stream opens after `initialized`: call until the
    // notification published while it is open arrives.
    let mut arrived = false;
    for id in 2..8 {
        post(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "test_trigger_tool_change", "arguments": {}}}))
        .await;
        if read_until(&mut response, &mut text, "notifications/tools/list_changed").await {
            arrived = true;
            break;
        }
    }
    assert!(arrived, "no list_changed on the legacy stream:\n{text}");
    // The call's own answer comes on the same stream, before or after the
    // notification (they travel on different upstream streams).
    assert!(
        read_until(&mut response, &mut text, "tools/list_changed published").await,
        "{text}"
    );
}
