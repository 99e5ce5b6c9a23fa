//! Configuration loading from YAML text (`config::load_str`): parse, then
//! compile into a runtime.
//!
//! The file is anchored in a folder that does not exist, so relative paths
//! named by the text (keys, policies, rule packs) never resolve. Beyond "no
//! panic": every error names the file, and a located error has a 1-based line
//! and column.
//!
//! Shared by the libFuzzer target (`fuzz/fuzz_targets/config.rs`) and the CI
//! smoke test (`tests/fuzz_smoke.rs`), which runs it on the committed seeds
//! and on deterministic mutations of them.

use portcullis::config::{self, ConfigError};
use std::path::Path;

const FILE: &str = "/nonexistent/portcullis-fuzz/portcullis.yaml";

/// Runs every check on one input; panics when an invariant fails.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config::load_str(text, Path::new(FILE)) {
        Ok(_runtime) => {}
        Err(e) => {
            let message = e.to_string();
            let (file, position) = match &e {
                ConfigError::Invalid { file, position, .. } => (file, *position),
                ConfigError::Read { file, .. } => (file, None),
            };
            assert!(
                !file.as_os_str().is_empty(),
                "error without its file: {message}"
            );
            if let Some((line, column)) = position {
                assert!(line >= 1 && column >= 1, "{message}");
            }
        }
    }
}
