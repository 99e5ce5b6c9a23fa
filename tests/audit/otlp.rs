//! An OTLP/HTTP receiver in the test decodes what the OTLP sink sends with the
//! official protobuf classes (PyPI opentelemetry-proto).

use super::support::*;
use portcullis::audit::Auditor;
use std::collections::BTreeSet;

#[test]
fn an_otlp_receiver_decodes_every_event_with_the_official_protobuf_classes() {
    let Some(py) = python() else {
        require(false, "python3 with opentelemetry-proto");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(vec![]);
    let auditor = Auditor::start(config(
        dir.path(),
        &format!("fsync: none\n{}", collector.yaml()),
    ))
    .unwrap();
    let n = every_kind().len();
    for r in every_kind() {
        let _ = auditor.record(r).unwrap();
    }
    auditor.shutdown_blocking();
    assert_eq!(
        auditor.stats().remote_sent,
        (n + 1) as u64,
        "{:?}",
        auditor.stats()
    );
    for (path, ctype, _) in collector.requests.lock().unwrap().iter() {
        assert_eq!(
            (path.as_str(), ctype.as_str()),
            ("/v1/logs", "application/x-protobuf")
        );
    }
    let records = collector.decode(&py);
    assert_eq!(records.len(), n + 1);
    let written: BTreeSet<String> = events(dir.path())
        .iter()
        .map(|e| e["attestation"]["uid"].as_str().unwrap().to_owned())
        .collect();
    let mut got = BTreeSet::new();
    for r in &records {
        assert_eq!(r["resource"]["service.name"], "portcullis");
        assert_eq!(r["resource"]["service.instance.id"], "gw-test");
        assert_eq!(r["scope"], "portcullis.audit");
        assert_eq!(r["attributes"]["portcullis.audit"], "true");
        let body: serde_json::Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        if let Some(uid) = body["attestation"]["uid"].as_str() {
            got.insert(uid.to_owned());
        }
    }
    assert_eq!(got, written);
    let call = &records[0];
    assert_eq!(call["trace_id"], "4b".repeat(16));
    assert_eq!(call["span_id"], "1c".repeat(8));
    assert_eq!(call["severity_number"], 9);
    assert_eq!(call["time_unix_nano"], 1_790_000_000_123_000_000u64);
    assert_eq!(call["attributes"]["event.name"], "API Activity: Invoke");
    let high = records
        .iter()
        .find(|r| r["severity_text"] == "ERROR")
        .unwrap();
    assert_eq!(high["severity_number"], 17);
}

#[test]
fn the_otlp_sink_retries_with_backoff_until_the_collector_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(vec![503, 429, 200]);
    let auditor = Auditor::start(config(
        dir.path(),
        &format!("fsync: none\n{}", collector.yaml()),
    ))
    .unwrap();
    let _ = auditor.record(tool_call(1)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while auditor.stats().remote_sent < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            auditor.stats()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    auditor.shutdown_blocking();
    let requests = collector.requests.lock().unwrap();
    assert!(requests.len() >= 3, "two refusals, then delivery");
    assert_eq!(requests[0].2, requests[2].2, "the same batch is sent again");
    assert_eq!(auditor.stats().remote_dropped, 0);
}

#[test]
fn a_collector_that_is_down_never_blocks_recording() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // The sink holds at most its queue (10) and one batch (1): the rest drops.
    let yaml = format!(
        "fsync: none\notlp:\n  endpoint: http://127.0.0.1:{port}/v1/logs\n  queue_capacity: 10\n  batch: 1\n"
    );
    let auditor = Auditor::start(config(dir.path(), &yaml)).unwrap();
    let started = std::time::Instant::now();
    for i in 0..200 {
        let _ = auditor.record(tool_call(i)).unwrap();
    }
    auditor.flush_blocking();
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    let stats = auditor.stats();
    assert_eq!(stats.written, 200);
    assert!(stats.remote_dropped >= 189, "{stats:?}");
    auditor.shutdown_blocking();
}
