//! Faults around the gateway: an upstream that refuses, hangs, resets a stream
//! mid-way or streams forever; a JWKS endpoint that is slow; Redis going away
//! under shared rate limits; SIGTERM with streams open. Each test asserts the
//! documented behaviour (docs/RELIABILITY.md, "Fault matrix") and that traffic
//! the fault does not concern is still served.

use crate::support::auth::{self, Keys, claims};
use crate::support::gateway::default_yaml;
use crate::support::http::Req;
use crate::support::peers::{RedisServer, free_port};
use crate::support::recorder::{Recorded, answer_ok};
use crate::support::{Gateway, Recorder};
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::json;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

type Chunk = Result<Frame<Bytes>, std::io::Error>;
type FaultBody = UnsyncBoxBody<Bytes, std::io::Error>;
type Answer = Pin<Box<dyn Future<Output = Response<FaultBody>> + Send>>;

/// An upstream whose answers are futures (they may wait forever) and whose
/// bodies may fail mid-way. Stops on drop.
struct Faulty {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Faulty {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Faulty {
    async fn start(handler: impl Fn(Recorded) -> Answer + Send + Sync + 'static) -> Faulty {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Faulty::on(listener, handler)
    }

    fn on(
        listener: tokio::net::TcpListener,
        handler: impl Fn(Recorded) -> Answer + Send + Sync + 'static,
    ) -> Faulty {
        let addr = listener.local_addr().unwrap();
        let handler = Arc::new(handler);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = Arc::clone(&handler);
                tokio::spawn(async move {
                    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let handler = Arc::clone(&handler);
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let rec = Recorded {
                                method: parts.method,
                                uri: parts.uri,
                                headers: parts.headers,
                                body,
                            };
                            Ok::<_, std::convert::Infallible>(handler(rec).await)
                        }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Faulty { addr, task }
    }

    fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }
}

/// A response whose body is fed by the returned sender.
fn streamed(content_type: &str) -> (mpsc::Sender<Chunk>, Response<FaultBody>) {
    let (tx, rx) = mpsc::channel::<Chunk>(16);
    let mut r = Response::new(
        StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx)).boxed_unsync(),
    );
    r.headers_mut()
        .insert("content-type", content_type.parse().unwrap());
    (tx, r)
}

fn ok(req: &Recorded) -> Response<FaultBody> {
    answer_ok(req).map(|b| b.map_err(|never| match never {}).boxed_unsync())
}

fn data(bytes: &'static [u8]) -> Chunk {
    Ok(Frame::data(Bytes::from_static(bytes)))
}

fn tool_call(id: u64, tool: &str) -> serde_json::Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{}}})
}

fn called(req: &Recorded) -> String {
    let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
    v["params"]["name"].as_str().unwrap_or_default().to_owned()
}

fn config(upstream: &str, limits: &str) -> String {
    default_yaml(upstream)
        .replace(
            "response_timeout: 20s",
            "response_timeout: 3s\n  connect_timeout: 2s",
        )
        .replace("limits:\n", &format!("limits:\n{limits}"))
}

async fn ping(gw: &Gateway) -> StatusCode {
    Req::post(&gw.url())
        .mcp()
        .body(json!({"jsonrpc":"2.0","id":"p","method":"ping"}))
        .send()
        .await
        .status
}

/// Nothing listens at the upstream's address: a 502 JSON-RPC error with the
/// request's id, at once (a refused connect does not wait for
/// `connect_timeout`); once the upstream listens, requests flow again.
#[tokio::test]
async fn an_upstream_refusing_connections_gets_502_at_once_and_is_used_again_when_back() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let gw = Gateway::start_yaml(&config(&url, "")).await;
    for id in 1..=3 {
        let started = Instant::now();
        let reply = Req::post(&gw.url())
            .mcp()
            .body(tool_call(id, "t"))
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{reply:?}");
        assert_eq!(reply.json()["id"], id);
        assert_eq!(reply.json()["error"]["code"], -32603);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "refused at once, not after the connect timeout"
        );
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let _back = Faulty::on(listener, |req| Box::pin(async move { ok(&req) }));
    assert_eq!(
        ping(&gw).await,
        StatusCode::OK,
        "the upstream is used again"
    );
}

