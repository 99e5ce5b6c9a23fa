//! The walk over the files: checkpoints first (their signatures, and which
//! fingerprints they pin), then each log in order, then the cross-checks.

use super::{Input, Problem, ProblemKind, Report};
use crate::audit::chain::{parse_digest, recompute};
use crate::audit::checkpoint::{self, Checkpoint, SignatureError};
use ed25519_dalek::VerifyingKey;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

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

/// See [`super::verify`].
pub(super) fn verify(inputs: &[Input<'_>], key: Option<&VerifyingKey>) -> Report {
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
            self.event(input.name, n, &event);
        }
    }

    fn event(&mut self, file: &str, n: usize, event: &Value) {
        let Some((uid, chain, seq)) = self.identity(file, n, event) else {
            return;
        };
        self.report.events += 1;
        let (actual, claimed) = recompute(event);
        if claimed != Some(actual) {
            let detail = "content does not match its fingerprint (modified)".to_owned();
            self.problem(file, n, Some(&uid), ProblemKind::Modified, detail);
        }
        let fingerprint = claimed.unwrap_or(actual);
        let prev = prev_link(event);
        let seg = self.segments.entry(chain.clone()).or_default();
        let issue = sequence_issue(seg, seq, prev.as_ref());
        if seq == 0
            && seg.count == 0
            && let Some((puid, pfp)) = &prev
        {
            self.links
                .push((file.to_owned(), n, chain.clone(), puid.clone(), *pfp));
        }
        if self.wanted.contains(&(chain, seq)) {
            seg.wanted.insert(seq, fingerprint);
        }
        seg.count = seg.count.max(seq + 1);
        seg.last = Some((uid.clone(), fingerprint));
        seg.file = file.to_owned();
        seg.last_line = n;
        if let Some((kind, detail)) = issue {
            self.problem(file, n, Some(&uid), kind, detail);
        }
    }

    /// The event's uid, chain and sequence number, or a problem.
    fn identity(&mut self, file: &str, n: usize, event: &Value) -> Option<(String, String, u64)> {
        let att = event.get("attestation");
        let uid = att.and_then(|a| a.get("uid")).and_then(Value::as_str);
        let chain = att.and_then(|a| a.get("chain_uid")).and_then(Value::as_str);
        let (Some(uid), Some(chain)) = (uid, chain) else {
            let detail = "event without attestation uid and chain_uid".to_owned();
            self.problem(file, n, None, ProblemKind::Unreadable, detail);
            return None;
        };
        let seq = uid
            .strip_prefix(chain)
            .and_then(|s| s.strip_prefix(':'))
            .and_then(|s| s.parse::<u64>().ok());
        if seq.is_none() {
            let detail = "attestation uid is not <chain_uid>:<n>".to_owned();
            self.problem(file, n, Some(uid), ProblemKind::Unreadable, detail);
        }
        Some((uid.to_owned(), chain.to_owned(), seq?))
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
        self.check_external(external);
        self.check_links();
        self.report_unsealed();
        self.report
            .problems
            .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        self.report
    }

    /// Checkpoints from the separate file against the logs: a count beyond the
    /// log is a cut tail; a different last fingerprint, a changed log.
    fn check_external(&mut self, external: Vec<(String, usize, Checkpoint)>) {
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
    }

    /// A segment's first event must link to where the previous segment ends.
    fn check_links(&mut self) {
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
    }

    /// Segments without a final checkpoint (warnings).
    fn report_unsealed(&mut self) {
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
    }
}

/// The event's `prev_event` link (uid and fingerprint), if readable.
fn prev_link(event: &Value) -> Option<(String, [u8; 32])> {
    let p = event.get("attestation")?.get("prev_event")?;
    Some((
        p.get("uid")?.as_str()?.to_owned(),
        parse_digest(p.get("fingerprint")?.get("value")?.as_str()?)?,
    ))
}

/// What is wrong with event `seq` arriving after what `seg` holds.
fn sequence_issue(
    seg: &Segment,
    seq: u64,
    prev: Option<&(String, [u8; 32])>,
) -> Option<(ProblemKind, String)> {
    let expected = seg.count;
    if seg.closed {
        return Some((
            ProblemKind::OutOfOrder,
            "event after the segment's final checkpoint (inserted)".into(),
        ));
    }
    if seq > expected {
        let detail = format!(
            "{} event(s) missing before this one (expected sequence {expected}, found {seq}): deleted",
            seq - expected
        );
        return Some((ProblemKind::Deleted, detail));
    }
    if seq < expected {
        let detail = format!(
            "sequence {seq} after {}: inserted or reordered",
            expected.saturating_sub(1)
        );
        return Some((ProblemKind::OutOfOrder, detail));
    }
    let link_ok = match (&seg.last, prev) {
        (Some(last), Some(p)) => last == p,
        (None, _) => true,
        (Some(_), None) => false,
    };
    (!link_ok).then(|| {
        (
            ProblemKind::BrokenLink,
            "does not link to the event before it: that event was modified or replaced".into(),
        )
    })
}
