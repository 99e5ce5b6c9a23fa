//! Statuses the gateway must produce itself or preserve from the upstream, and
//! SSE streamed event by event.

use crate::support::http::{Req, initialize, modern_body};
use crate::support::recorder::{Body, Recorded, full};
use crate::support::{Gateway, Peer, Recorder};
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::json;
use std::convert::Infallible;
use std::time::Duration;

#[tokio::test]
async fn legacy_session_statuses_pass_through_202_400_404() {
    let fixture = Peer::python_fixture().await;
    let gw = Gateway::start(&fixture.url).await;
    let (session, reply) = initialize(&gw.url(), "2025-11-25").await;
    let session = session.expect("the fixture issues session ids");
    assert_eq!(reply.message()["result"]["protocolVersion"], "2025-11-25");

    let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
    let ok = Req::post(&gw.url())
        .mcp()
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .body(&list)
        .send()
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.message()["result"]["tools"].as_array().unwrap().len() > 5);

    let without = Req::post(&gw.url())
        .mcp()
        .header("mcp-protocol-version", "2025-11-25")
        .body(&list)
        .send()
        .await;
    assert_eq!(
        without.status,
        StatusCode::BAD_REQUEST,
        "no session id: {without:?}"
    );

    let deleted = Req::delete(&gw.url())
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    let after = Req::post(&gw.url())
        .mcp()
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .body(&list)
        .send()
        .await;
    assert_eq!(
        after.status,
        StatusCode::NOT_FOUND,
        "after DELETE: {after:?}"
    );
}

#[tokio::test]
async fn a_modern_get_or_delete_gets_405_from_the_gateway() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start(&upstream.url()).await;
    for req in [Req::get(&gw.url()), Req::delete(&gw.url())] {
        let reply = req
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(reply.header("allow"), Some("POST"));
    }
    assert_eq!(upstream.count(), 0, "nothing reached the upstream");
}

#[tokio::test]
async fn mirrored_header_mismatch_gets_400_32020_and_never_reaches_the_upstream() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start(&upstream.url()).await;
    let call = modern_body(5, "tools/call", json!({"name": "echo", "arguments": {}}));
    let cases = [
        Req::post(&gw.url()).modern("tools/call", Some("delete_records")),
        Req::post(&gw.url()).modern("tools/list", Some("echo")),
        Req::post(&gw.url()).modern("tools/call", None),
        Req::post(&gw.url())
            .mcp()
            .header("mcp-protocol-version", "2025-11-25")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "echo"),
    ];
    for req in cases {
        let reply = req.body(&call).send().await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
        let msg = reply.json();
        assert_eq!(msg["error"]["code"], -32020, "{msg}");
        assert_eq!(msg["id"], 5);
    }
    assert_eq!(upstream.count(), 0);
    let ok = Req::post(&gw.url())
        .modern("tools/call", Some("  echo "))
        .body(&call)
        .send()
        .await;
    assert_eq!(
        ok.status,
        StatusCode::OK,
        "OWS around a header value is not part of it"
    );
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn x_mcp_header_params_are_checked_once_the_tool_is_listed() {
    let fixture = Peer::python_fixture().await;
    let gw = Gateway::start(&fixture.url).await;
    let list = Req::post(&gw.url())
        .modern("tools/list", None)
        .body(modern_body(1, "tools/list", json!({})))
        .send()
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let call = modern_body(
        2,
        "tools/call",
        json!({"name":"test_custom_header_param","arguments":{"region":"eu-west"}}),
    );
    let missing = Req::post(&gw.url())
        .modern("tools/call", Some("test_custom_header_param"))
        .body(&call)
        .send()
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.json()["error"]["code"], -32020);
    let good = Req::post(&gw.url())
        .modern("tools/call", Some("test_custom_header_param"))
        .header("mcp-param-region", "=?base64?ZXUtd2VzdA==?=")
        .body(&call)
        .send()
        .await;
    assert_eq!(good.status, StatusCode::OK, "{good:?}");
    assert!(good.message()["result"].is_object());
}

