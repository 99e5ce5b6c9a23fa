//! A small, fast MCP server for load runs. It does what a real tool server does
//! per call and nothing more: parses the JSON-RPC request, checks the method,
//! runs the `echo` tool (returns its `text` argument) and serialises the
//! result; notifications get 202. Single-threaded, JSON responses. It also
//! answers `initialize` and lists `echo` with its input schema, so that a
//! gateway with authorization on (which refuses calls to tools it has never
//! seen listed) and session-era clients can be measured too.
//!
//! Run: `cargo run --release --example bench-upstream -- 127.0.0.1:3000`
//! It prints `LISTENING <addr>` once ready.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;

/// Answers one JSON-RPC message: `None` means 202 (notification or response).
fn answer(body: &[u8]) -> Option<Vec<u8>> {
    let request: serde_json::Value = serde_json::from_slice(body).ok()?;
    let id = request.get("id")?.clone();
    let reply = match request.get("method").and_then(|m| m.as_str()) {
        Some("tools/call") => {
            let text = request
                .pointer("/params/arguments/text")
                .and_then(|t| t.as_str())
                .unwrap_or_default();
            // `repeat`: the result is the text that many times (a large
            // result for a small argument), at most 1,024.
            let repeat = request
                .pointer("/params/arguments/repeat")
                .and_then(serde_json::Value::as_u64)
                .map_or(1, |n| n.clamp(1, 1024) as usize);
            let text = text.repeat(repeat);
            serde_json::json!({"jsonrpc":"2.0","id":id,"result":{
                "content":[{"type":"text","text":text}],"isError":false,"resultType":"complete"}})
        }
        Some("tools/list") => serde_json::json!({"jsonrpc":"2.0","id":id,"result":{"tools":[{
                "name":"echo","description":"Returns the text it is given.",
                "inputSchema":{"type":"object","properties":{"text":{"type":"string"},"repeat":{"type":"integer"}},"required":["text"]},
                "annotations":{"readOnlyHint":true}}]}}),
        Some("initialize") => serde_json::json!({"jsonrpc":"2.0","id":id,"result":{
                "protocolVersion":"2025-06-18","capabilities":{"tools":{}},
                "serverInfo":{"name":"bench-upstream","version":"1"}}}),
        Some(_) => serde_json::json!({"jsonrpc":"2.0","id":id,"result":{}}),
        None => return None,
    };
    serde_json::to_vec(&reply).ok()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    println!("LISTENING {}", listener.local_addr().unwrap());
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                let body = req
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let response = match answer(&body) {
                    Some(out) => {
                        let mut r = Response::new(Full::new(Bytes::from(out)));
                        r.headers_mut()
                            .insert("content-type", "application/json".parse().unwrap());
                        r
                    }
                    None => {
                        let mut r = Response::new(Full::new(Bytes::new()));
                        *r.status_mut() = StatusCode::ACCEPTED;
                        r
                    }
                };
                Ok::<_, Infallible>(response)
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
