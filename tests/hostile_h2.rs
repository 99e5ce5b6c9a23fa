//! Hostile HTTP/2, driven by the Python `h2` library (tests/peers/h2_abuse.py):
//! the rapid-reset pattern (CVE-2023-44487) and the CONTINUATION flood. The
//! abusive connection is answered with GOAWAY or closed, its work is bounded
//! (nothing reaches the upstream, the flood is cut short), and other clients,
//! HTTP/1.1 and HTTP/2, are served throughout.

use crate::support::http::Req;
use crate::support::peers::{python, script};
use crate::support::{Gateway, Recorder};
use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use std::time::Duration;

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

fn config(upstream: &str) -> String {
    format!(
        "listen:\n  address: 127.0.0.1:0\nupstream:\n  url: {upstream}\nlimits:\n  header_read_timeout: 5s\n  \
         body_read_timeout: 5s\n  max_header_bytes: 16KiB\nreload:\n  poll_interval: 0s\n\
         authentication:\n  mode: none\n"
    )
}

/// Runs one abusive client to completion and returns its report.
async fn abuse(gw: &Gateway, mode: &str, count: usize) -> Value {
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(python())
            .arg(script("h2_abuse.py"))
            .args([
                mode,
                "127.0.0.1",
                &gw.addr.port().to_string(),
                &count.to_string(),
            ])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the abusive client finished within 120s")
    .unwrap();
    assert!(
        output.status.success(),
        "h2_abuse.py {mode} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// One ping over a fresh HTTP/2 (prior knowledge) connection.
async fn h2_ping(gw: &Gateway) -> StatusCode {
    let stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = http::Request::post(format!("http://{}/mcp", gw.addr))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(Full::new(Bytes::from_static(PING.as_bytes())))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(30), send.send_request(request))
        .await
        .expect("an HTTP/2 answer within 30s")
        .unwrap();
    let status = response.status();
    let _ = response.into_body().collect().await;
    status
}

/// Whether the gateway closed the abusive connection with GOAWAY(ENHANCE_YOUR_CALM).
/// Closing while the client still writes makes the kernel answer with RST, which
/// can discard the GOAWAY before the client reads it: a reset counts too. (Without
/// the bounds the connection is not closed at all.)
fn calmed(report: &Value) -> bool {
    report["closed"] == true
        && (report["goaway"] == 11 || report["read_error"] == "ConnectionResetError")
}

/// Pings over HTTP/1.1 and HTTP/2 while `abuse` runs; all must succeed.
async fn served_during(gw: &Gateway, abuse: impl std::future::Future<Output = Value>) -> Value {
    let url = gw.url();
    let witness = async {
        let mut served = 0;
        for _ in 0..20 {
            let reply = Req::post(&url).mcp().body(PING).send().await;
            assert_eq!(reply.status, StatusCode::OK, "HTTP/1.1 during the flood");
            assert_eq!(h2_ping(gw).await, StatusCode::OK, "HTTP/2 during the flood");
            served += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        served
    };
    let (report, served) = tokio::join!(abuse, witness);
    assert_eq!(served, 20);
    report
}

/// HEADERS immediately cancelled by RST_STREAM, 5,000 times without waiting:
/// hyper's h2 server counts streams reset before it accepted them and past
/// `max_pending_accept_reset_streams` (20, set in `server::connection`) sends
/// GOAWAY(ENHANCE_YOUR_CALM) and closes (measured: the client's writes fail
/// after about 1,200 streams).
#[tokio::test]
async fn rapid_reset_gets_goaway_and_other_clients_are_served() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start_yaml(&config(&upstream.url())).await;
    let report = served_during(&gw, abuse(&gw, "rapid-reset", 5000)).await;
    println!("{report}");
    assert!(
        calmed(&report),
        "GOAWAY(ENHANCE_YOUR_CALM) and a closed connection: {report}"
    );
    assert_eq!(
        report["responses"], 0,
        "no reset stream was answered: {report}"
    );
    // The reset requests had no body yet: none can have reached the upstream;
    // only the witnesses' 40 pings did.
    assert_eq!(
        upstream.count(),
        40,
        "only the witnesses reached the upstream"
    );
    assert_eq!(h2_ping(&gw).await, StatusCode::OK);
}

/// One HEADERS frame without END_HEADERS, then CONTINUATION frames that never
/// end it. h2 bounds the header block (`max_header_list_size`, from
/// `limits.max_header_bytes`) and the number of CONTINUATION frames: past
/// them, GOAWAY(ENHANCE_YOUR_CALM) and the connection is closed (measured: after
/// about 1,100 frames the client's writes fail with a broken pipe).
#[tokio::test]
async fn a_continuation_flood_is_cut_off_and_other_clients_are_served() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start_yaml(&config(&upstream.url())).await;
    let report = served_during(&gw, abuse(&gw, "continuation", 100_000)).await;
    println!("{report}");
    assert!(
        calmed(&report),
        "GOAWAY(ENHANCE_YOUR_CALM) and a closed connection: {report}"
    );
    assert_eq!(report["responses"], 0, "{report}");
    assert_eq!(
        upstream.count(),
        40,
        "only the witnesses reached the upstream"
    );
    assert_eq!(h2_ping(&gw).await, StatusCode::OK);
}

/// hyper has no idle timeout for HTTP/2: without the gateway's own, a client
/// answering keep-alive PINGs (as every HTTP/2 client does) holds its
/// connection, and a slot under the connection caps, forever. A connection with
/// no request in progress for `header_read_timeout` (5 s here) gets GOAWAY; one
/// with a stream open, however quiet, is kept.
#[tokio::test]
async fn an_idle_http2_connection_is_closed_but_one_with_an_open_stream_is_kept() {
    use crate::support::recorder::{Body, answer_ok};
    use http_body_util::StreamBody;
    use hyper::body::Frame;
    use std::time::Instant;
    let upstream = Recorder::start(|req| -> http::Response<Body> {
        if req.method != http::Method::GET {
            return answer_ok(req);
        }
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
    let gw = Gateway::start_yaml(&config(&upstream.url())).await;
    let connect = || async {
        let stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        let (send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        let ended = tokio::spawn(async move {
            let _ = conn.await;
            Instant::now()
        });
        (send, ended)
    };
    let request = |method: http::Method, body: &'static str| {
        http::Request::builder()
            .method(method)
            .uri(format!("http://{}/mcp", gw.addr))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };

    // A: one request, then nothing.
    let (mut a, a_ended) = connect().await;
    let answered = a
        .send_request(request(http::Method::POST, PING))
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::OK);
    let _ = answered.into_body().collect().await;
    let quiet_from = Instant::now();

    // B: a standalone stream, silent for longer than the idle bound.
    let (mut b, b_ended) = connect().await;
    let stream = b
        .send_request(request(http::Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let mut stream = stream.into_body();
    let first = stream.frame().await.unwrap().unwrap();
    assert_eq!(
        first.data_ref().unwrap(),
        &Bytes::from_static(b": open\n\n")
    );

    let closed_at = tokio::time::timeout(Duration::from_secs(30), a_ended)
        .await
        .expect("the idle connection was closed within 30s")
        .unwrap();
    let idle = closed_at - quiet_from;
    assert!(
        idle >= Duration::from_millis(4500),
        "not before the bound: {idle:?}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !b_ended.is_finished(),
        "a connection with an open stream is kept"
    );
    assert_eq!(h2_ping(&gw).await, StatusCode::OK);

    drop(stream);
    let b_closed = tokio::time::timeout(Duration::from_secs(30), b_ended).await;
    assert!(b_closed.is_ok(), "idle once its stream ended, then closed");
}
