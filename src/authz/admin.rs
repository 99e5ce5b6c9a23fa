//! Approval endpoints on the admin listener (never on the MCP listener):
//!
//! - `GET /authz/approvals`: unexpired approvals, pending first.
//! - `POST /authz/approvals/{id}/approve` and `.../reject`.
//!
//! Approvers authenticate with a bearer token the gateway's own issuers sign
//! (same checks as MCP traffic: issuer, audience, lifetime, revocation) that
//! carries the role `authorization.approvals.approver_role` (default
//! `approver`). Without JWT authentication the endpoints answer 404: an
//! approval nobody can attribute is no approval. Nobody approves their own call.
//!
//! With `authorization.approvals.redis`, every replica's endpoint lists and
//! decides the approvals of all replicas; while Redis cannot answer, the
//! endpoints answer 503 and nothing is decided. The replica whose endpoint
//! takes a decision writes its `granted` or `rejected` audit event.

use super::approval_store::Store;
use super::approvals::DecideError;
use crate::authn::Authn;
use crate::pipeline::Shared;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::{Value, json};

/// Whether `path` is one of these endpoints.
pub fn handles(path: &str) -> bool {
    path == "/authz/approvals" || path.starts_with("/authz/approvals/")
}

/// Answers one approvals request.
pub async fn answer(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let snapshot = shared.snapshot();
    let (Some(engine), Authn::Jwt(authenticator)) = (
        &snapshot.config.authorization,
        &snapshot.config.authentication.authn,
    ) else {
        return reply(StatusCode::NOT_FOUND, json!({"error": "not found"}));
    };
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let now = crate::authn::now();
    let approver = match authenticator
        .validate(token, now, &shared.revocations)
        .await
    {
        Ok(p)
            if p.roles
                .iter()
                .any(|r| *r == engine.settings.approvals.approver_role) =>
        {
            p
        }
        Ok(p) => {
            tracing::warn!(target: "portcullis::admin", subject = %p.subject, "approval refused: not an approver");
            return reply(
                StatusCode::FORBIDDEN,
                json!({"error": "the approver role is required"}),
            );
        }
        Err(reason) => {
            tracing::warn!(target: "portcullis::admin", reason = reason.as_str(), "approval refused: no valid token");
            let mut r = reply(StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}));
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
            return r;
        }
    };
    let path = req.uri().path().to_owned();
    let store = Store::of(&engine.settings.approvals, &shared.authz.approvals);
    super::gate::audit_expired(shared, &store, now).await;
    match (
        req.method(),
        path.trim_start_matches("/authz/approvals")
            .trim_matches('/'),
    ) {
        (&Method::GET, "") => match store.list(now).await {
            Ok(list) => {
                let list: Vec<Value> = list.iter().map(|a| a.to_json()).collect();
                reply(
                    StatusCode::OK,
                    json!({"approvals": list, "policy_version": &*engine.version}),
                )
            }
            Err(e) => {
                tracing::error!(target: "portcullis::admin", error = %e, "approvals not listed: store unavailable");
                unavailable()
            }
        },
        (&Method::POST, rest) => {
            let (id, verdict) = rest.rsplit_once('/').unwrap_or((rest, ""));
            let approve = match verdict {
                "approve" => true,
                "reject" => false,
                _ => {
                    return reply(
                        StatusCode::NOT_FOUND,
                        json!({"error": "use .../approve or .../reject"}),
                    );
                }
            };
            let name = super::gate::approver_name(&approver);
            match store.decide(id, approve, &name, now).await {
                Ok(a) => {
                    tracing::info!(target: "portcullis::admin", approval = id, approve, approver = %name, tool = %a.tool, "approval decided");
                    let state = match approve {
                        true => crate::audit::ApprovalState::Granted,
                        false => crate::audit::ApprovalState::Rejected,
                    };
                    shared.audit_event(super::gate::approval_event(&a, state, Some(name.clone())));
                    reply(StatusCode::OK, a.to_json())
                }
                Err(e @ DecideError::NotFound) => {
                    reply(StatusCode::NOT_FOUND, json!({"error": e.to_string()}))
                }
                Err(e @ (DecideError::AlreadyDecided | DecideError::OwnCall)) => {
                    reply(StatusCode::CONFLICT, json!({"error": e.to_string()}))
                }
                Err(DecideError::Unavailable) => unavailable(),
            }
        }
        _ => reply(StatusCode::NOT_FOUND, json!({"error": "not found"})),
    }
}

/// Redis (`approvals.redis`) did not answer: nothing was listed or decided.
fn unavailable() -> Response<Full<Bytes>> {
    reply(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "the approvals store is unavailable; nothing was decided"}),
    )
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}
