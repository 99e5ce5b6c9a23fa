//! The writer thread: drains the queue, renders, seals into the hash chain,
//! appends to the segment file, syncs per the fsync policy, writes checkpoints,
//! rotates segments, and hands lines to the remote sinks.
//!
//! Why a dedicated OS thread: file writes and fdatasync block, and a blocked
//! async worker would stall unrelated requests. Everything that costs (JSON
//! rendering, redaction, hashing) happens here, off the request path.
//!
//! Invariants:
//! - events are written in the order they were queued, each exactly once;
//! - under `fsync: always`, a waiter is answered only after its event's batch was
//!   appended and fdatasync returned;
//! - a batch that fails is never half in the chain: the chain is restored and
//!   the file cut back, then the batch is retried (fail closed) or counted as
//!   lost (fail open) and the loss itself is written as an event on recovery.

use super::chain::{Chain, Format};
use super::config::{AuditConfig, FsyncPolicy};
use super::file_sink::{CheckpointFile, SegmentFile};
use super::jsonw::EventWriter;
use super::prepare::{RenderOptions, prepare};
use super::record::{AuditRecord, GatewayEvent, RecordKind};
use super::remote::{RemoteLine, RemoteSinks};
use super::{AuditError, Shared, ecs, ocsf, redact};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::oneshot;

mod upkeep;

/// Most jobs taken from the queue per batch.
const MAX_BATCH: usize = 1024;
/// Bytes sealed before they are handed to the kernel.
const WRITE_CHUNK: usize = 64 << 10;
/// Longest the writer gathers events after the first one of a batch, under
/// group commit or `fsync: none` (half the group-commit interval if shorter;
/// never under `fsync: always`, where a request waits for its event).
///
/// Why: woken for every event, the writer paid a wake-up, a context switch and
/// a `write` per request at moderate rates (the load run measured ~77 µs of
/// gateway CPU per request for auditing). Gathering makes one of each per
/// batch, and a sender never has to wake a writer that is not waiting.
const GATHER: Duration = Duration::from_millis(2);
/// Time between attempts to write again after a failure.
pub const RETRY_INTERVAL: Duration = Duration::from_millis(500);

/// Answers a caller waiting for durability.
pub type Waiter = oneshot::Sender<Result<(), AuditError>>;

/// Takes queued jobs until the batch is full or the queue empty.
fn drain(rx: &Receiver<Job>, jobs: &mut Vec<Job>) {
    while jobs.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
}

/// Work for the writer.
pub enum Job {
    /// An event to write, with its waiter under `fsync: always`.
    Record(Box<AuditRecord>, Option<Waiter>),
    /// Write and sync everything queued before, then answer.
    Flush(oneshot::Sender<()>),
    /// Write everything, close the segment with a final checkpoint, stop.
    Shutdown(oneshot::Sender<()>),
}

struct Pending {
    record: Box<AuditRecord>,
    waiter: Option<Waiter>,
    remote: Option<RemoteLine>,
}

/// The writer's state.
pub struct Writer {
    cfg: Arc<AuditConfig>,
    options: RenderOptions,
    shared: Arc<Shared>,
    file: Option<SegmentFile>,
    chain: Chain,
    checkpoints: CheckpointFile,
    pending: Vec<Pending>,
    buf: Vec<u8>,
    line: Vec<u8>,
    ends: Vec<usize>,
    dirty_since: Option<Instant>,
    last_checkpoint: Instant,
    since_checkpoint: u64,
    retry_at: Option<Instant>,
    lost_reported: u64,
    remote: RemoteSinks,
}

impl Writer {
    /// A writer on an already opened first segment.
    pub fn new(
        cfg: Arc<AuditConfig>,
        shared: Arc<Shared>,
        file: SegmentFile,
        remote: RemoteSinks,
    ) -> Writer {
        let authority = cfg
            .checkpoint
            .key
            .as_ref()
            .map(|k| format!("portcullis:{}", k.id()));
        let chain = Chain::new(file.id().to_owned(), None, authority);
        Writer {
            options: RenderOptions {
                product_version: env!("CARGO_PKG_VERSION"),
                gateway_name: cfg.gateway_name.clone(),
            },
            checkpoints: CheckpointFile::new(cfg.checkpoint.file.clone()),
            cfg,
            shared,
            file: Some(file),
            chain,
            pending: Vec::new(),
            buf: Vec::with_capacity(1 << 20),
            line: Vec::with_capacity(4096),
            ends: Vec::new(),
            dirty_since: None,
            last_checkpoint: Instant::now(),
            since_checkpoint: 0,
            retry_at: None,
            lost_reported: 0,
            remote,
        }
    }

