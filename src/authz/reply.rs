//! How refusals read, so that a denied call is indistinguishable from a call to
//! something that does not exist (no confirmation that the tool exists).
//!
//! Pure: the pipeline's one error-to-response place calls [`denied`] for the
//! body of a `Denied` refusal.

use super::config::UnknownToolStyle;
use crate::protocol::RequestId;
use crate::protocol::rpc_error::{INVALID_PARAMS, METHOD_NOT_FOUND};
use serde_json::{Value, json};

/// `-32002`: the MCP code for an unknown resource.
pub const RESOURCE_NOT_FOUND: i64 = -32002;
/// A call needs a human approval; `data.approval_id` names it.
pub const APPROVAL_REQUIRED: i64 = -32040;
/// An approver rejected this exact call.
pub const APPROVAL_REJECTED: i64 = -32041;
/// Over a rate limit; `data.retry_after_ms` and the `Retry-After` header say when to retry.
pub const RATE_LIMITED: i64 = -32042;

/// What was denied, as the refusal needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeniedCall {
    /// The request's id.
    pub id: Option<RequestId>,
    /// The method.
    pub method: String,
    /// The tool or prompt name, or resource URI.
    pub name: String,
    /// How unknown tools read on this upstream.
    pub style: UnknownToolStyle,
    /// Whether the request was in the 2026-07-28 era (results carry `resultType`).
    pub modern: bool,
    /// The `_meta` the upstream puts on its results in that era, if learnt.
    pub meta: Option<Value>,
}

/// The JSON-RPC message answering a denied request.
pub fn denied(d: &DeniedCall) -> Value {
    let id = d.id.as_ref().map_or(Value::Null, RequestId::to_json);
    let error = |code: i64, message: String| json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    match (d.method.as_str(), d.style) {
        ("tools/call", UnknownToolStyle::PythonSdk) => {
            let mut result = json!({
                "content": [{"type": "text", "text": format!("Unknown tool: {}", d.name)}],
                "isError": true,
            });
            if d.modern {
                result["resultType"] = json!("complete");
                if let Some(meta) = &d.meta {
                    result["_meta"] = meta.clone();
                }
            }
            json!({"jsonrpc": "2.0", "id": id, "result": result})
        }
        ("tools/call", UnknownToolStyle::Rmcp) => error(INVALID_PARAMS, "tool not found".into()),
        ("tools/call", UnknownToolStyle::Spec) => {
            error(INVALID_PARAMS, format!("Unknown tool: {}", d.name))
        }
        ("prompts/get", _) => error(INVALID_PARAMS, format!("Unknown prompt: {}", d.name)),
        // Nothing to suggest: what a server says of a prompt or template it
        // has no completions for.
        ("completion/complete", _) => {
            let mut result = json!({"completion": {"values": [], "total": 0, "hasMore": false}});
            if d.modern {
                result["resultType"] = json!("complete");
                if let Some(meta) = &d.meta {
                    result["_meta"] = meta.clone();
                }
            }
            json!({"jsonrpc": "2.0", "id": id, "result": result})
        }
        ("resources/read" | "resources/subscribe" | "resources/unsubscribe", _) => {
            let mut e = error(RESOURCE_NOT_FOUND, "Resource not found".into());
            e["error"]["data"] = json!({"uri": d.name});
            e
        }
        _ => error(METHOD_NOT_FOUND, "Method not found".into()),
    }
}
