//! Rendering a refusal: the HTTP status, headers and JSON-RPC error the
//! client gets for each [`Rejection`], phrased as the protocol (and, for
//! unknown names, the era) says.

use super::*;

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
        R::Upstream {
            id,
            error: UpstreamError::Token(_),
        } => (
            StatusCode::BAD_GATEWAY,
            id.clone(),
            rpc_error::INTERNAL_ERROR,
            "The gateway could not obtain a token for the upstream MCP server".to_owned(),
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
        R::ApprovalUnavailable { id } => (
            StatusCode::SERVICE_UNAVAILABLE,
            id.clone(),
            rpc_error::INTERNAL_ERROR,
            "Service Unavailable: this call needs a human approval and the gateway cannot reach \
             its approvals store; it was not forwarded, retry later"
                .to_owned(),
            None,
        ),
        R::TasksUnavailable { id } => (
            StatusCode::SERVICE_UNAVAILABLE,
            id.clone(),
            rpc_error::INTERNAL_ERROR,
            "Service Unavailable: the gateway cannot reach the registry of who created which \
             task; the request was not forwarded, retry later"
                .to_owned(),
            None,
        ),
        R::FlowsUnavailable { id } => (
            StatusCode::SERVICE_UNAVAILABLE,
            id.clone(),
            rpc_error::INTERNAL_ERROR,
            "Service Unavailable: the gateway cannot reach the store of this session's flow \
             labels, which policies read; the request was not forwarded, retry later"
                .to_owned(),
            None,
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
        R::Overloaded {
            id,
            limit,
            retry_after,
        } => (
            StatusCode::SERVICE_UNAVAILABLE,
            id.clone(),
            crate::authz::reply::RATE_LIMITED,
            format!("Service Unavailable: this gateway is at its {limit} cap; retry later"),
            Some(json!({
                "limit": limit,
                "retry_after_ms": u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX),
            })),
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
    if let R::RateLimited { retry_after, .. } | R::Overloaded { retry_after, .. } = rejection {
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
