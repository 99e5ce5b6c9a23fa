//! A programmable upstream that records what it receives. It stands in for
//! behaviour no real MCP server produces on demand (a stream paused mid-way, a
//! garbage answer) and answers "what exactly did the upstream receive?".

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

type Handler = Arc<dyn Fn(&Recorded) -> Response<Body> + Send + Sync>;

/// The recording upstream; stops on drop.
pub struct Recorder {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn full(
    status: StatusCode,
    content_type: Option<&str>,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed_unsync());
    *r.status_mut() = status;
    if let Some(ct) = content_type {
        r.headers_mut()
            .insert(header::CONTENT_TYPE, ct.parse().unwrap());
    }
    r
}

/// Answers a request with an empty JSON-RPC result, a notification with 202,
/// and a batch with an array of results for its requests.
pub fn answer_ok(req: &Recorded) -> Response<Body> {
    let Ok(msg) = serde_json::from_slice::<Value>(&req.body) else {
        return full(StatusCode::ACCEPTED, None, Bytes::new());
    };
    if let Some(batch) = msg.as_array() {
        let results: Vec<Value> = batch
            .iter()
            .filter(|m| m.get("id").is_some() && m.get("method").is_some())
            .map(|m| json!({"jsonrpc":"2.0","id":m["id"],"result":{}}))
            .collect();
        return full(
            StatusCode::OK,
            Some("application/json"),
            Value::Array(results).to_string(),
        );
    }
    match msg.get("id") {
        Some(id) if msg.get("method").is_some() => full(
            StatusCode::OK,
            Some("application/json"),
            json!({"jsonrpc":"2.0","id":id,"result":{}}).to_string(),
        ),
        _ => full(StatusCode::ACCEPTED, None, Bytes::new()),
    }
}

impl Recorder {
    /// Starts with a handler deciding each answer.
    pub async fn start(
        handler: impl Fn(&Recorded) -> Response<Body> + Send + Sync + 'static,
    ) -> Recorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let log = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = Arc::clone(&log);
                let handler = Arc::clone(&handler);
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let log = Arc::clone(&log);
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
                            log.lock().unwrap().push(rec.clone());
                            Ok::<_, Infallible>(handler(&rec))
                        }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Recorder {
            addr,
            requests,
            task,
        }
    }

    /// An upstream answering every request with an empty result.
    pub async fn ok() -> Recorder {
        Recorder::start(answer_ok).await
    }

    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}
