//! Preparation before rendering: which arguments are kept, their digest, and
//! redaction of configured paths. Shared by the OCSF and ECS renderers.
//!
//! Invariant: the digest is computed over the arguments as the client sent them
//! (so it matches the digest an approval is bound to); the arguments kept for the
//! sink are always the redacted copy.

use super::canonical;
use super::record::{AuditRecord, RecordKind};
use super::redact::{self, ArgPath};
use crate::protocol::Target;
use serde_json::Value;
use std::collections::HashMap;

/// Fixed facts every rendered event carries.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// The gateway's version (`metadata.product.version`).
    pub product_version: &'static str,
    /// This gateway instance's name (host name or configured), used where the
    /// gateway itself is the actor or the endpoint.
    pub gateway_name: String,
}

/// Whether a call's arguments go to the sinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgumentMode {
    /// Only their SHA-256 digest (the default: arguments may hold personal data).
    Digest,
    /// The arguments, with configured paths and credentials redacted, and the digest.
    Redacted,
}

/// The compiled argument policy: a default, per-tool overrides, paths to redact.
#[derive(Debug, Clone)]
pub struct ArgumentPolicy {
    /// For tools not listed.
    pub default: ArgumentMode,
    /// Per tool name: its mode and extra paths to redact.
    pub tools: HashMap<String, (ArgumentMode, Vec<ArgPath>)>,
    /// Paths redacted for every tool.
    pub redact: Vec<ArgPath>,
}

impl Default for ArgumentPolicy {
    fn default() -> Self {
        ArgumentPolicy {
            default: ArgumentMode::Digest,
            tools: HashMap::new(),
            redact: Vec::new(),
        }
    }
}

/// A record ready to render.
#[derive(Debug)]
pub struct Prepared<'a> {
    /// The record.
    pub record: &'a AuditRecord,
    /// Fixed facts.
    pub options: &'a RenderOptions,
    /// The arguments to render (redacted), if the policy keeps them.
    pub arguments: Option<Value>,
    /// Hex SHA-256 of the canonical arguments, if there were arguments.
    pub arguments_digest: Option<String>,
}

/// Applies the argument policy to a record.
pub fn prepare<'a>(
    record: &'a AuditRecord,
    options: &'a RenderOptions,
    policy: &ArgumentPolicy,
) -> Prepared<'a> {
    let (arguments, arguments_digest) = match &record.kind {
        RecordKind::Operation(op) => match &op.arguments {
            Some(args) => {
                let digest = canonical::digest(args);
                let tool = match &op.target {
                    Some(Target::Tool(name)) | Some(Target::Prompt(name)) => Some(name.as_str()),
                    _ => None,
                };
                let (mode, extra) = tool
                    .and_then(|t| policy.tools.get(t))
                    .map(|(m, paths)| (*m, paths.as_slice()))
                    .unwrap_or((policy.default, &[]));
                let kept = (mode == ArgumentMode::Redacted).then(|| {
                    let mut copy = args.clone();
                    redact::redact_arguments(&mut copy, &policy.redact);
                    redact::redact_arguments(&mut copy, extra);
                    copy
                });
                (kept, Some(digest))
            }
            None => (None, None),
        },
        _ => (None, None),
    };
    Prepared {
        record,
        options,
        arguments,
        arguments_digest,
    }
}
