//! Traces: a real OTLP/HTTP receiver decodes the gateway's spans with the
//! official protobuf definitions (and a real OTLP/gRPC one, issue 8); the trace
//! context reaches the upstream (a header over HTTP, `params._meta` over stdio).

use crate::support::http::{Req, initialize, modern_body};
use crate::support::otlp::{Collector, Span};
use crate::support::peers::{python, script};
use crate::support::recorder::{Body, Recorded, answer_ok, full};
use crate::support::{Gateway, Recorder};
use http::{Response, StatusCode};
use serde_json::json;

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

fn client_traceparent() -> String {
    format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01")
}

fn yaml(upstream: &str, collector: &Collector) -> String {
    format!(
        "{}{}",
        crate::support::gateway::default_yaml(upstream),
        collector.yaml()
    )
}

/// The span called `name`. Tests look spans up in the trace that
/// `Collector::trace_with` returned once the *request* span arrived, never a
/// child: the request span ends last, so by then every span of its request
/// has been received (a child can go out in an earlier batch than its parent).
fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span `{name}` in {spans:#?}"))
}

/// The MCP attributes of the request span of `tools/call echo` (id 7, session
/// `session`), whichever way the span travelled.
fn assert_echo_call_attributes(root: &Span, session: &str) {
    for (key, value) in [
        ("mcp.method.name", "tools/call"),
        ("mcp.session.id", session),
        ("mcp.protocol.version", "2025-11-25"),
        ("jsonrpc.request.id", "7"),
        ("gen_ai.tool.name", "echo"),
        ("gen_ai.operation.name", "execute_tool"),
        ("portcullis.decision", "allowed"),
        ("http.response.status_code", "200"),
    ] {
        assert_eq!(root.attr(key), Some(value), "{key} in {root:#?}");
    }
}

/// The upstream span's traceparent fields: (trace id, parent span id, flags).
fn fields(traceparent: &str) -> (String, String, String) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[0], "00");
    (parts[1].into(), parts[2].into(), parts[3].into())
}

/// A recording upstream that answers `initialize` with a session of its own.
async fn recorder() -> Recorder {
    Recorder::start(|req: &Recorded| -> Response<Body> {
        let msg = req.json();
        if msg.get("method").and_then(|m| m.as_str()) == Some("initialize") {
            let mut r = full(
                StatusCode::OK,
                Some("application/json"),
                json!({"jsonrpc":"2.0","id":msg["id"],"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"r","version":"1"}}}).to_string(),
            );
            r.headers_mut().insert("mcp-session-id", "up-1".parse().unwrap());
            return r;
        }
        answer_ok(req)
    })
    .await
}

/// A gateway exporting to `collector`, in front of the demo server: one
/// session, and `echo` called in it under the client's trace. Returns the
/// gateway, the demo server (keep it alive) and the session id.
async fn echo_in_a_session(
    collector: &Collector,
) -> (Gateway, portcullis::demo::server::DemoServer, String) {
    let demo = portcullis::demo::server::start("127.0.0.1:0")
        .await
        .unwrap();
    let gw = Gateway::start_yaml(&yaml(&format!("http://{}/mcp", demo.addr()), collector)).await;
    let (sealed, _) = initialize(&gw.url(), "2025-11-25").await;
    let sealed = sealed.expect("the gateway hands out a session id");
    let reply = Req::post(&gw.url())
        .mcp()
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-session-id", &sealed)
        .header("traceparent", &client_traceparent())
        .body(json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}))
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.message()["result"]["content"][0]["text"], "hi");
    (gw, demo, sealed)
}

