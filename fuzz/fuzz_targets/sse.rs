//! Fuzz target: SSE decoding (`protocol::sse::Decoder`) in arbitrary chunks.
//!
//! libFuzzer entry point; the checks live in `fuzz/checks/sse.rs`, shared with
//! the CI smoke test `tests/fuzz_smoke.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/sse.rs"]
mod check;

fuzz_target!(|data: &[u8]| check::check(data));
