//! The admin listener: liveness and readiness for orchestrators, on an address
//! separate from the MCP listener so that it can stay off the public network.
//!
//! `/healthz`: 200 while the process serves. `/readyz`: 200 while the gateway
//! accepts MCP traffic, 503 once it drains (so a load balancer stops sending new
//! requests before in-flight ones end). `/authn/failures`: authentication
//! failures by category since start. `POST /authn/revocations`: revokes a token
//! id, see [`super::revoke`]; off unless an admin token is configured.
//! `/authz/approvals`: human approvals, see [`crate::authz::admin`].
//! `/metrics`: Prometheus metrics, see [`crate::telemetry::metrics`]; the
//! values other modules keep are read here, at scrape time.

use crate::authn::Authn;
use crate::authn::authenticator::KeySource;
use crate::config::Transport;
use crate::pipeline::Shared;
use crate::telemetry::metrics::{self, ScrapeState};
use crate::telemetry::otlp_scrape::Gather;
use crate::upstream::HttpUpstream;
use crate::upstream::shared::Connection;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves the admin endpoints until the task is aborted (after the MCP side
/// has stopped).
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(pair) => pair,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(answer(req, &shared).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(5))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::POST, "/authn/revocations") => return super::revoke::revoke(req, shared).await,
        (_, path) if crate::authz::admin::handles(path) => {
            return crate::authz::admin::answer(req, shared).await;
        }
        (&Method::GET, "/metrics") => return metrics(shared),
        (&Method::GET, "/authn/failures") => {
            return json(StatusCode::OK, shared.auth_failures.to_json().to_string());
        }
        _ => {}
    }
    let (status, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => (StatusCode::OK, r#"{"status":"ok"}"#),
        (&Method::GET, "/readyz") if shared.is_draining() => {
            (StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"draining"}"#)
        }
        (&Method::GET, "/readyz") => (StatusCode::OK, r#"{"status":"ready"}"#),
        _ => (StatusCode::NOT_FOUND, r#"{"status":"not found"}"#),
    };
    json(status, body.to_owned())
}

/// A JSON response.
pub(super) fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// `GET /metrics`: the counted series and those read now from `shared`.
fn metrics(shared: &Shared) -> Response<Full<Bytes>> {
    let text = scrape(shared, |state| shared.metrics.render(state));
    let mut response = Response::new(Full::new(Bytes::from(text)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    response
}

/// The scrape state of the gateway behind `shared`, for the OTLP push. Holds
/// it weakly: the exporter's thread never keeps a stopped gateway alive.
pub fn otlp_gather(shared: Weak<Shared>) -> Gather {
    Arc::new(move |visit| {
        if let Some(shared) = shared.upgrade() {
            scrape(&shared, |state| visit(state));
        }
    })
}

/// Reads the scrape-time values from `shared` now and hands them to `use_state`.
fn scrape<R>(shared: &Shared, use_state: impl FnOnce(&ScrapeState<'_>) -> R) -> R {
    let snapshot = shared.snapshot();
    let rt = &snapshot.config;
    let upstreams = rt
        .federation
        .upstreams
        .iter()
        .enumerate()
        .map(|(index, spec)| {
            let up = match &spec.transport {
                Transport::Http(_) => snapshot.http(index).is_some_and(HttpUpstream::is_up),
                Transport::Sse(_) | Transport::Stdio(_) => shared
                    .connections
                    .get(&spec.name)
                    .is_some_and(|c: Connection| c.health().is_up()),
            };
            (spec.name.as_str(), up)
        })
        .collect();
    let jwks_failures = match &rt.authentication.authn {
        Authn::Jwt(authenticator) => authenticator
            .issuers
            .iter()
            .filter_map(|issuer| match &issuer.keys {
                KeySource::Remote(keys) => Some((issuer.rules.issuer.as_str(), keys.failures())),
                KeySource::Static(_) => None,
            })
            .collect(),
        Authn::None | Authn::Certificate => Vec::new(),
    };
    let state = ScrapeState {
        auth_failures: shared.auth_failures.counts(),
        audit: shared.auditor.as_ref().map(|a| a.stats()),
        upstreams,
        policy_version: rt.authorization.as_ref().map(|e| &*e.version),
        jwks_failures,
    };
    use_state(&state)
}
