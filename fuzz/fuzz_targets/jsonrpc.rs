//! Fuzz target: JSON-RPC envelope parsing (`protocol::jsonrpc`).
//!
//! libFuzzer entry point; the checks live in `fuzz/checks/jsonrpc.rs`, shared with
//! the CI smoke test `tests/fuzz_smoke.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/jsonrpc.rs"]
mod check;

fuzz_target!(|data: &[u8]| check::check(data));