#[tokio::test]
async fn a_tools_call_is_one_server_span_with_mcp_attributes_and_a_child_per_stage() {
    let collector = Collector::start().await;
    let (gw, _demo, sealed) = echo_in_a_session(&collector).await;

    let trace = collector.trace_with(CLIENT_TRACE, "tools/call echo").await;
    let root = named(&trace, "tools/call echo");
    assert_eq!(root.kind, 2, "a server span");
    assert_eq!(
        root.parent_span_id, CLIENT_SPAN,
        "parented on the client's span"
    );
    assert_eq!(root.service_name, "portcullis-test");
    assert_echo_call_attributes(root, &sealed);
    assert_ne!(root.status, 2, "not an error");
    assert!(
        !root.attributes.values().any(|v| v.contains("hi\"")),
        "no argument values in attributes"
    );
    for (name, kind) in [
        ("authenticate", 1),
        ("scan request", 1),
        ("authorize", 1),
        ("upstream tools/call", 3),
        ("scan response", 1),
    ] {
        let child = named(&trace, name);
        assert_eq!(
            child.parent_span_id, root.span_id,
            "{name} under the request span"
        );
        assert_eq!(child.kind, kind, "{name}");
        assert!(
            child.start >= root.start && child.end <= root.end && child.start <= child.end,
            "{name} inside the request span: {child:#?} {root:#?}"
        );
    }
    // The audit event of the call names the same trace and the request span.
    let folder = gw.stop().await;
    let log = folder.path().join("audit");
    let events: Vec<serde_json::Value> = std::fs::read_dir(&log)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.to_string_lossy().ends_with(".jsonl") && !p.to_string_lossy().contains("checkpoints")
        })
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect::<Vec<_>>()
        })
        .collect();
    let call = events
        .iter()
        .find(|e| e["api"]["operation"] == "tools/call")
        .unwrap_or_else(|| panic!("no tools/call event in {events:#?}"));
    assert_eq!(call["trace"]["uid"], CLIENT_TRACE);
    assert_eq!(call["trace"]["span"]["uid"], root.span_id.as_str());
}

#[tokio::test]
async fn the_upstream_receives_the_clients_trace_id_under_the_gateways_upstream_span() {
    let collector = Collector::start().await;
    let upstream = recorder().await;
    let gw = Gateway::start_yaml(&yaml(&upstream.url(), &collector)).await;
    let (sealed, _) = initialize(&gw.url(), "2025-11-25").await;
    let body = r#"{"jsonrpc":"2.0","id":"call-1","method":"tools/call","params":{"name":"echo","arguments":{}}}"#;
    let reply = Req::post(&gw.url())
        .mcp()
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-session-id", &sealed.unwrap())
        .header("traceparent", &client_traceparent())
        .header("tracestate", "vendor=1")
        .body(body)
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let seen = upstream.requests().pop().unwrap();
    assert_eq!(
        seen.body,
        body.as_bytes(),
        "the body still goes byte for byte"
    );
    let (trace_id, parent, flags) = fields(seen.headers["traceparent"].to_str().unwrap());
    assert_eq!(
        trace_id, CLIENT_TRACE,
        "the client's trace goes on upstream"
    );
    assert_eq!(flags, "01", "sampled, as the client asked");
    assert_ne!(
        parent, CLIENT_SPAN,
        "the upstream's parent is the gateway, not the client"
    );
    assert_eq!(seen.headers["tracestate"], "vendor=1");

    let trace = collector.trace_with(CLIENT_TRACE, "tools/call echo").await;
    let upstream_span = named(&trace, "upstream tools/call");
    assert_eq!(
        parent, upstream_span.span_id,
        "the upstream call span is the parent"
    );
    let root = named(&trace, "tools/call echo");
    assert_eq!(root.attr("jsonrpc.request.id"), Some("call-1"));
    assert_eq!(upstream_span.parent_span_id, root.span_id);
    let _ = gw.stop().await;
}

/// A gateway in front of `tests/peers/stdio_traced.py` (the Python SDK over
/// stdio, in protocol `era`), whose `trace_context` tool returns the `_meta`
/// trace context it got.
fn stdio_yaml(collector: &Collector, era: &str) -> String {
    format!(
        "listen:\n  address: 127.0.0.1:0\nreload:\n  poll_interval: 0s\nlogging:\n  format: text\nauthentication:\n  mode: none\nlimits:\n  shutdown_grace: 2s\nupstreams:\n  tr:\n    prefix: \"\"\n    stdio:\n      era: {era}\n      command: [{:?}, {:?}]\n{}",
        python().display().to_string(),
        script("stdio_traced.py").display().to_string(),
        collector.yaml()
    )
}

/// What the stdio server saw in `params._meta`: (traceparent, tracestate).
fn seen_upstream(reply: &crate::support::http::Reply) -> (String, Option<String>) {
    let message = reply.message();
    let text = message["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {message}"));
    let seen: serde_json::Value = serde_json::from_str(text).unwrap();
    let traceparent = seen["traceparent"]
        .as_str()
        .unwrap_or_else(|| panic!("the upstream saw no _meta.traceparent: {seen}"));
    (
        traceparent.to_owned(),
        seen["tracestate"].as_str().map(str::to_owned),
    )
}

