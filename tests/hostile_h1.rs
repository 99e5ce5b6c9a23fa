//! Hostile HTTP/1: obfuscated framing, connection caps end to end, hop-by-hop
//! and spoofed forwarding headers. Each case says what the upstream receives
//! (nothing, or a normalised request) and that the gateway keeps serving.

use crate::support::http::{Req, raw};
use crate::support::{Gateway, Recorder};
use http::StatusCode;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

fn config(upstream: &str, extra_limits: &str) -> String {
    format!(
        "listen:\n  address: 127.0.0.1:0\nupstream:\n  url: {upstream}\nlimits:\n  max_request_body: 64KiB\n  \
         header_read_timeout: 2s\n  body_read_timeout: 2s\n{extra_limits}reload:\n  poll_interval: 0s\n\
         authentication:\n  mode: none\n"
    )
}

async fn still_serves(gw: &Gateway) {
    let ok = Req::post(&gw.url()).mcp().body(PING).send().await;
    assert_eq!(
        ok.status,
        StatusCode::OK,
        "the gateway still serves: {ok:?}"
    );
}

/// A head with `lines` between the request line and the blank line.
fn head(version: &str, lines: &[&str]) -> String {
    let mut s =
        format!("POST /mcp {version}\r\nHost: localhost\r\nContent-Type: application/json\r\n");
    for l in lines {
        s.push_str(l);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s
}

fn chunked(body: &str) -> String {
    format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len())
}

/// Obfuscated `Transfer-Encoding` and malformed or duplicate `Content-Length`:
/// every one gets a 400 and a closed connection, and nothing reaches the
/// upstream. hyper's HTTP/1 parser refuses all of these before the gateway's
/// service runs; this test holds the gateway to it across hyper upgrades.
#[tokio::test]
async fn obfuscated_transfer_encodings_and_bad_content_lengths_get_400_and_are_never_forwarded() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start_yaml(&config(&upstream.url(), "")).await;
    let n = PING.len();
    let body = chunked(PING);
    let cases: Vec<(&str, String)> = vec![
        (
            "TE chunked, identity",
            head("HTTP/1.1", &["Transfer-Encoding: chunked, identity"]) + &body,
        ),
        (
            "TE identity",
            head("HTTP/1.1", &["Transfer-Encoding: identity"]) + PING,
        ),
        (
            "TE xchunked",
            head("HTTP/1.1", &["Transfer-Encoding: xchunked"]) + &body,
        ),
        (
            "TE chunkedx",
            head("HTTP/1.1", &["Transfer-Encoding: chunkedx"]) + &body,
        ),
        (
            "space before the colon",
            head("HTTP/1.1", &["Transfer-Encoding : chunked"]) + &body,
        ),
        (
            "tab before the colon",
            head("HTTP/1.1", &["Transfer-Encoding\t: chunked"]) + &body,
        ),
        (
            "obs-fold",
            head("HTTP/1.1", &["Transfer-Encoding:", " chunked"]) + &body,
        ),
        (
            "two TE lines, identity last",
            head(
                "HTTP/1.1",
                &["Transfer-Encoding: chunked", "Transfer-Encoding: identity"],
            ) + &body,
        ),
        (
            "TE in HTTP/1.0",
            head("HTTP/1.0", &["Transfer-Encoding: chunked"]) + &body,
        ),
        (
            "CL list 1, 2",
            head("HTTP/1.1", &["Content-Length: 1, 2"]) + PING,
        ),
        (
            "CL +n",
            head("HTTP/1.1", &[&format!("Content-Length: +{n}")]) + PING,
        ),
        ("CL hex", head("HTTP/1.1", &["Content-Length: 0x28"]) + PING),
        (
            "CL negative",
            head("HTTP/1.1", &["Content-Length: -1"]) + PING,
        ),
        (
            "CL with a unit",
            head("HTTP/1.1", &[&format!("Content-Length: {n}abc")]) + PING,
        ),
        (
            "CL overflow",
            head("HTTP/1.1", &["Content-Length: 99999999999999999999999"]) + PING,
        ),
        (
            "two CLs differing",
            head(
                "HTTP/1.1",
                &[
                    &format!("Content-Length: {n}"),
                    &format!("Content-Length: {}", n + 1),
                ],
            ) + PING
                + " ",
        ),
        (
            "space before the CL colon",
            head("HTTP/1.1", &[&format!("Content-Length : {n}")]) + PING,
        ),
        (
            "chunk size overflow",
            head("HTTP/1.1", &["Transfer-Encoding: chunked"]) + "fffffffffffffffffff\r\n" + PING,
        ),
        (
            "chunk size not hex",
            head("HTTP/1.1", &["Transfer-Encoding: chunked"]) + "zz\r\n" + PING + "\r\n0\r\n\r\n",
        ),
    ];
    for (what, request) in &cases {
        let (resp, closed) = raw(gw.addr, request.as_bytes(), Duration::from_secs(10)).await;
        let text = String::from_utf8_lossy(&resp);
        assert!(text.starts_with("HTTP/1.1 400"), "{what}: {text}");
        assert_eq!(
            text.matches("HTTP/1.1 ").count(),
            1,
            "{what}: one answer: {text}"
        );
        assert!(closed, "{what}: the connection is closed");
    }
    assert_eq!(
        upstream.count(),
        0,
        "nothing malformed reached the upstream"
    );
    still_serves(&gw).await;
}