/// An upstream that never sends its response head gets 504 after
/// `response_timeout`; one that sends a JSON head and never finishes the body
/// gets 502 within the same bound. Other calls to the same upstream are
/// answered meanwhile.
#[tokio::test]
async fn a_hanging_upstream_is_cut_off_at_the_response_timeout_and_others_are_served() {
    let upstream = Faulty::start(|req| {
        Box::pin(async move {
            match called(&req).as_str() {
                "hang-head" => {
                    std::future::pending::<()>().await;
                    unreachable!()
                }
                "hang-body" => {
                    let (tx, r) = streamed("application/json");
                    tokio::spawn(async move {
                        let _ = tx.send(data(b"{\"jsonrpc\":\"2.0\",")).await;
                        tx.closed().await;
                    });
                    r
                }
                _ => ok(&req),
            }
        })
    })
    .await;
    let gw = Gateway::start_yaml(&config(&upstream.url(), "")).await;
    for (tool, status) in [
        ("hang-head", StatusCode::GATEWAY_TIMEOUT),
        ("hang-body", StatusCode::BAD_GATEWAY),
    ] {
        let url = gw.url();
        let started = Instant::now();
        let hung =
            tokio::spawn(
                async move { Req::post(&url).mcp().body(tool_call(7, tool)).send().await },
            );
        // While the hung call waits, others to the same upstream are answered.
        for _ in 0..3 {
            assert_eq!(ping(&gw).await, StatusCode::OK, "{tool}: others served");
        }
        let reply = tokio::time::timeout(Duration::from_secs(20), hung)
            .await
            .expect("the hung call was answered within 20s")
            .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(reply.status, status, "{tool}: {reply:?}");
        assert_eq!(reply.json()["id"], 7, "{tool}");
        assert_eq!(reply.json()["error"]["code"], -32603, "{tool}");
        assert!(
            elapsed >= Duration::from_millis(2900),
            "{tool}: not before the timeout ({elapsed:?})"
        );
        assert!(
            elapsed < Duration::from_secs(15),
            "{tool}: within the timeout and a margin ({elapsed:?})"
        );
    }
}

/// The upstream's SSE answer delivers one notification, then its connection
/// breaks. The client gets the notification, then a JSON-RPC error for its
/// request, and the stream ends: no hang, no silently truncated success.
#[tokio::test]
async fn an_upstream_resetting_a_stream_mid_way_ends_the_clients_stream_with_an_error() {
    let upstream = Faulty::start(|req| {
        Box::pin(async move {
            if called(&req) != "reset" {
                return ok(&req);
            }
            let (tx, r) = streamed("text/event-stream");
            tokio::spawn(async move {
                let _ = tx
                    .send(data(b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}\n\n"))
                    .await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = tx.send(data(b"event: message\ndata: {\"jsonrpc\":")).await;
                let _ = tx.send(Err(std::io::Error::other("connection reset"))).await;
            });
            r
        })
    })
    .await;
    let gw = Gateway::start_yaml(&config(&upstream.url(), "")).await;
    let response = Req::post(&gw.url())
        .mcp()
        .body(tool_call(5, "reset"))
        .open()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = tokio::time::timeout(Duration::from_secs(15), response.into_body().collect())
        .await
        .expect("the stream ended within 15s");
    let bytes = body
        .expect("the gateway ends the stream cleanly")
        .to_bytes();
    let messages: Vec<serde_json::Value> = crate::support::http::sse_data(&bytes)
        .iter()
        .filter(|d| !d.is_empty())
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0]["method"], "notifications/progress");
    assert_eq!(messages[1]["id"], 5, "the request is answered");
    assert_eq!(messages[1]["error"]["code"], -32603, "with an error");
    assert_eq!(ping(&gw).await, StatusCode::OK);
}

