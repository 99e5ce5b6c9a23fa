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

use super::chain::{parse_digest, recompute};
use super::checkpoint::{self, Checkpoint, SignatureError};
use ed25519_dalek::VerifyingKey;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
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

#[derive(Debug, Default)]
struct Segment {
    count: u64,
    last: Option<(String, [u8; 32])>,
    closed: bool,
    wanted: HashMap<u64, [u8; 32]>,
    file: String,
    last_line: usize,
}

struct Walk<'k> {
    key: Option<&'k VerifyingKey>,
    report: Report,
    segments: HashMap<String, Segment>,
    wanted: HashSet<(String, u64)>,
    links: Vec<(String, usize, String, String, [u8; 32])>,
}

/// Verifies log files and checkpoint files together. Files holding only
/// checkpoints are read as the separate checkpoint sink.
pub fn verify(inputs: &[Input<'_>], key: Option<&VerifyingKey>) -> Report {
    let mut external = Vec::new();
    let mut w = Walk {
        key,
        report: Report::default(),
        segments: HashMap::new(),
        wanted: HashSet::new(),
        links: Vec::new(),
    };
    let logs: Vec<&Input<'_>> = inputs
        .iter()
        .filter(|input| {
            let only_checkpoints = lines(input.text).all(|(_, l, _)| is_checkpoint_line(l));
            if only_checkpoints {
                for (n, line, _) in lines(input.text) {
                    if let Some(cp) = w.checkpoint(input.name, n, line) {
                        if cp.count > 0 {
                            w.wanted.insert((cp.chain_uid.clone(), cp.count - 1));
                        }
                        external.push((input.name.to_owned(), n, cp));
                    }
                }
            }
            !only_checkpoints
        })
        .collect();
    for input in logs {
        w.log(input);
    }
    w.finish(external)
}

fn lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8], bool)> {
    let complete = text.last() == Some(&b'\n');
    let parts: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    let total = parts.len();
    parts
        .into_iter()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(move |(i, l)| (i + 1, l, complete || i + 1 < total))
}

fn is_checkpoint_line(line: &[u8]) -> bool {
    line.starts_with(b"{\"portcullis_checkpoint\":")
}

