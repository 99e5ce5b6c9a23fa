//! `portcullis demo`: the gateway in front of an embedded demo MCP server, with
//! the example configuration, and instructions a newcomer can paste.

pub mod server;
pub mod tokens;

use crate::config;
use crate::server::{Running, ServerError};
use std::net::SocketAddr;
use std::path::Path;
pub use tokens::DemoTokens;

/// The demo configuration, with placeholders for the two addresses.
const DEMO_CONFIG: &str = include_str!("../../examples/demo.yaml");
/// The demo's policy set and the schema it is validated against.
const DEMO_POLICIES: [(&str, &str); 2] = [
    (
        "mcp.cedarschema",
        include_str!("../../policies/mcp.cedarschema"),
    ),
    ("demo.cedar", include_str!("../../policies/demo/demo.cedar")),
];

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
    /// The demo key or tokens could not be made.
    #[error("{0}")]
    Tokens(#[from] tokens::TokenError),
    /// --listen is not an ip:port address.
    #[error("--listen must be an ip:port address, e.g. 127.0.0.1:8080")]
    Listen,
}

/// A running demo: the gateway and the tokens to try it with.
#[derive(Debug)]
pub struct Demo {
    /// The gateway.
    pub running: Running,
    /// Tokens for its resource.
    pub tokens: DemoTokens,
    /// Where this run's audit trail is written.
    pub audit_dir: std::path::PathBuf,
}

/// Starts the demo MCP server and the gateway in front of it, with a fresh
/// signing key whose tokens the gateway accepts. The demo server lives as long
/// as the process.
pub async fn start(listen: &str) -> Result<Demo, DemoError> {
    let mut address: SocketAddr = listen.parse().map_err(|_| DemoError::Listen)?;
    if address.port() == 0 {
        // The resource URI (which tokens name) needs the real port up front.
        let probe = std::net::TcpListener::bind(address).map_err(DemoError::Upstream)?;
        address = probe.local_addr().map_err(DemoError::Upstream)?;
    }
    let upstream = server::start("127.0.0.1:0")
        .await
        .map_err(DemoError::Upstream)?;
    let key = tokens::DemoKey::generate()?;
    let dir = std::env::temp_dir().join(format!("portcullis-demo-{}", std::process::id()));
    let jwks = key.write_jwks(&dir)?;
    let audit_dir =
        std::env::temp_dir().join(format!("portcullis-demo-audit-{}", std::process::id()));
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies).map_err(DemoError::Upstream)?;
    for (name, text) in DEMO_POLICIES {
        std::fs::write(policies.join(name), text).map_err(DemoError::Upstream)?;
    }
    let text = DEMO_CONFIG
        .replace("{{DEMO_UPSTREAM}}", &upstream.addr().to_string())
        .replace("{{LISTEN}}", &address.to_string())
        .replace("{{DEMO_JWKS}}", &jwks.display().to_string())
        .replace("{{AUDIT_DIR}}", &audit_dir.display().to_string())
        .replace("{{DEMO_POLICIES}}", &policies.display().to_string());
    let runtime = config::load_str(&text, Path::new("examples/demo.yaml"));
    // The key is loaded (or refused); the file is not needed any more.
    let _ = std::fs::remove_dir_all(&dir);
    let runtime = runtime?;
    let resource = format!("http://{address}/mcp");
    let tokens = key.tokens(&resource, crate::authn::now())?;
    let running = crate::server::start(runtime).await?;
    upstream.detach();
    Ok(Demo {
        running,
        tokens,
        audit_dir,
    })
}

/// What to try, with the gateway's real address filled in.
pub fn instructions(gateway: SocketAddr, tokens: &DemoTokens, audit_dir: &Path) -> String {
    let url = format!("http://{gateway}/mcp");
    let auth = |token: &str| format!("-H 'Authorization: Bearer {token}'");
    let valid = auth(&tokens.valid);
    let call = |id: u32, tool: &str, name_header: &str, args: &str| {
        format!(
            "curl -s {url} {valid} \\\n     -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\\n     \
             -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: {name_header}' \\\n     \
             -d '{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":\"{tool}\",\"arguments\":{args},\
             \"_meta\":{{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}}}}'"
        )
    };
    let origin = format!("http://{gateway}");
    let list = format!(
        "curl -s {url} {valid} \\\n     -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\\n     \
         -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/list' \\\n     \
         -d '{{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{{\"_meta\":{{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}}}}'"
    );
    format!(
        "portcullis demo: the gateway listens on {url} in front of an embedded demo MCP server.\n\
         It requires a short-lived bearer token from the demo issuer; a signing key was made for\n\
         this run and the tokens below are signed with it (valid 10 minutes).\n\
         Each request is logged below as one access record (auth.reason says why a token was\n\
         refused). Press Ctrl-C to stop.\n\n\
         1. Without a token: 401, and a challenge pointing at the protected resource metadata:\n   \
         curl -s -i {url} -H 'Content-Type: application/json' -d '{{}}'\n\n\
         2. The metadata (RFC 9728) an MCP client follows to find the authorization server:\n   \
         curl -s {origin}/.well-known/oauth-protected-resource/mcp\n\n\
         3. An expired token, and a correctly signed one valid for a year: both 401:\n   \
         curl -s -i {url} {expired} -H 'Content-Type: application/json' -d '{{}}'\n   \
         curl -s -i {url} {long} -H 'Content-Type: application/json' -d '{{}}'\n\n\
         4. With the valid token, the tool list, filtered by policy (policies/demo/demo.cedar):\n   \
         echo, add and fetch_page are shown; delete_records is hidden:\n   {list}\n\n\
         5. An allowed tool call, forwarded unchanged (the token is not):\n   {}\n\n\
         6. The hidden tool, called anyway: denied, and answered exactly as an unknown tool\n   \
         (-32602 Unknown tool: delete_records), so nothing confirms that it exists:\n   {}\n\n\
         7. A routing header that disagrees with the body (header smuggling) is refused, 400 / -32020:\n   {}\n\n\
         8. A DNS-rebinding attempt (a foreign Host header) is refused, 421:\n   \
         curl -s -i {url} -H 'Host: evil.example.com' -H 'Content-Type: application/json' -d '{{}}'\n\n\
         9. Malformed JSON-RPC never reaches the server, 400 / -32700:\n   \
         curl -s {url} {valid} -H 'Content-Type: application/json' -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"id\":2}}'\n\n\
         10. A fetched page hides an instruction to the AI in an HTML comment: the injection filter\n   \
         withholds the tool result (an isError result says why):\n   {}\n\n\
         11. A cloud key leaving in a tool argument is blocked before it reaches the server (-32001):\n   {}\n\n\
         Every action above is one OCSF event in the audit trail, hash-chained and checkpointed:\n   \
         ls {audit}   # then: portcullis audit verify {audit}/*.jsonl\n\n\
         Any MCP client works too, given the valid token as its bearer token.\n",
        call(1, "echo", "echo", "{\"text\":\"hello\"}"),
        call(
            4,
            "delete_records",
            "delete_records",
            "{\"table\":\"customers\"}"
        ),
        call(2, "echo", "delete_records", "{\"text\":\"hello\"}"),
        call(
            3,
            "fetch_page",
            "fetch_page",
            "{\"url\":\"https://shop.example/prices\"}"
        ),
        call(
            5,
            "echo",
            "echo",
            "{\"text\":\"my key is AKIAIOSFODNN7EXAMPLE\"}"
        ),
        audit = audit_dir.display(),
        expired = auth(&tokens.expired),
        long = auth(&tokens.long_lived),
    )
}
