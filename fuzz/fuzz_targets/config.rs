//! Configuration loading from YAML text (`config::load_str`): parse, then
//! compile into a runtime.
//!
//! The file is anchored in a folder that does not exist, so relative paths
//! named by the text (keys, policies, rule packs) never resolve. Beyond "no
//! panic": every error names the file, and a located error has a 1-based line
//! and column.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::config::{self, ConfigError};
use std::path::Path;

const FILE: &str = "/nonexistent/portcullis-fuzz/portcullis.yaml";

fuzz_target!(|data: &[u8]| {
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
});
