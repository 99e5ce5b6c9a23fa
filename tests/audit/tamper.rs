//! `audit verify` on logs the writer produced: intact logs pass; each kind of
//! tampering is found and located (file, line, event uid).

use super::support::*;
use portcullis::audit::checkpoint::public_key_from_pem;
use portcullis::audit::verify::{Input, ProblemKind, Report, verify};
use std::path::{Path, PathBuf};

struct Log {
    _dir: tempfile::TempDir,
    segment: PathBuf,
    checkpoints: PathBuf,
}

/// 45 events, a signed checkpoint every 10, closed by a final checkpoint.
/// (`fsync: always` makes each event its own batch, so checkpoints fall on
/// exact multiples of 10.)
fn produce() -> Log {
    let dir = tempfile::tempdir().unwrap();
    let records = (0..45).map(tool_call).collect();
    write_all(config(dir.path(), &signed("fsync: always\n")), records);
    let segs = segments(dir.path());
    assert_eq!(segs.len(), 1);
    Log {
        segment: segs[0].clone(),
        checkpoints: checkpoint_file(dir.path()),
        _dir: dir,
    }
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn put(p: &Path, lines: &[String]) {
    std::fs::write(p, lines.join("\n") + "\n").unwrap();
}

fn check(log: &Log) -> Report {
    let key = public_key_from_pem(
        &std::fs::read_to_string(fixtures().join("keys/checkpoint.pub.pem")).unwrap(),
    )
    .unwrap();
    let seg = std::fs::read(&log.segment).unwrap();
    let cps = std::fs::read(&log.checkpoints).unwrap();
    let inputs = [
        Input {
            name: "segment",
            text: &seg,
        },
        Input {
            name: "checkpoints",
            text: &cps,
        },
    ];
    verify(&inputs, Some(&key))
}

fn kinds(r: &Report) -> Vec<(ProblemKind, usize, String)> {
    r.problems
        .iter()
        .map(|p| (p.kind, p.line, p.file.clone()))
        .collect()
}

/// Line number (1-based) of event `n` in the segment.
fn line_of(log: &Log, n: u64) -> usize {
    let suffix = format!(":{n}\"");
    lines(&log.segment)
        .iter()
        .position(|l| {
            !l.starts_with("{\"portcullis_checkpoint\"")
                && l.contains("\"uid\":\"")
                && l.contains(&suffix)
                && l.contains(&format!("\"sequence\":{n},"))
        })
        .unwrap()
        + 1
}

#[test]
fn an_untouched_log_verifies_intact_with_every_signature() {
    let log = produce();
    let r = check(&log);
    assert!(r.is_intact(), "{:?}", r.problems);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.events, 45);
    // 4 periodic + 1 final, each in the log and in the checkpoint file.
    assert_eq!(r.checkpoints, 10);
    assert_eq!(r.signatures_verified, 10);
}

#[test]
fn a_modified_event_is_found_at_its_line_with_its_uid() {
    let log = produce();
    let mut l = lines(&log.segment);
    let at = line_of(&log, 12);
    l[at - 1] = l[at - 1].replace("alice@example.com", "mallory@example.com");
    put(&log.segment, &l);
    let r = check(&log);
    assert_eq!(
        kinds(&r),
        vec![(ProblemKind::Modified, at, "segment".into())]
    );
    assert!(r.problems[0].uid.as_deref().unwrap().ends_with(":12"));
}

#[test]
fn a_modified_event_with_a_recomputed_fingerprint_breaks_the_next_link() {
    let log = produce();
    let mut l = lines(&log.segment);
    let at = line_of(&log, 12);
    let mut event: serde_json::Value = serde_json::from_str(&l[at - 1]).unwrap();
    event["api"]["operation"] = "tools/list".into();
    let (digest, _) = portcullis::audit::chain::recompute(&event);
    event["attestation"]["fingerprint"]["value"] = hex::encode(digest).into();
    l[at - 1] = String::from_utf8(portcullis::audit::canonical::to_vec(&event)).unwrap();
    put(&log.segment, &l);
    let r = check(&log);
    let found = kinds(&r);
    assert_eq!(
        found,
        vec![(ProblemKind::BrokenLink, line_of(&log, 13), "segment".into())]
    );
}

#[test]
fn a_deleted_event_is_found() {
    let log = produce();
    let mut l = lines(&log.segment);
    let at = line_of(&log, 5);
    l.remove(at - 1);
    put(&log.segment, &l);
    let r = check(&log);
    let p = &r.problems[0];
    assert_eq!((p.kind, p.line), (ProblemKind::Deleted, at));
    assert!(p.uid.as_deref().unwrap().ends_with(":6"), "{p}");
    assert!(p.detail.contains("1 event(s) missing"), "{p}");
    assert!(!r.is_intact());
}