/// Framing that is unusual but unambiguous is served, and the upstream
/// receives exactly the client's body in a message hyper framed itself.
#[tokio::test]
async fn unusual_but_unambiguous_framing_is_forwarded_normalised() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start_yaml(&config(&upstream.url(), "")).await;
    let n = PING.len();
    let body = chunked(PING);
    let cases: Vec<(&str, String)> = vec![
        (
            "TE after a tab",
            head("HTTP/1.1", &["Transfer-Encoding:\tchunked"]) + &body,
        ),
        (
            "TE in capitals",
            head("HTTP/1.1", &["Transfer-Encoding: CHUNKED"]) + &body,
        ),
        (
            "two equal CLs",
            head(
                "HTTP/1.1",
                &[
                    &format!("Content-Length: {n}"),
                    &format!("Content-Length: {n}"),
                    "Connection: close",
                ],
            ) + PING,
        ),
    ];
    for (i, (what, request)) in cases.iter().enumerate() {
        let (resp, _) = raw(gw.addr, request.as_bytes(), Duration::from_secs(5)).await;
        let text = String::from_utf8_lossy(&resp);
        assert!(text.starts_with("HTTP/1.1 200"), "{what}: {text}");
        assert_eq!(upstream.count(), i + 1, "{what}: forwarded once");
        let got = upstream.requests().pop().unwrap();
        assert_eq!(&got.body[..], PING.as_bytes(), "{what}: the body unchanged");
        assert!(got.headers.get("transfer-encoding").is_none(), "{what}");
        assert_eq!(
            got.headers["content-length"],
            n.to_string(),
            "{what}: one length, hyper's"
        );
    }
}

/// `Content-Length` and `Transfer-Encoding` together (request smuggling): 400,
/// the connection closed, nothing forwarded, and the bytes after the body never
/// read as a second request, whichever header comes first and however the
/// request is split across reads and pipelined behind an allowed one. hyper
/// drops `Content-Length` before the gateway sees the head; `server::framing`
/// reads it from the wire.
#[tokio::test]
async fn content_length_with_transfer_encoding_is_refused_with_400_and_the_connection_closed() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start_yaml(&config(&upstream.url(), "")).await;
    let smuggled = "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 47\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":\"smuggled\",\"method\":\"ping\"}";
    for order in [
        ["Content-Length: 4", "Transfer-Encoding: chunked"],
        ["Transfer-Encoding: chunked", "Content-Length: 4"],
    ] {
        let before = upstream.count();
        let request = head("HTTP/1.1", &order) + &chunked(PING) + smuggled;
        let (resp, closed) = raw(gw.addr, request.as_bytes(), Duration::from_secs(10)).await;
        let text = String::from_utf8_lossy(&resp);
        assert!(text.starts_with("HTTP/1.1 400 "), "{order:?}: {text}");
        assert!(
            text.contains("both Content-Length and Transfer-Encoding"),
            "{order:?}: {text}"
        );
        assert_eq!(
            text.matches("HTTP/1.1 ").count(),
            1,
            "{order:?}: one answer: {text}"
        );
        assert!(!text.contains("smuggled"), "{order:?}: {text}");
        assert!(
            closed,
            "{order:?}: the connection is closed after the answer"
        );
        assert_eq!(upstream.count(), before, "{order:?}: nothing went upstream");

        // Behind an allowed request on the same connection, its head split
        // across writes: the first is answered, the second refused.
        let length = format!("Content-Length: {}", PING.len());
        let accept = "Accept: application/json, text/event-stream";
        let allowed = head("HTTP/1.1", &[accept, &length]) + PING;
        let mut stream = TcpStream::connect(gw.addr).await.unwrap();
        let wire = allowed + &request;
        let (first, rest) = wire.split_at(wire.len() - request.len() + 30);
        stream.write_all(first.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        stream.write_all(rest.as_bytes()).await.unwrap();
        let mut resp = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut resp));
        read.await.expect("closed within 10 s").unwrap();
        let text = String::from_utf8_lossy(&resp);
        let statuses: Vec<&str> = text
            .match_indices("HTTP/1.1 ")
            .map(|(i, _)| &text[i + 9..i + 12])
            .collect();
        assert_eq!(statuses, ["200", "400"], "{order:?}: {text}");
        assert_eq!(
            upstream.count(),
            before + 1,
            "{order:?}: only the ping went up"
        );
    }
    still_serves(&gw).await;
}

/// Connects from `source` (any 127.0.0.0/8 address works on Linux loopback).
async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// One keep-alive ping on an open connection: `Some(status line)`, or `None`
/// when the gateway closed it without answering.
async fn ping_on(stream: &mut TcpStream) -> Option<String> {
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{PING}",
        PING.len()
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return None;
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return None,
            Ok(Ok(n)) => n,
            Err(_) => panic!("no answer and no close within 10s"),
        };
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        // The upstream's answer is a small JSON object: complete once it closes.
        if text.contains("\r\n\r\n") && text.trim_end().ends_with('}') {
            return text.lines().next().map(str::to_owned);
        }
    }
}

