//! What a server tells and asks the caller, under policy.
//!
//! A `notifications/resources/updated` reaches the client only when the
//! caller may read that resource ([`unreadable`]). `sampling/createMessage`,
//! `elicitation/create` and `roots/list` are actions on the upstream (the
//! server-initiated operations of the entity model), decided for the caller
//! whose stream or call carries them, like any other action: default deny.
//!
//! - A standalone request (the session era) that policy does not permit never
//!   reaches the client and is answered in its place with an error
//!   ([`super::answer_back`]), so the server's tool ends at once instead of
//!   waiting for its own timeout.
//! - 2026-07-28 `inputRequests` (in an `input_required` answer, or a task
//!   waiting for input) asking for one end the call there: a `tools/call`
//!   answer becomes an `isError` result saying so, any other answer the
//!   gateway's `-32001` error, a task's notification is dropped.
//!
//! A request whose method the gateway does not know is no action of the
//! schema, so it is never permitted.

use super::answer_back::Refused;
use super::observer::Delivery;
use crate::authz::filter::Lister;
use crate::protocol::jsonrpc::{Kind, Message};
use crate::protocol::rpc_error::{CONTENT_BLOCKED, error_body};
use bytes::Bytes;
use serde_json::{Value, json};

/// The server requests a session-era server sends on their own.
const ASKS: [&str; 3] = ["sampling/createMessage", "elicitation/create", "roots/list"];

/// What becomes of a message that asks for what policy does not permit.
#[derive(Debug)]
pub(super) struct Refusal {
    /// What the client gets instead.
    pub delivery: Delivery,
    /// The server's request to answer in the client's place, if it is one.
    pub refused: Option<Refused>,
    /// Why, for audit.
    pub reason: String,
    /// Whether the client gets an error in place of the answer.
    pub error: bool,
}

/// The refusal of `message` (the answer to `answering`, if it is one), or
/// `None` when it asks for nothing policy withholds.
pub(super) fn refuse(
    lister: &Lister,
    message: &Message,
    answering: Option<&str>,
) -> Option<Refusal> {
    let denied = asked(message).into_iter().find(|m| !lister.permits(m))?;
    let denied = if denied.is_empty() {
        "a request without a method"
    } else {
        denied
    };
    let reason = format!("policy does not permit this server's {denied} for the caller");
    let text = format!(
        "[portcullis] The server asked for {denied}, which the gateway's policy does not permit for this caller."
    );
    let (delivery, error) = match (message.kind(), message.id()) {
        (Kind::Response, Some(id)) if answering == Some("tools/call") => {
            let mut result = json!({"content": [{"type": "text", "text": text}], "isError": true});
            if message.result().and_then(|r| r.get("resultType")).is_some() {
                result["resultType"] = json!("complete");
            }
            let answer = json!({"jsonrpc": "2.0", "id": id.to_json(), "result": result});
            (Delivery::Replace(Bytes::from(answer.to_string())), false)
        }
        (Kind::Response, id) => (
            Delivery::Replace(error_body(id, CONTENT_BLOCKED, &text, None)),
            true,
        ),
        _ => (Delivery::Drop, false),
    };
    let refused = match (message.kind(), message.id()) {
        (Kind::Request, Some(id)) => Some(Refused {
            id: id.clone(),
            reason: format!("Request withheld from the client by the gateway: {reason}"),
        }),
        _ => None,
    };
    Some(Refusal {
        delivery,
        refused,
        reason,
        error,
    })
}

/// Why `message` must not reach the caller, when it is a resource's update
/// the caller may not read (see [`Lister::may_read`]); `None` otherwise.
pub(super) fn unreadable(lister: &Lister, message: &Message) -> Option<&'static str> {
    if message.method() != Some("notifications/resources/updated") {
        return None;
    }
    match message.params().and_then(|p| p.get("uri")?.as_str()) {
        Some(uri) if lister.may_read(uri) => None,
        Some(_) => Some("the caller may not read this resource"),
        None => Some("a resource update without a string uri"),
    }
}

/// The methods of the server requests `message` carries: itself, or the
/// `inputRequests` of an answer or a task (empty for one without a method).
fn asked(message: &Message) -> Vec<&str> {
    let requests = match message.kind() {
        Kind::Request => {
            return message
                .method()
                .filter(|m| ASKS.contains(m))
                .into_iter()
                .collect();
        }
        Kind::Response => message.result().and_then(|r| r.get("inputRequests")),
        Kind::Notification => message.params().and_then(|p| p.get("inputRequests")),
        Kind::ErrorResponse => None,
    };
    match requests {
        None => Vec::new(),
        Some(Value::Object(map)) => map
            .values()
            .map(|r| r.get("method").and_then(Value::as_str).unwrap_or_default())
            .collect(),
        Some(_) => vec![""],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::jsonrpc::{ParseLimits, parse_message};

    fn msg(v: Value) -> Message {
        parse_message(v.to_string().as_bytes(), &ParseLimits::default()).unwrap()
    }

    #[test]
    fn the_requests_a_message_carries_are_read_where_they_are() {
        let standalone =
            msg(json!({"jsonrpc":"2.0","id":1,"method":"elicitation/create","params":{}}));
        assert_eq!(asked(&standalone), ["elicitation/create"]);
        let ping = msg(json!({"jsonrpc":"2.0","id":1,"method":"ping"}));
        assert!(asked(&ping).is_empty());
        let answer = msg(
            json!({"jsonrpc":"2.0","id":2,"result":{"resultType":"input_required",
            "inputRequests":{"a":{"method":"sampling/createMessage","params":{}},"b":{"params":{}}}}}),
        );
        let mut methods = asked(&answer);
        methods.sort_unstable();
        assert_eq!(methods, ["", "sampling/createMessage"]);
        let task = msg(
            json!({"jsonrpc":"2.0","method":"notifications/tasks","params":{
            "taskId":"t","status":"input_required","inputRequests":{"r":{"method":"roots/list"}}}}),
        );
        assert_eq!(asked(&task), ["roots/list"]);
        let odd = msg(json!({"jsonrpc":"2.0","id":3,"result":{"inputRequests":[1]}}));
        assert_eq!(asked(&odd), [""]);
        let plain = msg(json!({"jsonrpc":"2.0","id":4,"result":{"content":[]}}));
        assert!(asked(&plain).is_empty());
    }
}