impl Walk<'_> {
    fn problem(
        &mut self,
        file: &str,
        line: usize,
        uid: Option<&str>,
        kind: ProblemKind,
        detail: String,
    ) {
        self.report.problems.push(Problem {
            file: file.to_owned(),
            line,
            uid: uid.map(str::to_owned),
            kind,
            detail,
        });
    }

    fn checkpoint(&mut self, file: &str, n: usize, line: &[u8]) -> Option<Checkpoint> {
        let cp = serde_json::from_slice::<Value>(line)
            .ok()
            .and_then(|mut v| v.get_mut(checkpoint::KEY).map(Value::take))
            .and_then(|v| serde_json::from_value::<Checkpoint>(v).ok());
        let Some(cp) = cp else {
            self.problem(
                file,
                n,
                None,
                ProblemKind::Unreadable,
                "unreadable checkpoint".into(),
            );
            return None;
        };
        self.report.checkpoints += 1;
        if let Some(key) = self.key {
            match cp.verify(key) {
                Ok(()) => self.report.signatures_verified += 1,
                Err(
                    e @ (SignatureError::Invalid
                    | SignatureError::OtherKey(_)
                    | SignatureError::Unsigned),
                ) => {
                    let detail = format!("{e} (segment {}, count {})", cp.chain_uid, cp.count);
                    self.problem(file, n, None, ProblemKind::BadSignature, detail);
                }
            }
        }
        Some(cp)
    }

    fn log(&mut self, input: &Input<'_>) {
        let mut current: Option<String> = None;
        for (n, line, complete) in lines(input.text) {
            if is_checkpoint_line(line) {
                if let Some(cp) = self.checkpoint(input.name, n, line) {
                    self.inline_checkpoint(input.name, n, &cp);
                }
                continue;
            }
            let Ok(event) = serde_json::from_slice::<Value>(line) else {
                let (kind, detail) = if complete {
                    (ProblemKind::Unreadable, "not a JSON event".to_owned())
                } else {
                    (
                        ProblemKind::PartialLine,
                        "incomplete last line (a crash while writing?)".to_owned(),
                    )
                };
                self.problem(input.name, n, None, kind, detail);
                continue;
            };
            self.event(input.name, n, &event, &mut current);
        }
    }

    fn event(&mut self, file: &str, n: usize, event: &Value, current: &mut Option<String>) {
        let att = event.get("attestation");
        let uid = att.and_then(|a| a.get("uid")).and_then(Value::as_str);
        let chain = att.and_then(|a| a.get("chain_uid")).and_then(Value::as_str);
        let (Some(uid), Some(chain)) = (uid, chain) else {
            self.problem(
                file,
                n,
                None,
                ProblemKind::Unreadable,
                "event without attestation uid and chain_uid".into(),
            );
            return;
        };
        let Some(seq) = uid
            .strip_prefix(chain)
            .and_then(|s| s.strip_prefix(':'))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            self.problem(
                file,
                n,
                Some(uid),
                ProblemKind::Unreadable,
                "attestation uid is not <chain_uid>:<n>".into(),
            );
            return;
        };
        self.report.events += 1;
        let (actual, claimed) = recompute(event);
        if claimed != Some(actual) {
            self.problem(
                file,
                n,
                Some(uid),
                ProblemKind::Modified,
                "content does not match its fingerprint (modified)".into(),
            );
        }
        let fingerprint = claimed.unwrap_or(actual);
        let prev = att.and_then(|a| a.get("prev_event")).and_then(|p| {
            Some((
                p.get("uid")?.as_str()?.to_owned(),
                parse_digest(p.get("fingerprint")?.get("value")?.as_str()?)?,
            ))
        });
        let is_new = current.as_deref() != Some(chain);
        if is_new {
            *current = Some(chain.to_owned());
        }
        let seg = self.segments.entry(chain.to_owned()).or_default();
        let expected = seg.count;
        let closed = seg.closed;
        let link_ok = match (&seg.last, &prev) {
            (Some(last), Some(p)) => *last == *p,
            (None, _) => true,
            (Some(_), None) => false,
        };
        let mut issue: Option<(ProblemKind, String)> = None;
        if closed {
            issue = Some((
                ProblemKind::OutOfOrder,
                "event after the segment's final checkpoint (inserted)".into(),
            ));
        } else if seq > expected {
            issue = Some((
                ProblemKind::Deleted,
                format!(
                    "{} event(s) missing before this one (expected sequence {expected}, found {seq}): deleted",
                    seq - expected
                ),
            ));
        } else if seq < expected {
            issue = Some((
                ProblemKind::OutOfOrder,
                format!(
                    "sequence {seq} after {}: inserted or reordered",
                    expected.saturating_sub(1)
                ),
            ));
        } else if !link_ok {
            issue = Some((
                ProblemKind::BrokenLink,
                "does not link to the event before it: that event was modified or replaced".into(),
            ));
        }
        if seq == 0
            && expected == 0
            && let Some((puid, pfp)) = &prev
        {
            self.links
                .push((file.to_owned(), n, chain.to_owned(), puid.clone(), *pfp));
        }
        let seg = self.segments.entry(chain.to_owned()).or_default();
        if self.wanted.contains(&(chain.to_owned(), seq)) {
            seg.wanted.insert(seq, fingerprint);
        }
        seg.count = seg.count.max(seq + 1);
        seg.last = Some((uid.to_owned(), fingerprint));
        seg.file = file.to_owned();
        seg.last_line = n;
        if let Some((kind, detail)) = issue {
            self.problem(file, n, Some(uid), kind, detail);
        }
    }

    fn inline_checkpoint(&mut self, file: &str, n: usize, cp: &Checkpoint) {
        let seg = self.segments.entry(cp.chain_uid.clone()).or_default();
        let last_hex = seg.last.as_ref().map(|(_, d)| hex::encode(d));
        let matches = seg.count == cp.count
            && (cp.count == 0 || last_hex.as_deref() == cp.last_sha256.as_deref());
        seg.closed |= cp.r#final;
        seg.file = file.to_owned();
        seg.last_line = n;
        let have = seg.count;
        if !matches {
            let detail = format!(
                "checkpoint counts {} event(s) in segment {}, the log has {have} before it ending with a different event: events were deleted, inserted or changed before this line",
                cp.count, cp.chain_uid
            );
            self.problem(
                file,
                n,
                cp.last_uid.as_deref(),
                ProblemKind::CheckpointMismatch,
                detail,
            );
        }
    }

    fn finish(mut self, external: Vec<(String, usize, Checkpoint)>) -> Report {
        for (file, n, cp) in external {
            let Some(seg) = self.segments.get(&cp.chain_uid) else {
                continue;
            };
            let (count, wanted) = (
                seg.count,
                cp.count
                    .checked_sub(1)
                    .and_then(|i| seg.wanted.get(&i).copied()),
            );
            if cp.count > count {
                let detail = format!(
                    "checkpoint says segment {} had {} event(s); the log ({}) has {count}: its tail was cut",
                    cp.chain_uid, cp.count, seg.file
                );
                self.problem(
                    &file,
                    n,
                    cp.last_uid.as_deref(),
                    ProblemKind::Truncated,
                    detail,
                );
            } else if cp.count > 0
                && wanted.map(hex::encode).as_deref() != cp.last_sha256.as_deref()
            {
                let detail = format!(
                    "checkpoint's fingerprint for event {} differs from the log's",
                    cp.last_uid.as_deref().unwrap_or("?")
                );
                self.problem(
                    &file,
                    n,
                    cp.last_uid.as_deref(),
                    ProblemKind::CheckpointMismatch,
                    detail,
                );
            }
        }
        for (file, n, chain, puid, pfp) in std::mem::take(&mut self.links) {
            let Some((prev_chain, _)) = puid.rsplit_once(':') else {
                continue;
            };
            if let Some(prev) = self.segments.get(prev_chain)
                && prev.last.as_ref() != Some(&(puid.clone(), pfp))
            {
                let detail = format!(
                    "segment {chain} starts after {puid}, but segment {prev_chain} ends elsewhere: events were cut or changed at the end of that segment"
                );
                self.problem(&file, n, None, ProblemKind::Truncated, detail);
            }
        }
        let mut unsealed: Vec<_> = self
            .segments
            .iter()
            .filter(|(_, s)| !s.closed && !s.file.is_empty())
            .map(|(id, s)| (s.file.clone(), s.last_line, id.clone()))
            .collect();
        unsealed.sort();
        for (file, line, id) in unsealed {
            let detail = format!(
                "segment {id} has no final checkpoint: it is still being written, the gateway stopped without closing it, or its tail was cut"
            );
            self.problem(&file, line, None, ProblemKind::Unsealed, detail);
        }
        self.report
            .problems
            .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        self.report
    }
}
