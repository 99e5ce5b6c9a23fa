//! A small HTTP client for tests: explicit headers, bodies as strings, replies
//! fully read (or streamed, for SSE timing tests).

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::time::Duration;

/// A complete response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (panics with the body text if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The media type of the body.
    pub fn media(&self) -> &str {
        self.header("content-type")
            .and_then(|c| c.split(';').next())
            .unwrap_or("")
    }

    /// The JSON-RPC messages of the body, whether JSON or SSE.
    pub fn messages(&self) -> Vec<Value> {
        if self.media() == "text/event-stream" {
            sse_data(&self.body)
                .into_iter()
                .filter(|d| !d.is_empty())
                .map(|d| serde_json::from_str(&d).unwrap())
                .collect()
        } else if self.body.is_empty() {
            Vec::new()
        } else {
            vec![self.json()]
        }
    }

    /// The last JSON-RPC message: the response, in a stream that ends with it.
    pub fn message(&self) -> Value {
        self.messages()
            .pop()
            .unwrap_or_else(|| panic!("no message in {self:?}"))
    }
}

/// The `data` of each SSE event in `body`.
pub fn sse_data(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body)
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|event| {
            event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

/// A request under construction.
#[derive(Debug, Clone)]
pub struct Req {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Req {
    pub fn new(method: Method, url: &str) -> Req {
        Req {
            method,
            url: url.to_owned(),
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn post(url: &str) -> Req {
        Req::new(Method::POST, url)
    }

    pub fn get(url: &str) -> Req {
        Req::new(Method::GET, url)
    }

    pub fn delete(url: &str) -> Req {
        Req::new(Method::DELETE, url)
    }

    /// The headers every MCP POST carries.
    pub fn mcp(self) -> Req {
        self.header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
    }

    /// A 2026-07-28 request: version header plus mirrored method (and name).
    pub fn modern(self, method: &str, name: Option<&str>) -> Req {
        let r = self
            .mcp()
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", method);
        match name {
            Some(n) => r.header("mcp-name", n),
            None => r,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl ToString) -> Req {
        self.body = body.to_string();
        self
    }

    fn build(&self) -> Request<Full<Bytes>> {
        let mut b = Request::builder()
            .method(self.method.clone())
            .uri(&self.url);
        for (k, v) in &self.headers {
            b = b.header(k, v);
        }
        b.body(Full::new(Bytes::from(self.body.clone()))).unwrap()
    }

    /// Sends and returns the response head with a streaming body.
    pub async fn open(&self) -> Response<Incoming> {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        tokio::time::timeout(Duration::from_secs(30), client.request(self.build()))
            .await
            .expect("no response head within 30s")
            .unwrap()
    }

    /// Sends and reads the whole response; `None` when the connection fails
    /// or the response is cut off (a peer that dies mid-test).
    pub async fn try_send(&self) -> Option<Reply> {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let response = tokio::time::timeout(Duration::from_secs(30), client.request(self.build()))
            .await
            .ok()?
            .ok()?;
        let (parts, body) = response.into_parts();
        let body = tokio::time::timeout(Duration::from_secs(30), body.collect())
            .await
            .ok()?
            .ok()?
            .to_bytes();
        Some(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Sends and reads the whole response.
    pub async fn send(&self) -> Reply {
        let response = self.open().await;
        let (parts, body) = response.into_parts();
        let body = tokio::time::timeout(Duration::from_secs(30), body.collect())
            .await
            .expect("body not complete within 30s")
            .unwrap()
            .to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// A 2026-07-28 request body with the `_meta` envelope.
pub fn modern_body(id: u64, method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "portcullis-tests", "version": "1"}
    });
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// A legacy `initialize` followed by `notifications/initialized`; returns the
/// session id (if the server issued one) and the initialize reply.
pub async fn initialize(url: &str, version: &str) -> (Option<String>, Reply) {
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "portcullis-tests", "version": "1"}}});
    let reply = Req::post(url).mcp().body(init).send().await;
    assert_eq!(reply.status, StatusCode::OK, "initialize: {reply:?}");
    let session = reply.header("mcp-session-id").map(str::to_owned);
    let mut note = Req::post(url)
        .mcp()
        .header("mcp-protocol-version", version)
        .body(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
    if let Some(s) = &session {
        note = note.header("mcp-session-id", s);
    }
    let acked = note.send().await;
    assert_eq!(acked.status, StatusCode::ACCEPTED, "initialized: {acked:?}");
    (session, reply)
}

/// Writes raw bytes on a new connection and reads until the peer closes or
/// `wait` passes. Returns what was read and whether the peer closed.
pub async fn raw(addr: std::net::SocketAddr, bytes: &[u8], wait: Duration) -> (Vec<u8>, bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, false),
        }
    }
}
