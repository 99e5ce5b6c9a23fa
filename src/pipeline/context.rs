//! The per-request context: everything the stages learn about one request, in one
//! place, for the stages after them and for the access record written at the end.

use super::authenticate::Principal;
use crate::authn::Reason;
use crate::authn::certificate::ClientCertificate;
use crate::protocol::{Era, RequestId, Target, Version};
use http::{Method, Version as HttpVersion};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// What the pipeline knows about the request it is handling.
#[derive(Debug)]
pub struct RequestContext {
    /// When the request's head arrived (monotonic, for latency).
    pub started: Instant,
    /// When the request's head arrived (wall clock, for the audit record).
    pub arrived: SystemTime,
    /// W3C trace context from the client's `traceparent`, if valid.
    pub trace: Option<crate::audit::TraceContext>,
    /// The client's address.
    pub peer: SocketAddr,
    /// The HTTP method.
    pub http_method: Method,
    /// The HTTP version (connection-level decisions differ for HTTP/1.1 and h2).
    pub http_version: HttpVersion,
    /// Who is calling, once authenticated (or a valid token's holder refused
    /// for insufficient scope).
    pub principal: Option<Arc<Principal>>,
    /// Why authentication failed, for the access record.
    pub auth_reason: Option<Reason>,
    /// The verified client certificate of the connection (mutual TLS).
    pub client_certificate: Option<Arc<ClientCertificate>>,
    /// The `Mcp-Session-Id` the client sent, if any.
    pub session: Option<String>,
    /// The protocol era of the request, once known.
    pub era: Option<Era>,
    /// The protocol version, when the request or its session names one.
    pub version: Option<Version>,
    /// The JSON-RPC method of the (first) message.
    pub rpc_method: Option<String>,
    /// The JSON-RPC id of the (first) message.
    pub rpc_id: Option<RequestId>,
    /// The tool, prompt or resource acted on.
    pub target: Option<Target>,
    /// How many JSON-RPC messages the body held.
    pub messages: usize,
    /// The upstream the request is routed to, when it goes to exactly one.
    /// Until federation lands there is one upstream, named `default`.
    pub upstream: Option<String>,
    /// Time spent waiting on upstreams (response head over HTTP, the answer
    /// over stdio, the whole fan-out when several were asked), for metrics.
    pub upstream_time: Option<std::time::Duration>,
    /// The call's arguments (`params.arguments`), for the audit record.
    pub arguments: Option<serde_json::Value>,
    /// What the gateway decided about the request, for the audit record.
    pub decision: crate::audit::Decision,
    /// What the injection filter found in the request.
    pub findings: Vec<crate::scan::Finding>,
    /// Secret texts found in the request or its answer: kept out of every sink.
    pub secrets: Vec<String>,
    /// What the injection filter found in a JSON answer.
    pub response_findings: Vec<crate::audit::FindingRef>,
    /// The JSON-RPC error code of the upstream's answer, once seen.
    pub answer_error: Option<i64>,
    /// Whether the response streams: its operation record is written when the
    /// answer passes, not when the response head is sent.
    pub recorded_by_stream: bool,
    /// The version (content hash) of the policy set that decided the request.
    pub policy_version: Option<Arc<str>>,
    /// What authorization decided, and by which policies.
    pub authorization: Option<crate::authz::DecisionRecord>,
    /// The request's spans; `None` when tracing is off.
    pub spans: Option<crate::telemetry::traces::RequestSpans>,
}

impl RequestContext {
    /// A context for a request that has just arrived.
    pub fn new(peer: SocketAddr, http_method: Method, http_version: HttpVersion) -> RequestContext {
        RequestContext {
            started: Instant::now(),
            arrived: SystemTime::now(),
            trace: None,
            peer,
            http_method,
            http_version,
            principal: None,
            auth_reason: None,
            client_certificate: None,
            session: None,
            era: None,
            version: None,
            rpc_method: None,
            rpc_id: None,
            target: None,
            messages: 0,
            upstream: None,
            upstream_time: None,
            arguments: None,
            decision: crate::audit::Decision::default(),
            findings: Vec::new(),
            secrets: Vec::new(),
            response_findings: Vec::new(),
            answer_error: None,
            recorded_by_stream: false,
            policy_version: None,
            authorization: None,
            spans: None,
        }
    }

    /// Whether the connection speaks HTTP/1.x (where `Connection: close` applies).
    pub fn is_http1(&self) -> bool {
        self.http_version < HttpVersion::HTTP_2
    }
}
