//! JSON-RPC 2.0 envelopes as MCP uses them.
//!
//! A body is parsed once, strictly (see `strict`), into [`Message`]s that later
//! stages inspect. The bytes that arrived are kept in the [`Envelope`] and are what
//! the gateway forwards when nothing asks it to change the message, so a message
//! that passes is delivered byte for byte, never re-serialised.
//!
//! Shapes are checked as MCP requires: `jsonrpc` is `"2.0"`; an id is a string or an
//! integer and never null on a request; `params` is an object; a response carries
//! exactly one of `result` and `error`. A request naming a tool, prompt or resource
//! must name it with a string ([`Message::target_error`] says when it does not).

use super::mcp::{self, Target};
use super::strict;
use bytes::Bytes;
use serde_json::{Map, Value};
use std::fmt;

/// The deepest nesting any configuration may allow (below serde_json's own limit).
pub const MAX_DEPTH: usize = super::strict::MAX_DEPTH_CEILING;

/// Bounds applied while parsing untrusted input.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Deepest nesting of arrays and objects.
    pub max_depth: usize,
    /// Most messages in one batch.
    pub max_batch_len: usize,
    /// Longest string id, in bytes.
    pub max_id_len: usize,
    /// Longest method name, in bytes.
    pub max_method_len: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_depth: 64,
            max_batch_len: 32,
            max_id_len: 256,
            max_method_len: 256,
        }
    }
}

/// A JSON-RPC id: a string or an integer (MCP never allows null on a request).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequestId {
    /// An integer id; i128 holds every i64 and u64.
    Number(i128),
    /// A string id.
    String(String),
}

impl RequestId {
    /// The id as JSON, for error responses that must echo it.
    pub fn to_json(&self) -> Value {
        match self {
            RequestId::Number(n) => {
                if let Ok(i) = i64::try_from(*n) {
                    Value::from(i)
                } else if let Ok(u) = u64::try_from(*n) {
                    Value::from(u)
                } else {
                    Value::Null
                }
            }
            RequestId::String(s) => Value::String(s.clone()),
        }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// The four message shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Has `method` and `id`: expects an answer.
    Request,
    /// Has `method`, no `id`: never answered.
    Notification,
    /// Has `id` and `result`.
    Response,
    /// Has `error` (and an id, unless the request's id could not be read).
    ErrorResponse,
}

/// One parsed JSON-RPC message.
#[derive(Debug, Clone)]
pub struct Message {
    object: Map<String, Value>,
    kind: Kind,
    id: Option<RequestId>,
    target: Result<Option<Target>, String>,
}

/// A POST body: one message, or (2025-03-26 only) a batch.
#[derive(Debug, Clone)]
pub enum Payload {
    /// A single message object.
    Single(Message),
    /// A non-empty array of message objects.
    Batch(Vec<Message>),
}

/// A parsed body together with the exact bytes it was parsed from.
#[derive(Debug, Clone)]
pub struct Envelope {
    raw: Bytes,
    payload: Payload,
}

/// Why a body is not an acceptable JSON-RPC message. Each maps to one JSON-RPC code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON, or JSON the gateway refuses (duplicate keys, too deep): `-32700`.
    #[error("parse error: {0}")]
    Syntax(String),
    /// JSON, but not a valid JSON-RPC message: `-32600`.
    #[error("invalid request: {reason}")]
    Invalid {
        /// The id, when it could be read, so the error can echo it.
        id: Option<RequestId>,
        /// What is wrong, for the client.
        reason: String,
    },
    /// A valid message whose MCP parameters are unusable: `-32602`.
    #[error("invalid params: {reason}")]
    InvalidParams {
        /// The request's id.
        id: Option<RequestId>,
        /// What is wrong, for the client.
        reason: String,
    },
}

impl ParseError {
    /// The JSON-RPC error code for this error.
    pub fn code(&self) -> i64 {
        match self {
            ParseError::Syntax(_) => super::rpc_error::PARSE_ERROR,
            ParseError::Invalid { .. } => super::rpc_error::INVALID_REQUEST,
            ParseError::InvalidParams { .. } => super::rpc_error::INVALID_PARAMS,
        }
    }