#[tokio::test]
async fn a_stdio_upstream_reads_the_clients_trace_in_meta_under_the_gateways_upstream_span() {
    let collector = Collector::start().await;
    // A legacy upstream: the client's 2025-11-25 request goes through as it is.
    let gw = Gateway::start_yaml(&stdio_yaml(&collector, "legacy")).await;
    let (sealed, _) = initialize(&gw.url(), "2025-11-25").await;
    let reply = Req::post(&gw.url())
        .mcp()
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-session-id", &sealed.expect("a session"))
        .header("traceparent", &client_traceparent())
        .header("tracestate", "vendor=1")
        .body(json!({"jsonrpc":"2.0","id":"call-1","method":"tools/call","params":{"name":"trace_context","arguments":{}}}))
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let (traceparent, tracestate) = seen_upstream(&reply);
    let (trace_id, parent, flags) = fields(&traceparent);
    assert_eq!(
        trace_id, CLIENT_TRACE,
        "the client's trace goes on upstream"
    );
    assert_eq!(flags, "01");
    assert_ne!(parent, CLIENT_SPAN, "the upstream's parent is the gateway");
    assert_eq!(tracestate.as_deref(), Some("vendor=1"));

    let trace = collector
        .trace_with(CLIENT_TRACE, "tools/call trace_context")
        .await;
    let upstream_span = named(&trace, "upstream tools/call");
    assert_eq!(
        parent, upstream_span.span_id,
        "the upstream call span is the parent"
    );
    assert_eq!(upstream_span.attr("portcullis.upstream"), Some("tr"));
    assert_eq!(
        upstream_span.parent_span_id,
        named(&trace, "tools/call trace_context").span_id
    );
    let _ = gw.stop().await;
}

/// A session-era client reaches a stdio server that speaks only 2026-07-28:
/// the gateway adds the per-request `_meta` envelope (protocol version, client
/// capabilities, client info) that era requires and the client never sends.
/// Without it the official SDK refuses the call.
#[tokio::test]
async fn a_session_era_client_reaches_a_2026_07_28_stdio_server_through_the_gateway() {
    let collector = Collector::start().await;
    for era in ["2026-07-28", "auto"] {
        let gw = Gateway::start_yaml(&stdio_yaml(&collector, era)).await;
        let (sealed, _) = initialize(&gw.url(), "2025-11-25").await;
        let reply = Req::post(&gw.url())
            .mcp()
            .header("mcp-protocol-version", "2025-11-25")
            .header("mcp-session-id", &sealed.expect("a session"))
            .body(json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"trace_context","arguments":{}}}))
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::OK, "era {era}: {reply:?}");
        let message = reply.message();
        assert!(
            message.get("error").is_none() && message["result"]["content"].is_array(),
            "era {era}: the call must succeed: {message}"
        );
        let _ = gw.stop().await;
    }
}

#[tokio::test]
async fn a_stdio_upstream_gets_the_gateways_child_of_a_clients_meta_traceparent_not_the_clients() {
    let collector = Collector::start().await;
    let gw = Gateway::start_yaml(&stdio_yaml(&collector, "2026-07-28")).await;
    let meta_trace = "0af7651916cd43dd8448eb211c80319c";
    let meta_span = "b7ad6b7169203331";
    let mut body = modern_body(
        3,
        "tools/call",
        json!({"name": "trace_context", "arguments": {}}),
    );
    body["params"]["_meta"]["traceparent"] = json!(format!("00-{meta_trace}-{meta_span}-01"));
    body["params"]["_meta"]["tracestate"] = json!("client=2");
    let reply = Req::post(&gw.url())
        .modern("tools/call", Some("trace_context"))
        .body(body.to_string())
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let (traceparent, tracestate) = seen_upstream(&reply);
    let (trace_id, parent, _) = fields(&traceparent);
    assert_eq!(trace_id, meta_trace, "same trace as the client's _meta");
    assert_ne!(
        parent, meta_span,
        "never the client's own span, forwarded blindly"
    );
    assert_eq!(
        tracestate.as_deref(),
        Some("client=2"),
        "tracestate goes on"
    );
    let trace = collector
        .trace_with(meta_trace, "tools/call trace_context")
        .await;
    assert_eq!(parent, named(&trace, "upstream tools/call").span_id);
    assert_eq!(
        named(&trace, "tools/call trace_context").parent_span_id,
        meta_span
    );
    let _ = gw.stop().await;
}

