//! The session the gateway opens with each (re)started server, before any client
//! request is let through.
//!
//! - Legacy era: `initialize` with the configured version and client capabilities,
//!   then `notifications/initialized`. The server's version must be one the
//!   gateway knows and a legacy one.
//! - 2026-07-28: `server/discover` with the per-request `_meta` envelope; the
//!   server must list `2026-07-28` among its supported versions.
//! - Auto: the discover probe first (half the startup time at most); a server
//!   that refuses it, does not list 2026-07-28, or does not answer in time is
//!   initialised the legacy way on the same connection. A dual-era server (the
//!   Python SDK over stdio) locks the connection to the era of its first request,
//!   which is exactly the probe's outcome.
//!
//! Transport-neutral: it only needs a [`Mux`] and an [`Offer`], so the legacy
//! HTTP+SSE upstream opens its sessions with it too.

use crate::config::stdio::{StdioEra, StdioSettings};
use crate::protocol::era::META_PROTOCOL_VERSION;
use crate::protocol::jsonrpc::parse_message;
use crate::protocol::{Era, Kind, Message, ParseLimits, Version};
use crate::upstream::mux::{Mux, MuxError};
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio::time::Instant;

/// What the server said about itself in the handshake.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The era the connection speaks.
    pub era: Era,
    /// The negotiated version (2026-07-28 in that era).
    pub version: Version,
    /// The server's capabilities object.
    pub capabilities: Value,
    /// `serverInfo` (legacy) or `_meta["io.modelcontextprotocol/serverInfo"]`.
    pub server_info: Value,
    /// The server's instructions, if any.
    pub instructions: Option<String>,
}

/// Why the handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The connection failed or the server did not answer in time.
    #[error(transparent)]
    Mux(#[from] MuxError),
    /// The server answered with a JSON-RPC error.
    #[error("the server refused {method}: {message} ({code})")]
    Refused {
        /// The handshake method.
        method: &'static str,
        /// The error code.
        code: i64,
        /// The error message.
        message: String,
    },
    /// The result is unusable (for example an unknown protocol version).
    #[error("the server's answer to {method} is unusable: {reason}")]
    Invalid {
        /// The handshake method.
        method: &'static str,
        /// What was wrong.
        reason: String,
    },
}

/// What the gateway offers a server in the handshake.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// Which handshake to perform.
    pub era: StdioEra,
    /// The version offered in `initialize`.
    pub protocol_version: Version,
    /// Capabilities declared to the server.
    pub client_capabilities: Map<String, Value>,
}

impl Offer {
    /// The offer a stdio upstream's settings describe.
    pub fn of(settings: &StdioSettings) -> Offer {
        Offer {
            era: settings.era,
            protocol_version: settings.protocol_version,
            client_capabilities: settings.client_capabilities.clone(),
        }
    }
}

const DISCOVER: &str = "server/discover";
const INITIALIZE: &str = "initialize";

/// Runs the configured handshake; it must end by `deadline`.
pub async fn perform(
    mux: &Mux,
    settings: &Offer,
    deadline: Instant,
) -> Result<Session, HandshakeError> {
    let left = || deadline.saturating_duration_since(Instant::now());
    match settings.era {
        StdioEra::Only(Era::Legacy) => initialize(mux, settings, left()).await,
        StdioEra::Only(Era::Modern) => discover(mux, settings, left()).await,
        StdioEra::Auto => match discover(mux, settings, left() / 2).await {
            Err(e @ (HandshakeError::Refused { .. } | HandshakeError::Invalid { .. }))
            | Err(e @ HandshakeError::Mux(MuxError::Timeout { .. })) => {
                tracing::debug!(upstream = %mux.name(), reason = %e, "not a 2026-07-28 server; initializing");
                initialize(mux, settings, left()).await
            }
            other => other,
        },
    }
}

/// The `_meta` envelope every 2026-07-28 request carries.
pub fn envelope(settings: &Offer) -> Value {
    json!({
        META_PROTOCOL_VERSION: Version::V2026_07_28.as_str(),
        "io.modelcontextprotocol/clientCapabilities": settings.client_capabilities,
        "io.modelcontextprotocol/clientInfo": client_info(),
    })
}

