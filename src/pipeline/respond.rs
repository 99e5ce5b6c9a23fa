//! Every way the gateway refuses a request, and the one place that turns a refusal
//! into a response.
//!
//! Before the body is parsed a refusal is an HTTP status; after, it is a JSON-RPC
//! error echoing the request's id. Either way the body is a JSON-RPC error object
//! (the Streamable HTTP transport allows one without an id). What the client is
//! told is precise about *its* mistake and says nothing about the gateway's or the
//! upstream's internals: upstream failures are logged with their cause chain and
//! reported only as "upstream unavailable".

use super::body::{GatewayBody, full};
use crate::federation::route::Unroutable;
use crate::protocol::mirrored::Mismatch;
use crate::protocol::rpc_error::{self, error_body};
use crate::protocol::{ParseError, RequestId, Version};
use crate::telemetry::metrics::RequestOutcome;
use crate::upstream::UpstreamError;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::json;

mod render;
pub use render::reject;

/// A refusal, with what is needed to phrase it.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The path is not the MCP endpoint.
    #[error("not the MCP endpoint")]
    UnknownPath,
    /// The HTTP method is not one the endpoint serves.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// No usable Host / :authority, or conflicting ones.
    #[error("missing or conflicting Host header")]
    BadHost,
    /// The Host is not in the allow-list (DNS rebinding).
    #[error("host not allowed")]
    HostNotAllowed,
    /// The Origin is not in the allow-list.
    #[error("origin not allowed")]
    OriginNotAllowed,
    /// Both Content-Length and Transfer-Encoding.
    #[error("ambiguous message framing")]
    AmbiguousFraming,
    /// A POST whose Content-Type is not application/json.
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    /// The body exceeds the configured bound.
    #[error("request body exceeds {0} bytes")]
    BodyTooLarge(usize),
    /// The body did not arrive in time.
    #[error("request body not received in time")]
    BodyTimeout,
    /// The body could not be read (client reset, bad chunking).
    #[error("request body unreadable: {0}")]
    BodyUnreadable(String),
    /// No valid bearer token (401). The reason is for the access record only.
    #[error("authentication failed: {reason}")]
    Unauthenticated {
        /// The category (logged, not sent).
        reason: crate::authn::Reason,
        /// The `WWW-Authenticate` challenge (none for client certificates).
        challenge: Option<HeaderValue>,
    },
    /// A valid token without a required scope (403).
    #[error("insufficient scope")]
    InsufficientScope {
        /// The `WWW-Authenticate` challenge naming the scopes.
        challenge: HeaderValue,
    },
    /// A GET or DELETE in the 2026-07-28 era, which has neither.
    #[error("the 2026-07-28 revision has no {0} on the MCP endpoint")]
    NoStreamsInModernEra(&'static str),
    /// The body is not an acceptable JSON-RPC message.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// A batch outside a 2025-03-26 session.
    #[error("batches are only allowed on sessions that negotiated 2025-03-26")]
    BatchNotAllowed,
    /// A protocol version the gateway does not know.
    #[error("unsupported protocol version")]
    UnsupportedVersion {
        /// The request's id.
        id: Option<RequestId>,
        /// The version asked for, as sent (shortened).
        requested: String,
        /// The versions both the gateway and the upstream support.
        supported: Vec<Version>,
    },
    /// A method the request's protocol revision does not have.
    #[error("method not found")]
    MethodNotFound {
        /// The request's id.
        id: Option<RequestId>,
    },
    /// A mirrored header disagrees with the body.
    #[error("{mismatch}")]
    HeaderMismatch {
        /// The request's id.
        id: Option<RequestId>,
        /// Which header and how.
        mismatch: Mismatch,
    },
    /// The upstream could not be reached or did not answer in time.
    #[error("{error}")]
    Upstream {
        /// The request's id.
        id: Option<RequestId>,
        /// The cause (logged, not sent).
        error: UpstreamError,
    },
    /// Policy denied the request: answered exactly as the upstream answers a
    /// call to something that does not exist.
    #[error("denied by policy: {}", .0.method)]
    Denied(Box<crate::authz::reply::DeniedCall>),
    /// Tool arguments fail the tool's input schema or the policy schema.
    #[error("invalid arguments: {reason}")]
    InvalidArguments {
        /// The request's id.
        id: Option<RequestId>,
        /// What is wrong (names a location, never a value).
        reason: String,
    },
    /// The call needs a human approval that has not been given yet.
    #[error("approval {approval} required")]
    ApprovalRequired {
        /// The request's id.
        id: Option<RequestId>,
        /// The approval's id.
        approval: String,
        /// When it expires, seconds since the epoch.
        expires_at: u64,
    },
    /// An approver rejected this exact call.
    #[error("approval {approval} rejected")]
    ApprovalRejected {
        /// The request's id.
        id: Option<RequestId>,
        /// The approval's id.
        approval: String,
    },
    /// The call needs a human approval and the shared approvals store
    /// (Redis) cannot answer: refused, never forwarded (fail closed).
    #[error("the approvals store is unavailable")]
    ApprovalUnavailable {
        /// The request's id.
        id: Option<RequestId>,
    },
    /// The request names a task and the replicas' shared task registry
    /// (Redis) cannot answer: refused, never forwarded (fail closed).
    #[error("the task registry is unavailable")]
    TasksUnavailable {
        /// The request's id.
        id: Option<RequestId>,
    },
    /// The session's flow labels are shared through Redis, which cannot
    /// answer: refused, never forwarded (fail closed).
    #[error("the flow labels store is unavailable")]
    FlowsUnavailable {
        /// The request's id.
        id: Option<RequestId>,
    },
    /// Over a rate limit or quota.
    #[error("rate limit {rule} exceeded")]
    RateLimited {
        /// The request's id, when the body was read.
        id: Option<RequestId>,
        /// The rule's name.
        rule: String,
        /// When a retry can succeed.
        retry_after: std::time::Duration,
    },
    /// The replica already holds as many of something as a configured cap
    /// allows (legacy SSE streams): 503 with `Retry-After`.
    #[error("capacity {limit} reached")]
    Overloaded {
        /// The request's id, when the body was read.
        id: Option<RequestId>,
        /// The cap's configuration key.
        limit: String,
        /// When a retry may succeed.
        retry_after: std::time::Duration,
    },
    /// The upstream answered with something the gateway will not forward.
    #[error("upstream answered with {what}")]
    UpstreamInvalid {
        /// The request's id.
        id: Option<RequestId>,
        /// What was wrong (logged, not sent).
        what: String,
    },
    /// The injection filter blocked the request.
    #[error("blocked by the injection filter: {category} ({rule})")]
    Blocked {
        /// The request's id.
        id: Option<RequestId>,
        /// The deciding rule.
        rule: String,
        /// Its category.
        category: &'static str,
    },
    /// The audit trail cannot record, and it fails closed.
    #[error("the audit trail is unavailable")]
    AuditUnavailable {
        /// The request's id.
        id: Option<RequestId>,
    },
    /// A session id that does not open, has expired, or belongs to someone else.
    #[error("unknown or expired session")]
    UnknownSession {
        /// The request's id.
        id: Option<RequestId>,
    },
    /// No upstream can take the message.
    #[error("{}", describe(what))]
    Unroutable {
        /// The request's id.
        id: Option<RequestId>,
        /// What had no route.
        what: Unroutable,
        /// Whether the request is of the 2026-07-28 era (errors there carry HTTP statuses).
        modern: bool,
    },
    /// A GET or DELETE when the only upstream is a shared connection (stdio),
    /// which has no per-client stream or session to open or end.
    #[error("the upstream has no per-client streams")]
    NoStreamsOnSharedUpstream,
}

