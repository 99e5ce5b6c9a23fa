//! The bytes the multiplexer writes, and the frames it hands back with a
//! client's key restored. Pure.

use super::{Frame, MuxError, MuxLimits, splice};
use crate::protocol::rpc_error::{INTERNAL_ERROR, error_body};
use crate::protocol::{Message, RequestId, jsonrpc};
use bytes::Bytes;
use serde_json::{Map, Value};

/// The request as it goes upstream: fresh id, progress token replaced by it.
pub(super) fn outgoing_request(
    message: &Message,
    upstream_id: u64,
) -> Result<(Bytes, Option<Value>), MuxError> {
    let mut object = message.as_object().clone();
    object.insert("id".into(), Value::from(upstream_id));
    let token = object
        .get_mut("params")
        .and_then(Value::as_object_mut)
        .and_then(|p| p.get_mut("_meta"))
        .and_then(Value::as_object_mut)
        .and_then(|m| m.get_mut("progressToken"))
        .map(|t| std::mem::replace(t, Value::from(upstream_id)));
    Ok((serialise(&object)?, token))
}

pub(super) fn serialise(object: &Map<String, Value>) -> Result<Bytes, MuxError> {
    // Compact serde_json output never contains a raw newline: fit for line framing.
    serde_json::to_vec(object)
        .map(Bytes::from)
        .map_err(|_| MuxError::Invalid("the message cannot be serialised"))
}

pub(super) fn result_line(id: &RequestId, result: Value) -> Bytes {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": id.to_json(), "result": result});
    Bytes::from(body.to_string())
}

pub(super) fn cancelled_line(upstream_id: u64, reason: &str) -> Bytes {
    let body = serde_json::json!({"jsonrpc": "2.0", "method": super::shared::CANCELLED,
        "params": {"requestId": upstream_id, "reason": reason}});
    Bytes::from(body.to_string())
}

/// `frame` with its id replaced by `id` (unchanged when equal).
pub(super) fn restore(
    frame: &Frame,
    path: &[&str],
    id: &RequestId,
    limits: &MuxLimits,
) -> Option<Frame> {
    if frame.message().id() == Some(id) {
        return Some(frame.clone());
    }
    restore_value(frame, path, &id.to_json(), limits)
}

/// `frame` with the value at `path` replaced by `value`, re-read strictly.
pub(super) fn restore_value(
    frame: &Frame,
    path: &[&str],
    value: &Value,
    limits: &MuxLimits,
) -> Option<Frame> {
    let json = serde_json::to_vec(value).ok()?;
    let raw = splice::replace(frame.raw(), path, &json)?;
    let message = jsonrpc::parse_message(&raw, &limits.parse).ok()?;
    Some(Frame::new(raw, message))
}

/// Builds the error reply for a server request nobody answered.
pub(super) fn unanswered(id: &RequestId) -> Bytes {
    error_body(
        Some(id),
        INTERNAL_ERROR,
        "the request was not answered",
        None,
    )
}
