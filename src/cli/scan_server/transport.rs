//! The MCP client side of `scan server`: one connection to the server under
//! scan, over Streamable HTTP ([`super::http`]) or a spawned stdio process
//! ([`super::stdio`]), and the errors that end a scan.
//!
//! Invariant: every request is bounded by the scan's timeout, so a server that
//! never answers ends the scan with [`ProbeError::Timeout`], never a hang.

use super::http::HttpClient;
use super::listing::ListError;
use super::stdio::StdioClient;
use serde_json::Value;
use std::time::Duration;

/// Why a scan could not be completed (exit code 2). `Display` is one line that
/// says what failed; the caller prefixes the target.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The command line or the rules/model could not be used.
    #[error("{0}")]
    Usage(String),
    /// No connection could be made, or the server process did not start.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// No answer within the timeout.
    #[error("{method}: no answer within {after:?}")]
    Timeout {
        /// The request that went unanswered.
        method: String,
        /// The timeout.
        after: Duration,
    },
    /// The server answered with a JSON-RPC error.
    #[error("{method}: the server answered with error {code}: {message}")]
    Server {
        /// The request.
        method: String,
        /// The JSON-RPC error code.
        code: i64,
        /// The error's message.
        message: String,
    },
    /// The server answered with an HTTP status other than success.
    #[error("{method}: HTTP status {status}{detail}")]
    Status {
        /// The request.
        method: String,
        /// The status.
        status: http::StatusCode,
        /// The start of the body, if any, prefixed with `: `.
        detail: String,
    },
    /// The answer is not a usable JSON-RPC response.
    #[error("{method}: bad response: {reason}")]
    BadResponse {
        /// The request.
        method: String,
        /// What was wrong.
        reason: String,
    },
    /// A listing went past its bounds.
    #[error(transparent)]
    Limit(#[from] ListError),
}

impl ProbeError {
    /// A bad response to `method`.
    pub fn bad(method: &str, reason: impl Into<String>) -> ProbeError {
        ProbeError::BadResponse {
            method: method.to_owned(),
            reason: reason.into(),
        }
    }
}

/// What the server said in the handshake.
#[derive(Debug, Clone)]
pub struct Hello {
    /// The negotiated protocol version.
    pub protocol_version: String,
    /// The server's capabilities object.
    pub capabilities: Value,
    /// `serverInfo`.
    pub server_info: Value,
    /// The server's `instructions`, when it gave any.
    pub instructions: Option<Value>,
}

/// An open connection to the server under scan.
#[derive(Debug)]
pub enum Connection {
    /// Streamable HTTP (boxed: its pooled client is much larger than the stdio handle).
    Http(Box<HttpClient>),
    /// A spawned process.
    Stdio(StdioClient),
}

impl Connection {
    /// Sends `method` with `params` and returns its result.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, ProbeError> {
        match self {
            Connection::Http(c) => c.request(method, params).await,
            Connection::Stdio(c) => c.request(method, params).await,
        }
    }

    /// Ends the session: HTTP `DELETE` when the server gave a session id; the
    /// process closed, terminated if need be, and reaped.
    pub async fn close(self) {
        match self {
            Connection::Http(c) => c.close().await,
            Connection::Stdio(c) => c.close().await,
        }
    }
}

/// The result of a JSON-RPC response object to `method`, or the error it carries.
pub fn outcome(method: &str, response: &Value) -> Result<Value, ProbeError> {
    if let Some(error) = response.get("error") {
        return Err(ProbeError::Server {
            method: method.to_owned(),
            code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: one_line(
                error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("(no message)"),
            ),
        });
    }
    match response.get("result") {
        Some(result) if result.is_object() => Ok(result.clone()),
        Some(_) => Err(ProbeError::bad(method, "the result is not an object")),
        None => Err(ProbeError::bad(
            method,
            "neither `result` nor `error` in the response",
        )),
    }
}

/// `text` on one line, at most 200 characters: server text in an error message.
pub fn one_line(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    if text.chars().count() > 200 {
        format!("{}…", flat.trim_end())
    } else {
        flat.trim().to_owned()
    }
}

/// The `initialize` params a scan sends: no client capabilities, so the server
/// has no reason to send requests back.
pub fn initialize_params(version: &str) -> Value {
    serde_json::json!({
        "protocolVersion": version,
        "capabilities": {},
        "clientInfo": {"name": "portcullis-scan", "version": env!("CARGO_PKG_VERSION")},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcome_separates_results_errors_and_nonsense() {
        assert_eq!(
            outcome("tools/list", &json!({"result": {"tools": []}})).unwrap(),
            json!({"tools": []})
        );
        let e = outcome(
            "tools/list",
            &json!({"error": {"code": -32601, "message": "no\nsuch"}}),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "tools/list: the server answered with error -32601: no such"
        );
        assert!(matches!(
            outcome("x", &json!({"id": 1})),
            Err(ProbeError::BadResponse { .. })
        ));
    }
}
