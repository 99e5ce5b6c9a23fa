//! Sockets and lifecycles: the MCP listener, the admin listener, configuration
//! reload, and graceful shutdown.
//!
//! [`start`] binds both listeners and returns a [`Running`] gateway. Dropping it, or
//! calling [`Running::shutdown`], stops accepting connections, ends standalone
//! streams, lets in-flight requests finish within `limits.shutdown_grace`, and
//! then closes whatever is left.

mod admin;
mod connection;
pub mod framing;
mod idle;
pub mod legacy_sse;
mod limits;
mod reload;
mod revoke;

use crate::config::Runtime;
use crate::pipeline::Shared;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The audit trail could not start (its folder is not writable, ...).
    #[error("cannot start the audit trail: {0}")]
    Audit(#[from] crate::audit::AuditError),
    /// The session-sealing key could not be generated (no system randomness).
    #[error("cannot generate a session key: {0}")]
    SessionKey(#[from] crate::session::KeyError),
    /// The trace exporter could not be built.
    #[error(transparent)]
    Traces(#[from] crate::telemetry::traces::TracesError),
    /// The OTLP metrics exporter could not be built.
    #[error(transparent)]
    OtlpMetrics(#[from] crate::telemetry::otlp_metrics::OtlpMetricsError),
    /// The metrics registry could not be built (a malformed metric name: a bug).
    #[error("cannot create the metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// A listener address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A started gateway.
#[derive(Debug)]
pub struct Running {
    mcp_addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    drain: watch::Sender<bool>,
    /// The MCP accept loop and the reload watcher: both end once drained.
    tasks: Vec<JoinHandle<()>>,
    /// The admin listener keeps answering (readiness 503) during the drain and
    /// stops when the MCP side has.
    admin: Option<JoinHandle<()>>,
}

/// Binds the listeners of `runtime` and starts serving.
pub async fn start(runtime: Runtime) -> Result<Running, ServerError> {
    let bind = |address: SocketAddr| async move {
        TcpListener::bind(address)
            .await
            .map_err(|source| ServerError::Bind { address, source })
    };
    let mcp = bind(runtime.listen.address).await?;
    let admin = match runtime.admin {
        Some(address) => Some(bind(address).await?),
        None => None,
    };
    let local = |l: &TcpListener, configured: SocketAddr| l.local_addr().unwrap_or(configured);
    let mcp_addr = local(&mcp, runtime.listen.address);
    let admin_addr = admin.as_ref().zip(runtime.admin).map(|(l, a)| local(l, a));
    let (drain, drain_rx) = watch::channel(false);
    let auditor = match runtime.audit.clone() {
        Some(config) => Some(Arc::new(crate::audit::Auditor::start(config)?)),
        None => {
            tracing::warn!(
                "the audit trail is DISABLED (audit: {{ disabled: true }}): nothing is recorded"
            );
            None
        }
    };
    if runtime.scan_policy.disabled {
        tracing::warn!(
            "injection scanning is DISABLED (scan: {{ disabled: true }}): no argument, result or description is scanned"
        );
    }
    let traces = match &runtime.tracing {
        Some(settings) => Some(Arc::new(crate::telemetry::traces::Traces::start(settings)?)),
        None => None,
    };
    let mut metrics = crate::telemetry::metrics::Metrics::new()?;
    let mut otlp_meter = None;
    if let Some(settings) = &runtime.metrics_otlp {
        let otlp = crate::telemetry::otlp_metrics::OtlpMetrics::start(settings)?;
        otlp_meter = Some(otlp.meter());
        metrics = metrics.with_otlp(otlp);
    }
    let mut shared = Shared::new(runtime, auditor, metrics, drain_rx.clone())?;
    shared.traces = traces;
    let shared = Arc::new(shared);
    if let Some(meter) = otlp_meter {
        let gather = admin::otlp_gather(Arc::downgrade(&shared));
        crate::telemetry::otlp_scrape::register(&meter, &gather);
    }
    let tasks = vec![
        tokio::spawn(connection::accept_loop(
            mcp,
            Arc::clone(&shared),
            drain_rx.clone(),
        )),
        tokio::spawn(reload::watch(Arc::clone(&shared), drain_rx)),
    ];
    let admin = admin.map(|listener| tokio::spawn(admin::serve(listener, Arc::clone(&shared))));
    tracing::info!(mcp = %mcp_addr, admin = ?admin_addr, "portcullis listening");
    Ok(Running {
        mcp_addr,
        admin_addr,
        shared,
        drain,
        tasks,
        admin,
    })
}

/// Completes once `drain` turns true (the receiver's guard is not held across
/// the caller's awaits, which keeps the caller's future `Send`).
async fn drained(drain: &mut watch::Receiver<bool>) {
    let _ = drain.wait_for(|d| *d).await;
}

impl Running {
    /// The bound MCP listener address (useful when the port was 0).
    pub fn mcp_addr(&self) -> SocketAddr {
        self.mcp_addr
    }

    /// The bound admin listener address, if any.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The state shared by requests (sessions, catalog, configuration snapshot).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Drains and stops: no new connections, standalone streams end, in-flight
    /// requests get `limits.shutdown_grace` to finish.
    pub async fn shutdown(mut self) {
        let _ = self.drain.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        if let Some(admin) = self.admin.take() {
            admin.abort();
        }
        // Every queued audit event is written and the segment closed with a
        // final checkpoint before the process may exit.
        if let Some(auditor) = &self.shared.auditor {
            auditor.shutdown().await;
        }
        self.shared.shutdown().await;
        // Spans of the last requests are exported before the process may exit.
        if let Some(traces) = &self.shared.traces {
            traces.shutdown().await;
        }
        // And the last counts are pushed.
        self.shared.metrics.shutdown().await;
        tracing::info!("portcullis stopped");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Without an explicit shutdown the MCP side still drains in the background.
        let _ = self.drain.send(true);
        if let Some(admin) = self.admin.take() {
            admin.abort();
        }
    }
}
