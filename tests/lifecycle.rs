//! Operations: admin endpoints, configuration reload, TLS and HTTP/2 on the
//! listener, graceful shutdown.

use crate::support::gateway::{audit_events, default_yaml, with_audit};
use crate::support::http::Req;
use crate::support::recorder::{Body, Recorded, answer_ok};
use crate::support::{Gateway, Recorder};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn ping() -> serde_json::Value {
    json!({"jsonrpc":"2.0","id":1,"method":"ping"})
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 5s");
}

#[tokio::test]
async fn admin_endpoints_report_health_and_readiness() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start(&upstream.url()).await;
    let admin = format!("http://{}", gw.admin.unwrap());
    let health = Req::get(&format!("{admin}/healthz")).send().await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");
    let ready = Req::get(&format!("{admin}/readyz")).send().await;
    assert_eq!(ready.status, StatusCode::OK);
    let other = Req::get(&format!("{admin}/mcp")).send().await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let mcp_side = Req::get(&format!("http://{}/healthz", gw.addr))
        .send()
        .await;
    assert_eq!(
        mcp_side.status,
        StatusCode::NOT_FOUND,
        "health lives on the admin listener only"
    );
}

#[tokio::test]
async fn a_changed_config_file_is_applied_and_a_broken_one_is_not() {
    let upstream = Recorder::ok().await;
    let base = default_yaml(&upstream.url()).replace("poll_interval: 0s", "poll_interval: 100ms");
    let gw = Gateway::start_yaml(&base).await;
    assert_eq!(
        Req::post(&gw.url()).mcp().body(ping()).send().await.status,
        StatusCode::OK
    );

    let narrowed = base.replace(
        "  address: 127.0.0.1:0\nadmin",
        "  address: 127.0.0.1:0\n  allowed_hosts: [\"only.example\"]\nadmin",
    );
    std::fs::write(&gw.config_file, with_audit(&narrowed)).unwrap();
    eventually("reload", async || {
        Req::post(&gw.url()).mcp().body(ping()).send().await.status
            == StatusCode::MISDIRECTED_REQUEST
    })
    .await;

    std::fs::write(&gw.config_file, "listen: [not, a, mapping").unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let kept = Req::post(&gw.url()).mcp().body(ping()).send().await;
    assert_eq!(
        kept.status,
        StatusCode::MISDIRECTED_REQUEST,
        "a broken file keeps the running config"
    );
    let with_host = Req::post(&gw.url())
        .mcp()
        .header("host", "only.example")
        .body(ping())
        .send()
        .await;
    assert_eq!(with_host.status, StatusCode::OK);

    std::fs::write(&gw.config_file, with_audit(&base)).unwrap();
    eventually("second reload", async || {
        Req::post(&gw.url()).mcp().body(ping()).send().await.status == StatusCode::OK
    })
    .await;

    // Each reload is an audit event: two in force, one refused with its error.
    // (A poll may also catch a file half written: more failures, never fewer.)
    let folder = gw.stop().await;
    let reloads: Vec<serde_json::Value> = audit_events(&folder.path().join("audit"))
        .into_iter()
        .filter(|e| e["api"]["operation"] == "portcullis/reload")
        .collect();
    let with_status = |s: u64| reloads.iter().filter(|e| e["status_id"] == s).count();
    assert!(with_status(1) >= 2, "two reloads in force: {reloads:#?}");
    assert!(with_status(2) >= 1, "one refused: {reloads:#?}");
    assert!(
        reloads
            .iter()
            .all(|e| e["class_uid"] == 6003 && e["unmapped"]["portcullis"]["reloaded"] == "config"),
        "{reloads:#?}"
    );
}

#[tokio::test]
async fn sighup_reloads_the_configuration() {
    let upstream = Recorder::ok().await;
    let base = default_yaml(&upstream.url());
    let gw = Gateway::start_yaml(&base).await;
    let narrowed = base.replace(
        "  address: 127.0.0.1:0\nadmin",
        "  address: 127.0.0.1:0\n  allowed_hosts: [\"only.example\"]\nadmin",
    );
    std::fs::write(&gw.config_file, with_audit(&narrowed)).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        Req::post(&gw.url()).mcp().body(ping()).send().await.status,
        StatusCode::OK,
        "polling is off"
    );
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    eventually("SIGHUP reload", async || {
        Req::post(&gw.url()).mcp().body(ping()).send().await.status
            == StatusCode::MISDIRECTED_REQUEST
    })
    .await;
}

