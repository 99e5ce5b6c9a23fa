//! JSON-RPC error codes the gateway produces, and the bytes of an error response.

use super::jsonrpc::RequestId;
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

/// The body is not JSON, or not JSON the gateway accepts.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON is not a valid JSON-RPC message.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist (or, under policy, is not visible).
pub const METHOD_NOT_FOUND: i64 = -32601;
/// The parameters are unusable.
pub const INVALID_PARAMS: i64 = -32602;
/// Something failed inside the gateway or upstream; details stay in the logs.
pub const INTERNAL_ERROR: i64 = -32603;
/// Resource not found (revisions up to 2025-11-25; later ones use [`INVALID_PARAMS`]).
pub const RESOURCE_NOT_FOUND: i64 = -32002;
/// Gateway-defined (implementation-defined server error range): the gateway's
/// content filter blocked the message.
pub const CONTENT_BLOCKED: i64 = -32001;
/// 2026-07-28: a mirrored header disagrees with the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// 2026-07-28: the request needs a capability the client did not declare.
pub const MISSING_CAPABILITY: i64 = -32021;
/// 2026-07-28: the protocol version is not supported.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// Serialises `{"jsonrpc":"2.0","id":…,"error":{…}}`. Without an id the member is
/// `null`, as JSON-RPC requires when the request's id could not be determined.
pub fn error_body(id: Option<&RequestId>, code: i64, message: &str, data: Option<Value>) -> Bytes {
    #[derive(Serialize)]
    struct ErrorObject<'a> {
        code: i64,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<Value>,
    }
    #[derive(Serialize)]
    struct ErrorResponse<'a> {
        jsonrpc: &'static str,
        id: Value,
        error: ErrorObject<'a>,
    }
    let body = ErrorResponse {
        jsonrpc: "2.0",
        id: id.map_or(Value::Null, RequestId::to_json),
        error: ErrorObject {
            code,
            message,
            data,
        },
    };
    // Serialising plain strings and numbers cannot fail; fall back to a fixed body anyway.
    Bytes::from(serde_json::to_vec(&body).unwrap_or_else(|_| {
        br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}}"#
            .to_vec()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_bodies_echo_the_id() {
        let b = error_body(
            Some(&RequestId::String("a".into())),
            INVALID_PARAMS,
            "bad",
            None,
        );
        assert_eq!(
            &b[..],
            br#"{"jsonrpc":"2.0","id":"a","error":{"code":-32602,"message":"bad"}}"#
        );
        let b = error_body(None, PARSE_ERROR, "x", Some(json!({"k":1})));
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["id"], Value::Null);
        assert_eq!(v["error"]["data"]["k"], 1);
    }
}
