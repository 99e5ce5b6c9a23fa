//! HTTP+SSE upstreams (issue 3) doing what no real server does on demand: an
//! `endpoint` event pointing at another origin, and an upstream that records
//! exactly which headers the gateway sent it.

use crate::support::http::{Reply, Req, initialize};
use crate::support::recorder::{Body, Recorded, full};
use crate::support::{Gateway, Recorder};
use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

type Events = Arc<Mutex<Vec<mpsc::Sender<Result<Frame<Bytes>, Infallible>>>>>;

/// A minimal HTTP+SSE server: `GET /sse` names `endpoint`; each POSTed request
/// is answered on the stream by `answer` (a result), and acknowledged with 202.
async fn fake(endpoint: String, answer: fn(&Value) -> Value) -> Recorder {
    let streams: Events = Arc::default();
    Recorder::start(move |req: &Recorded| -> Response<Body> {
        if req.method == Method::GET {
            let (tx, rx) = mpsc::channel(16);
            let event = format!("event: endpoint\ndata: {endpoint}\n\n");
            tx.try_send(Ok(Frame::data(Bytes::from(event)))).unwrap();
            streams.lock().unwrap().push(tx);
            let mut r = Response::new(
                StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx)).boxed_unsync(),
            );
            r.headers_mut()
                .insert("content-type", "text/event-stream".parse().unwrap());
            return r;
        }
        let message = req.json();
        if message.get("id").is_some() && message.get("method").is_some() {
            let reply = json!({"jsonrpc":"2.0","id":message["id"],"result":answer(&message)});
            let event = format!("event: message\ndata: {reply}\n\n");
            if let Some(tx) = streams.lock().unwrap().last() {
                let _ = tx.try_send(Ok(Frame::data(Bytes::from(event))));
            }
        }
        full(StatusCode::ACCEPTED, None, "Accepted")
    })
    .await
}

fn answer(request: &Value) -> Value {
    match request["method"].as_str() {
        Some("initialize") => json!({"protocolVersion":"2024-11-05","capabilities":{"tools":{}},
            "serverInfo":{"name":"fake-sse","version":"1"}}),
        Some("tools/list") => {
            json!({"tools":[{"name":"hello","inputSchema":{"type":"object"}}]})
        }
        Some("tools/call") => json!({"content":[{"type":"text","text":"hi"}]}),
        _ => json!({}),
    }
}

fn config(url: &str) -> String {
    format!(
        "listen:\n  address: 127.0.0.1:0\nreload:\n  poll_interval: 0s\nlogging:\n  format: text\n\
         authentication:\n  mode: none\nlimits:\n  shutdown_grace: 2s\n\
         upstreams:\n  old:\n    url: {url}\n    transport: sse\n    response_timeout: 5s\n\
         \x20   headers:\n      authorization: {{ value: \"Bearer upstream-only\", allow_inline: true }}\n"
    )
}

async fn call(gw: &Gateway, session: &str) -> Reply {
    Req::post(&gw.url())
        .mcp()
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
        .header("authorization", "Bearer client-token-never-forwarded")
        .body(json!({"jsonrpc":"2.0","id":2,"method":"tools/call",
            "params":{"name":"old__hello","arguments":{}}}))
        .send()
        .await
}

#[tokio::test]
async fn the_upstreams_own_credentials_go_with_every_get_and_post_never_the_clients() {
    let server = fake("/message?session=1".into(), answer).await;
    let url = format!("http://{}/sse", server.addr);
    let gw = Gateway::start_yaml(&config(&url)).await;
    let (session, reply) = initialize(&gw.url(), "2025-11-25").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let called = call(&gw, &session.unwrap()).await;
    assert_eq!(
        called.message()["result"]["content"][0]["text"],
        "hi",
        "{called:?}"
    );
    let seen = server.requests();
    assert!(seen.iter().any(|r| r.method == Method::GET), "{seen:?}");
    let posts: Vec<&Recorded> = seen.iter().filter(|r| r.method == Method::POST).collect();
    assert!(
        posts.len() >= 3,
        "initialize, initialized, the call: {posts:?}"
    );
    for r in &seen {
        assert_eq!(r.headers["authorization"], "Bearer upstream-only", "{r:?}");
    }
    for r in posts {
        assert_eq!(r.uri.to_string(), "/message?session=1");
        assert_eq!(r.headers["content-type"], "application/json");
    }
}

#[tokio::test]
async fn an_endpoint_on_another_origin_is_refused_and_nothing_is_posted() {
    // Another server on the same host, another port: another origin.
    let elsewhere = Recorder::ok().await;
    let server = fake(format!("http://{}/message", elsewhere.addr), answer).await;
    let url = format!("http://{}/sse", server.addr);
    let gw = Gateway::start_yaml(&config(&url)).await;
    // The only upstream never came up: opening a session fails, as for any
    // upstream that is down.
    let called = Req::post(&gw.url())
        .mcp()
        .body(
            json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":{},
            "clientInfo":{"name":"t","version":"1"}}}),
        )
        .send()
        .await
        .message();
    assert_eq!(called["error"]["code"], -32603, "{called}");
    let seen = server.requests();
    assert!(seen.iter().any(|r| r.method == Method::GET), "{seen:?}");
    assert!(
        seen.iter().all(|r| r.method == Method::GET),
        "no POST: {seen:?}"
    );
    assert_eq!(elsewhere.count(), 0, "nothing reached the other origin");
}