    /// The id of the offending message, when it could be read.
    pub fn id(&self) -> Option<&RequestId> {
        match self {
            ParseError::Syntax(_) => None,
            ParseError::Invalid { id, .. } | ParseError::InvalidParams { id, .. } => id.as_ref(),
        }
    }
}

/// Parses a body into an envelope that keeps `raw` for forwarding.
pub fn parse(raw: Bytes, limits: &ParseLimits) -> Result<Envelope, ParseError> {
    let value = strict::from_slice(&raw, limits.max_depth)
        .map_err(|e| ParseError::Syntax(e.to_string()))?;
    let payload = match value {
        Value::Object(object) => Payload::Single(Message::from_object(object, limits)?),
        Value::Array(items) => {
            if items.is_empty() {
                return Err(invalid(None, "an empty batch is not a message"));
            }
            if items.len() > limits.max_batch_len {
                return Err(invalid(
                    None,
                    format!("a batch may hold at most {} messages", limits.max_batch_len),
                ));
            }
            let mut messages = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Object(object) => messages.push(Message::from_object(object, limits)?),
                    _ => return Err(invalid(None, "every batch element must be an object")),
                }
            }
            Payload::Batch(messages)
        }
        _ => return Err(invalid(None, "a JSON-RPC message must be an object")),
    };
    Ok(Envelope { raw, payload })
}

/// Parses exactly one message (for example one SSE event's data).
pub fn parse_message(bytes: &[u8], limits: &ParseLimits) -> Result<Message, ParseError> {
    match strict::from_slice(bytes, limits.max_depth) {
        Ok(Value::Object(object)) => Message::from_object(object, limits),
        Ok(_) => Err(invalid(None, "a JSON-RPC message must be an object")),
        Err(e) => Err(ParseError::Syntax(e.to_string())),
    }
}

fn invalid(id: Option<RequestId>, reason: impl Into<String>) -> ParseError {
    ParseError::Invalid {
        id,
        reason: reason.into(),
    }
}

impl Envelope {
    /// The bytes exactly as received.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The parsed payload.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// Every message in the body, in order.
    pub fn messages(&self) -> &[Message] {
        match &self.payload {
            Payload::Single(m) => std::slice::from_ref(m),
            Payload::Batch(ms) => ms,
        }
    }

    /// Whether the body was a batch array.
    pub fn is_batch(&self) -> bool {
        matches!(self.payload, Payload::Batch(_))
    }

    /// The single message, if the body was not a batch.
    pub fn single(&self) -> Option<&Message> {
        match &self.payload {
            Payload::Single(m) => Some(m),
            Payload::Batch(_) => None,
        }
    }
}

