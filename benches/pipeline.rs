//! The in-process pipeline without sockets: what the gateway does to one
//! `tools/call` with a 1 KiB argument on its way up (admission, strict parse,
//! era and header checks, header filtering) and to its answer on the way down
//! (SSE framing and a strict parse of each event); and following the same
//! request's bytes on the wire for its framing (`server::framing`, run on every
//! HTTP/1.x read). Throughput is in requests.
//!
//! Run: `cargo bench --bench pipeline`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{Method, Request};
use portcullis::config::load_str;
use portcullis::pipeline::admit::admit;
use portcullis::protocol::jsonrpc::{self, ParseLimits};
use portcullis::protocol::mirrored::{self, MirroredHeaders, Sent};
use portcullis::protocol::sse::Decoder;
use portcullis::server::framing::Framing;
use portcullis::upstream::headers;
use std::hint::black_box;
use std::path::Path;

fn request_body() -> Bytes {
    let text = "x".repeat(1024);
    Bytes::from(format!(
        r#"{{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"{text}"}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}}}}"#
    ))
}

fn bench(c: &mut Criterion) {
    let rt = load_str(
        "listen:\n  address: 127.0.0.1:0\nupstream:\n  url: http://127.0.0.1:3000/mcp\nauthentication:\n  mode: none\naudit:\n  disabled: true\n",
        Path::new("bench.yaml"),
    )
    .unwrap();
    let limits = ParseLimits::default();
    let body = request_body();
    let (parts, ()) = Request::builder()
        .method(Method::POST)
        .uri("/mcp")
        .header("host", "127.0.0.1:8080")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "echo")
        .header("user-agent", "bench")
        .body(())
        .unwrap()
        .into_parts();
    let answer = Bytes::from_static(
        b"event: message\r\nid: 1\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}\r\n\r\n\
          event: message\r\nid: 2\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":42,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}],\"isError\":false}}\r\n\r\n",
    );

    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(1));
    group.bench_function(
        "request: admit + parse + header checks + header filtering",
        |b| {
            let portcullis::config::Transport::Http(upstream) =
                &rt.federation.upstreams[0].transport
            else {
                panic!("the bench configuration has one HTTP upstream");
            };
            b.iter(|| {
                admit(black_box(&parts), &rt).unwrap();
                let env = jsonrpc::parse(black_box(body.clone()), &limits).unwrap();
                let m = env.single().unwrap();
                let sent = MirroredHeaders {
                    method: Some(Sent::Once("tools/call")),
                    name: Some(Sent::Once("echo")),
                    params: Vec::new(),
                };
                mirrored::check(m, &sent, Some(&[])).unwrap();
                black_box(headers::request_headers(&parts.headers, upstream));
            })
        },
    );
    let wire = {
        let mut w = String::from("POST /mcp HTTP/1.1\r\n");
        for (name, value) in &parts.headers {
            w.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
        }
        w.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        let mut w = w.into_bytes();
        w.extend_from_slice(&body);
        w
    };
    group.bench_function(
        "wire: follow the request's framing (head + 1 KiB body)",
        |b| {
            let mut framing = Framing::default();
            b.iter(|| {
                let mut heads = 0;
                framing.feed(black_box(&wire), |_| heads += 1);
                assert_eq!(heads, 1);
            })
        },
    );
    group.bench_function("response: SSE framing + strict parse of each event", |b| {
        b.iter(|| {
            let mut decoder = Decoder::new(4 << 20);
            decoder.push(black_box(&answer));
            while let Some(event) = decoder.next_event().unwrap() {
                black_box(jsonrpc::parse_message(event.data.as_bytes(), &limits).unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