    /// Runs until shutdown or until every sender is gone.
    pub fn run(mut self, rx: Receiver<Job>) {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        let gather = match self.cfg.fsync {
            FsyncPolicy::Always => Duration::ZERO,
            FsyncPolicy::Every(d) => GATHER.min(d / 2),
            FsyncPolicy::Never => GATHER,
        };
        loop {
            match rx.recv_timeout(self.next_wakeup()) {
                Ok(job) => jobs.push(job),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.close();
                    return;
                }
            }
            drain(&rx, &mut jobs);
            // A small batch of plain events: gather more before writing (a
            // writer that is behind finds a full batch and never waits).
            if !gather.is_zero()
                && jobs.len() < MAX_BATCH / 16
                && !jobs.is_empty()
                && jobs.iter().all(|j| matches!(j, Job::Record(_, None)))
            {
                std::thread::sleep(gather);
                drain(&rx, &mut jobs);
            }
            let mut flushes = Vec::new();
            let mut shutdown = None;
            for job in jobs.drain(..) {
                match job {
                    Job::Record(record, waiter) => {
                        self.shared.taken.fetch_add(1, Ordering::Relaxed);
                        self.accept(record, waiter);
                    }
                    Job::Flush(tx) => flushes.push(tx),
                    Job::Shutdown(tx) => shutdown = Some(tx),
                }
            }
            self.write_pending();
            self.tick();
            if !flushes.is_empty() {
                self.sync();
                for tx in flushes {
                    let _ = tx.send(());
                }
            }
            if let Some(tx) = shutdown {
                while let Ok(Job::Record(record, waiter)) = rx.try_recv() {
                    self.shared.taken.fetch_add(1, Ordering::Relaxed);
                    self.accept(record, waiter);
                }
                self.close();
                let _ = tx.send(());
                return;
            }
        }
    }

    fn next_wakeup(&self) -> Duration {
        let now = Instant::now();
        let mut at = self.last_checkpoint + self.cfg.checkpoint.interval;
        if let (FsyncPolicy::Every(d), Some(since)) = (self.cfg.fsync, self.dirty_since) {
            at = at.min(since + d);
        }
        if let Some(r) = self.retry_at {
            at = at.min(r);
        }
        if let Some(f) = &self.file {
            at = at.min(f.opened() + self.cfg.file.rotate_interval);
        }
        if self.lost_reported < self.shared.lost.load(Ordering::Relaxed) {
            at = now;
        }
        at.saturating_duration_since(now)
            .max(Duration::from_micros(100))
    }

    /// Queues a record for the next write (it is rendered when it is sealed,
    /// because its uid depends on its place in the chain).
    fn accept(&mut self, record: Box<AuditRecord>, waiter: Option<Waiter>) {
        let remote = self
            .remote
            .is_active()
            .then(|| RemoteLine::describe(&record));
        self.pending.push(Pending {
            record,
            waiter,
            remote,
        });
    }

    /// Renders, redacts and seals one record, appending it to `out`.
    fn seal(
        chain: &mut Chain,
        cfg: &AuditConfig,
        options: &RenderOptions,
        record: &AuditRecord,
        line: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) {
        let prepared = prepare(record, options, &cfg.arguments);
        match cfg.format {
            Format::Ocsf => {
                let (uid, seq) = chain.next_stamp();
                let mut ev = EventWriter::new(&record.secrets);
                ocsf::render(&mut ev, &prepared, &ocsf::Stamp { uid: &uid, seq });
                chain.seal_fields(ev, out);
            }
            Format::Ecs => {
                let mut event = ecs::render(&prepared);
                redact::scrub(&mut event, &record.secrets);
                chain.seal(&mut event, Format::Ecs, line);
                out.extend_from_slice(line);
            }
        }
    }

    fn write_pending(&mut self) {
        let lost = self.shared.lost.load(Ordering::Relaxed);
        if lost > self.lost_reported && self.shared.healthy.load(Ordering::Relaxed) {
            let count = lost - self.lost_reported;
            self.lost_reported = lost;
            let rec =
                AuditRecord::now(RecordKind::Gateway(GatewayEvent::AuditEventsLost { count }));
            self.accept(Box::new(rec), None);
        }
        if self.pending.is_empty() {
            return;
        }
        if let Some(r) = self.retry_at
            && Instant::now() < r
        {
            self.refuse_pending("the audit log is not writable");
            return;
        }
        match self.append_pending() {
            Ok(()) => self.recovered(),
            Err(e) => self.failed(&e),
        }
    }

    fn append_pending(&mut self) -> std::io::Result<()> {
        self.ensure_segment()?;
        let saved = self.chain.clone();
        let Some(file) = self.file.as_mut() else {
            return Err(std::io::Error::other("no segment open"));
        };
        let batch_start = file.len();
        self.buf.clear();
        self.ends.clear();
        // Written in chunks as the batch is sealed, so the bytes are still in
        // cache when the kernel copies them.
        let mut flushed = 0;
        let mut result = Ok(());
        for p in &self.pending {
            Self::seal(
                &mut self.chain,
                &self.cfg,
                &self.options,
                &p.record,
                &mut self.line,
                &mut self.buf,
            );
            self.buf.push(b'\n');
            self.ends.push(self.buf.len());
            if self.buf.len() - flushed >= WRITE_CHUNK {
                result = file.append(self.buf.get(flushed..).unwrap_or_default());
                flushed = self.buf.len();
                if result.is_err() {
                    break;
                }
            }
        }
        if result.is_ok() && flushed < self.buf.len() {
            result = file.append(self.buf.get(flushed..).unwrap_or_default());
        }
        if result.is_ok() && self.cfg.fsync == FsyncPolicy::Always {
            result = file.sync();
        }
        if result.is_err() {
            self.chain = saved;
            file.rollback(batch_start);
            if file.is_broken() {
                self.file = None;
            }
            return result;
        }
        self.written()
    }

    /// After a batch is in the file: acknowledge, fan out, checkpoint, rotate.
    fn written(&mut self) -> std::io::Result<()> {
        let n = self.pending.len() as u64;
        self.shared.written.fetch_add(n, Ordering::Relaxed);
        self.since_checkpoint += n;
        if matches!(self.cfg.fsync, FsyncPolicy::Every(_)) && self.dirty_since.is_none() {
            self.dirty_since = Some(Instant::now());
        }
        let mut start = 0;
        for (p, end) in self.pending.drain(..).zip(self.ends.iter()) {
            let line = self.buf.get(start..*end).unwrap_or_default();
            start = *end;
            if let Some(meta) = &p.remote {
                self.remote.send(meta, line, &self.shared);
            }
            if let Some(w) = p.waiter {
                let _ = w.send(Ok(()));
            }
        }
        if self.cfg.stdout {
            let _ = std::io::stdout().lock().write_all(&self.buf);
        }
        if self.since_checkpoint >= self.cfg.checkpoint.every_events {
            self.checkpoint(false)?;
        }
        if self
            .file
            .as_ref()
            .is_some_and(|f| f.len() >= self.cfg.file.rotate_size)
        {
            self.rotate()?;
        }
        Ok(())
    }

    fn ensure_segment(&mut self) -> std::io::Result<()> {
        if self.file.is_none() {
            let file = SegmentFile::create(&self.cfg.file, SystemTime::now())?;
            let authority = self
                .cfg
                .checkpoint
                .key
                .as_ref()
                .map(|k| format!("portcullis:{}", k.id()));
            self.chain = Chain::new(file.id().to_owned(), self.chain.last().cloned(), authority);
            self.file = Some(file);
        }
        Ok(())
    }
}
