//! Delivery guarantees: graceful shutdown loses nothing; a full disk makes a
//! fail-closed trail refuse records and recover when space returns; a fail-open
//! trail counts what it lost and says so in the log.

use super::support::*;
use portcullis::audit::verify::{Input, verify};
use portcullis::audit::{AuditError, Auditor};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A small tmpfs mounted for one test (needs root), unmounted on drop.
pub(super) struct Tmpfs(PathBuf);

impl Tmpfs {
    pub(super) fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }

    /// Fills the file system; returns the filler's path.
    pub(super) fn fill(&self) -> PathBuf {
        let filler = self.0.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn intact_apart_from_warnings(dir: &Path) {
    let mut names = segments(dir);
    names.push(checkpoint_file(dir));
    let texts: Vec<(String, Vec<u8>)> = names
        .iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read(p).unwrap_or_default(),
            )
        })
        .collect();
    let inputs: Vec<Input<'_>> = texts
        .iter()
        .map(|(n, t)| Input { name: n, text: t })
        .collect();
    let report = verify(&inputs, None);
    assert!(report.is_intact(), "{:#?}", report.problems);
}

#[test]
fn graceful_shutdown_writes_every_accepted_event_and_a_final_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let auditor = Arc::new(Auditor::start(config(dir.path(), "fsync: 50ms\n")).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let a = auditor.clone();
            std::thread::spawn(move || {
                for i in 0..2000 {
                    let _ = a.record(tool_call(t * 100_000 + i)).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    auditor.shutdown_blocking();
    let stats = auditor.stats();
    assert_eq!(
        (stats.accepted, stats.written, stats.lost),
        (8_000, 8_000, 0)
    );
    assert_eq!(events(dir.path()).len(), 8_000);
    let seg = std::fs::read_to_string(&segments(dir.path())[0]).unwrap();
    let last = seg.lines().last().unwrap();
    assert!(last.contains("\"final\":true"), "{last}");
    assert!(matches!(
        auditor.record(tool_call(1)),
        Err(AuditError::Closed)
    ));
    let text = seg.into_bytes();
    let report = verify(
        &[Input {
            name: "seg",
            text: &text,
        }],
        None,
    );
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn a_full_disk_makes_a_fail_closed_trail_refuse_records_and_recover_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("log"), "512k") else {
        require(false, "mounting a tmpfs (needs root)");
        return;
    };
    let auditor = Auditor::start(config(dir.path(), "")).unwrap();
    for i in 0..5 {
        let _ = auditor.record(tool_call(i)).unwrap();
    }
    auditor.flush_blocking();
    let filler = fs.fill();
    // Records are accepted until the writer meets the full disk, then refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut i = 100;
    let refusal = loop {
        assert!(Instant::now() < deadline, "never refused");
        i += 1;
        match auditor.record(tool_call(i)) {
            Ok(_) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => break e,
        }
    };
    assert!(matches!(refusal, AuditError::Unavailable(_)), "{refusal:?}");
    assert!(!auditor.is_healthy());
    let accepted_while_full = auditor.stats().accepted;
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        auditor.record(tool_call(9999)).is_err(),
        "still full: still refused"
    );
    std::fs::remove_file(filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while auditor.record(tool_call(500)).is_err() {
        assert!(Instant::now() < deadline, "did not recover");
        std::thread::sleep(Duration::from_millis(20));
    }
    auditor.shutdown_blocking();
    let stats = auditor.stats();
    assert!(stats.write_errors > 0 && stats.refused > 0, "{stats:?}");
    assert_eq!(
        stats.lost, 0,
        "fail closed loses nothing it accepted: {stats:?}"
    );
    assert_eq!(stats.written, stats.accepted, "{stats:?}");
    assert_eq!(events(dir.path()).len() as u64, accepted_while_full + 1);
    intact_apart_from_warnings(dir.path());
}

#[test]
fn under_fsync_always_a_full_disk_fails_the_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("log"), "256k") else {
        require(false, "mounting a tmpfs (needs root)");
        return;
    };
    let auditor = Auditor::start(config(dir.path(), "fsync: always\n")).unwrap();
    auditor.record(tool_call(1)).unwrap().wait().unwrap();
    let filler = fs.fill();
    let outcome = auditor.record(tool_call(2)).unwrap().wait();
    assert!(
        matches!(outcome, Err(AuditError::Unavailable(_))),
        "{outcome:?}"
    );
    std::fs::remove_file(filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while auditor.record(tool_call(3)).and_then(|r| r.wait()).is_err() {
        assert!(Instant::now() < deadline, "did not recover");
        std::thread::sleep(Duration::from_millis(50));
    }
    auditor.shutdown_blocking();
    let uids: Vec<String> = events(dir.path())
        .iter()
        .map(|e| e["api"]["request"]["uid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(uids, ["1", "3"], "the refused event is not in the log");
    intact_apart_from_warnings(dir.path());
}

#[test]
fn a_fail_open_trail_counts_lost_events_and_writes_the_loss_into_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("log"), "512k") else {
        require(false, "mounting a tmpfs (needs root)");
        return;
    };
    let auditor = Auditor::start(config(dir.path(), "on_failure: fail_open\n")).unwrap();
    let _ = auditor.record(tool_call(0)).unwrap();
    auditor.flush_blocking();
    let filler = fs.fill();
    for i in 1..=50 {
        let _ = auditor
            .record(tool_call(i))
            .expect("fail open never refuses");
        std::thread::sleep(Duration::from_millis(1));
    }
    auditor.flush_blocking();
    let lost = auditor.stats().lost;
    assert!(lost > 0, "{:?}", auditor.stats());
    std::fs::remove_file(filler).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let _ = auditor.record(tool_call(51)).unwrap();
    auditor.shutdown_blocking();
    let events = events(dir.path());
    let reported: u64 = events
        .iter()
        .filter(|e| e["api"]["operation"] == "portcullis/audit_events_lost")
        .map(|e| e["unmapped"]["portcullis"]["events_lost"].as_u64().unwrap())
        .sum();
    assert_eq!(reported, auditor.stats().lost);
    assert_eq!(
        events.len() as u64 - 1 + lost,
        52,
        "every event is either written or counted"
    );
    intact_apart_from_warnings(dir.path());
}

/// `chattr +i` on the log folder: even root cannot create the next segment
/// (EPERM), which is what a permission change does to a running gateway.
fn set_immutable(dir: &Path, on: bool) -> bool {
    Command::new("chattr")
        .arg(if on { "+i" } else { "-i" })
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_folder_that_refuses_new_segments_makes_a_fail_closed_trail_refuse_and_recover() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let yaml = "fsync: always\nfile:\n  directory: DIR\n  rotate_size: 4KiB\n";
    let cfg = portcullis::audit::config::from_yaml(
        &yaml.replace("DIR", &log.display().to_string()),
        &dir.path().join("p.yaml"),
    )
    .unwrap();
    let auditor = Auditor::start(cfg).unwrap();
    if !require(
        set_immutable(&log, true),
        "chattr on an ext4 folder (needs root)",
    ) {
        return;
    }
    // Two events fill the 4 KiB segment; rotation cannot create the next one.
    let mut refused = None;
    for i in 0..20 {
        match auditor.record(tool_call(i)).and_then(|r| r.wait()) {
            Ok(()) => {}
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let refused = refused.expect("records were never refused");
    assert!(matches!(refused, AuditError::Unavailable(_)), "{refused:?}");
    assert!(!auditor.is_healthy());
    assert!(set_immutable(&log, false));
    let deadline = Instant::now() + Duration::from_secs(5);
    while auditor
        .record(tool_call(100))
        .and_then(|r| r.wait())
        .is_err()
    {
        assert!(Instant::now() < deadline, "did not recover");
        std::thread::sleep(Duration::from_millis(50));
    }
    auditor.shutdown_blocking();
    assert!(segments(dir.path()).len() >= 2);
    intact_apart_from_warnings(dir.path());
}

#[test]
fn a_log_folder_that_cannot_be_created_fails_start_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("log"), b"a file, not a folder").unwrap();
    let err = Auditor::start(config(dir.path(), "")).unwrap_err();
    assert!(matches!(err, AuditError::Start(_)), "{err:?}");
}
