//! Fuzz target: sealed session ids (`session::Sealer`, `SessionState`).
//!
//! libFuzzer entry point; the checks live in `fuzz/checks/session.rs`, shared with
//! the CI smoke test `tests/fuzz_smoke.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/session.rs"]
mod check;

fuzz_target!(|data: &[u8]| check::check(data));
