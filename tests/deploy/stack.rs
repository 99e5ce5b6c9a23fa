//! The compose stack's gateway configuration, run for real without Docker: the
//! same gateway binary and file, with the compose service names swapped for
//! native peers on loopback (Debian's Redis, server-everything over Streamable
//! HTTP and over stdio, the stack's own OpenID provider script on the peers'
//! Node). A token from that provider reaches both upstreams through the
//! stack's Cedar policies, and the audit trail lands where Vector tails it.

use crate::support::http::Req;
use crate::support::peers::{
    Peer, RedisServer, free_port, node, node_module, repo, spawn_listening, wait_for_port,
};
use http::StatusCode;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// The compose OpenID provider (deploy/compose/oidc/provider.mjs) on a free
/// port, with the peers' node_modules in place of its `npm install`.
async fn compose_provider(dir: &std::path::Path, resource: &str) -> (Child, String) {
    let oidc = dir.join("oidc");
    std::fs::create_dir_all(&oidc).unwrap();
    std::fs::copy(
        repo().join("deploy/compose/oidc/provider.mjs"),
        oidc.join("provider.mjs"),
    )
    .unwrap();
    std::fs::copy(
        repo().join("deploy/compose/oidc/package.json"),
        oidc.join("package.json"),
    )
    .unwrap();
    let modules = node_module("oidc-provider").parent().unwrap().to_owned();
    std::os::unix::fs::symlink(modules, oidc.join("node_modules")).unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let child = spawn_listening(
        Command::new(node())
            .arg(oidc.join("provider.mjs"))
            .env("PORT", port.to_string())
            .env("ISSUER", &issuer)
            .env("RESOURCE", resource),
        port,
    )
    .await;
    (child, issuer)
}

async fn token(issuer: &str, client: &str, secret: &str, resource: &str) -> String {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client}:{secret}"));
    let reply = Req::post(&format!("{issuer}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", &format!("Basic {basic}"))
        .body(format!(
            "grant_type=client_credentials&scope=mcp%3Atools&resource={}",
            resource.replace(':', "%3A").replace('/', "%2F")
        ))
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "token: {reply:?}");
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

/// Lists tools through the gateway with a fresh legacy session.
async fn tool_names(url: &str, token: &str) -> (Vec<String>, String) {
    let bearer = format!("Bearer {token}");
    let init = Req::post(url)
        .mcp()
        .header("authorization", &bearer)
        .body(
            json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":{},
            "clientInfo":{"name":"deploy-test","version":"1"}}}),
        )
        .send()
        .await;
    assert_eq!(init.status, StatusCode::OK, "initialize: {init:?}");
    let session = init.header("mcp-session-id").unwrap().to_owned();
    let post = |body: Value| {
        Req::post(url)
            .mcp()
            .header("authorization", &bearer)
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
            .body(body)
    };
    let acked = post(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
        .send()
        .await;
    assert_eq!(acked.status, StatusCode::ACCEPTED);
    let list = post(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .send()
        .await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    let names = list.message()["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{list:?}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    (names, session)
}

#[tokio::test]
async fn the_compose_gateway_configuration_serves_both_upstreams_with_real_peers() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start().await;
    let everything = Peer::everything().await;
    let (listen, admin) = (free_port(), free_port());
    let resource = format!("http://localhost:{listen}/mcp");
    let (_provider, issuer) = compose_provider(dir.path(), &resource).await;
    let audit = dir.path().join("audit");
    let stdio_server = node_module("@modelcontextprotocol/server-everything/dist/index.js");
    let config = std::fs::read_to_string(repo().join("deploy/compose/portcullis.yaml"))
        .unwrap()
        .replace("0.0.0.0:8080", &format!("127.0.0.1:{listen}"))
        .replace("localhost:8080", &format!("localhost:{listen}"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{listen}"))
        .replace("0.0.0.0:9090", &format!("127.0.0.1:{admin}"))
        .replace("http://everything:3001/mcp", &everything.url)
        .replace("redis://redis:6379/0", &redis.url)
        .replace("http://127.0.0.1:3000", &issuer)
        .replace("/var/log/portcullis", &audit.display().to_string())
        .replace("otel-collector:4318", &format!("127.0.0.1:{}", free_port()))
        .replace(
            "[mcp-server-everything, stdio]",
            &format!("[{}, {}, stdio]", node().display(), stdio_server.display()),
        );
    let file = dir.path().join("portcullis.yaml");
    std::fs::write(&file, config).unwrap();
    std::os::unix::fs::symlink(repo().join("policies"), dir.path().join("policies")).unwrap();
    let _gateway = spawn_listening(
        Command::new(super::BIN)
            .args(["serve", "--config"])
            .arg(&file),
        listen,
    )
    .await;
    wait_for_port(admin).await;
    let ready = Req::get(&format!("http://127.0.0.1:{admin}/readyz"))
        .send()
        .await;
    assert_eq!(ready.status, StatusCode::OK);
    let url = format!("http://127.0.0.1:{listen}/mcp");

    // No token: the resource-server challenge.
    let anonymous = Req::post(&url)
        .mcp()
        .body(json!({"jsonrpc":"2.0","id":0,"method":"ping"}))
        .send()
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // A writer sees the tools of both upstreams; a reader only read-only ones.
    let writer = token(&issuer, "mcp-writer", "writer-secret-0123456789", &resource).await;
    let (all, session) = tool_names(&url, &writer).await;
    for name in ["everything__echo", "local__echo"] {
        assert!(
            all.contains(&name.to_owned()),
            "{name} missing from {all:?}"
        );
    }
    let reader = token(&issuer, "mcp-agent", "agent-secret-0123456789", &resource).await;
    let (readable, _) = tool_names(&url, &reader).await;
    assert!(
        readable.len() < all.len(),
        "reader {readable:?} vs writer {all:?}"
    );
    assert!(readable.iter().all(|t| all.contains(t)), "{readable:?}");
    assert!(readable.contains(&"local__echo".to_owned()), "{readable:?}");

    // A call through the stdio upstream, spawned by the gateway.
    let call = Req::post(&url)
        .mcp()
        .header("authorization", &format!("Bearer {writer}"))
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .body(json!({"jsonrpc":"2.0","id":2,"method":"tools/call",
            "params":{"name":"local__echo","arguments":{"message":"via stdio"}}}))
        .send()
        .await;
    assert_eq!(call.status, StatusCode::OK, "{call:?}");
    assert_eq!(
        call.message()["result"]["content"][0]["text"],
        "Echo: via stdio"
    );

    // The audit trail is JSONL in the folder Vector tails.
    let mut lines = 0;
    for _ in 0..50 {
        lines = std::fs::read_dir(&audit)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
                    .map(|e| {
                        std::fs::read_to_string(e.path())
                            .unwrap_or_default()
                            .lines()
                            .count()
                    })
                    .sum()
            })
            .unwrap_or(0);
        if lines >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(lines >= 4, "{lines} audit lines in {}", audit.display());
}