/// Streams that never end. An event that never ends (no blank line) is cut at
/// `max_sse_event` and the request answered with an error; a stream of valid
/// events goes on while the client reads it (there is no total-duration
/// limit) and is dropped upstream as soon as the client goes away.
#[tokio::test]
async fn endless_streams_are_bounded_by_the_event_size_and_released_when_the_client_leaves() {
    let released = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let (flag, count) = (Arc::clone(&released), Arc::clone(&sent));
    let upstream = Faulty::start(move |req| {
        let (flag, count) = (Arc::clone(&flag), Arc::clone(&count));
        Box::pin(async move {
            let (tx, r) = streamed("text/event-stream");
            match called(&req).as_str() {
                "endless-event" => {
                    tokio::spawn(async move {
                        if tx.send(data(b"event: message\ndata: ")).await.is_err() {
                            return;
                        }
                        while tx.send(data(&[b'x'; 1024])).await.is_ok() {}
                    });
                }
                "endless-stream" => {
                    tokio::spawn(async move {
                        loop {
                            let event = data(b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"tick\"}}\n\n");
                            if tx.send(event).await.is_err() {
                                flag.store(true, Ordering::SeqCst);
                                return;
                            }
                            count.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    });
                }
                _ => return ok(&req),
            }
            r
        })
    })
    .await;
    let gw = Gateway::start_yaml(&config(&upstream.url(), "  max_sse_event: 16KiB\n")).await;

    let reply = tokio::time::timeout(
        Duration::from_secs(20),
        Req::post(&gw.url())
            .mcp()
            .body(tool_call(8, "endless-event"))
            .send(),
    )
    .await
    .expect("an endless event is cut off");
    assert!(
        !String::from_utf8_lossy(&reply.body).contains("xxxx"),
        "no byte of it is forwarded"
    );
    assert_eq!(reply.message()["id"], 8);
    assert_eq!(reply.message()["error"]["code"], -32603);

    let response = Req::post(&gw.url())
        .mcp()
        .body(tool_call(9, "endless-stream"))
        .open()
        .await;
    let mut body = response.into_body();
    let mut events = 0;
    while events < 5 {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("events keep coming")
            .unwrap()
            .unwrap();
        if frame
            .data_ref()
            .is_some_and(|d| d.windows(4).any(|w| w == b"tick"))
        {
            events += 1;
        }
    }
    drop(body);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !released.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the upstream stream was still read 10s after the client left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let at_release = sent.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sent.load(Ordering::SeqCst),
        at_release,
        "nothing more is produced for nobody"
    );
    assert_eq!(ping(&gw).await, StatusCode::OK);
}

/// The JWKS endpoint turns slow (answers after a minute). Tokens signed by a
/// cached key are still accepted at once, even while a fetch for an unknown
/// `kid` is pending; the unknown `kid` gets 401 once the fetch times out
/// (`refresh.timeout`), not after the endpoint's minute.
#[tokio::test]
async fn a_slow_jwks_endpoint_never_holds_cached_keys_and_unknown_kids_get_401_at_the_fetch_timeout()
 {
    let keys = Keys::generate().await;
    let jwks = std::fs::read(keys.file("jwks.json")).unwrap();
    let slow = Arc::new(AtomicBool::new(false));
    let slow_fetches = Arc::new(AtomicUsize::new(0));
    let (is_slow, counted) = (Arc::clone(&slow), Arc::clone(&slow_fetches));
    let idp = Faulty::start(move |_| {
        let (jwks, is_slow, counted) = (jwks.clone(), Arc::clone(&is_slow), Arc::clone(&counted));
        Box::pin(async move {
            if is_slow.load(Ordering::SeqCst) {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            let mut r = Response::new(
                http_body_util::Full::new(Bytes::from(jwks))
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            );
            r.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            r
        })
    })
    .await;
    let upstream = Recorder::ok().await;
    let yaml = default_yaml(&upstream.url()).replace(
        "authentication:\n  mode: none\n",
        &format!(
            "authentication:\n  mode: jwt\n  resource: {}\n  issuers:\n    - issuer: {}\n      algorithms: [ES256]\n      \
             jwks_url: http://{}/jwks\n      refresh:\n        interval: 1h\n        min_interval: 1s\n        \
             unknown_kid_cooldown: 1s\n        timeout: 10s\n",
            auth::RESOURCE,
            auth::ISSUER,
            idp.addr
        ),
    );
    let gw = Gateway::start_yaml(&yaml).await;
    let mut specs =
        vec![json!({"alg": "ES256", "kid": "made-up", "key": "es256", "claims": claims()})];
    specs.extend((0..4).map(|_| json!({"alg": "ES256", "claims": claims()})));
    let mut tokens = keys.mint(&specs).await;
    let forged = tokens.remove(0);
    assert_eq!(
        auth::call(&gw, Some(&tokens.pop().unwrap())).await.status,
        200
    );

    slow.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let url = gw.url();
    let started = Instant::now();
    let unknown = tokio::spawn(async move { auth::call_url(&url, Some(&forged)).await.status });
    // Wait until the fetch for the unknown kid is hanging at the endpoint.
    while slow_fetches.load(Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no fetch for the unknown kid"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for fresh in &tokens {
        let t = Instant::now();
        assert_eq!(
            auth::call(&gw, Some(fresh)).await.status,
            200,
            "cached keys still accepted"
        );
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "not held behind the pending 10 s fetch: {:?}",
            t.elapsed()
        );
    }
    let status = tokio::time::timeout(Duration::from_secs(40), unknown)
        .await
        .expect("the unknown kid was answered within 40s, not after the endpoint's minute")
        .unwrap();
    assert_eq!(status, 401);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(9500),
        "answered when the fetch timed out: {waited:?}"
    );
    assert!(waited < Duration::from_secs(30), "{waited:?}");
}

