//! Verification of audit logs: the hash chain, the checkpoints and their
//! signatures. Pure: file names and contents in, a [`Report`] out; the
//! `portcullis audit verify` command reads the files and prints the report.
//!
//! What it detects, and how:
//!
//! - a **modified** event: its recomputed fingerprint differs from the one it
//!   carries, or (if the fingerprint was rewritten too) the next event's
//!   `prev_event` no longer matches;
//! - a **deleted** event: a gap in the sequence numbers of its segment;
//! - an **inserted** or **reordered** event: a sequence number that goes back, or
//!   an event after the segment's final checkpoint;
//! - a **truncated tail**: a checkpoint (in the separate checkpoint file) that
//!   counts more events than the log holds, or a segment without its final
//!   checkpoint (a warning: it is also what a crash or a live segment looks like);
//! - a **bad checkpoint**: a signature that does not verify with the given key, or
//!   a count and last fingerprint that do not match the events before it.
//!
//! Invariant: every problem names the file, the 1-based line and, when the line
//! was readable, the event uid.

mod walk;

use ed25519_dalek::VerifyingKey;
use std::fmt;

/// One file to verify.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Its name, for the report.
    pub name: &'a str,
    /// Its content.
    pub text: &'a [u8],
}

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// A line that is not a readable event or checkpoint.
    Unreadable,
    /// The event's content does not match its fingerprint.
    Modified,
    /// The event does not link to the event before it.
    BrokenLink,
    /// Events are missing before this one.
    Deleted,
    /// The event is out of sequence: inserted or reordered.
    OutOfOrder,
    /// A checkpoint does not match the events before it.
    CheckpointMismatch,
    /// A checkpoint's signature does not verify.
    BadSignature,
    /// The log ends before a checkpoint says it should.
    Truncated,
    /// Warning: the segment has no final checkpoint (crash, live, or cut).
    Unsealed,
    /// Warning: the last line is incomplete (a crash while writing).
    PartialLine,
}

impl ProblemKind {
    /// Whether this is evidence of tampering (as opposed to a warning).
    pub fn is_error(self) -> bool {
        !matches!(self, ProblemKind::Unsealed | ProblemKind::PartialLine)
    }
}

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: String,
    /// The 1-based line.
    pub line: usize,
    /// The event uid, when readable.
    pub uid: Option<String>,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// What was found, in words.
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = if self.kind.is_error() {
            "error"
        } else {
            "warning"
        };
        write!(f, "{}:{}: {level}: ", self.file, self.line)?;
        if let Some(uid) = &self.uid {
            write!(f, "event {uid}: ")?;
        }
        write!(f, "{}", self.detail)
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Events read.
    pub events: u64,
    /// Checkpoints read.
    pub checkpoints: u64,
    /// Checkpoint signatures verified with the given key.
    pub signatures_verified: u64,
    /// Problems, in file and line order.
    pub problems: Vec<Problem>,
}

impl Report {
    /// True when no problem is an error (warnings allowed).
    pub fn is_intact(&self) -> bool {
        self.problems.iter().all(|p| !p.kind.is_error())
    }
}

/// Verifies log files and checkpoint files together. Files holding only
/// checkpoints are read as the separate checkpoint sink.
pub fn verify(inputs: &[Input<'_>], key: Option<&VerifyingKey>) -> Report {
    walk::verify(inputs, key)
}