impl Message {
    fn from_object(
        object: Map<String, Value>,
        limits: &ParseLimits,
    ) -> Result<Message, ParseError> {
        let id = read_id(object.get("id"), limits)?;
        if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(invalid(id.flatten(), "`jsonrpc` must be \"2.0\""));
        }
        let has = |k: &str| object.contains_key(k);
        let (kind, id) = if let Some(method) = object.get("method") {
            let Some(method) = method.as_str() else {
                return Err(invalid(id.flatten(), "`method` must be a string"));
            };
            if method.is_empty() || method.len() > limits.max_method_len {
                return Err(invalid(id.flatten(), "`method` is empty or too long"));
            }
            if has("result") || has("error") {
                return Err(invalid(
                    id.flatten(),
                    "a request cannot carry `result` or `error`",
                ));
            }
            match id {
                None => (Kind::Notification, None),
                Some(None) => return Err(invalid(None, "a request id must not be null")),
                Some(Some(id)) => (Kind::Request, Some(id)),
            }
        } else {
            match (has("result"), has("error")) {
                (true, false) => match id {
                    Some(Some(id)) => (Kind::Response, Some(id)),
                    _ => return Err(invalid(None, "a response needs a string or integer `id`")),
                },
                (false, true) => {
                    check_error_object(object.get("error"), id.clone().flatten())?;
                    (Kind::ErrorResponse, id.flatten())
                }
                (true, true) => {
                    return Err(invalid(
                        id.flatten(),
                        "`result` and `error` are mutually exclusive",
                    ));
                }
                (false, false) => {
                    return Err(invalid(
                        id.flatten(),
                        "a message needs `method`, `result` or `error`",
                    ));
                }
            }
        };
        let params = match object.get("params") {
            None => None,
            Some(Value::Object(p)) => Some(p),
            Some(_) => return Err(invalid(id, "`params` must be an object")),
        };
        let target = match object.get("method").and_then(Value::as_str) {
            Some(method) => mcp::target_of(method, params),
            None => Ok(None),
        };
        Ok(Message {
            object,
            kind,
            id,
            target,
        })
    }

    /// The message's shape.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The id, absent for notifications and for errors answering an unreadable id.
    pub fn id(&self) -> Option<&RequestId> {
        self.id.as_ref()
    }

    /// The method of a request or notification.
    pub fn method(&self) -> Option<&str> {
        self.object.get("method").and_then(Value::as_str)
    }

    /// The params object, if any.
    pub fn params(&self) -> Option<&Map<String, Value>> {
        self.object.get("params").and_then(Value::as_object)
    }

    /// The tool, prompt or resource the request acts on.
    pub fn target(&self) -> Option<&Target> {
        self.target.as_ref().ok().and_then(Option::as_ref)
    }

    /// Why the request's target is unusable (a method that names an object
    /// without a string name or URI): a `-32602` the pipeline must answer with.
    /// Kept apart from parsing so that a method the request's era does not have
    /// is reported as unknown rather than as malformed.
    pub fn target_error(&self) -> Option<ParseError> {
        self.target
            .as_ref()
            .err()
            .map(|reason| ParseError::InvalidParams {
                id: self.id.clone(),
                reason: reason.clone(),
            })
    }

    /// `params.arguments` of `tools/call` and `prompts/get`.
    pub fn arguments(&self) -> Option<&Value> {
        self.params().and_then(|p| p.get("arguments"))
    }

    /// `params._meta`, if present and an object.
    pub fn meta(&self) -> Option<&Map<String, Value>> {
        self.params()
            .and_then(|p| p.get("_meta"))
            .and_then(Value::as_object)
    }

    /// The value of `params._meta["io.modelcontextprotocol/protocolVersion"]`.
    /// `Some(Err(()))` when the key is present but not a string.
    pub fn meta_protocol_version(&self) -> Option<Result<&str, ()>> {
        self.meta()
            .and_then(|m| m.get(super::era::META_PROTOCOL_VERSION))
            .map(|v| v.as_str().ok_or(()))
    }

    /// The `result` member of a response.
    pub fn result(&self) -> Option<&Value> {
        self.object.get("result")
    }

    /// The `error.code` of an error response.
    pub fn error_code(&self) -> Option<i64> {
        self.object.get("error")?.get("code")?.as_i64()
    }

    /// The whole message object.
    pub fn as_object(&self) -> &Map<String, Value> {
        &self.object
    }
}

/// `None`: no `id` member. `Some(None)`: `"id": null`. `Some(Some(id))`: a valid id.
fn read_id(
    value: Option<&Value>,
    limits: &ParseLimits,
) -> Result<Option<Option<RequestId>>, ParseError> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.len() <= limits.max_id_len => {
            Ok(Some(Some(RequestId::String(s.clone()))))
        }
        Some(Value::String(_)) => Err(invalid(
            None,
            format!("a string id may be at most {} bytes", limits.max_id_len),
        )),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(Some(RequestId::Number(i128::from(i)))))
            } else if let Some(u) = n.as_u64() {
                Ok(Some(Some(RequestId::Number(i128::from(u)))))
            } else {
                Err(invalid(
                    None,
                    "an id must be a string or an integer that fits in 64 bits",
                ))
            }
        }
        Some(_) => Err(invalid(None, "an id must be a string or an integer")),
    }
}

fn check_error_object(error: Option<&Value>, id: Option<RequestId>) -> Result<(), ParseError> {
    let Some(Value::Object(e)) = error else {
        return Err(invalid(id, "`error` must be an object"));
    };
    if !e.get("code").is_some_and(|c| c.is_i64()) {
        return Err(invalid(id, "`error.code` must be an integer"));
    }
    if !e.get("message").is_some_and(Value::is_string) {
        return Err(invalid(id, "`error.message` must be a string"));
    }
    Ok(())
}

#[cfg(test)]
#[path = "jsonrpc_tests.rs"]
mod tests;