#[tokio::test]
async fn version_errors_follow_the_2026_07_28_order_and_carry_the_id() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start(&upstream.url()).await;
    let mut body = modern_body(9, "tools/list", json!({}));
    body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let send = |version: Option<&'static str>, body: serde_json::Value| {
        let mut r = Req::post(&gw.url())
            .mcp()
            .header("mcp-method", "tools/list");
        if let Some(v) = version {
            r = r.header("mcp-protocol-version", v);
        }
        async move { r.body(body).send().await }
    };
    let unknown = send(Some("2099-01-01"), body.clone()).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let msg = unknown.json();
    assert_eq!(
        (msg["error"]["code"].clone(), msg["id"].clone()),
        (json!(-32022), json!(9))
    );
    assert_eq!(msg["error"]["data"]["requested"], "2099-01-01");
    assert!(
        msg["error"]["data"]["supported"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28"))
    );
    // A header that disagrees with `_meta` is a mismatch before it is a version problem.
    let disagree = send(Some("2026-07-28"), body.clone()).await;
    assert_eq!(disagree.json()["error"]["code"], -32020);
    let missing = send(None, body).await;
    assert_eq!(missing.json()["error"]["code"], -32020);
    // A 2026-07-28 request without `_meta` has invalid params.
    let no_meta = send(
        Some("2026-07-28"),
        json!({"jsonrpc":"2.0","id":4,"method":"tools/list"}),
    )
    .await;
    assert_eq!(no_meta.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (
            no_meta.json()["error"]["code"].clone(),
            no_meta.json()["id"].clone()
        ),
        (json!(-32602), json!(4))
    );
    let header_only = Req::post(&gw.url())
        .mcp()
        .header("mcp-protocol-version", "v999.0.0")
        .body(json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await;
    assert_eq!(header_only.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (
            header_only.json()["error"]["code"].clone(),
            header_only.json()["id"].clone()
        ),
        (json!(-32022), json!(1))
    );
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn methods_removed_in_2026_07_28_get_404_32601_from_the_gateway() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start(&upstream.url()).await;
    for method in ["ping", "logging/setLevel", "resources/subscribe"] {
        let reply = Req::post(&gw.url())
            .modern(method, None)
            .body(modern_body(3, method, json!({})))
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(reply.json()["error"]["code"], -32601, "{method}");
        assert_eq!(reply.json()["id"], 3);
    }
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn content_type_is_the_one_the_upstream_chose() {
    let fixture = Peer::python_fixture().await;
    let gw = Gateway::start(&fixture.url).await;
    // Legacy requests are answered with SSE by the Python SDK, modern ones with JSON.
    let (session, init) = initialize(&gw.url(), "2025-11-25").await;
    assert_eq!(init.media(), "text/event-stream");
    let legacy = Req::post(&gw.url())
        .mcp()
        .header("mcp-session-id", session.as_deref().unwrap())
        .header("mcp-protocol-version", "2025-11-25")
        .body(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .send()
        .await;
    assert_eq!(legacy.media(), "text/event-stream");
    assert_eq!(legacy.header("x-accel-buffering"), Some("no"));
    let modern = Req::post(&gw.url())
        .modern("tools/list", None)
        .body(modern_body(1, "tools/list", json!({})))
        .send()
        .await;
    assert_eq!(modern.media(), "application/json");
    assert_eq!(modern.json()["result"]["resultType"], "complete");
}

#[tokio::test]
async fn notifications_and_client_responses_get_202() {
    let fixture = Peer::python_fixture().await;
    let gw = Gateway::start(&fixture.url).await;
    let (session, _) = initialize(&gw.url(), "2025-06-18").await;
    let answer = Req::post(&gw.url())
        .mcp()
        .header("mcp-session-id", session.as_deref().unwrap())
        .header("mcp-protocol-version", "2025-06-18")
        .body(json!({"jsonrpc":"2.0","id":"unsolicited","result":{}}))
        .send()
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
}

/// An upstream that sends one SSE event, then waits for the test's signal
/// before sending the final response: the first event must reach the client
/// while the upstream is still holding the second.
#[tokio::test]
async fn sse_events_reach_the_client_before_the_stream_ends() {
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = std::sync::Arc::new(std::sync::Mutex::new(Some(release_rx)));
    let upstream = Recorder::start(move |_req: &Recorded| -> Response<Body> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
        let release = release_rx.lock().unwrap().take();
        tokio::spawn(async move {
            let progress = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}\n\n";
            let _ = tx.send(Ok(Frame::data(Bytes::from(progress)))).await;
            if let Some(release) = release {
                let _ = tokio::task::spawn_blocking(move || release.recv_timeout(Duration::from_secs(10))).await;
            }
            let done = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n";
            let _ = tx.send(Ok(Frame::data(Bytes::from(done)))).await;
        });
        let body = StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx)).boxed_unsync();
        let mut r = Response::new(body);
        r.headers_mut().insert("content-type", "text/event-stream".parse().unwrap());
        r
    })
    .await;
    let gw = Gateway::start(&upstream.url()).await;
    let response = Req::post(&gw.url())
        .mcp()
        .body(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","_meta":{"progressToken":1}}}))
        .open()
        .await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("the first event arrived while the upstream still held the second")
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("notifications/progress"));
    release_tx.send(()).unwrap();
    let rest = body.collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&rest).contains("\"id\":1"));
}

