//! JSON-RPC envelope parsing (`protocol::jsonrpc::parse`, `parse_message`).
//!
//! Beyond "no panic": an accepted body keeps its exact bytes; every message's
//! kind agrees with its id, method, result and error; the limits hold; the
//! single-message parser agrees with the envelope parser on objects; and a
//! parsed message, serialised again, parses to the same kind, id and method.
//!
//! Shared by the libFuzzer target (`fuzz/fuzz_targets/jsonrpc.rs`) and the CI
//! smoke test (`tests/fuzz_smoke.rs`), which runs it on the committed seeds
//! and on deterministic mutations of them.

use bytes::Bytes;
use portcullis::protocol::{Kind, Message, ParseLimits, Payload, RequestId, jsonrpc};

/// Runs every check on one input; panics when an invariant fails.
pub fn check(data: &[u8]) {
    let limits = ParseLimits::default();
    let parsed = jsonrpc::parse(Bytes::copy_from_slice(data), &limits);
    let single = jsonrpc::parse_message(data, &limits);
    match &parsed {
        Ok(envelope) => {
            assert_eq!(
                envelope.raw().as_ref(),
                data,
                "forwarded bytes are the bytes received"
            );
            let messages = envelope.messages();
            assert!(!messages.is_empty());
            assert!(messages.len() <= limits.max_batch_len);
            for m in messages {
                check_message(m, &limits);
                reparse_agrees(m, &limits);
            }
            match envelope.payload() {
                Payload::Single(m) => {
                    let s = single
                        .as_ref()
                        .expect("parse_message accepts what parse accepts");
                    assert_eq!(s.kind(), m.kind());
                    assert_eq!(s.id(), m.id());
                }
                Payload::Batch(_) => assert!(single.is_err(), "a batch is not one message"),
            }
        }
        Err(e) => {
            // An object refused by `parse` is refused by `parse_message` too,
            // with the same JSON-RPC code.
            if let Err(s) = &single {
                assert_eq!(s.code(), e.code());
            } else {
                panic!("parse_message accepted what parse refused: {e}");
            }
        }
    }
    if let Ok(m) = &single {
        check_message(m, &limits);
        assert!(m.target_error().is_none() || m.target().is_none());
    }
}

fn check_message(m: &Message, limits: &ParseLimits) {
    let obj = m.as_object();
    assert_eq!(obj.get("jsonrpc").and_then(|v| v.as_str()), Some("2.0"));
    match m.kind() {
        Kind::Request => {
            assert!(m.id().is_some());
            assert!(m.method().is_some());
        }
        Kind::Notification => {
            assert!(m.id().is_none());
            assert!(m.method().is_some());
        }
        Kind::Response => {
            assert!(m.id().is_some());
            assert!(m.result().is_some());
            assert!(!obj.contains_key("error"));
        }
        Kind::ErrorResponse => {
            assert!(obj.contains_key("error"));
            assert!(!obj.contains_key("result"));
        }
    }
    if let Some(method) = m.method() {
        assert!(!method.is_empty() && method.len() <= limits.max_method_len);
        assert!(!obj.contains_key("result") && !obj.contains_key("error"));
    }
    if let Some(RequestId::String(s)) = m.id() {
        assert!(s.len() <= limits.max_id_len);
    }
    if let Some(id) = m.id() {
        // An id echoed in an error response must be the id that was sent.
        let echoed = id.to_json();
        assert_eq!(Some(&echoed), obj.get("id"), "id {id} echoes as {echoed}");
    }
    if obj.contains_key("params") {
        assert!(m.params().is_some(), "params, when present, is an object");
    }
}

fn reparse_agrees(m: &Message, limits: &ParseLimits) {
    let text = serde_json::to_vec(m.as_object()).expect("a map serialises");
    let again = jsonrpc::parse_message(&text, limits)
        .unwrap_or_else(|e| panic!("re-serialised message refused: {e}"));
    assert_eq!(again.kind(), m.kind());
    assert_eq!(again.id(), m.id());
    assert_eq!(again.method(), m.method());
    assert_eq!(again.target(), m.target());
}
