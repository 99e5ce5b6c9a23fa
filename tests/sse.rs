//! The legacy HTTP+SSE upstream transport (MCP 2024-11-05), issue 3: a real
//! `server-everything` in `sse` mode federated with the Python SDK fixture over
//! Streamable HTTP, used through the gateway; killed, then started again. And
//! the Python SDK's own HTTP+SSE server, whose endpoint is a relative URI.

use crate::support::http::{Reply, Req, initialize};
use crate::support::peers::{free_port, python, script, spawn_listening};
use crate::support::{Gateway, Peer};
use http::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// `server-everything` serving HTTP+SSE on a fixed loopback port, so that it
/// can be killed and started again where the gateway expects it.
async fn everything_sse(port: u16) -> Child {
    crate::support::peers::everything_on(port, "sse").await
}

fn config(fixture: &str, port: u16) -> String {
    format!(
        "listen:\n  address: 127.0.0.1:0\nreload:\n  poll_interval: 0s\nlogging:\n  format: text\n\
         authentication:\n  mode: none\nlimits:\n  shutdown_grace: 2s\n\
         upstreams:\n  fx:\n    url: {fixture}\n    response_timeout: 20s\n\
         \x20 old:\n    url: http://127.0.0.1:{port}/sse\n    transport: sse\n    response_timeout: 20s\n\
         \x20   headers:\n      authorization: {{ value: \"Bearer upstream-only\", allow_inline: true }}\n"
    )
}

struct Client {
    url: String,
    session: String,
}

impl Client {
    async fn open(gw: &Gateway) -> Client {
        let (session, reply) = initialize(&gw.url(), "2025-11-25").await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        Client {
            url: gw.url(),
            session: session.unwrap(),
        }
    }

    async fn post(&self, body: Value) -> Reply {
        Req::post(&self.url)
            .mcp()
            .header("mcp-session-id", &self.session)
            .header("mcp-protocol-version", "2025-11-25")
            .header("authorization", "Bearer client-token-never-forwarded")
            .body(body)
            .send()
            .await
    }

    async fn tools(&self) -> Vec<String> {
        let list = self
            .post(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
            .await;
        assert_eq!(list.status, StatusCode::OK, "{list:?}");
        list.message()["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{list:?}"))
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    }

    async fn echo(&self, text: &str) -> Value {
        self.post(json!({"jsonrpc":"2.0","id":2,"method":"tools/call",
            "params":{"name":"old__echo","arguments":{"message":text}}}))
            .await
            .message()
    }
}

