//! Remote sinks: syslog (RFC 5424 over TCP or TLS) and OTLP logs over HTTP.
//!
//! They run as tasks on one small runtime in their own thread, fed through a
//! bounded queue each. The writer never waits for them: when a queue is full
//! the event is dropped for that sink and counted (`remote_dropped`); the
//! segment file, which a shipper tails, stays the complete record. Failed
//! deliveries are retried with exponential backoff (100 ms doubling to 30 s).
//!
//! Invariant: nothing here can block or fail the writer; at shutdown, queued
//! events get [`CLOSE_GRACE`] to be delivered, then the sinks are dropped.

pub mod otlp;
pub mod otlp_proto;
pub mod syslog;

use super::Shared;
use super::config::AuditConfig;
use super::record::{AuditRecord, TraceContext};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot};

/// Time queued events get to be delivered at shutdown.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// What remote sinks need besides the line itself.
#[derive(Debug, Clone)]
pub struct RemoteLine {
    /// OCSF severity id (1 informational .. 5 critical).
    pub severity: u8,
    /// The event's time.
    pub time: SystemTime,
    /// Trace context, for OTLP correlation.
    pub trace: Option<TraceContext>,
    /// A short event name (`API Activity: Read`, `checkpoint`).
    pub name: String,
}

impl RemoteLine {
    /// Reads what the sinks need from a record.
    pub fn describe(record: &AuditRecord) -> RemoteLine {
        let (severity, name) = crate::audit::ocsf::summary(record);
        RemoteLine {
            severity: u8::try_from(crate::audit::ocsf::severity_id(severity)).unwrap_or(1),
            time: record.time,
            trace: record.trace,
            name,
        }
    }

    fn checkpoint() -> RemoteLine {
        RemoteLine {
            severity: 1,
            time: SystemTime::now(),
            trace: None,
            name: "checkpoint".into(),
        }
    }
}

/// One line on its way to a remote sink.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The event (one JSON line, no newline).
    pub line: Bytes,
    /// Its description.
    pub meta: RemoteLine,
}

/// The remote sinks' queues and their thread.
#[derive(Debug, Default)]
pub struct RemoteSinks {
    queues: Vec<mpsc::Sender<Outbound>>,
    closed: Option<oneshot::Sender<()>>,
    done: Option<std::sync::mpsc::Receiver<()>>,
}

impl RemoteSinks {
    /// Starts the configured remote sinks (none: no thread).
    pub fn start(cfg: &AuditConfig, shared: &Arc<Shared>) -> std::io::Result<RemoteSinks> {
        if cfg.syslog.is_none() && cfg.otlp.is_none() {
            return Ok(RemoteSinks::default());
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut queues = Vec::new();
        let mut tasks = Vec::new();
        if let Some(s) = &cfg.syslog {
            let (tx, rx) = mpsc::channel(s.queue_capacity);
            queues.push(tx);
            tasks.push(rt.spawn(syslog::run(
                s.clone(),
                cfg.gateway_name.clone(),
                rx,
                shared.clone(),
            )));
        }
        if let Some(o) = &cfg.otlp {
            let (tx, rx) = mpsc::channel(o.queue_capacity);
            queues.push(tx);
            tasks.push(rt.spawn(otlp::run(
                o.clone(),
                cfg.gateway_name.clone(),
                rx,
                shared.clone(),
            )));
        }
        let (closed_tx, closed_rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("audit-remote".into())
            .spawn(move || {
                rt.block_on(async move {
                    let _ = closed_rx.await;
                    let all = async {
                        for t in tasks {
                            let _ = t.await;
                        }
                    };
                    let _ = tokio::time::timeout(CLOSE_GRACE, all).await;
                });
                let _ = done_tx.send(());
            })?;
        Ok(RemoteSinks {
            queues,
            closed: Some(closed_tx),
            done: Some(done_rx),
        })
    }

    /// Whether any remote sink is configured.
    pub fn is_active(&self) -> bool {
        !self.queues.is_empty()
    }

    /// Offers an event line to every remote sink; full queues drop and count.
    pub fn send(&self, meta: &RemoteLine, line: &[u8], shared: &Shared) {
        if self.queues.is_empty() {
            return;
        }
        let out = Outbound {
            line: Bytes::copy_from_slice(line),
            meta: meta.clone(),
        };
        for q in &self.queues {
            if q.try_send(out.clone()).is_err() {
                shared.remote_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Offers a checkpoint line to every remote sink.
    pub fn send_checkpoint(&self, line: &[u8], shared: &Shared) {
        self.send(&RemoteLine::checkpoint(), line, shared);
    }

    /// Closes the queues and waits (at most [`CLOSE_GRACE`] and a second) for
    /// queued events to be delivered.
    pub fn close(&mut self) {
        self.queues.clear();
        if let Some(c) = self.closed.take() {
            let _ = c.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = done.recv_timeout(CLOSE_GRACE + Duration::from_secs(1));
        }
    }
}

/// Exponential backoff between delivery attempts.
#[derive(Debug)]
pub struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(BACKOFF_START)
    }
}

impl Backoff {
    /// Sleeps for the current delay, then doubles it (up to 30 s).
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
    }

    /// Back to the first delay after a success.
    pub fn reset(&mut self) {
        self.0 = BACKOFF_START;
    }
}
