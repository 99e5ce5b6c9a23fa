//! Fuzz target: JWT validation (`authn::Authenticator::validate`, `token::read`).
//!
//! libFuzzer entry point; the checks live in `fuzz/checks/jwt.rs`, shared with
//! the CI smoke test `tests/fuzz_smoke.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/jwt.rs"]
mod check;

fuzz_target!(|data: &[u8]| check::check(data));
