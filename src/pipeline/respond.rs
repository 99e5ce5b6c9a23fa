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
            R::AuditUnavailable { .. } => RequestOutcome::InternalError,
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
        )
    }
}

/// Turns a refusal into the response the client gets, with the JSON-RPC error
/// code it carries (for the audit record).
pub fn reject(rejection: &Rejection, http1: bool) -> (Response<GatewayBody>, i64) {
    use Rejection as R;
    let invalid = rpc_error::INVALID_REQUEST;
    let (status, id, code, message, data) = match rejection {
        R::UnknownPath => (
            StatusCode::NOT_FOUND,
            None,
            invalid,
            "Not Found: no MCP endpoint at this path".to_owned(),
            None,
        ),
        R::MethodNotAllowed => (
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            invalid,
            "Method Not Allowed: use POST, GET or DELETE".to_owned(),
            None,
        ),
        R::BadHost => (
            StatusCode::BAD_REQUEST,
            None,
            invalid,
            "Bad Request: exactly one Host header is required".to_owned(),
            None,
        ),
        R::HostNotAllowed => (
            StatusCode::MISDIRECTED_REQUEST,
            None,
            invalid,
            "Misdirected Request: Host not allowed".to_owned(),
            None,
        ),
        R::OriginNotAllowed => (
            StatusCode::FORBIDDEN,
            None,
            invalid,
            "Forbidden: Origin not allowed".to_owned(),
            None,
        ),
        R::AmbiguousFraming => (
            StatusCode::BAD_REQUEST,
            None,
            invalid,
            "Bad Request: both Content-Length and Transfer-Encoding".to_owned(),
            None,
        ),
        R::UnsupportedMediaType => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            invalid,
            "Unsupported Media Type: Content-Type must be application/json".to_owned(),
            None,
        ),
        R::BodyTooLarge(max) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            invalid,
            format!("Payload Too Large: the body exceeds {max} bytes"),
            None,
        ),
        R::BodyTimeout => (
            StatusCode::REQUEST_TIMEOUT,
            None,
            invalid,
            "Request Timeout: the body did not arrive in time".to_owned(),
            None,
        ),
        R::BodyUnreadable(_) => (
            StatusCode::BAD_REQUEST,
            None,
            invalid,
            "Bad Request: the body could not be read".to_owned(),
            None,
        ),
        R::Unauthenticated { .. } => (
            StatusCode::UNAUTHORIZED,
            None,
            invalid,
            "Unauthorized: a valid bearer token for this resource is required".to_owned(),
            None,
        ),
        R::InsufficientScope { .. } => (
            StatusCode::FORBIDDEN,
            None,
            invalid,
            "Forbidden: the token lacks a required scope".to_owned(),
            None,
        ),
        R::NoStreamsInModernEra(m) => (
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            invalid,
            format!("Method Not Allowed: protocol version 2026-07-28 has no {m} stream"),
            None,
        ),
        R::Parse(e) => (
            StatusCode::BAD_REQUEST,
            e.id().cloned(),
            e.code(),
            e.to_string(),
            None,
        ),
        R::BatchNotAllowed => (
            StatusCode::BAD_REQUEST,
            None,
            invalid,
            rejection.to_string(),
            None,
        ),
        R::UnsupportedVersion {
            id,
            requested,
            supported,
        } => (
            StatusCode::BAD_REQUEST,
            id.clone(),
            rpc_error::UNSUPPORTED_PROTOCOL_VERSION,
            "Unsupported protocol version".to_owned(),
            Some(json!({
                "supported": supported.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
                "requested": requested,
            })),
        ),
        R::MethodNotFound { id } => (
            StatusCode::NOT_FOUND,
            id.clone(),
            rpc_error::METHOD_NOT_FOUND,
            "Method not found".to_owned(),
            None,
        ),
        R::HeaderMismatch { id, mismatch } => (
            StatusCode::BAD_REQUEST,
            id.clone(),
            rpc_error::HEADER_MISMATCH,
            format!("Header mismatch: {mismatch}"),
            None,
        ),
        R::Upstream { id, error } => {
            let status = match error {
                UpstreamError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::BAD_GATEWAY,
            };
            (
                status,
                id.clone(),
                rpc_error::INTERNAL_ERROR,
                "Upstream MCP server unavailable".to_owned(),
                None,
            )
        }
        R::Denied(denied) => {
            let value = crate::authz::reply::denied(denied);
            // The JSON-RPC code the caller sees (0 when the denial reads as a result).
            let code = value
                .pointer("/error/code")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0);
            let body = bytes::Bytes::from(value.to_string());
            let status = if denied.method.is_empty() || denied.method == "connect" {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::OK
            };
            let mut response = Response::new(full(body));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return (response, code);
        }
        R::InvalidArguments { id, reason } => (
            StatusCode::OK,
            id.clone(),
            rpc_error::INVALID_PARAMS,
            format!("Invalid params: {reason}"),
            None,
        ),
        R::ApprovalRequired {
            id,
            approval,
            expires_at,
        } => (
            StatusCode::OK,
            id.clone(),
            crate::authz::reply::APPROVAL_REQUIRED,
            "Approval required: an approver must allow this exact call; retry it once approved"
                .to_owned(),
            Some(json!({"approval_id": approval, "expires_at": expires_at})),
        ),
        R::ApprovalRejected { id, approval } => (
            StatusCode::OK,
            id.clone(),
            crate::authz::reply::APPROVAL_REJECTED,
            "Approval rejected: an approver refused this exact call".to_owned(),
            Some(json!({"approval_id": approval})),
        ),
        R::RateLimited {
            id, retry_after, ..
        } => (
            StatusCode::TOO_MANY_REQUESTS,
            id.clone(),
            crate::authz::reply::RATE_LIMITED,
            "Rate limit exceeded: retry later".to_owned(),
            Some(
                json!({"retry_after_ms": u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX)}),
            ),
        ),
        R::UpstreamInvalid { id, .. } => (
            StatusCode::BAD_GATEWAY,
            id.clone(),
            rpc_error::INTERNAL_ERROR,
            "Upstream MCP server sent an invalid response".to_owned(),
            None,
        ),
        // A policy outcome, not a transport failure: a normal JSON-RPC error.
        R::Blocked { id, rule, category } => (
            StatusCode::OK,
            id.clone(),
            rpc_error::CONTENT_BLOCKED,
            format!(
                "Request blocked by the gateway's injection filter: {category} content (rule {rule})"
            ),
            Some(json!({"rule": rule, "category": category})),
        ),
        R::AuditUnavailable { id } => (
            StatusCode::SERVICE_UNAVAILABLE,
            id.clone(),
            rpc_error::INTERNAL_ERROR,
            "Service Unavailable: the gateway cannot record this request in its audit trail"
                .to_owned(),
            None,
        ),
        R::UnknownSession { id } => (
            StatusCode::NOT_FOUND,
            id.clone(),
            invalid,
            "Session not found: it has ended, expired, or was issued to another client; \
             initialize a new one"
                .to_owned(),
            None,
        ),
        R::Unroutable { id, what, modern } => unroutable(id, what, *modern),
        R::NoStreamsOnSharedUpstream => (
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            invalid,
            "Method Not Allowed: this server offers no standalone stream or session to end"
                .to_owned(),
            None,
        ),
    };
    let mut response = Response::new(full(error_body(id.as_ref(), code, &message, data)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if matches!(
        rejection,
        R::MethodNotAllowed | R::NoStreamsInModernEra(_) | R::NoStreamsOnSharedUpstream
    ) {
        headers.insert(
            header::ALLOW,
            HeaderValue::from_static(if matches!(rejection, R::MethodNotAllowed) {
                "GET, POST, DELETE"
            } else {
                "POST"
            }),
        );
    }
    match rejection {
        R::Unauthenticated {
            challenge: Some(challenge),
            ..
        }
        | R::InsufficientScope { challenge } => {
            headers.insert(header::WWW_AUTHENTICATE, challenge.clone());
        }
        _ => {}
    }
    if let R::RateLimited { retry_after, .. } = rejection {
        // Whole seconds, rounded up: retrying at the announced time succeeds.
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
    if http1 && rejection.closes_connection() {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    (response, code)
}

type Phrased = (
    StatusCode,
    Option<RequestId>,
    i64,
    String,
    Option<serde_json::Value>,
);

/// How "no upstream takes this" is phrased: as the protocol's own "unknown
/// tool / prompt / resource / method" error, so clients handle it as they
/// would from a single server. The 2026-07-28 era pairs errors with HTTP
/// statuses; the session era answers JSON-RPC errors with 200.
fn unroutable(id: &Option<RequestId>, what: &Unroutable, modern: bool) -> Phrased {
    let status = |legacy: StatusCode, modern_status: StatusCode| {
        if modern { modern_status } else { legacy }
    };
    match what {
        Unroutable::Tool(name) => (
            status(StatusCode::OK, StatusCode::BAD_REQUEST),
            id.clone(),
            rpc_error::INVALID_PARAMS,
            format!("Unknown tool: {name}"),
            None,
        ),
        Unroutable::Prompt(name) => (
            status(StatusCode::OK, StatusCode::BAD_REQUEST),
            id.clone(),
            rpc_error::INVALID_PARAMS,
            format!("Unknown prompt: {name}"),
            None,
        ),
        Unroutable::Resource(uri) => (
            status(StatusCode::OK, StatusCode::BAD_REQUEST),
            id.clone(),
            // -32002 until 2025-11-25; the 2026-07-28 revision uses -32602.
            if modern {
                rpc_error::INVALID_PARAMS
            } else {
                rpc_error::RESOURCE_NOT_FOUND
            },
            "Resource not found".to_owned(),
            Some(json!({"uri": uri})),
        ),
        Unroutable::Method(method) => (
            status(StatusCode::OK, StatusCode::NOT_FOUND),
            id.clone(),
            rpc_error::METHOD_NOT_FOUND,
            format!("Method not found: {method} is not available through this gateway"),
            None,
        ),
        Unroutable::Answer => (
            StatusCode::BAD_REQUEST,
            None,
            rpc_error::INVALID_REQUEST,
            "Bad Request: this answer matches no request the gateway sent".to_owned(),
            None,
        ),
    }
}
