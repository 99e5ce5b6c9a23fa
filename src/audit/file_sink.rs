//! The primary sink: append-only segment files, and the separate checkpoint file.
//!
//! Each segment is a new file `<prefix>-<start>-<id>.jsonl`, opened with
//! `O_APPEND | O_CREAT | O_EXCL`: files are never renamed or rewritten, which is
//! what file tailers (Vector, Fluent Bit, the OpenTelemetry Collector) handle
//! best. Rotation closes a segment and opens the next.
//!
//! Invariant: a segment only ever holds whole lines. A failed append is cut
//! back to the last whole line; if even that fails the segment is abandoned
//! (the writer opens a new one), so no event is ever glued to a partial line.

use super::config::FileSettings;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

static SEGMENTS: AtomicU64 = AtomicU64::new(0);

/// One open segment.
#[derive(Debug)]
pub struct SegmentFile {
    file: File,
    path: PathBuf,
    id: String,
    len: u64,
    opened: Instant,
    broken: bool,
}

impl SegmentFile {
    /// Creates the next segment in the configured folder (creating the folder).
    pub fn create(settings: &FileSettings, now: SystemTime) -> io::Result<SegmentFile> {
        std::fs::create_dir_all(&settings.directory)?;
        let id = segment_id(now);
        let path = settings
            .directory
            .join(format!("{}-{id}.jsonl", settings.prefix));
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)?;
        sync_dir(&settings.directory);
        Ok(SegmentFile {
            file,
            path,
            id,
            len: 0,
            opened: Instant::now(),
            broken: false,
        })
    }

    /// The segment id (the chain's `chain_uid`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// When it was opened.
    pub fn opened(&self) -> Instant {
        self.opened
    }

    /// Whether a failed append could not be cut back (the segment must be left).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Appends whole lines. On failure, cuts the file back to where it was.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self.file.write_all(bytes) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                if self.file.set_len(self.len).is_err() {
                    self.broken = true;
                }
                Err(e)
            }
        }
    }

    /// Cuts the file back to `len` bytes (a batch that failed part-way). If that
    /// fails too, the segment is marked broken and must be left.
    pub fn rollback(&mut self, len: u64) {
        if len < self.len {
            if self.file.set_len(len).is_ok() {
                self.len = len;
            } else {
                self.broken = true;
            }
        }
    }

    /// Makes what was appended durable (fdatasync).
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// The separate checkpoint file: appended to and synced at every checkpoint.
#[derive(Debug)]
pub struct CheckpointFile {
    path: PathBuf,
    file: Option<File>,
}

impl CheckpointFile {
    /// A checkpoint file at `path` (opened lazily, created if missing).
    pub fn new(path: PathBuf) -> CheckpointFile {
        CheckpointFile { path, file: None }
    }

    /// Appends one line and syncs it.
    pub fn append(&mut self, line: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            self.file = Some(
                OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&self.path)?,
            );
        }
        let result = match self.file.as_mut() {
            Some(f) => f.write_all(line).and_then(|()| f.sync_data()),
            None => Ok(()),
        };
        if result.is_err() {
            self.file = None;
        }
        result
    }
}

/// `<compact start time>-<per-process number>-<8 hex digits>`: sorts in creation
/// order within a process, unique across processes.
fn segment_id(now: SystemTime) -> String {
    let n = SEGMENTS.fetch_add(1, Ordering::Relaxed);
    let mut h = Sha256::new();
    h.update(super::time::epoch_nanos(now).to_be_bytes());
    h.update(std::process::id().to_be_bytes());
    h.update(n.to_be_bytes());
    format!(
        "{}-{n:06}-{}",
        super::time::compact(now),
        super::jsonw::hex(&h.finalize()[..4])
    )
}

fn sync_dir(dir: &Path) {
    // A new file's directory entry must be durable too; best effort (some file
    // systems refuse to fsync a directory).
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
