//! Differential check: every probe, benign or hostile, is sent byte for byte
//! both straight to a recording upstream and through the gateway to an
//! identical one, and what the two upstreams received is compared. Allowed
//! traffic must arrive unchanged (method, path, headers, body bytes) except
//! for the differences the gateway is there to make: framing (`Content-Length`,
//! `Transfer-Encoding`), `Host`, hop-by-hop headers, the client's credentials
//! and claimed addresses. Hostile probes must not arrive at all, or arrive
//! with exactly those differences.

use crate::support::http::raw;
use crate::support::recorder::Recorded;
use crate::support::{Gateway, Recorder};
use std::collections::BTreeMap;
use std::time::Duration;

/// Headers the gateway never passes as received (see `upstream::headers`).
/// (`Connection` is per hop: the probes send `Connection: close`.)
const EXPECTED_DIFFERENCES: [&str; 4] =
    ["host", "content-length", "transfer-encoding", "connection"];

/// What the gateway may do with a probe.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Arrives, and apart from framing and `Host` exactly as sent.
    Unchanged,
    /// Arrives without these headers, otherwise exactly as sent.
    Stripped(&'static [&'static str]),
    /// Never arrives.
    Refused,
}

struct Probe {
    name: &'static str,
    bytes: Vec<u8>,
    expect: Expect,
}