/// Shared rate limits when Redis goes away, as documented (`rate_limits.redis.on_error`):
/// `deny` refuses with 429 and `Retry-After`, `local` keeps serving on the
/// replica's own limiter; neither waits longer than the Redis timeout.
#[tokio::test]
async fn with_redis_down_rate_limits_fail_as_configured() {
    let mut redis = RedisServer::start().await;
    let upstream = Recorder::ok().await;
    let yaml = |on_error: &str| {
        let limits = format!(
            "rate_limits:\n  redis:\n    url: {}\n    on_error: {on_error}\n  rules:\n    - name: per-ip\n      \
             per: [client_ip]\n      rate: 100/s\n      burst: 100\n",
            redis.url
        );
        format!("{}{limits}", default_yaml(&upstream.url()))
    };
    let deny = Gateway::start_yaml(&yaml("deny")).await;
    let local = Gateway::start_yaml(&yaml("local")).await;
    assert_eq!(ping(&deny).await, StatusCode::OK);
    assert_eq!(ping(&local).await, StatusCode::OK);

    redis.stop().await;
    for _ in 0..3 {
        let started = Instant::now();
        let refused = Req::post(&deny.url())
            .mcp()
            .body(json!({"jsonrpc":"2.0","id":"p","method":"ping"}))
            .send()
            .await;
        assert_eq!(
            refused.status,
            StatusCode::TOO_MANY_REQUESTS,
            "deny: {refused:?}"
        );
        assert_eq!(refused.header("retry-after"), Some("1"));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        let started = Instant::now();
        assert_eq!(ping(&local).await, StatusCode::OK, "local keeps serving");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    let forwarded = upstream.count();
    assert_eq!(forwarded, 5, "2 before the outage and 3 through `local`");
}

/// SIGTERM with a standalone GET stream and a request stream open: the GET
/// stream ends at once, the request stream is given `shutdown_grace` and then
/// cut, and the process exits 0 within the grace and a margin.
#[tokio::test]
async fn sigterm_with_open_streams_drains_and_exits_zero_within_the_grace() {
    let upstream = Faulty::start(|req| {
        Box::pin(async move {
            if req.method == http::Method::POST && called(&req) != "endless" {
                return ok(&req);
            }
            let (tx, r) = streamed("text/event-stream");
            tokio::spawn(async move {
                let _ = tx.send(data(b": open\n\n")).await;
                tx.closed().await;
            });
            r
        })
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let file = dir.path().join("p.yaml");
    let yaml = config(&upstream.url(), "")
        .replace("shutdown_grace: 5s", "shutdown_grace: 3s")
        .replace(
            "address: 127.0.0.1:0\nadmin",
            &format!("address: 127.0.0.1:{port}\nadmin"),
        );
    std::fs::write(&file, crate::support::gateway::with_audit(&yaml)).unwrap();
    let (mut child, ports) = crate::support::peers::serve_binary(&file, &[port]).await;
    let port = ports[0];
    let url = format!("http://127.0.0.1:{port}/mcp");
    let get = Req::get(&url)
        .header("accept", "text/event-stream")
        .open()
        .await;
    assert_eq!(get.status(), StatusCode::OK);
    let post = Req::post(&url)
        .mcp()
        .body(tool_call(3, "endless"))
        .open()
        .await;
    assert_eq!(post.status(), StatusCode::OK);

    let pid = child.id().unwrap().to_string();
    let started = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let get_ended = tokio::spawn(async move {
        let _ = get.into_body().collect().await;
        Instant::now()
    });
    let post_ended = tokio::spawn(async move {
        let _ = post.into_body().collect().await;
        Instant::now()
    });
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exited within 20s of SIGTERM")
        .unwrap();
    let exited = started.elapsed();
    assert!(status.success(), "{status}");
    let get_at = tokio::time::timeout(Duration::from_secs(5), get_ended)
        .await
        .expect("GET stream ended")
        .unwrap();
    let post_at = tokio::time::timeout(Duration::from_secs(5), post_ended)
        .await
        .expect("POST stream ended")
        .unwrap();
    assert!(
        get_at - started < Duration::from_millis(2500),
        "the standalone stream ended at once: {:?}",
        get_at - started
    );
    assert!(
        post_at - started >= Duration::from_millis(2500),
        "the request stream had its grace: {:?}",
        post_at - started
    );
    assert!(
        exited < Duration::from_secs(13),
        "exit within the grace and a margin: {exited:?}"
    );
}
