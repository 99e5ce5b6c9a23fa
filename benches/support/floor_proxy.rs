//! The floor for one proxy hop: a minimal hyper pass-through with a pooled
//! client and no checks at all. The load script runs it next to the gateway so
//! that the gateway's added latency can be read against what any hop costs on
//! the same machine in the same run.
//!
//! Run: `cargo run --release --example floor-proxy -- LISTEN UPSTREAM_URL`
//! It prints `LISTENING <addr>` once ready.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let upstream: http::Uri = args.next().expect("upstream URL").parse().unwrap();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let listener = tokio::net::TcpListener::bind(&listen).await.unwrap();
    println!("LISTENING {}", listener.local_addr().unwrap());
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let client = client.clone();
                let upstream = upstream.clone();
                async move {
                    let (mut parts, body) = req.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    parts.uri = upstream;
                    parts.headers.remove("host");
                    let response = client
                        .request(http::Request::from_parts(parts, Full::new(body)))
                        .await;
                    type Error = Box<dyn std::error::Error + Send + Sync>;
                    let response = match response {
                        Ok(r) => r.map(|b| b.map_err(Error::from).boxed()),
                        Err(_) => {
                            let empty = Full::new(Bytes::new()).map_err(|e| match e {}).boxed();
                            let mut r = http::Response::new(empty);
                            *r.status_mut() = http::StatusCode::BAD_GATEWAY;
                            r
                        }
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