#[tokio::test]
async fn batches_are_forwarded_only_on_2025_03_26_sessions() {
    let upstream = Recorder::start(|req: &Recorded| -> Response<Body> {
        let msg = req.json();
        if msg.get("method").and_then(|m| m.as_str()) == Some("initialize") {
            let asked = msg["params"]["protocolVersion"].clone();
            let mut r = full(
                StatusCode::OK,
                Some("application/json"),
                json!({"jsonrpc":"2.0","id":msg["id"],"result":{"protocolVersion":asked,"capabilities":{},"serverInfo":{"name":"r","version":"1"}}}).to_string(),
            );
            let sid = if asked == "2025-03-26" { "s-old" } else { "s-new" };
            r.headers_mut().insert("mcp-session-id", sid.parse().unwrap());
            return r;
        }
        crate::support::recorder::answer_ok(req)
    })
    .await;
    let gw = Gateway::start(&upstream.url()).await;
    let batch = json!([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"}]);
    let (old, _) = initialize(&gw.url(), "2025-03-26").await;
    let (new, _) = initialize(&gw.url(), "2025-06-18").await;
    let before = upstream.count();
    let refused = Req::post(&gw.url())
        .mcp()
        .header("mcp-session-id", new.as_deref().unwrap())
        .body(&batch)
        .send()
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.json()["error"]["code"], -32600);
    let no_session = Req::post(&gw.url()).mcp().body(&batch).send().await;
    assert_eq!(no_session.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        upstream.count(),
        before,
        "refused batches never reach the upstream"
    );
    let allowed = Req::post(&gw.url())
        .mcp()
        .header("mcp-session-id", old.as_deref().unwrap())
        .body(&batch)
        .send()
        .await;
    assert_eq!(allowed.status, StatusCode::OK);
    let last = upstream.requests().pop().unwrap();
    assert_eq!(
        last.body,
        Bytes::from(batch.to_string()),
        "forwarded byte for byte"
    );
}

#[tokio::test]
async fn the_upstream_receives_the_body_unchanged_and_no_client_credentials() {
    let upstream = Recorder::start(|req: &Recorded| -> Response<Body> {
        let msg = req.json();
        if msg.get("method").and_then(|m| m.as_str()) == Some("initialize") {
            let mut r = full(
                StatusCode::OK,
                Some("application/json"),
                json!({"jsonrpc":"2.0","id":msg["id"],"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"r","version":"1"}}}).to_string(),
            );
            r.headers_mut().insert("mcp-session-id", "up-7".parse().unwrap());
            return r;
        }
        crate::support::recorder::answer_ok(req)
    })
    .await;
    let gw = Gateway::start(&upstream.url()).await;
    let (sealed, _) = initialize(&gw.url(), "2025-11-25").await;
    let sealed = sealed.expect("the gateway hands out a session id");
    assert_ne!(
        sealed, "up-7",
        "the upstream's session id is sealed, not shown"
    );
    let body = r#"{ "jsonrpc":"2.0",  "id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"h\u00e9llo"}}}"#;
    let reply = Req::post(&format!("{}?sessionId=x", gw.url()))
        .mcp()
        .header("authorization", "Bearer client-token-must-not-travel")
        .header("cookie", "sid=abc")
        .header("x-forwarded-for", "203.0.113.9")
        .header("connection", "x-secret")
        .header("x-secret", "hop")
        .header("mcp-session-id", &sealed)
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(body)
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let seen = upstream.requests().pop().unwrap();
    assert_eq!(
        seen.body,
        Bytes::from(body),
        "the body is forwarded byte for byte"
    );
    assert_eq!(seen.uri.path(), "/mcp");
    assert_eq!(
        seen.uri.query(),
        None,
        "the client's query string is not forwarded"
    );
    for gone in ["authorization", "cookie", "x-forwarded-for", "x-secret"] {
        assert!(
            !seen.headers.contains_key(gone),
            "{gone} reached the upstream"
        );
    }
    assert_eq!(
        seen.headers["mcp-session-id"], "up-7",
        "the sealed id is opened into the upstream's own session id"
    );
    assert_eq!(
        seen.headers["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    assert_eq!(seen.headers["host"], upstream.addr.to_string().as_str());
}
