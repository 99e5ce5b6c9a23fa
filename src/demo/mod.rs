//! `portcullis demo`: the gateway in front of an embedded demo MCP server, with
//! the example configuration, and instructions a newcomer can paste.

pub mod server;

use crate::config;
use crate::server::{Running, ServerError};
use std::net::SocketAddr;
use std::path::Path;

/// The demo configuration, with placeholders for the two addresses.
const DEMO_CONFIG: &str = include_str!("../../examples/demo.yaml");

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The demo MCP server could not bind.
    #[error("cannot start the demo MCP server: {0}")]
    Upstream(std::io::Error),
    /// The embedded configuration did not compile (a bug) or --listen is invalid.
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    /// The gateway could not bind.
    #[error("{0}")]
    Server(#[from] ServerError),
}

/// Starts the demo MCP server and the gateway in front of it. The demo server
/// lives as long as the process.
pub async fn start(listen: &str) -> Result<Running, DemoError> {
    let upstream = server::start("127.0.0.1:0")
        .await
        .map_err(DemoError::Upstream)?;
    let text = DEMO_CONFIG
        .replace("{{DEMO_UPSTREAM}}", &upstream.addr().to_string())
        .replace("{{LISTEN}}", listen);
    let runtime = config::load_str(&text, Path::new("examples/demo.yaml"))?;
    let running = crate::server::start(runtime).await?;
    upstream.detach();
    Ok(running)
}

/// What to try, with the gateway's real address filled in.
pub fn instructions(gateway: SocketAddr) -> String {
    let url = format!("http://{gateway}/mcp");
    let call = |id: u32, tool: &str, name_header: &str, args: &str| {
        format!(
            "curl -s {url} -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\\n     \
             -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: {name_header}' \\\n     \
             -d '{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":\"{tool}\",\"arguments\":{args},\
             \"_meta\":{{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}}}}'"
        )
    };
    format!(
        "portcullis demo: the gateway listens on {url} in front of an embedded demo MCP server.\n\
         Each request is logged below as one access record. Press Ctrl-C to stop.\n\n\
         1. An allowed tool call, forwarded unchanged:\n   {}\n\n\
         2. A routing header that disagrees with the body (header smuggling) is refused, 400 / -32020:\n   {}\n\n\
         3. A DNS-rebinding attempt (a foreign Host header) is refused, 421:\n   \
         curl -s -i {url} -H 'Host: evil.example.com' -H 'Content-Type: application/json' -d '{{}}'\n\n\
         4. Malformed JSON-RPC never reaches the server, 400 / -32700:\n   \
         curl -s {url} -H 'Content-Type: application/json' -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"id\":2}}'\n\n\
         Any MCP client works too, e.g. the MCP Inspector: npx @modelcontextprotocol/inspector --cli {url} --method tools/list\n",
        call(1, "echo", "echo", "{\"text\":\"hello\"}"),
        call(2, "echo", "delete_records", "{\"text\":\"hello\"}"),
    )
}
