//! Sealing and opening a session id for a three-upstream federated session:
//! the cost every legacy request pays to stay replica-safe. Target < 5 µs each.
//!
//! Run: `cargo bench --bench session`
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis::session::{Sealer, SessionState, UpstreamSession};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let sealer = Sealer::new(&[
        ("2026-11".into(), vec![9; 32]),
        ("2026-10".into(), vec![8; 32]),
    ])
    .unwrap();
    let state = SessionState {
        created: 1_795_000_000,
        version: "2025-11-25".into(),
        principal: Some("3f2a9c1d0b7e4a55".into()),
        upstreams: ["github", "files", "everything"]
            .iter()
            .map(|n| UpstreamSession {
                upstream: (*n).into(),
                session: Some("9b1deb4d3b7d4bad9bdd2b0d7b3dcb6d".into()),
                version: "2025-11-25".into(),
            })
            .collect(),
    };
    let token = state.seal(&sealer).unwrap();
    let mut group = c.benchmark_group("session");
    group.bench_function("seal (3 upstreams)", |b| {
        b.iter(|| black_box(state.seal(&sealer).unwrap()))
    });
    group.bench_function("open (3 upstreams)", |b| {
        b.iter(|| black_box(SessionState::open(&sealer, black_box(&token)).unwrap()))
    });
    let raw = serde_json::to_vec(&state).unwrap();
    group.bench_function("serialise state only", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&state)).unwrap()))
    });
    group.bench_function("seal bytes only", |b| {
        b.iter(|| {
            black_box(
                sealer
                    .seal(portcullis::session::Purpose::Session, black_box(&raw))
                    .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
