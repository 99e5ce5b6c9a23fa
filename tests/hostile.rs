//! Hostile input: each case gets a precise error, nothing reaches the upstream,
//! and the gateway keeps serving.

use crate::support::http::{Req, raw};
use crate::support::{Gateway, Recorder};
use http::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

fn tight(upstream: &str) -> String {
    format!(
        "listen:\n  address: 127.0.0.1:0\nupstream:\n  url: {upstream}\nlimits:\n  max_request_body: 64KiB\n  \
         header_read_timeout: 1s\n  body_read_timeout: 1s\n  max_headers: 32\n  max_header_bytes: 8KiB\n  \
         max_json_depth: 32\nreload:\n  poll_interval: 0s\nauthentication:\n  mode: none\n"
    )
}

async fn still_serves(gw: &Gateway) {
    let ok = Req::post(&gw.url())
        .mcp()
        .body(json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await;
    assert_eq!(
        ok.status,
        StatusCode::OK,
        "the gateway still serves: {ok:?}"
    );
}

#[tokio::test]
async fn malformed_bodies_get_json_rpc_errors_and_are_not_forwarded() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start_yaml(&tight(&upstream.url())).await;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let cases: Vec<(Vec<u8>, i64, &str)> = vec![
        (b"{\"jsonrpc\":\"2.0\",".to_vec(), -32700, "truncated JSON"),
        (b"not json".to_vec(), -32700, "not JSON"),
        (deep.into_bytes(), -32700, "deep nesting"),
        (
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#
                .to_vec(),
            -32700,
            "duplicate keys",
        ),
        (
            format!(
                r#"{{"jsonrpc":"2.0","id":"{}","method":"ping"}}"#,
                "x".repeat(1000)
            )
            .into_bytes(),
            -32600,
            "huge string id",
        ),
        (
            br#"{"jsonrpc":"2.0","id":1e400,"method":"ping"}"#.to_vec(),
            -32700,
            "number overflow id",
        ),
        (
            br#"{"jsonrpc":"2.0","id":99999999999999999999999,"method":"ping"}"#.to_vec(),
            -32600,
            "huge integer id",
        ),
        (
            br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#.to_vec(),
            -32600,
            "null id",
        ),
        (
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}"#.to_vec(),
            -32602,
            "call without a name",
        ),
        (br#"[]"#.to_vec(), -32600, "empty batch"),
    ];
    for (body, code, what) in cases {
        let body = String::from_utf8_lossy(&body).into_owned();
        let reply = crate::support::http::Req::post(&gw.url())
            .mcp()
            .body(body)
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}: {reply:?}");
        assert_eq!(reply.json()["error"]["code"], code, "{what}");
    }
    // Invalid UTF-8 must be sent as bytes, not through a lossy String.
    let (resp, _) = raw(
        gw.addr,
        b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 36\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}",
        Duration::from_secs(2),
    )
    .await;
    let text = String::from_utf8_lossy(&resp);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("-32700"), "{text}");
    assert_eq!(
        upstream.count(),
        0,
        "nothing malformed reached the upstream"
    );
    still_serves(&gw).await;
}

#[tokio::test]
async fn an_oversized_body_gets_413_and_the_connection_closes() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start_yaml(&tight(&upstream.url())).await;
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"x","arguments":{{"a":"{}"}}}}}}"#,
        "a".repeat(100 * 1024)
    );
    let reply = Req::post(&gw.url()).mcp().body(&big).send().await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.header("connection"), Some("close"));
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        10 << 20
    );
    let (resp, closed) = raw(gw.addr, head.as_bytes(), Duration::from_secs(3)).await;
    let text = String::from_utf8_lossy(&resp);
    assert!(
        text.starts_with("HTTP/1.1 413"),
        "announced oversize refused early: {text}"
    );
    assert!(closed);
    assert_eq!(upstream.count(), 0);
    still_serves(&gw).await;
}

