//! `POST /authn/revocations` on the admin listener: revokes a token id at once,
//! for every issuer, until the given expiry.
//!
//! Authenticated by a bearer secret read from
//! `authentication.revocation.admin_token_file` (compared in constant time); the
//! endpoint answers 404 when no secret is configured, so an admin listener left
//! reachable cannot be used to deny service by revoking. It is never served on
//! the MCP listener. Body: `{"jti": "...", "exp": 1767225600}`; `exp` (the
//! revoked token's expiry, seconds since the epoch) defaults to 24 hours from
//! now, the longest token lifetime the gateway accepts. With
//! `revocation.redis`, the entry is also written to Redis so every replica
//! applies it; if that fails the answer is 502 and the entry holds on this
//! replica only.

use super::admin::json;
use crate::authn;
use crate::pipeline::Shared;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json as j};

const MAX_BODY: usize = 4096;

/// Handles one revocation request.
pub async fn revoke(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let snapshot = shared.snapshot();
    let Some(secret) = snapshot.config.authentication.admin_token.as_ref() else {
        return json(StatusCode::NOT_FOUND, r#"{"status":"not found"}"#.into());
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if aws_lc_rs::constant_time::verify_slices_are_equal(presented.as_bytes(), secret).is_err() {
        tracing::warn!("admin revocation refused: bad or missing admin token");
        let mut r = json(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"unauthorized"}"#.into(),
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
        return r;
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return bad("body unreadable or larger than 4096 bytes"),
    };
    let Ok(doc) = serde_json::from_slice::<Value>(&body) else {
        return bad("body must be JSON: {\"jti\": \"...\", \"exp\": seconds}");
    };
    let Some(jti) = doc.get("jti").and_then(Value::as_str) else {
        return bad("`jti` (a string) is required");
    };
    let now = authn::now();
    let exp = match doc.get("exp") {
        None => now + 86_400,
        Some(e) => match e.as_u64() {
            Some(e) => e,
            None => return bad("`exp` must be seconds since the epoch"),
        },
    };
    if let Err(e) = shared.revocations.revoke(jti, exp, now) {
        return bad(&e.to_string());
    }
    tracing::info!(target: "portcullis::admin", jti, exp, "token id revoked");
    if let authn::Authn::Jwt(a) = &snapshot.config.authentication.authn
        && let Some(store) = &a.shared
        && let Err(e) = store.revoke(jti, exp).await
    {
        tracing::error!(error = %e, jti, "revocation not shared through redis");
        let body = j!({"revoked": jti, "until": exp, "shared": false,
                       "error": "revoked on this replica only: redis unavailable"});
        return json(StatusCode::BAD_GATEWAY, body.to_string());
    }
    json(
        StatusCode::OK,
        j!({"revoked": jti, "until": exp}).to_string(),
    )
}

fn bad(message: &str) -> Response<Full<Bytes>> {
    json(StatusCode::BAD_REQUEST, j!({"error": message}).to_string())
}