fn describe(what: &Unroutable) -> String {
    match what {
        Unroutable::Tool(name) => format!("unknown tool `{name}`"),
        Unroutable::Prompt(name) => format!("unknown prompt `{name}`"),
        Unroutable::Resource(uri) => format!("no upstream serves resource `{uri}`"),
        Unroutable::Method(method) => format!("method `{method}` cannot be federated"),
        Unroutable::Answer => "an answer to a request the gateway did not send".to_owned(),
    }
}

impl Rejection {
    /// Whether the connection should be closed after answering (HTTP/1.1): the
    /// body may not have been consumed, or the framing cannot be trusted.
    pub fn closes_connection(&self) -> bool {
        matches!(
            self,
            Rejection::AmbiguousFraming
                | Rejection::BodyTooLarge(_)
                | Rejection::BodyTimeout
                | Rejection::BodyUnreadable(_)
        )
    }

    /// How the request ended, for the `outcome` label of the request metrics.
    pub fn outcome(&self) -> RequestOutcome {
        use Rejection as R;
        match self {
            R::Upstream { .. } | R::UpstreamInvalid { .. } => RequestOutcome::UpstreamError,
            R::AuditUnavailable { .. }
            | R::ApprovalUnavailable { .. }
            | R::FlowsUnavailable { .. }
            | R::TasksUnavailable { .. } => RequestOutcome::InternalError,
            R::UnknownPath
            | R::MethodNotAllowed
            | R::BadHost
            | R::HostNotAllowed
            | R::OriginNotAllowed
            | R::AmbiguousFraming
            | R::UnsupportedMediaType
            | R::BodyTooLarge(_)
            | R::BodyTimeout
            | R::BodyUnreadable(_)
            | R::Unauthenticated { .. }
            | R::InsufficientScope { .. }
            | R::NoStreamsInModernEra(_)
            | R::Parse(_)
            | R::BatchNotAllowed
            | R::UnsupportedVersion { .. }
            | R::MethodNotFound { .. }
            | R::HeaderMismatch { .. }
            | R::Denied(_)
            | R::InvalidArguments { .. }
            | R::ApprovalRequired { .. }
            | R::ApprovalRejected { .. }
            | R::RateLimited { .. }
            | R::Overloaded { .. }
            | R::Blocked { .. }
            | R::UnknownSession { .. }
            | R::Unroutable { .. }
            | R::NoStreamsOnSharedUpstream => RequestOutcome::ClientError,
        }
    }

    /// Whether this is the gateway's or upstream's fault rather than the client's.
    pub fn is_server_side(&self) -> bool {
        matches!(
            self,
            Rejection::Upstream { .. }
                | Rejection::UpstreamInvalid { .. }
                | Rejection::AuditUnavailable { .. }
                | Rejection::ApprovalUnavailable { .. }
                | Rejection::FlowsUnavailable { .. }
                | Rejection::TasksUnavailable { .. }
        )
    }
}