/// Waits (bounded) until `old__echo` answers again.
async fn until_back(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let back = client.echo("back").await;
        if back["result"]["content"][0]["text"] == "Echo: back" {
            return;
        }
        assert!(Instant::now() < deadline, "never came back: {back}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_http_sse_upstream_is_federated_degrades_when_killed_and_comes_back() {
    let fixture = Peer::python_fixture().await;
    let port = free_port();
    let mut server = everything_sse(port).await;
    let gw = Gateway::start_yaml(&config(&fixture.url, port)).await;
    let client = Client::open(&gw).await;
    until_back(&client).await;

    let names = client.tools().await;
    assert!(names.iter().any(|n| n == "old__echo"), "{names:?}");
    assert!(
        names.iter().any(|n| n == "fx__test_simple_text"),
        "{names:?}"
    );
    let echoed = client.echo("through SSE").await;
    assert_eq!(
        echoed["result"]["content"][0]["text"], "Echo: through SSE",
        "{echoed}"
    );

    // A request in flight when the server dies fails at once, with a reason.
    let slow = {
        let client = Client {
            url: client.url.clone(),
            session: client.session.clone(),
        };
        tokio::spawn(async move {
            client
                .post(
                    json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{
                    "name":"old__trigger-long-running-operation",
                    "arguments":{"duration":30,"steps":30}}}),
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().await.unwrap();
    let asked = Instant::now();
    let slow = slow.await.unwrap();
    assert!(asked.elapsed() < Duration::from_secs(10), "{slow:?}");
    let error = &slow.messages().last().cloned().unwrap_or_default()["error"];
    assert_eq!(error["code"], -32603, "{slow:?}");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("unavailable"),
        "the in-flight request fails as unavailable, nothing internal: {slow:?}"
    );

    // Its tools degrade with an error naming it; the other upstream serves on.
    let gone = client.echo("anyone?").await;
    assert_eq!(gone["error"]["code"], -32603, "{gone}");
    assert_eq!(gone["error"]["data"]["upstream"], "old", "{gone}");
    let simple = client
        .post(json!({"jsonrpc":"2.0","id":3,"method":"tools/call",
            "params":{"name":"fx__test_simple_text","arguments":{}}}))
        .await;
    assert!(
        simple.message()["result"]["content"][0]["text"].is_string(),
        "{simple:?}"
    );
    let names = client.tools().await;
    assert!(
        names.iter().any(|n| n == "fx__test_simple_text"),
        "{names:?}"
    );

    // Started again on the same port: the gateway reconnects and re-initializes.
    let _server = everything_sse(port).await;
    until_back(&client).await;
    let names = client.tools().await;
    assert!(names.iter().any(|n| n == "old__echo"), "{names:?}");

    // Its fall and its return are audit events, as for a stdio upstream.
    let folder = gw.stop().await;
    let health: Vec<(String, bool)> =
        crate::support::gateway::audit_events(&folder.path().join("audit"))
            .into_iter()
            .filter(|e| e["api"]["operation"] == "portcullis/upstream_health")
            .map(|e| {
                (
                    e["dst_endpoint"]["name"].as_str().unwrap_or("").to_owned(),
                    e["unmapped"]["portcullis"]["upstream_up"] == true,
                )
            })
            .collect();
    assert_eq!(
        health.first(),
        Some(&("old".to_owned(), false)),
        "{health:?}"
    );
    assert_eq!(health.last(), Some(&("old".to_owned(), true)), "{health:?}");
}

#[tokio::test]
async fn the_python_sdks_http_sse_server_is_served_through_the_gateway() {
    let port = free_port();
    let _server = spawn_listening(
        Command::new(python())
            .arg(script("sse_server.py"))
            .arg(port.to_string()),
        port,
    )
    .await;
    let fixture = Peer::python_fixture().await;
    let gw = Gateway::start_yaml(&config(&fixture.url, port)).await;
    let client = Client::open(&gw).await;
    let names = client.tools().await;
    assert!(names.iter().any(|n| n == "old__add"), "{names:?}");
    let sum = client
        .post(json!({"jsonrpc":"2.0","id":5,"method":"tools/call",
            "params":{"name":"old__add","arguments":{"a":2,"b":40}}}))
        .await;
    assert_eq!(
        sum.message()["result"]["content"][0]["text"],
        "42",
        "{sum:?}"
    );
}

#[tokio::test]
async fn an_http_sse_upstream_is_accepted_by_check() {
    let yaml = config("http://127.0.0.1:9/mcp", 9);
    let yaml = format!("{yaml}audit:\n  disabled: true\n");
    let loaded = portcullis::config::load_str(&yaml, std::path::Path::new("gw.yaml"));
    assert!(loaded.is_ok(), "{:?}", loaded.err());
}

/// A reload keeps a shared connection whose settings did not change (their
/// `Debug` text is the fingerprint): the same file compiled twice must print
/// the same, or every reload would drop the HTTP+SSE session.
#[test]
fn an_unchanged_http_sse_upstream_compiles_to_the_same_fingerprint() {
    let yaml = format!(
        "{}audit:
  disabled: true
",
        config("http://127.0.0.1:9/mcp", 9)
    )
    .replace("http://127.0.0.1:9/sse", "https://127.0.0.1:9/sse");
    let compile = || {
        let runtime = portcullis::config::load_str(&yaml, std::path::Path::new("gw.yaml")).unwrap();
        let spec = &runtime.federation.upstreams[runtime.federation.index_of("old").unwrap()];
        match &spec.transport {
            portcullis::config::Transport::Sse(settings) => format!("{settings:?}"),
            _ => panic!("not sse"),
        }
    };
    assert_eq!(compile(), compile());
}
