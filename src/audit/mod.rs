//! The audit trail: one tamper-evident event per agent action, written to an
//! append-only local file first and copied to remote sinks.
//!
//! ```text
//!  request path                       writer thread                      sinks
//!  ────────────                       ─────────────                      ─────
//!  Auditor::record(AuditRecord) ──►  bounded queue ──► render (OCSF/ECS)
//!     │  Err → 503 (fail closed)                       redact
//!     ▼                                                 seal (hash chain)
//!  Receipt::durable().await  ◄──── ack after fsync ─── append ──────────► segment file ◄── shipper tails
//!  (fsync: always only)                                 checkpoint (Ed25519) ──► checkpoint file
//!                                                       fan out (never waits) ─► syslog, OTLP, stdout
//! ```
//!
//! Modules: [`record`] (what the pipeline fills), [`prepare`] and [`redact`]
//! (arguments and secrets), [`ocsf`] and [`ecs`] (rendering, pure),
//! [`canonical`] and [`chain`] (fingerprints), [`checkpoint`] (signatures),
//! [`verify`] (`portcullis audit verify`, pure), [`config`], [`file_sink`],
//! [`writer`], [`remote`].
//!
//! Invariants:
//! - the request path never blocks on I/O: [`Auditor::record`] is a `try_send`;
//! - under fail closed, `record` returns an error whenever the event cannot be
//!   queued or the log is known to be unwritable, and the pipeline must then
//!   refuse the request (503): nothing unaudited happens;
//! - under `fsync: always`, [`Receipt::durable`] resolves only once the event is
//!   on disk; under group commit or `none` it resolves at once (the loss window is
//!   documented in `docs/audit.md`);
//! - shutdown writes every accepted event and a final signed checkpoint.

pub mod canonical;
pub mod chain;
pub mod checkpoint;
pub mod config;
pub mod ecs;
pub mod file_sink;
pub mod jsonw;
pub mod ocsf;
pub mod prepare;
pub mod record;
pub mod redact;
pub mod remote;
pub mod time;
pub mod verify;
pub mod writer;

pub use config::{AuditConfig, FailureMode, FsyncPolicy, RawAuditConfig};
pub use record::{
    Actor, ApprovalState, AuditRecord, AuthMethod, Authentication, Decision, Direction, Finding,
    FindingRef, GatewayEvent, Operation, Outcome, Protocol, RecordKind, Severity, TraceContext,
    Verdict,
};

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use writer::Job;

/// Why an event could not be recorded. The pipeline answers 503 to all of them
/// (and tells the client nothing more).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The queue to the writer is full (fail closed).
    #[error("the audit queue is full")]
    QueueFull,
    /// The audit log cannot be written (disk full, permissions); fail closed.
    #[error("the audit log is unavailable: {0}")]
    Unavailable(String),
    /// The audit trail has shut down.
    #[error("the audit trail is closed")]
    Closed,
    /// The writer could not start (the folder or first segment cannot be created).
    #[error("cannot start the audit trail: {0}")]
    Start(String),
}

/// Counters shared by the request path and the writer.
#[derive(Debug, Default)]
pub struct Shared {
    healthy: AtomicBool,
    closed: AtomicBool,
    accepted: AtomicU64,
    /// Records the writer has taken off the queue (queue depth: accepted - taken).
    taken: AtomicU64,
    written: AtomicU64,
    refused: AtomicU64,
    lost: AtomicU64,
    write_errors: AtomicU64,
    checkpoints: AtomicU64,
    remote_sent: AtomicU64,
    remote_dropped: AtomicU64,
    last_lost_log: Mutex<Option<Instant>>,
}

/// A snapshot of the counters, for metrics and `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditStats {
    /// Whether the primary sink is writable.
    pub healthy: bool,
    /// Events queued.
    pub accepted: u64,
    /// Events in the queue now, not yet taken by the writer.
    pub queued: u64,
    /// Events written to the segment file.
    pub written: u64,
    /// Records refused (fail closed): their requests got 503.
    pub refused: u64,
    /// Events lost (fail open, or unwritable at shutdown).
    pub lost: u64,
    /// Failed writes or syncs of the segment file.
    pub write_errors: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// Events delivered to remote sinks (summed over sinks).
    pub remote_sent: u64,
    /// Events dropped by remote sinks (queue full or refused).
    pub remote_dropped: u64,
}

/// What [`Auditor::record`] returns: a way to wait until the event is durable.
#[derive(Debug)]
#[must_use = "under fsync: always, await `durable` before answering the client"]
pub struct Receipt(Option<oneshot::Receiver<Result<(), AuditError>>>);

impl Receipt {
    /// Whether waiting means anything (true only under `fsync: always`).
    pub fn must_wait(&self) -> bool {
        self.0.is_some()
    }

    /// Resolves once the event is durable under `fsync: always` (appended and
    /// fdatasync returned), at once otherwise. Fails if it could not be written:
    /// the pipeline then answers 503.
    pub async fn durable(self) -> Result<(), AuditError> {
        match self.0 {
            None => Ok(()),
            Some(rx) => rx.await.unwrap_or(Err(AuditError::Closed)),
        }
    }

    /// [`Receipt::durable`] for threads outside an async runtime. Must not be
    /// called from async code.
    pub fn wait(self) -> Result<(), AuditError> {
        match self.0 {
            None => Ok(()),
            Some(rx) => rx.blocking_recv().unwrap_or(Err(AuditError::Closed)),
        }
    }
}