#[tokio::test]
async fn ambiguous_framing_and_missing_host_are_refused_and_closed() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start_yaml(&tight(&upstream.url())).await;
    // hostile_h1 covers CL+TE with a valid chunked body and both header orders.
    let smuggle = b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let (resp, closed) = raw(gw.addr, smuggle, Duration::from_secs(3)).await;
    let text = String::from_utf8_lossy(&resp);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(
        text.contains("both Content-Length and Transfer-Encoding"),
        "{text}"
    );
    assert_eq!(
        text.matches("HTTP/1.1").count(),
        1,
        "the smuggled request was not served: {text}"
    );
    assert!(closed, "connection closed after CL+TE");
    let no_host =
        b"POST /mcp HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    let (resp, _) = raw(gw.addr, no_host, Duration::from_secs(3)).await;
    assert!(String::from_utf8_lossy(&resp).starts_with("HTTP/1.1 400"));
    for bad_te in ["chunked, identity", "xchunked"] {
        let req = format!(
            "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: {bad_te}\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n"
        );
        let (resp, closed) = raw(gw.addr, req.as_bytes(), Duration::from_secs(3)).await;
        assert!(
            String::from_utf8_lossy(&resp).starts_with("HTTP/1.1 400"),
            "{bad_te}"
        );
        assert!(closed);
    }
    assert_eq!(upstream.count(), 0);
    still_serves(&gw).await;
}

#[tokio::test]
async fn too_many_or_too_large_headers_get_431() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start_yaml(&tight(&upstream.url())).await;
    let mut many = String::from("POST /mcp HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..40 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let (resp, _) = raw(gw.addr, many.as_bytes(), Duration::from_secs(3)).await;
    assert!(
        String::from_utf8_lossy(&resp).starts_with("HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    let large = format!(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "b".repeat(64 * 1024)
    );
    let (resp, _) = raw(gw.addr, large.as_bytes(), Duration::from_secs(3)).await;
    assert!(String::from_utf8_lossy(&resp).starts_with("HTTP/1.1 431"));
    assert_eq!(upstream.count(), 0);
    still_serves(&gw).await;
}

#[tokio::test]
async fn slow_headers_and_slow_bodies_are_cut_off() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start_yaml(&tight(&upstream.url())).await;
    let start = Instant::now();
    let (_, closed) = raw(
        gw.addr,
        b"POST /mcp HTTP/1.1\r\nHost: local",
        Duration::from_secs(5),
    )
    .await;
    assert!(closed, "a stalled head is closed");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "within the header timeout"
    );

    let start = Instant::now();
    let (_, closed) = raw(gw.addr, b"", Duration::from_secs(5)).await;
    assert!(
        closed && start.elapsed() < Duration::from_secs(4),
        "an idle connection is closed"
    );

    let start = Instant::now();
    let (resp, closed) = raw(
        gw.addr,
        b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"",
        Duration::from_secs(5),
    )
    .await;
    let text = String::from_utf8_lossy(&resp);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(closed && start.elapsed() < Duration::from_secs(4));
    assert_eq!(upstream.count(), 0);
    still_serves(&gw).await;
}

#[tokio::test]
async fn wrong_methods_paths_and_media_types_are_refused() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start_yaml(&tight(&upstream.url())).await;
    let put = crate::support::http::Req::new(http::Method::PUT, &gw.url())
        .send()
        .await;
    assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED);
    let elsewhere = Req::post(&format!("http://{}/admin", gw.addr))
        .mcp()
        .body("{}")
        .send()
        .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    let text = Req::post(&gw.url())
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let rebinding = Req::post(&gw.url())
        .mcp()
        .header("host", "evil.example.com")
        .body("{}")
        .send()
        .await;
    assert_eq!(rebinding.status, StatusCode::MISDIRECTED_REQUEST);
    let origin = Req::post(&gw.url())
        .mcp()
        .header("origin", "http://evil.example.com")
        .body("{}")
        .send()
        .await;
    assert_eq!(origin.status, StatusCode::FORBIDDEN);
    assert_eq!(upstream.count(), 0);
    still_serves(&gw).await;
}