#[tokio::test]
async fn h2c_prior_knowledge_is_served() {
    let upstream = Recorder::ok().await;
    let gw = Gateway::start(&upstream.url()).await;
    let stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::post(format!("http://{}/mcp", gw.addr))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(ping().to_string())))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let seen = upstream.requests().pop().unwrap();
    assert_eq!(
        seen.headers["host"],
        upstream.addr.to_string().as_str(),
        "Host rewritten to the upstream"
    );
}

fn tls_files(dir: &std::path::Path) -> Arc<rustls::RootCertStore> {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    Arc::new(roots)
}

async fn tls_connect(
    addr: std::net::SocketAddr,
    roots: Arc<rustls::RootCertStore>,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

#[tokio::test]
async fn the_tls_listener_serves_http1_and_http2_by_alpn() {
    let upstream = Recorder::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let roots = tls_files(dir.path());
    let yaml = default_yaml(&upstream.url()).replace(
        "  address: 127.0.0.1:0\nadmin",
        &format!(
            "  address: 127.0.0.1:0\n  tls:\n    cert: {}\n    key: {}\nadmin",
            dir.path().join("cert.pem").display(),
            dir.path().join("key.pem").display()
        ),
    );
    let gw = Gateway::start_yaml(&yaml).await;
    let body = || Full::new(Bytes::from(ping().to_string()));

    let tls = tls_connect(gw.addr, Arc::clone(&roots), b"h2").await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::post("https://localhost/mcp")
        .header("content-type", "application/json")
        .body(body())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(
        (resp.status(), resp.version()),
        (StatusCode::OK, http::Version::HTTP_2)
    );

    let tls = tls_connect(gw.addr, roots, b"http/1.1").await;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::post("/mcp")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(body())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(
        (resp.status(), resp.version()),
        (StatusCode::OK, http::Version::HTTP_11)
    );

    let plain = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(plain))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::post("/mcp")
        .header("host", "localhost")
        .body(body())
        .unwrap();
    assert!(
        send.send_request(req).await.is_err(),
        "plain HTTP is not served on a TLS listener"
    );
}

/// An upstream whose POSTs answer after 600 ms and whose GET streams never end.
async fn slow_upstream() -> Recorder {
    Recorder::start(|req: &Recorded| -> Response<Body> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
        let is_get = req.method == http::Method::GET;
        let answer = answer_ok(req);
        if !is_get {
            let body = answer.into_body();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(600)).await;
                let bytes = body.collect().await.unwrap().to_bytes();
                let _ = tx.send(Ok(Frame::data(bytes))).await;
            });
        } else {
            tokio::spawn(async move {
                let _ = tx
                    .send(Ok(Frame::data(Bytes::from_static(b": open\n\n"))))
                    .await;
                tx.closed().await;
            });
        }
        let mut r = Response::new(
            StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx)).boxed_unsync(),
        );
        let ct = if is_get {
            "text/event-stream"
        } else {
            "application/json"
        };
        r.headers_mut().insert("content-type", ct.parse().unwrap());
        r
    })
    .await
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_ends_standalone_streams() {
    let upstream = slow_upstream().await;
    let gw = Gateway::start(&upstream.url()).await;
    let admin = format!("http://{}/readyz", gw.admin.unwrap());
    let stream = Req::get(&gw.url())
        .header("accept", "text/event-stream")
        .open()
        .await;
    assert_eq!(stream.status(), StatusCode::OK);
    let url = gw.url();
    let in_flight = tokio::spawn(async move { Req::post(&url).mcp().body(ping()).send().await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let addr = gw.addr;
    let started = Instant::now();
    let stopping = tokio::spawn(gw.stop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ready = Req::get(&admin).send().await;
    assert_eq!(
        ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready while draining"
    );
    let finished = in_flight.await.unwrap();
    assert_eq!(
        finished.status,
        StatusCode::OK,
        "the in-flight request completed"
    );
    let streamed = tokio::time::timeout(Duration::from_secs(3), stream.into_body().collect())
        .await
        .expect("the standalone stream ended on drain");
    assert!(streamed.is_ok());
    stopping.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "well within the grace period"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}
