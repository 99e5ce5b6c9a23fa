//! Audit trail benchmarks.
//!
//! - `audit/end_to_end`: events recorded and written to the segment file with
//!   the hash chain and group commit (5 ms), through the real writer thread;
//!   throughput in events per second. The target: 100,000 events/s on
//!   one core; run pinned, `taskset -c 0 cargo bench --bench audit`, so the
//!   producer and the writer share one core.
//! - `audit/record`: what the request path pays per event (`Auditor::record`).
//! - `audit/render_and_seal`: the writer's CPU work per event (render to
//!   canonical OCSF JSON, redact, hash chain), without I/O.
//!
//! Times are **CPU time** of the whole process (the sum of its threads' on-CPU
//! nanoseconds from `/proc/self/task/*/schedstat`), not wall time: the machine's
//! two cores are shared, and CPU time is what "events per second on one core"
//! means. Throughput = events / CPU-seconds spent by producer and writer together.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portcullis::audit::chain::Chain;
use portcullis::audit::config::from_yaml;
use portcullis::audit::jsonw::EventWriter;
use portcullis::audit::ocsf::Stamp;
use portcullis::audit::prepare::{ArgumentPolicy, RenderOptions, prepare};
use portcullis::audit::*;
use portcullis::protocol::Target;
use serde_json::json;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Process CPU time, in nanoseconds, summed over threads.
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
        })
        .sum()
}

/// Criterion measurement of process CPU time.
struct CpuTime;
static WALL: WallTime = WallTime;

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        cpu_ns()
    }
    fn end(&self, i: u64) -> u64 {
        cpu_ns().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

fn call(n: u64) -> AuditRecord {
    let mut r = AuditRecord::now(RecordKind::Operation(Operation {
        direction: Direction::ClientToServer,
        method: "tools/call".into(),
        rpc_id: Some(n.to_string()),
        target: Some(Target::Tool("search_issues".into())),
        arguments: Some(
            json!({"repo": "acme/portcullis", "query": "label:bug is:open", "limit": 20}),
        ),
        decision: Decision {
            verdict: Verdict::Allowed,
            policies: vec!["permit-engineers".into()],
            policy_version: Some("9f2c41d7".into()),
            reason: None,
        },
        findings: vec![],
        outcome: Outcome {
            http_status: Some(200),
            rpc_error: None,
            latency: Some(Duration::from_micros(850)),
        },
    }));
    r.actor = Actor {
        subject: Some("alice@example.com".into()),
        client_id: Some("claude-desktop".into()),
        tenant: Some("acme".into()),
        delegation: vec![],
    };
    r.source = Some("10.1.2.3:50123".parse().unwrap());
    r.session = Some("3f0c2a9e-4b7d-4e11-9a55-2a1c7e9d0b61".into());
    r.protocol = Protocol {
        era: Some("legacy"),
        version: Some("2025-06-18"),
    };
    r.upstream = Some("github".into());
    r.trace = Some(TraceContext {
        trace_id: [7; 16],
        span_id: [9; 8],
    });
    r
}

fn end_to_end(c: &mut Criterion<CpuTime>) {
    const N: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "file:\n  directory: {}\nfsync: 5ms\nqueue_capacity: 65536\n",
        dir.path().display()
    );
    let auditor = Auditor::start(from_yaml(&yaml, &dir.path().join("p.yaml")).unwrap()).unwrap();
    let mut g = c.benchmark_group("audit");
    g.throughput(Throughput::Elements(N));
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("end_to_end", |b| {
        b.iter_custom(|iters| {
            let mut total = 0;
            for _ in 0..iters {
                let records: Vec<_> = (0..N).map(call).collect();
                let start = cpu_ns();
                for r in records {
                    let _ = auditor.record(r).unwrap();
                }
                auditor.flush_blocking();
                total += cpu_ns() - start;
            }
            total
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("record", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(10_000);
                let records: Vec<_> = (0..n).map(call).collect();
                let start = Instant::now();
                for r in records {
                    let _ = black_box(auditor.record(r).unwrap());
                }
                // Wall time of the calling thread alone: the request path's cost.
                total += start.elapsed();
                auditor.flush_blocking();
                left -= n;
            }
            u64::try_from(total.as_nanos()).unwrap()
        })
    });
    g.finish();
    auditor.shutdown_blocking();
}

fn writer_parts(c: &mut Criterion<CpuTime>) {
    let options = RenderOptions {
        product_version: "0.1.0",
        gateway_name: "gw-1".into(),
    };
    let policy = ArgumentPolicy::default();
    let record = call(1);
    let mut g = c.benchmark_group("audit");
    g.throughput(Throughput::Elements(1));
    let mut chain = Chain::new("20261128T000000Z-000000-deadbeef".into(), None, None);
    let mut line = Vec::with_capacity(4096);
    g.bench_function("render_and_seal", |b| {
        // schedstat advances at scheduler events, not continuously: measure at
        // least 20,000 iterations per sample and scale back.
        b.iter_custom(|iters| {
            let n = iters.max(20_000);
            let start = cpu_ns();
            for _ in 0..n {
                let p = prepare(black_box(&record), &options, &policy);
                let (uid, seq) = chain.next_stamp();
                let mut ev = EventWriter::new(&record.secrets);
                portcullis::audit::ocsf::render(&mut ev, &p, &Stamp { uid: &uid, seq });
                line.clear();
                chain.seal_fields(ev, &mut line);
                black_box(line.len());
            }
            (cpu_ns() - start) * iters / n
        })
    });
    g.finish();
}

fn cpu() -> Criterion<CpuTime> {
    Criterion::default().with_measurement(CpuTime)
}

criterion_group! {
    name = benches;
    config = cpu();
    targets = end_to_end, writer_parts
}
criterion_main!(benches);
