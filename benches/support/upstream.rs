//! A small, fast MCP server for load runs: answers every JSON-RPC request on
//! POST /mcp with a fixed `tools/call` result (JSON), notifications with 202.
//! It parses nothing but the id, so that the benchmark measures the hops in
//! front of it rather than the server.
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

/// Finds the raw `"id":<value>` of a request without a JSON parser.
fn id_of(body: &[u8]) -> Option<&[u8]> {
    let start = memchr::memmem::find(body, b"\"id\":")? + 5;
    let rest = &body[start..];
    let end = rest.iter().position(|b| *b == b',' || *b == b'}')?;
    Some(&rest[..end])
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
                let response = match id_of(&body) {
                    Some(id) => {
                        let mut out = Vec::with_capacity(128);
                        out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
                        out.extend_from_slice(id);
                        out.extend_from_slice(
                            b",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}],\"isError\":false}}",
                        );
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
