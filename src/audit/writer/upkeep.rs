//! The writer's upkeep: failure and recovery, timed work (group-commit sync,
//! checkpoints, age rotation, retries), checkpoints, rotation and close.

use super::{RETRY_INTERVAL, Writer};
use crate::audit::AuditError;
use crate::audit::checkpoint::Checkpoint;
use crate::audit::config::{FailureMode, FsyncPolicy};
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

impl Writer {
    pub(super) fn recovered(&mut self) {
        if !self.shared.healthy.swap(true, Ordering::SeqCst) {
            tracing::warn!(target: "portcullis::audit", "audit log writable again; events flow");
        }
        self.retry_at = None;
    }

    pub(super) fn failed(&mut self, e: &std::io::Error) {
        self.shared.write_errors.fetch_add(1, Ordering::Relaxed);
        self.shared.healthy.store(false, Ordering::SeqCst);
        self.retry_at = Some(Instant::now() + RETRY_INTERVAL);
        tracing::error!(target: "portcullis::audit", error = %e, "AUDIT LOG WRITE FAILED");
        self.refuse_pending("the audit log is not writable");
    }

    /// After a failure: waiters are refused (their requests get 503) and their
    /// events dropped; other events are kept for retry (fail closed) or counted
    /// as lost (fail open).
    pub(super) fn refuse_pending(&mut self, why: &str) {
        let mode = self.cfg.on_failure;
        let mut lost = 0u64;
        self.pending.retain_mut(|p| match p.waiter.take() {
            Some(w) => {
                let _ = w.send(Err(AuditError::Unavailable(why.to_owned())));
                false
            }
            None if mode == FailureMode::Open => {
                lost += 1;
                false
            }
            None => true,
        });
        if lost > 0 {
            let total = self.shared.lost.fetch_add(lost, Ordering::Relaxed) + lost;
            tracing::error!(target: "portcullis::audit", lost, total_lost = total, "AUDIT EVENTS LOST (fail_open): requests continue unaudited");
        }
    }

    pub(super) fn tick(&mut self) {
        let now = Instant::now();
        if let (FsyncPolicy::Every(d), Some(since)) = (self.cfg.fsync, self.dirty_since)
            && now >= since + d
        {
            self.sync();
        }
        if let Some(r) = self.retry_at
            && now >= r
        {
            self.retry_at = None;
            let result = if self.pending.is_empty() {
                self.ensure_segment().and_then(|()| self.checkpoint(false))
            } else {
                self.append_pending()
            };
            match result {
                Ok(()) => self.recovered(),
                Err(e) => self.failed(&e),
            }
            return;
        }
        let due = now >= self.last_checkpoint + self.cfg.checkpoint.interval;
        if due && self.since_checkpoint > 0 {
            if let Err(e) = self.checkpoint(false) {
                self.failed(&e);
            }
        } else if due {
            self.last_checkpoint = now;
        }
        let old = self
            .file
            .as_ref()
            .is_some_and(|f| now >= f.opened() + self.cfg.file.rotate_interval && !f.is_empty());
        if old && let Err(e) = self.rotate() {
            self.failed(&e);
        }
    }

    pub(super) fn sync(&mut self) {
        if let Some(f) = self.file.as_mut()
            && let Err(e) = f.sync()
        {
            self.failed(&e);
            return;
        }
        self.dirty_since = None;
    }

    pub(super) fn checkpoint(&mut self, last: bool) -> std::io::Result<()> {
        let count = self.chain.count();
        let link = if count > 0 { self.chain.last() } else { None };
        let mut cp = Checkpoint {
            v: 1,
            chain_uid: self.chain.segment().to_owned(),
            count,
            last_uid: link.map(|l| l.uid.clone()),
            last_sha256: link.map(|l| hex::encode(l.fingerprint)),
            time: crate::audit::time::rfc3339(SystemTime::now()),
            r#final: last,
            key_id: None,
            signature: None,
        };
        if let Some(key) = &self.cfg.checkpoint.key {
            key.sign(&mut cp);
        }
        let mut line = cp.to_line();
        line.push(b'\n');
        if let Some(f) = self.file.as_mut() {
            f.append(&line)?;
            f.sync()?;
            self.dirty_since = None;
        }
        if let Err(e) = self.checkpoints.append(&line) {
            tracing::error!(target: "portcullis::audit", error = %e, "cannot write the checkpoint file");
        }
        self.remote
            .send_checkpoint(&line[..line.len() - 1], &self.shared);
        self.shared.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.last_checkpoint = Instant::now();
        self.since_checkpoint = 0;
        Ok(())
    }

    pub(super) fn rotate(&mut self) -> std::io::Result<()> {
        self.checkpoint(true)?;
        self.file = None;
        self.ensure_segment()
    }

    pub(super) fn close(&mut self) {
        self.write_pending();
        if self.retry_at.is_some() && !self.pending.is_empty() {
            // One last attempt, without waiting for the retry timer.
            self.retry_at = None;
            self.write_pending();
        }
        if !self.pending.is_empty() {
            let n = self.pending.len() as u64;
            self.shared.lost.fetch_add(n, Ordering::Relaxed);
            tracing::error!(target: "portcullis::audit", lost = n, "AUDIT EVENTS LOST at shutdown: the log was not writable");
            for p in self.pending.drain(..) {
                if let Some(w) = p.waiter {
                    let _ = w.send(Err(AuditError::Closed));
                }
            }
        }
        if self.file.is_some()
            && let Err(e) = self.checkpoint(true)
        {
            tracing::error!(target: "portcullis::audit", error = %e, "cannot write the final checkpoint");
        }
        self.remote.close();
    }
}
