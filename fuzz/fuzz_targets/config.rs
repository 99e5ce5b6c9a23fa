//! Fuzz target: configuration loading from YAML text (`config::load_str`).
//!
//! libFuzzer entry point; the checks live in `fuzz/checks/config.rs`, shared with
//! the CI smoke test `tests/fuzz_smoke.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/config.rs"]
mod check;

fuzz_target!(|data: &[u8]| check::check(data));