#[test]
fn an_inserted_event_is_found() {
    let log = produce();
    let mut l = lines(&log.segment);
    let copy = l[line_of(&log, 3) - 1].clone();
    let at = line_of(&log, 20);
    l.insert(at, copy);
    put(&log.segment, &l);
    let r = check(&log);
    let p = r
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::OutOfOrder)
        .unwrap();
    assert_eq!(p.line, at + 1);
    assert!(p.uid.as_deref().unwrap().ends_with(":3"));
}

#[test]
fn reordered_events_are_found() {
    let log = produce();
    let mut l = lines(&log.segment);
    let (a, b) = (line_of(&log, 31), line_of(&log, 32));
    l.swap(a - 1, b - 1);
    put(&log.segment, &l);
    let r = check(&log);
    let found = kinds(&r);
    assert!(
        found.contains(&(ProblemKind::Deleted, a, "segment".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&(ProblemKind::OutOfOrder, b, "segment".into())),
        "{found:?}"
    );
}

#[test]
fn a_truncated_tail_is_found_by_the_separate_checkpoint_file() {
    let log = produce();
    let l = lines(&log.segment);
    let keep = line_of(&log, 39);
    put(&log.segment, &l[..keep]);
    let r = check(&log);
    let t = r
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::Truncated)
        .unwrap();
    assert_eq!(t.file, "checkpoints");
    assert!(
        t.detail.contains("had 45 event(s)") && t.detail.contains("has 40"),
        "{t}"
    );
    assert!(r.problems.iter().any(|p| p.kind == ProblemKind::Unsealed));
    assert!(!r.is_intact());
}

#[test]
fn a_forged_checkpoint_signature_is_found() {
    let log = produce();
    let mut l = lines(&log.checkpoints);
    l[1] = l[1].replace("\"count\":20", "\"count\":19");
    put(&log.checkpoints, &l);
    let r = check(&log);
    let p = r
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::BadSignature)
        .unwrap();
    assert_eq!((p.file.as_str(), p.line), ("checkpoints", 2));
    assert!(p.detail.contains("signature is invalid"), "{p}");
}

#[test]
fn checkpoints_signed_by_another_key_are_refused() {
    let log = produce();
    let mut files = vec![log.segment.clone(), log.checkpoints.clone()];
    let (code, out) = cli_verify(&files, Some(&fixtures().join("keys/other.pub.pem")));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("signed by key"), "{out}");
    files.truncate(1);
    let (code, out) = cli_verify(&files, Some(&fixtures().join("keys/checkpoint.pub.pem")));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("intact: 45 event(s), 5 checkpoint(s), 5 signature(s) verified"),
        "{out}"
    );
}

#[test]
fn the_cli_names_file_line_and_uid_of_a_modified_event() {
    let log = produce();
    let mut l = lines(&log.segment);
    let at = line_of(&log, 7);
    l[at - 1] = l[at - 1].replace("\"status_id\":1", "\"status_id\":2");
    put(&log.segment, &l);
    let (code, out) = cli_verify(&[log.segment.clone(), log.checkpoints.clone()], None);
    assert_eq!(code, 1, "{out}");
    let expected = format!("{}:{at}: error: event ", log.segment.display());
    assert!(
        out.contains(&expected) && out.contains(":7: content does not match"),
        "{out}"
    );
    assert!(
        out.contains("TAMPERED") && out.contains("signatures not checked"),
        "{out}"
    );
}

#[test]
fn rotated_segments_link_and_a_missing_tail_between_them_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "file:\n  directory: {}\n  rotate_size: 8KiB\ngateway_name: gw\nfsync: always\ncheckpoint:\n  signing_key: {}\n",
        dir.path().join("log").display(),
        fixtures().join("keys/checkpoint.pem").display()
    );
    let cfg = portcullis::audit::config::from_yaml(&yaml, &dir.path().join("p.yaml")).unwrap();
    write_all(cfg, (0..60).map(tool_call).collect());
    let segs = segments(dir.path());
    assert!(segs.len() >= 3, "{segs:?}");
    let key = fixtures().join("keys/checkpoint.pub.pem");
    let (code, out) = cli_verify(&segs, Some(&key));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("intact: 60 event(s)"), "{out}");
    // Cut the last event and the final checkpoint of a segment that another
    // segment continues: that segment's first event no longer links to its end.
    let continued: Vec<String> = segs
        .iter()
        .filter_map(|s| {
            let first: serde_json::Value = serde_json::from_str(&lines(s)[0]).ok()?;
            let prev = first["attestation"]["prev_event"]["uid"].as_str()?;
            Some(prev.rsplit_once(':')?.0.to_owned())
        })
        .collect();
    let cut = segs
        .iter()
        .find(|s| {
            continued
                .iter()
                .any(|c| s.to_string_lossy().contains(c.as_str()))
        })
        .unwrap();
    let l = lines(cut);
    put(cut, &l[..l.len() - 2]);
    let (code, out) = cli_verify(&segs, Some(&key));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("ends elsewhere"), "{out}");
}