/// The audit trail's handle: cheap to share (`Arc<Auditor>`), one per gateway
/// process, kept across configuration reloads.
#[derive(Debug)]
pub struct Auditor {
    tx: SyncSender<Job>,
    shared: Arc<Shared>,
    fsync: FsyncPolicy,
    on_failure: FailureMode,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Auditor {
    /// Opens the first segment, starts the writer thread and the remote sinks.
    /// Fails if the folder or the first segment cannot be created.
    pub fn start(config: AuditConfig) -> Result<Auditor, AuditError> {
        let shared = Arc::new(Shared {
            healthy: AtomicBool::new(true),
            ..Shared::default()
        });
        let first = file_sink::SegmentFile::create(&config.file, std::time::SystemTime::now())
            .map_err(|e| AuditError::Start(format!("{}: {e}", config.file.directory.display())))?;
        let remote = remote::RemoteSinks::start(&config, &shared)
            .map_err(|e| AuditError::Start(e.to_string()))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(config.queue_capacity);
        let (fsync, on_failure) = (config.fsync, config.on_failure);
        let w = writer::Writer::new(Arc::new(config), shared.clone(), first, remote);
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || w.run(rx))
            .map_err(|e| AuditError::Start(e.to_string()))?;
        Ok(Auditor {
            tx,
            shared,
            fsync,
            on_failure,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues one event. Never blocks. Under fail closed, an `Err` means the
    /// request must be refused with 503; under fail open it only fails once the
    /// trail is closed. Await the [`Receipt`] under `fsync: always`.
    pub fn record(&self, record: AuditRecord) -> Result<Receipt, AuditError> {
        let s = &self.shared;
        if s.closed.load(Ordering::Acquire) {
            return Err(AuditError::Closed);
        }
        if self.on_failure == FailureMode::Closed && !s.healthy.load(Ordering::Acquire) {
            s.refused.fetch_add(1, Ordering::Relaxed);
            return Err(AuditError::Unavailable(
                "the audit log is not writable".into(),
            ));
        }
        let (waiter, receipt) = if self.fsync == FsyncPolicy::Always {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Receipt(Some(rx)))
        } else {
            (None, Receipt(None))
        };
        match self.tx.try_send(Job::Record(Box::new(record), waiter)) {
            Ok(()) => {
                s.accepted.fetch_add(1, Ordering::Relaxed);
                Ok(receipt)
            }
            Err(TrySendError::Full(_)) if self.on_failure == FailureMode::Open => {
                let total = s.lost.fetch_add(1, Ordering::Relaxed) + 1;
                self.loud_loss(total);
                Ok(Receipt(None))
            }
            Err(TrySendError::Full(_)) => {
                s.refused.fetch_add(1, Ordering::Relaxed);
                Err(AuditError::QueueFull)
            }
            Err(TrySendError::Disconnected(_)) => Err(AuditError::Closed),
        }
    }

    fn loud_loss(&self, total: u64) {
        let Ok(mut last) = self.shared.last_lost_log.lock() else {
            return;
        };
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            *last = Some(Instant::now());
            tracing::error!(target: "portcullis::audit", total_lost = total, "AUDIT EVENTS LOST (fail_open): the audit queue is full, requests continue unaudited");
        }
    }

    /// Writes and syncs everything queued so far (tests, admin). Blocks the
    /// calling thread until done; use from a blocking context.
    pub fn flush_blocking(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Job::Flush(tx)).is_ok() {
            let _ = rx.blocking_recv();
        }
    }

    /// Stops accepting events, writes every queued one, closes the segment with a
    /// final checkpoint, gives remote sinks their grace period, and joins the
    /// writer. Blocks; call from a blocking context (e.g. `spawn_blocking`).
    pub fn shutdown_blocking(&self) {
        self.shared.closed.store(true, Ordering::Release);
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Job::Shutdown(tx)).is_ok() {
            let _ = rx.blocking_recv();
        }
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// [`Auditor::shutdown_blocking`] for async callers.
    pub async fn shutdown(self: &Arc<Self>) {
        let me = self.clone();
        let _ = tokio::task::spawn_blocking(move || me.shutdown_blocking()).await;
    }

    /// Whether the primary sink is writable (for `/readyz`).
    pub fn is_healthy(&self) -> bool {
        self.shared.healthy.load(Ordering::Acquire)
    }

    /// Whether a record would be refused right now: the primary sink is failing
    /// and the trail fails closed. The pipeline checks this before forwarding, so
    /// that nothing happens upstream that could not be recorded.
    pub fn refuses(&self) -> bool {
        self.on_failure == FailureMode::Closed && !self.is_healthy()
    }

    /// The counters.
    pub fn stats(&self) -> AuditStats {
        let s = &self.shared;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        AuditStats {
            healthy: s.healthy.load(Ordering::Relaxed),
            accepted: get(&s.accepted),
            queued: get(&s.accepted).saturating_sub(get(&s.taken)),
            written: get(&s.written),
            refused: get(&s.refused),
            lost: get(&s.lost),
            write_errors: get(&s.write_errors),
            checkpoints: get(&s.checkpoints),
            remote_sent: get(&s.remote_sent),
            remote_dropped: get(&s.remote_dropped),
        }
    }
}

/// OCSF severity id of a severity (also used as ECS `event.severity`).
pub(crate) fn ocsf_severity(s: Severity) -> u64 {
    ocsf::severity_id(s)
}