/// The liveness probe for the era: `ping`, or `server/discover` (2026-07-28 has no ping).
pub fn ping(settings: &Offer, era: Era) -> Option<Message> {
    match era {
        Era::Legacy => message(&json!({"jsonrpc": "2.0", "id": 0, "method": "ping"})),
        Era::Modern => message(&discover_request(settings)),
    }
}

fn client_info() -> Value {
    json!({"name": "portcullis", "version": env!("CARGO_PKG_VERSION")})
}

fn discover_request(settings: &Offer) -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": DISCOVER, "params": {"_meta": envelope(settings)}})
}

fn message(value: &Value) -> Option<Message> {
    parse_message(value.to_string().as_bytes(), &ParseLimits::default()).ok()
}

async fn call(
    mux: &Mux,
    method: &'static str,
    request: &Value,
    within: Duration,
) -> Result<Map<String, Value>, HandshakeError> {
    let request = message(request).ok_or(HandshakeError::Invalid {
        method,
        reason: "request not buildable".into(),
    })?;
    let frame = mux
        .setup_request(&request, within)
        .await?
        .response()
        .await?;
    let response = frame.message();
    if response.kind() == Kind::ErrorResponse {
        let error = response.as_object().get("error");
        let text = |k: &str| {
            error
                .and_then(|e| e.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        return Err(HandshakeError::Refused {
            method,
            code: response.error_code().unwrap_or_default(),
            message: text("message"),
        });
    }
    match response.result() {
        Some(Value::Object(result)) => Ok(result.clone()),
        _ => Err(HandshakeError::Invalid {
            method,
            reason: "the result is not an object".into(),
        }),
    }
}

async fn discover(
    mux: &Mux,
    settings: &Offer,
    within: Duration,
) -> Result<Session, HandshakeError> {
    let result = call(mux, DISCOVER, &discover_request(settings), within).await?;
    let modern = Version::V2026_07_28.as_str();
    let versions = result.get("supportedVersions").and_then(Value::as_array);
    if !versions.is_some_and(|v| v.iter().any(|v| v.as_str() == Some(modern))) {
        return Err(HandshakeError::Invalid {
            method: DISCOVER,
            reason: format!("{modern} is not among the supported versions"),
        });
    }
    let server_info = result
        .get("_meta")
        .and_then(|m| m.get("io.modelcontextprotocol/serverInfo"))
        .cloned()
        .unwrap_or(Value::Null);
    Ok(session(
        Era::Modern,
        Version::V2026_07_28,
        &result,
        server_info,
    ))
}

async fn initialize(
    mux: &Mux,
    settings: &Offer,
    within: Duration,
) -> Result<Session, HandshakeError> {
    let request = json!({"jsonrpc": "2.0", "id": 0, "method": INITIALIZE, "params": {
        "protocolVersion": settings.protocol_version.as_str(),
        "capabilities": settings.client_capabilities,
        "clientInfo": client_info(),
    }});
    let result = call(mux, INITIALIZE, &request, within).await?;
    let offered = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let version = Version::parse(offered)
        .filter(|v| v.era() == Era::Legacy)
        .ok_or_else(|| HandshakeError::Invalid {
            method: INITIALIZE,
            reason: format!("protocol version `{offered}` is not one the gateway speaks"),
        })?;
    let initialized = message(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .ok_or(HandshakeError::Invalid {
            method: INITIALIZE,
            reason: "notification not buildable".into(),
        })?;
    mux.setup_notify(&initialized).await?;
    let server_info = result.get("serverInfo").cloned().unwrap_or(Value::Null);
    Ok(session(Era::Legacy, version, &result, server_info))
}

fn session(era: Era, version: Version, result: &Map<String, Value>, server_info: Value) -> Session {
    Session {
        era,
        version,
        capabilities: result
            .get("capabilities")
            .cloned()
            .unwrap_or_else(|| json!({})),
        server_info,
        instructions: result
            .get("instructions")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}
