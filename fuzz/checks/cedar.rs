//! Cedar policy loading (`authz::policies::compile`): parse, identify and
//! validate policy files against a schema.
//!
//! Input: if the first byte is `!`, the rest is a schema checked with the
//! shipped demo policy; otherwise the input is a policy file checked against
//! the shipped `policies/mcp.cedarschema`. Beyond "no panic": a loaded set has
//! one fact per policy with a line inside the file, its version is a SHA-256
//! and does not change when the same texts are loaded again, and every error
//! names a file and a 1-based position inside the text.
//!
//! Shared by the libFuzzer target (`fuzz/fuzz_targets/cedar.rs`) and the CI
//! smoke test (`tests/fuzz_smoke.rs`), which runs it on the committed seeds
//! and on deterministic mutations of them.

use portcullis::authz::policies::{self, PolicyError};
use std::path::PathBuf;

const SCHEMA: &str = include_str!("../../policies/mcp.cedarschema");
const DEMO: &str = include_str!("../../policies/demo/demo.cedar");

/// Runs every check on one input; panics when an invariant fails.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (schema, policy) = match text.strip_prefix('!') {
        Some(schema) => (schema, DEMO),
        None => (SCHEMA, text),
    };
    let schema = (PathBuf::from("mcp.cedarschema"), schema.to_owned());
    let files = [(PathBuf::from("fuzz.cedar"), policy.to_owned())];
    match policies::compile(&schema, &files) {
        Ok(loaded) => {
            assert_eq!(loaded.info.len(), loaded.set.policies().count());
            let lines = policy.split('\n').count();
            for (id, info) in &loaded.info {
                assert!(
                    loaded.set.policy(id).is_some(),
                    "fact without a policy: {id}"
                );
                assert!(
                    info.line >= 1 && info.line <= lines,
                    "{id} at line {}",
                    info.line
                );
            }
            assert!(loaded.version.starts_with("sha256:") && loaded.version.len() == 7 + 64);
            let again = policies::compile(&schema, &files).expect("the same texts load again");
            assert_eq!(again.version, loaded.version);
        }
        Err(PolicyError::At {
            file,
            position,
            message,
        }) => {
            assert!(!file.as_os_str().is_empty());
            assert!(!message.is_empty());
            if let Some((line, column)) = position {
                let source = if file == schema.0 {
                    &schema.1
                } else {
                    &files[0].1
                };
                let lines = source.split('\n').count();
                assert!(
                    line >= 1 && line <= lines,
                    "line {line} of {lines}: {message}"
                );
                assert!(column >= 1, "{message}");
            }
        }
        Err(PolicyError::Read { .. }) => panic!("compile reads no file"),
    }
}
