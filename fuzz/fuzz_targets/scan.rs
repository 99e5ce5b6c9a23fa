//! Fuzz target: the scanner (normalisation, rules, decoders, model, redaction).
//!
//! libFuzzer entry point; the checks live in `fuzz/checks/scan.rs`, shared with
//! the CI smoke test `tests/fuzz_smoke.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/scan.rs"]
mod check;

fuzz_target!(|data: &[u8]| check::check(data));