#[tokio::test]
async fn a_2026_request_is_parented_on_its_meta_traceparent() {
    let collector = Collector::start().await;
    let upstream = recorder().await;
    let gw = Gateway::start_yaml(&yaml(&upstream.url(), &collector)).await;
    let meta_trace = "0af7651916cd43dd8448eb211c80319c";
    let meta_span = "b7ad6b7169203331";
    let mut body = modern_body(3, "tools/call", json!({"name": "echo", "arguments": {}}));
    body["params"]["_meta"]["traceparent"] = json!(format!("00-{meta_trace}-{meta_span}-01"));
    let reply = Req::post(&gw.url())
        .modern("tools/call", Some("echo"))
        .header("traceparent", &client_traceparent())
        .body(body.to_string())
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let seen = upstream.requests().pop().unwrap();
    assert_eq!(
        seen.body,
        body.to_string().as_bytes(),
        "the body is not rewritten"
    );
    let (trace_id, parent, _) = fields(seen.headers["traceparent"].to_str().unwrap());
    assert_eq!(
        trace_id, meta_trace,
        "the message's own context wins over the header"
    );

    let trace = collector.trace_with(meta_trace, "tools/call echo").await;
    let root = named(&trace, "tools/call echo");
    assert_eq!(root.parent_span_id, meta_span);
    assert_eq!(root.attr("mcp.protocol.version"), Some("2026-07-28"));
    assert_eq!(parent, named(&trace, "upstream tools/call").span_id);
    assert!(
        collector.spans().iter().all(|s| s.trace_id != CLIENT_TRACE),
        "nothing in the header's trace"
    );
    let _ = gw.stop().await;
}

#[tokio::test]
async fn a_request_without_trace_context_starts_a_trace_the_upstream_joins() {
    let collector = Collector::start().await;
    let upstream = recorder().await;
    let gw = Gateway::start_yaml(&yaml(&upstream.url(), &collector)).await;
    let (sealed, _) = initialize(&gw.url(), "2025-11-25").await;
    let reply = Req::post(&gw.url())
        .mcp()
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-session-id", &sealed.unwrap())
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let seen = upstream
        .requests()
        .into_iter()
        .rfind(|r| r.json()["method"] == "tools/list")
        .unwrap();
    let (trace_id, parent, flags) = fields(seen.headers["traceparent"].to_str().unwrap());
    assert_eq!(flags, "01");
    let trace = collector.trace_with(&trace_id, "tools/list").await;
    let root = named(&trace, "tools/list");
    assert_eq!(
        root.parent_span_id, "",
        "a new trace: the request span is its root"
    );
    assert!(trace.iter().any(|s| s.span_id == parent));
    let _ = gw.stop().await;
}

#[tokio::test]
async fn a_refused_call_is_traced_with_its_decision_and_never_reaches_upstream() {
    let collector = Collector::start().await;
    let upstream = recorder().await;
    let gw = Gateway::start_yaml(&yaml(&upstream.url(), &collector)).await;
    let before = upstream.count();
    let reply = Req::post(&gw.url())
        .modern("tools/call", Some("echo"))
        .header("traceparent", &client_traceparent())
        .body(modern_body(
            9,
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "AKIAIOSFODNN7EXAMPLE"}}),
        ))
        .send()
        .await;
    assert_eq!(reply.json()["error"]["code"], -32001, "{reply:?}");
    assert_eq!(upstream.count(), before, "nothing forwarded");
    let trace = collector.trace_with(CLIENT_TRACE, "tools/call echo").await;
    let root = named(&trace, "tools/call echo");
    assert_eq!(root.attr("portcullis.decision"), Some("denied"));
    assert_eq!(root.attr("rpc.response.status_code"), Some("-32001"));
    assert_eq!(
        named(&trace, "scan request").status,
        2,
        "the refusing stage"
    );
    assert!(trace.iter().all(|s| !s.name.starts_with("upstream")));
    assert!(
        trace
            .iter()
            .all(|s| s.attributes.values().all(|v| !v.contains("AKIA"))),
        "the secret is in no span"
    );
    let _ = gw.stop().await;
}

