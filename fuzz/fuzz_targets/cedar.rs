//! Fuzz target: Cedar policy loading (`authz::policies::compile`).
//!
//! libFuzzer entry point; the checks live in `fuzz/checks/cedar.rs`, shared with
//! the CI smoke test `tests/fuzz_smoke.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/cedar.rs"]
mod check;

fuzz_target!(|data: &[u8]| check::check(data));
