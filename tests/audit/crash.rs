//! Crash tests: a child process (this test binary, re-run as `crash_child`)
//! records events from four threads and prints each acknowledgement; the
//! parent SIGKILLs it mid-load and compares acknowledgements with the disk.
//!
//! - `fsync: always`: an event is acknowledged after fdatasync, so every
//!   acknowledged event must be on disk.
//! - group commit: `record` acknowledges on queueing; a SIGKILL loses what was
//!   still queued or in the writer's hands (data already written to the page
//!   cache survives a process crash). The stated window is counted in events:
//!   at most `queue_capacity` plus one writer batch (1024). The test runs the
//!   producers flat out, far beyond the writer's pace, so the queue is full
//!   when the kill comes: the worst case.

use super::support::*;
use portcullis::audit::Auditor;
use portcullis::audit::verify::{Input, verify};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Queue capacity in the group-commit crash test.
const QUEUE: usize = 2048;
/// Most events the writer holds between queue and file (writer::MAX_BATCH).
const WRITER_BATCH: usize = 1024;

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The child side of the crash tests: writes events until it is killed. In
/// a normal test run (no `AUDIT_CRASH_DIR`) it returns at once.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os("AUDIT_CRASH_DIR") else {
        return;
    };
    let fsync = std::env::var("AUDIT_CRASH_FSYNC").unwrap();
    let cfg = format!("fsync: {fsync}\nqueue_capacity: {QUEUE}\n");
    let auditor = Arc::new(Auditor::start(config(Path::new(&dir), &cfg)).unwrap());
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (a, out) = (auditor.clone(), out.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let id = t * 1_000_000_000 + i;
                    // A full queue refuses (fail closed): no acknowledgement, as
                    // the pipeline would answer 503. Try the next one shortly.
                    let Ok(receipt) = a.record(tool_call(id)) else {
                        std::thread::sleep(std::time::Duration::from_micros(200));
                        continue;
                    };
                    receipt.wait().unwrap();
                    let mut o = out.lock().unwrap();
                    writeln!(o, "ack {id} {}", now_ms()).unwrap();
                    o.flush().unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
}

struct Crash {
    acks: Vec<(u64, u64)>,
    killed_at_ms: u64,
    on_disk: HashSet<u64>,
}

fn crash(fsync: &str, min_acks: usize) -> Crash {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "audit::crash::crash_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("AUDIT_CRASH_DIR", dir.path())
        .env("AUDIT_CRASH_FSYNC", fsync)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let acks = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let acks = acks.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut parts = line.split(' ');
                if parts.next() == Some("ack") {
                    let id: u64 = parts.next().unwrap().parse().unwrap();
                    let ms: u64 = parts.next().unwrap().parse().unwrap();
                    acks.lock().unwrap().push((id, ms));
                }
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while acks.lock().unwrap().len() < min_acks {
        assert!(
            Instant::now() < deadline,
            "child produced too few acknowledgements"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let killed_at_ms = now_ms();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    let mut on_disk = HashSet::new();
    let mut texts = Vec::new();
    for seg in segments(dir.path()) {
        let text = std::fs::read(&seg).unwrap();
        for line in text.split(|b| *b == b'\n') {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(line)
                && let Some(uid) = v["api"]["request"]["uid"].as_str()
            {
                on_disk.insert(uid.parse().unwrap());
            }
        }
        texts.push((seg.display().to_string(), text));
    }
    let inputs: Vec<Input<'_>> = texts
        .iter()
        .map(|(n, t)| Input { name: n, text: t })
        .collect();
    let report = verify(&inputs, None);
    assert!(
        report.is_intact(),
        "a crash leaves only warnings: {:#?}",
        report.problems
    );
    let acks = std::mem::take(&mut *acks.lock().unwrap());
    Crash {
        acks,
        killed_at_ms,
        on_disk,
    }
}

#[test]
fn sigkill_under_fsync_always_loses_no_acknowledged_event() {
    let c = crash("always", 400);
    let missing: Vec<_> = c
        .acks
        .iter()
        .filter(|(id, _)| !c.on_disk.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events missing: {missing:?}",
        missing.len()
    );
    eprintln!(
        "fsync always: {} acknowledged, {} on disk, none missing",
        c.acks.len(),
        c.on_disk.len()
    );
}

#[test]
fn sigkill_under_group_commit_loses_at_most_the_stated_window() {
    let c = crash("5ms", 20_000);
    let lost: Vec<u64> = c
        .acks
        .iter()
        .filter(|(id, _)| !c.on_disk.contains(id))
        .map(|(_, ms)| *ms)
        .collect();
    let span = lost
        .iter()
        .min()
        .map(|oldest| c.killed_at_ms.saturating_sub(*oldest));
    eprintln!(
        "group commit 5ms: {} acknowledged, {} lost (oldest lost acknowledged {span:?} ms before the kill), bound {}",
        c.acks.len(),
        lost.len(),
        QUEUE + WRITER_BATCH
    );
    assert!(
        lost.len() <= QUEUE + WRITER_BATCH,
        "{} lost, more than the queue and one batch",
        lost.len()
    );
}