#[tokio::test]
async fn sampling_keeps_a_sampled_clients_trace_and_drops_new_traces_at_ratio_zero() {
    let collector = Collector::start().await;
    let upstream = recorder().await;
    let gw = Gateway::start_yaml(&format!(
        "{}  sampling_ratio: 0.0\n",
        yaml(&upstream.url(), &collector)
    ))
    .await;
    let call = |id: u64, traceparent: Option<String>| {
        let mut req = Req::post(&gw.url()).modern("tools/call", Some("echo"));
        if let Some(t) = traceparent {
            req = req.header("traceparent", &t);
        }
        req.body(modern_body(
            id,
            "tools/call",
            json!({"name": "echo", "arguments": {}}),
        ))
    };
    assert_eq!(call(1, None).send().await.status, StatusCode::OK);
    let (unsampled, _, flags) = fields(
        upstream.requests().pop().unwrap().headers["traceparent"]
            .to_str()
            .unwrap(),
    );
    assert_eq!(flags, "00", "the upstream is told the trace is not sampled");
    assert_eq!(
        call(2, Some(client_traceparent())).send().await.status,
        StatusCode::OK
    );
    // The sampled client's trace is exported; by then the unsampled one
    // (finished earlier, same batch or before) would have been too.
    collector.trace_with(CLIENT_TRACE, "tools/call echo").await;
    assert!(
        collector.spans().iter().all(|s| s.trace_id != unsampled),
        "no span of the unsampled trace"
    );
    let _ = gw.stop().await;
}

#[tokio::test]
async fn an_unreachable_collector_never_refuses_or_holds_requests() {
    unreachable_collector_never_holds_requests("http/protobuf").await;
}

#[tokio::test]
async fn issue_8_an_unreachable_grpc_collector_never_refuses_or_holds_requests() {
    unreachable_collector_never_holds_requests("grpc").await;
}

async fn unreachable_collector_never_holds_requests(protocol: &str) {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let upstream = recorder().await;
    let gw = Gateway::start_yaml(&format!(
        "{}tracing:\n  endpoint: http://{closed}\n  protocol: {protocol}\n  export_interval: 50ms\n  export_timeout: 1s\n",
        crate::support::gateway::default_yaml(&upstream.url())
    ))
    .await;
    for id in 0..20 {
        let reply = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            Req::post(&gw.url())
                .modern("tools/call", Some("echo"))
                .header("traceparent", &client_traceparent())
                .body(modern_body(
                    id,
                    "tools/call",
                    json!({"name": "echo", "arguments": {}}),
                ))
                .send(),
        )
        .await
        .expect("answered without waiting for the collector");
        assert_eq!(reply.status, StatusCode::OK);
    }
    tokio::time::timeout(std::time::Duration::from_secs(15), gw.stop())
        .await
        .expect("shutdown does not hang on the collector");
}

/// Issue 8: a collector that speaks only OTLP/gRPC (the official
/// `TraceService`, served by tonic) receives the request span with the same
/// MCP attributes and children as over HTTP; shutdown flushes it without hanging.
#[tokio::test]
async fn issue_8_a_tools_call_span_reaches_a_grpc_collector_with_its_mcp_attributes() {
    let collector = Collector::start_grpc().await;
    let (gw, _demo, sealed) = echo_in_a_session(&collector).await;

    let trace = collector.trace_with(CLIENT_TRACE, "tools/call echo").await;
    let root = named(&trace, "tools/call echo");
    assert_eq!(root.kind, 2, "a server span");
    assert_eq!(root.parent_span_id, CLIENT_SPAN);
    assert_eq!(root.service_name, "portcullis-test");
    assert_echo_call_attributes(root, &sealed);
    for name in ["authenticate", "authorize", "upstream tools/call"] {
        assert_eq!(named(&trace, name).parent_span_id, root.span_id, "{name}");
    }
    tokio::time::timeout(std::time::Duration::from_secs(15), gw.stop())
        .await
        .expect("shutdown does not hang on the gRPC exporter");
}
