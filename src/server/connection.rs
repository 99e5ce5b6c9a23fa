//! Accepting and serving MCP connections: caps, TLS, HTTP/1.1 and HTTP/2.
//!
//! hyper's header-read timeout only works with a timer installed, so every
//! connection gets one; over HTTP/1.1 that timeout also closes a keep-alive
//! connection idle between requests, and [`super::idle`] applies the same bound
//! to HTTP/2 connections, which hyper would keep forever. Header size and count
//! are bounded (431 past them). HTTP/2 streams are capped per connection, and
//! reset and CONTINUATION floods get GOAWAY.

use super::framing::{Heads, Watched};
use super::idle::{self, Activity};
use super::legacy_sse::{self, streams::Streams};
use super::limits::ConnectionLimits;
use crate::authn::certificate::ClientCertificate;
use crate::config::Runtime;
use crate::pipeline::{self, Shared, admit::BothLengths, body::GatewayBody};
use http::{Request, Response, Version};
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Accepts connections until the gateway drains, then waits for them to finish
/// within the shutdown grace and aborts the rest.
pub async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut drain: watch::Receiver<bool>,
) {
    let limits = Arc::new(ConnectionLimits::default());
    let legacy = Arc::new(Streams::default());
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = super::drained(&mut drain) => break,
        };
        let snapshot = shared.snapshot();
        let caps = &snapshot.config.limits;
        let Some(slot) = limits.admit(
            peer.ip(),
            caps.max_connections,
            caps.max_connections_per_client,
        ) else {
            tracing::warn!(%peer, open = limits.open(), "connection refused: connection cap reached");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let drain = drain.clone();
        let legacy = Arc::clone(&legacy);
        connections.spawn(async move {
            serve(stream, peer, shared, legacy, drain).await;
            drop(slot);
        });
    }
    drop(listener);
    let grace = shared.snapshot().config.limits.shutdown_grace;
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "shutdown grace elapsed; closing remaining connections"
        );
        connections.abort_all();
    }
}

/// The per-connection service: every request goes through the pipeline.
#[derive(Clone)]
struct Gateway {
    shared: Arc<Shared>,
    peer: SocketAddr,
    /// The client certificate rustls verified for this connection, if any.
    certificate: Option<Arc<ClientCertificate>>,
    /// Requests in progress, for the idle bound.
    activity: Arc<Activity>,
    /// How each HTTP/1.x request was framed on the wire, in arrival order.
    heads: Option<Arc<Heads>>,
    /// The legacy HTTP+SSE streams open on this listener.
    legacy: Arc<Streams>,
}

impl Service<Request<Incoming>> for Gateway {
    type Response = Response<GatewayBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        // hyper hands HTTP/1.x requests over one at a time, in the order their
        // heads arrived, so each takes the next record.
        if request.version() < Version::HTTP_2
            && let Some(heads) = &self.heads
            && heads.next() == Some(true)
        {
            request.extensions_mut().insert(BothLengths);
        }
        let shared = Arc::clone(&self.shared);
        let peer = self.peer;
        let certificate = self.certificate.clone();
        let in_progress = self.activity.begin();
        let legacy = legacy_sse::endpoint(&request, &shared.snapshot().config)
            .map(|endpoint| (endpoint, Arc::clone(&self.legacy)));
        Box::pin(async move {
            let response = match legacy {
                Some((endpoint, streams)) => {
                    let caller = legacy_sse::Caller {
                        peer,
                        certificate,
                        shared,
                        streams,
                    };
                    legacy_sse::serve(endpoint, request, caller).await
                }
                None => pipeline::handle(request, peer, certificate, shared).await,
            };
            Ok(response.map(|body| idle::tracked(body, in_progress)))
        })
    }
}

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    legacy: Arc<Streams>,
    drain: watch::Receiver<bool>,
) {
    let snapshot = shared.snapshot();
    let rt = &snapshot.config;
    let builder = builder(rt);
    let mut service = Gateway {
        shared: Arc::clone(&shared),
        peer,
        certificate: None,
        activity: Activity::new(),
        heads: None,
        legacy,
    };
    // hyper's header timeout starts at the first byte (the HTTP/1 vs HTTP/2
    // detection reads before it): a connection that sends nothing would be held
    // forever, so the first byte must arrive within the same bound.
    let mut first = [0u8; 1];
    match tokio::time::timeout(rt.limits.header_read_timeout, stream.peek(&mut first)).await {
        Ok(Ok(n)) if n > 0 => {}
        Ok(_) => return,
        Err(_) => {
            tracing::debug!(%peer, "closing a connection that sent nothing");
            return;
        }
    }
    match rt.listen.tls.clone() {
        None => {
            drive(
                &builder,
                stream,
                service,
                drain,
                rt.limits.header_read_timeout,
            )
            .await
        }
        Some(config) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            match tokio::time::timeout(rt.limits.header_read_timeout, acceptor.accept(stream)).await
            {
                Ok(Ok(tls)) => {
                    service.certificate = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .map(|leaf| Arc::new(ClientCertificate::from_der(leaf)));
                    drive(&builder, tls, service, drain, rt.limits.header_read_timeout).await
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

/// Serves one connection; on drain, or once it has had no request in progress
/// for `idle`, asks it to finish gracefully (HTTP/2: GOAWAY).
async fn drive<I>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    mut service: Gateway,
    mut drain: watch::Receiver<bool>,
    idle: Duration,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::clone(&service.activity);
    let (io, heads) = Watched::new(io);
    service.heads = Some(heads);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = super::drained(&mut drain) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
        _ = activity.idle_for(idle) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

fn builder(rt: &Runtime) -> auto::Builder<TokioExecutor> {
    let limits = &rt.limits;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(100)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_pending_accept_reset_streams(20)
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    if rt.listen.http2 {
        builder
    } else {
        builder.http1_only()
    }
}
