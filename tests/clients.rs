//! Real MCP SDK clients (Python 2.x, TypeScript 1.x, Rust rmcp) against real
//! upstreams (the Python SDK fixture, server-everything, an rmcp server): what
//! each client sees through the gateway is what it sees directly.

use crate::support::Gateway;
use crate::support::peers::{self, Peer};
use rmcp::handler::server::{router::tool::ToolRouter, wrapper::Parameters};
use rmcp::model::{
    CallToolRequestParams, ClientConfig, ProtocolVersion, ServerCapabilities, ServerConfig,
};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{
    ClientLifecycleMode, ClientServiceExt, ServerHandler, ServiceExt, schemars, tool, tool_handler,
    tool_router,
};
use serde_json::{Value, json};

async fn python_summary(url: &str, mode: &str, profile: &str) -> Value {
    let out = peers::run(
        &peers::python(),
        &[
            peers::script("py_client.py").to_str().unwrap(),
            url,
            "--mode",
            mode,
            "--profile",
            profile,
        ],
        None,
    )
    .await;
    serde_json::from_str(&out).unwrap()
}

async fn ts_summary(url: &str, profile: &str) -> Value {
    let modules = peers::peers_dir().join("node/node_modules");
    let out = tokio::process::Command::new(peers::node())
        .arg(peers::script("ts_client.mjs"))
        .args([url, profile])
        .env("PEERS_NODE_MODULES", modules)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "ts client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn assert_same(direct: &Value, through: &Value, what: &str) {
    assert_eq!(
        direct, through,
        "{what}: the client saw something different through the gateway\ndirect:  {direct:#}\ngateway: {through:#}"
    );
}

#[tokio::test]
async fn python_sdk_client_sees_the_same_in_both_eras_through_the_gateway() {
    let fixture = Peer::python_fixture().await;
    let gw = Gateway::start(&fixture.url).await;
    for mode in ["legacy", "2026-07-28"] {
        let direct = python_summary(&fixture.url, mode, "fixture").await;
        let through = python_summary(&gw.url(), mode, "fixture").await;
        assert_same(&direct, &through, mode);
        let callbacks = &through["callbacks"];
        assert_eq!(
            callbacks["progress"], 3,
            "{mode}: progress notifications streamed"
        );
        assert!(
            callbacks["elicitation"].as_u64().unwrap() >= 1,
            "{mode}: elicitation round trip"
        );
        assert_eq!(callbacks["sampling"], 1, "{mode}: sampling round trip");
        let expected = if mode == "legacy" {
            "2025-11-25"
        } else {
            "2026-07-28"
        };
        assert_eq!(through["protocol"], expected);
    }
}

#[tokio::test]
async fn python_sdk_client_sees_the_same_from_server_everything_through_the_gateway() {
    let everything = Peer::everything().await;
    let gw = Gateway::start(&everything.url).await;
    let direct = python_summary(&everything.url, "auto", "everything").await;
    let through = python_summary(&gw.url(), "auto", "everything").await;
    assert_same(&direct, &through, "server-everything");
    assert!(
        through["tools"]
            .as_array()
            .unwrap()
            .contains(&json!("get-env"))
    );
}

#[tokio::test]
async fn typescript_sdk_client_sees_the_same_through_the_gateway() {
    let fixture = Peer::python_fixture().await;
    let everything = Peer::everything().await;
    let gw_fixture = Gateway::start(&fixture.url).await;
    let gw_everything = Gateway::start(&everything.url).await;
    let direct = ts_summary(&fixture.url, "fixture").await;
    let through = ts_summary(&gw_fixture.url(), "fixture").await;
    assert_same(&direct, &through, "ts client, fixture");
    assert_eq!(through["callbacks"]["sampling"], 1);
    assert_eq!(through["callbacks"]["logs"], 3);
    let direct = ts_summary(&everything.url, "everything").await;
    let through = ts_summary(&gw_everything.url(), "everything").await;
    assert_same(&direct, &through, "ts client, server-everything");
}