/// An upstream whose SSE answer holds one event larger than the gateway allows.
#[tokio::test]
async fn an_oversized_sse_event_ends_the_stream_with_an_error_for_the_request() {
    use crate::support::recorder::full;
    let upstream = Recorder::start(|_req| {
        let big = format!(
            "event: message\ndata: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{{\"data\":\"{}\"}}}}\n\n",
            "z".repeat(64 * 1024)
        );
        full(StatusCode::OK, Some("text/event-stream"), format!(": first\n\n{big}data: {{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{{}}}}\n\n"))
    })
    .await;
    let yaml = tight(&upstream.url()).replace(
        "  max_json_depth: 32\n",
        "  max_json_depth: 32\n  max_sse_event: 16KiB\n",
    );
    let gw = Gateway::start_yaml(&yaml).await;
    let reply = Req::post(&gw.url())
        .mcp()
        .body(json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"t"}}))
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = String::from_utf8_lossy(&reply.body);
    assert!(
        !body.contains("zzzz"),
        "the oversized event was not forwarded"
    );
    let last = reply.message();
    assert_eq!(last["id"], 3);
    assert_eq!(
        last["error"]["code"], -32603,
        "the request is answered with an error: {last}"
    );
}

#[tokio::test]
async fn an_upstream_answering_garbage_gets_502_and_nothing_of_it_is_forwarded() {
    use crate::support::recorder::full;
    let upstream = Recorder::start(|req| {
        let text = String::from_utf8_lossy(&req.body);
        if text.contains("\"html\"") {
            full(
                StatusCode::OK,
                Some("text/html"),
                "<html>proxy error</html>",
            )
        } else if text.contains("\"broken\"") {
            full(
                StatusCode::OK,
                Some("application/json"),
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":",
            )
        } else {
            full(
                StatusCode::OK,
                Some("text/event-stream"),
                "data: not json\n\n",
            )
        }
    })
    .await;
    let gw = Gateway::start_yaml(&tight(&upstream.url())).await;
    for (tool, want) in [
        ("html", StatusCode::BAD_GATEWAY),
        ("broken", StatusCode::BAD_GATEWAY),
    ] {
        let reply = Req::post(&gw.url())
            .mcp()
            .body(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":tool}}))
            .send()
            .await;
        assert_eq!(reply.status, want, "{tool}");
        assert_eq!(reply.json()["error"]["code"], -32603);
        assert_eq!(reply.json()["id"], 1);
        assert!(!String::from_utf8_lossy(&reply.body).contains("proxy error"));
    }
    let sse = Req::post(&gw.url())
        .mcp()
        .body(json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"sse"}}))
        .send()
        .await;
    assert!(!String::from_utf8_lossy(&sse.body).contains("not json"));
    assert_eq!(sse.message()["error"]["code"], -32603);
    assert_eq!(sse.message()["id"], 2);
}

#[tokio::test]
async fn a_silent_stream_is_closed_after_the_idle_timeout() {
    use crate::support::recorder::Body;
    use bytes::Bytes;
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;
    let upstream = Recorder::start(|_req| -> http::Response<Body> {
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::convert::Infallible>>(1);
        tokio::spawn(async move {
            let _ = tx
                .send(Ok(Frame::data(Bytes::from_static(b": open\n\n"))))
                .await;
            tx.closed().await;
        });
        let mut r = http::Response::new(
            StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx)).boxed_unsync(),
        );
        r.headers_mut()
            .insert("content-type", "text/event-stream".parse().unwrap());
        r
    })
    .await;
    let yaml = tight(&upstream.url()).replace(
        "  max_json_depth: 32\n",
        "  max_json_depth: 32\n  stream_idle_timeout: 1s\n",
    );
    let gw = Gateway::start_yaml(&yaml).await;
    let started = Instant::now();
    let stream = Req::get(&gw.url())
        .header("accept", "text/event-stream")
        .open()
        .await;
    let body = tokio::time::timeout(Duration::from_secs(5), stream.into_body().collect())
        .await
        .expect("the idle stream was closed")
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b": open\n\n");
    assert!(started.elapsed() >= Duration::from_millis(900));
}