fn post(headers: &[&str], body: &str) -> Vec<u8> {
    let mut s = String::from(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nConnection: close\r\n",
    );
    let framed = headers.iter().any(|h| {
        h.to_ascii_lowercase().starts_with("content-length")
            || h.to_ascii_lowercase().starts_with("transfer-encoding")
    });
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    if !framed {
        s.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    s.push_str("\r\n");
    s.push_str(body);
    s.into_bytes()
}

fn chunked(body: &str) -> String {
    let (a, b) = body.split_at(body.len() / 2);
    format!(
        "{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    )
}

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
const STRIPPED: &[&str] = &[
    "connection",
    "x-nominated",
    "keep-alive",
    "te",
    "upgrade",
    "proxy-authorization",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "forwarded",
    "x-real-ip",
    "true-client-ip",
];
const CREDENTIALS: &[&str] = &["authorization", "cookie"];

fn probes() -> Vec<Probe> {
    let odd = "{ \"jsonrpc\" : \"2.0\",\n \"id\" : \"\u{fc}-1\", \"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\
               \"arguments\":{\"text\":\"h\\u00e9llo \\\"quoted\\\" \\\\ back\\tslash \u{1d11e}\",\"n\":1.50,\"e\":1e3}} }";
    let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search","arguments":{"q":"rust"}}}"#;
    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{"name":"x","arguments":{{"a":"{}"}}}}}}"#,
        "a".repeat(100 * 1024)
    );
    let unchanged = |name, bytes| Probe {
        name,
        bytes,
        expect: Expect::Unchanged,
    };
    let refused = |name, bytes| Probe {
        name,
        bytes,
        expect: Expect::Refused,
    };
    vec![
        unchanged("ping", post(&[], PING)),
        unchanged("tools/call", post(&[], call)),
        unchanged(
            "unicode, escapes, odd whitespace and number forms",
            post(&[], odd),
        ),
        unchanged("notification", post(&[], note)),
        unchanged(
            "end-to-end headers: custom, duplicated, MCP",
            post(
                &[
                    "X-Request-Id: 42",
                    "X-Dup: first",
                    "X-Dup: second",
                    "User-Agent: probe/1.0",
                    "Accept-Language: de-CH, en;q=0.5",
                    "MCP-Protocol-Version: 2025-11-25",
                    "Traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                ],
                call,
            ),
        ),
        unchanged(
            "chunked body with a chunk extension",
            post(&["Transfer-Encoding: chunked"], &chunked(call)),
        ),
        Probe {
            name: "hop-by-hop and claimed-address headers",
            bytes: post(
                &[
                    "Connection: close, X-Nominated",
                    "X-Nominated: hop",
                    "Keep-Alive: timeout=5",
                    "TE: trailers",
                    "Upgrade: h2c",
                    "Proxy-Authorization: Basic c3B5OnNweQ==",
                    "X-Forwarded-For: 6.6.6.6",
                    "X-Forwarded-Host: evil.example",
                    "X-Forwarded-Proto: https",
                    "Forwarded: for=6.6.6.6",
                    "X-Real-IP: 6.6.6.6",
                    "True-Client-IP: 6.6.6.6",
                    "X-Kept: yes",
                ],
                call,
            ),
            expect: Expect::Stripped(STRIPPED),
        },
        Probe {
            name: "the client's credentials",
            bytes: post(
                &[
                    "Authorization: Bearer client-token",
                    "Cookie: sid=client-cookie",
                ],
                call,
            ),
            expect: Expect::Stripped(CREDENTIALS),
        },
        // The gateway answers 400 and closes (server::framing); straight to the
        // upstream, hyper reads it as chunked.
        refused(
            "Content-Length with Transfer-Encoding",
            post(
                &["Content-Length: 4", "Transfer-Encoding: chunked"],
                &chunked(PING),
            ),
        ),
        refused(
            "Transfer-Encoding: chunked, identity",
            post(&["Transfer-Encoding: chunked, identity"], &chunked(PING)),
        ),
        refused(
            "Transfer-Encoding with a space before the colon",
            post(&["Transfer-Encoding : chunked"], &chunked(PING)),
        ),
        refused(
            "two different Content-Lengths",
            post(
                &["Content-Length: 40", "Content-Length: 41"],
                &format!("{PING} "),
            ),
        ),
        refused("Content-Length: +40", post(&["Content-Length: +40"], PING)),
        refused("a folded header line", post(&["X-Folded: a", " b"], PING)),
        refused(
            "a foreign Host (DNS rebinding)",
            String::from_utf8(post(&[], PING))
                .unwrap()
                .replacen("Host: localhost", "Host: evil.example", 1)
                .into_bytes(),
        ),
        refused(
            "a foreign Origin",
            post(&["Origin: http://evil.example"], PING),
        ),
        refused("a body over max_request_body", post(&[], &big)),
        refused(
            "text/plain",
            String::from_utf8(post(&[], PING))
                .unwrap()
                .replacen("application/json\r\n", "text/plain\r\n", 1)
                .into_bytes(),
        ),
        refused(
            "PUT",
            String::from_utf8(post(&[], PING))
                .unwrap()
                .replacen("POST", "PUT", 1)
                .into_bytes(),
        ),
        refused(
            "another path",
            String::from_utf8(post(&[], PING))
                .unwrap()
                .replacen("/mcp", "/admin", 1)
                .into_bytes(),
        ),
        refused("malformed JSON", post(&[], r#"{"jsonrpc":"2.0","id":1,"#)),
        refused(
            "duplicate JSON keys",
            post(
                &[],
                r#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call"}"#,
            ),
        ),
    ]
}

/// What one upstream received, in comparable form.
#[derive(Debug, PartialEq)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    headers: BTreeMap<String, Vec<String>>,
    body: Vec<u8>,
}

fn seen(r: &Recorded, without: &[&str]) -> Seen {
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in &r.headers {
        if EXPECTED_DIFFERENCES.contains(&k.as_str()) || without.contains(&k.as_str()) {
            continue;
        }
        headers
            .entry(k.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    Seen {
        method: r.method.to_string(),
        path: r.uri.path().to_owned(),
        query: r.uri.query().map(str::to_owned),
        headers,
        body: r.body.to_vec(),
    }
}

/// Sends `bytes` to `addr` and returns what `upstream` received because of it.
async fn received(addr: std::net::SocketAddr, bytes: &[u8], upstream: &Recorder) -> Vec<Recorded> {
    let before = upstream.count();
    let _ = raw(addr, bytes, Duration::from_secs(10)).await;
    upstream.requests().split_off(before)
}

#[tokio::test]
async fn allowed_traffic_arrives_unchanged_and_hostile_probes_do_not_arrive_or_arrive_normalised() {
    let direct = Recorder::ok().await;
    let behind = Recorder::ok().await;
    let gw = Gateway::start_yaml(&format!(
        "listen:\n  address: 127.0.0.1:0\nupstream:\n  url: {}\nlimits:\n  max_request_body: 64KiB\n  \
         header_read_timeout: 5s\n  body_read_timeout: 5s\nreload:\n  poll_interval: 0s\nauthentication:\n  mode: none\n",
        behind.url()
    ))
    .await;
    let mut failures = Vec::new();
    for probe in probes() {
        let straight = received(direct.addr, &probe.bytes, &direct).await;
        let through = received(gw.addr, &probe.bytes, &behind).await;
        let verdict = match probe.expect {
            Expect::Refused if through.is_empty() => Ok(()),
            Expect::Refused => Err(format!("forwarded: {:?}", through)),
            Expect::Unchanged | Expect::Stripped(_) => {
                let without = match probe.expect {
                    Expect::Stripped(names) => names,
                    _ => &[],
                };
                match (straight.as_slice(), through.as_slice()) {
                    ([s], [t]) => {
                        let missing: Vec<_> = without
                            .iter()
                            .filter(|n| t.headers.contains_key(**n))
                            .collect();
                        let (s, t) = (seen(s, without), seen(t, without));
                        if !missing.is_empty() {
                            Err(format!("passed upstream: {missing:?}"))
                        } else if s != t {
                            Err(format!("differs:\n  direct:  {s:?}\n  through: {t:?}"))
                        } else {
                            Ok(())
                        }
                    }
                    _ => Err(format!(
                        "expected one request each way, got {} direct and {} through the gateway",
                        straight.len(),
                        through.len()
                    )),
                }
            }
        };
        println!(
            "{:<52} {:<10} {}",
            probe.name,
            format!("{:?}", probe.expect).split('(').next().unwrap(),
            if verdict.is_ok() { "ok" } else { "FAILED" }
        );
        if let Err(why) = verdict {
            failures.push(format!("{}: {why}", probe.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