/// A small rmcp server: the Rust SDK as an upstream.
#[derive(Debug, Clone)]
struct Calculator {
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct SumRequest {
    a: i64,
    b: i64,
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct EchoRequest {
    text: String,
}

#[tool_router]
impl Calculator {
    #[tool(description = "Returns the text it is given")]
    fn echo(&self, Parameters(EchoRequest { text }): Parameters<EchoRequest>) -> String {
        text
    }

    #[tool(description = "Adds two integers")]
    fn sum(&self, Parameters(SumRequest { a, b }): Parameters<SumRequest>) -> String {
        (a + b).to_string()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Calculator {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// Serves the rmcp server on 127.0.0.1; stops when the task is aborted.
pub(crate) async fn rmcp_server() -> (String, tokio::task::JoinHandle<()>) {
    let service: StreamableHttpService<Calculator, LocalSessionManager> =
        StreamableHttpService::new(
            || {
                Ok(Calculator {
                    tool_router: Calculator::tool_router(),
                })
            },
            Default::default(),
            StreamableHttpServerConfig::default(),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = hyper_util::service::TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            });
        }
    });
    (format!("http://{addr}/mcp"), task)
}

/// What an rmcp client sees: its tools and the results of `calls`.
async fn rmcp_summary(url: &str, modern: bool, calls: &[(&str, Value)]) -> Value {
    let transport = StreamableHttpClientTransport::from_uri(url.to_owned());
    let client = if modern {
        ClientConfig::default()
            .serve_with_lifecycle(
                transport,
                ClientLifecycleMode::Discover {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                },
            )
            .await
            .unwrap()
    } else {
        ClientConfig::default().serve(transport).await.unwrap()
    };
    let mut tools: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    tools.sort();
    let mut results = serde_json::Map::new();
    for (name, args) in calls {
        let mut params = CallToolRequestParams::new(name.to_string());
        if let Value::Object(map) = args.clone() {
            params = params.with_arguments(map);
        }
        let result = client.call_tool(params).await.unwrap();
        let mut value = serde_json::to_value(&result).unwrap();
        if let Some(obj) = value.as_object_mut() {
            obj.remove("_meta");
        }
        results.insert(name.to_string(), value);
    }
    let _ = client.cancel().await;
    json!({"tools": tools, "calls": results})
}

#[tokio::test]
async fn rmcp_client_and_server_work_through_the_gateway_as_directly() {
    let (rmcp_url, server) = rmcp_server().await;
    let fixture = Peer::python_fixture().await;
    let gw_rmcp = Gateway::start(&rmcp_url).await;
    let gw_fixture = Gateway::start(&fixture.url).await;
    let calc = [
        ("echo", json!({"text": "hello"})),
        ("sum", json!({"a": 2, "b": 40})),
    ];
    let fix = [
        ("test_simple_text", json!({})),
        ("test_error_handling", json!({})),
    ];
    for modern in [false, true] {
        let direct = rmcp_summary(&rmcp_url, modern, &calc).await;
        let through = rmcp_summary(&gw_rmcp.url(), modern, &calc).await;
        assert_same(
            &direct,
            &through,
            &format!("rmcp client -> rmcp server, modern={modern}"),
        );
        assert_eq!(through["calls"]["sum"]["content"][0]["text"], "42");
        let direct = rmcp_summary(&fixture.url, modern, &fix).await;
        let through = rmcp_summary(&gw_fixture.url(), modern, &fix).await;
        assert_same(
            &direct,
            &through,
            &format!("rmcp client -> python fixture, modern={modern}"),
        );
        assert_eq!(through["calls"]["test_error_handling"]["isError"], true);
    }
    let direct = python_summary(&rmcp_url, "auto", "rmcp").await;
    let through = python_summary(&gw_rmcp.url(), "auto", "rmcp").await;
    assert_same(&direct, &through, "python client -> rmcp server");
    server.abort();
}