/// Whether the gateway closed `stream` without a byte (a refused connection).
async fn refused(mut stream: TcpStream) -> bool {
    ping_on(&mut stream).await.is_none()
}

#[tokio::test]
async fn connection_caps_hold_globally_and_per_client_and_slots_are_released() {
    let upstream = Recorder::ok().await;
    let caps = "  max_connections: 3\n  max_connections_per_client: 2\n";
    let yaml = config(&upstream.url(), caps)
        .replace("header_read_timeout: 2s", "header_read_timeout: 30s");
    let gw = Gateway::start_yaml(&yaml).await;
    let ok = Some("HTTP/1.1 200 OK".to_owned());

    let mut a1 = connect_from("127.0.0.1", gw.addr).await;
    let mut a2 = connect_from("127.0.0.1", gw.addr).await;
    assert_eq!(ping_on(&mut a1).await, ok);
    assert_eq!(ping_on(&mut a2).await, ok);
    assert!(
        refused(connect_from("127.0.0.1", gw.addr).await).await,
        "a third connection from the same address is closed"
    );
    let mut b1 = connect_from("127.0.0.2", gw.addr).await;
    assert_eq!(ping_on(&mut b1).await, ok, "another address still gets in");
    assert!(
        refused(connect_from("127.0.0.3", gw.addr).await).await,
        "a fourth connection is over the global cap"
    );
    // The admitted connections are unaffected.
    assert_eq!(ping_on(&mut a1).await, ok);
    assert_eq!(ping_on(&mut a2).await, ok);
    assert_eq!(ping_on(&mut b1).await, ok);

    // Closing one releases its slot (asynchronously: the server notices the close).
    drop(a1);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut a3 = loop {
        let mut s = connect_from("127.0.0.1", gw.addr).await;
        if ping_on(&mut s).await == ok {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the slot was not released within 10s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        refused(connect_from("127.0.0.3", gw.addr).await).await,
        "full again"
    );
    assert_eq!(ping_on(&mut a3).await, ok);
    assert_eq!(ping_on(&mut a2).await, ok);
}

/// Hop-by-hop headers, the client's credentials and every header a client could
/// use to claim another address never reach the upstream; the audit trail
/// records the socket's address, not a claimed one.
#[tokio::test]
async fn hop_by_hop_credentials_and_spoofed_forwarding_headers_stop_at_the_gateway() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start_yaml(&config(&upstream.url(), "")).await;
    let spoofed = [
        ("Connection", "keep-alive, X-Nominated"),
        ("X-Nominated", "hop"),
        ("Keep-Alive", "timeout=5, max=1000"),
        ("TE", "trailers"),
        ("Trailer", "X-Late"),
        ("Upgrade", "websocket"),
        ("Proxy-Connection", "keep-alive"),
        ("Proxy-Authorization", "Basic c3B5OnNweQ=="),
        ("Authorization", "Bearer client-secret-token"),
        ("Cookie", "session=client-secret-cookie"),
        ("X-Forwarded-For", "6.6.6.6"),
        ("X-Forwarded-Host", "evil.example"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Port", "6666"),
        ("X-Forwarded-Prefix", "/evil"),
        ("X-Forwarded-Server", "evil.example"),
        ("Forwarded", "for=6.6.6.6;proto=https;host=evil.example"),
        ("X-Real-IP", "6.6.6.6"),
        ("X-Client-IP", "6.6.6.6"),
        ("True-Client-IP", "6.6.6.6"),
        ("CF-Connecting-IP", "6.6.6.6"),
        ("X-Cluster-Client-IP", "6.6.6.6"),
        ("Fastly-Client-IP", "6.6.6.6"),
        ("X-Kept", "end-to-end"),
    ];
    let mut req = Req::post(&gw.url()).mcp();
    for (k, v) in spoofed {
        req = req.header(k, v);
    }
    let reply = req.body(PING).send().await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let got = upstream.requests().pop().unwrap();
    for (k, _) in &spoofed[..spoofed.len() - 1] {
        assert!(
            got.headers.get(*k).is_none(),
            "{k} reached the upstream: {:?}",
            got.headers
        );
    }
    for (k, v) in &got.headers {
        let v = String::from_utf8_lossy(v.as_bytes());
        assert!(
            !v.contains("6.6.6.6") && !v.contains("evil") && !v.contains("client-secret"),
            "{k}: {v}"
        );
    }
    assert_eq!(
        got.headers["x-kept"], "end-to-end",
        "end-to-end headers pass"
    );
    assert_eq!(got.headers["host"], upstream.addr.to_string());

    let folder = gw.stop().await;
    let events = crate::support::gateway::audit_events(&folder.path().join("audit"));
    let text = serde_json::to_string(&events).unwrap();
    assert!(text.contains("127.0.0.1"), "the socket address is recorded");
    assert!(
        !text.contains("6.6.6.6"),
        "no claimed address in the audit trail"
    );
}
