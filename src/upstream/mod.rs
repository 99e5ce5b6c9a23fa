//! The MCP server behind the gateway: a pooled HTTP client, the request the
//! gateway sends it, and what the gateway learns from its answers.
//!
//! [`HttpUpstream::send`] takes a [`Permit`]: the value only the authorization stage
//! creates. Nothing reaches the upstream without one.

pub mod backoff;
pub mod catalog;
pub mod headers;
pub mod liveness;
pub mod mux;
pub mod oauth;
pub mod shared;
pub mod sse;
pub mod stdio;
pub mod supervised;

use crate::config::HttpSettings;
use crate::pipeline::authorize::Permit;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Why the upstream could not be used. Details stay in the gateway's logs.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Connecting or sending failed.
    #[error("upstream request failed: {0}")]
    Unavailable(#[source] hyper_util::client::legacy::Error),
    /// No response headers within the configured time.
    #[error("upstream did not answer within {0:?}")]
    Timeout(Duration),
    /// The request could not be built (a configuration/URL problem).
    #[error("upstream request could not be built: {0}")]
    Build(#[from] http::Error),
    /// A shared (stdio or HTTP+SSE) connection failed.
    #[error("{0}")]
    Shared(String),
    /// No token for the upstream (`oauth`): the request was not sent.
    #[error("no token for the upstream: {0}")]
    Token(String),
}

/// The pooled HTTP client an upstream's settings describe (also used by the
/// HTTP+SSE transport for its event stream and POSTs).
pub(crate) type PooledClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Builds the pooled client for `settings`. No connection is opened yet.
pub(crate) fn client(settings: &HttpSettings) -> PooledClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(settings.connect_timeout));
    connector.set_nodelay(true);
    connector.enforce_http(false);
    // ALPN offers exactly the one protocol the upstream is configured for.
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*settings.tls).clone())
        .https_or_http();
    let https = if settings.http2 {
        builder.enable_http2().wrap_connector(connector)
    } else {
        builder.enable_http1().wrap_connector(connector)
    };
    Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .http2_only(settings.http2)
        .build(https)
}

/// A client for one HTTP upstream (Streamable HTTP), with its settings.
#[derive(Debug, Clone)]
pub struct HttpUpstream {
    client: PooledClient,
    settings: HttpSettings,
    /// Whether the last request failed to connect (the `upstream_up` metric).
    unreachable: Arc<AtomicBool>,
}

impl HttpUpstream {
    /// Builds the client. No connection is opened until the first request.
    pub fn new(settings: &HttpSettings) -> HttpUpstream {
        let client = client(settings);
        HttpUpstream {
            client,
            settings: settings.clone(),
            unreachable: Arc::default(),
        }
    }

    /// The settings this client was built from.
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// Whether the upstream is taken to be up: unless its last request failed
    /// to connect (a client built by a reload starts up).
    pub fn is_up(&self) -> bool {
        !self.unreachable.load(Ordering::Relaxed)
    }

    /// Sends `request` upstream and waits for the response head. With
    /// `oauth` configured, the request carries the upstream's own token
    /// (obtained for the permit's caller); without one it is not sent.
    pub async fn send(
        &self,
        permit: &Permit,
        mut request: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        if let Some(oauth) = &self.settings.oauth {
            let value = oauth.authorization(permit.subject()).await?;
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, value);
        }
        let timeout = self.settings.response_timeout;
        match tokio::time::timeout(timeout, self.client.request(request)).await {
            Ok(Ok(response)) => {
                self.unreachable.store(false, Ordering::Relaxed);
                Ok(response)
            }
            Ok(Err(e)) => {
                if e.is_connect() {
                    self.unreachable.store(true, Ordering::Relaxed);
                }
                Err(UpstreamError::Unavailable(e))
            }
            Err(_) => Err(UpstreamError::Timeout(timeout)),
        }
    }
}
