//! Authorization: least privilege with Cedar policies.
//!
//! - [`policies`]: loading `*.cedar` files against `*.cedarschema`, errors at
//!   file:line:column, the policy set version (a content hash).
//! - [`entities`], [`arguments`]: the MCP entity model and the arguments
//!   record policies read.
//! - [`engine`]: the decision (pure): default deny, forbid overrides permit,
//!   `@approval` permits need a human.
//! - [`filter`]: list answers show only what the caller could use.
//! - [`context`]: the context record, only the attributes policies read
//!   ([`reads`]); [`stores`]: entity stores, remembered ([`memo`]).
//! - [`validate`], [`book`]: input validation against tools' declared schemas.
//! - [`flows`]: session labels for flow rules.
//! - [`approvals`], [`admin`]: approvals bound to the exact call, kept in
//!   memory or shared through Redis ([`shared_approvals`]), behind one
//!   [`approval_store::Store`].
//! - [`gate`]: stage 6's use of all of the above; [`reply`]: how refusals read.
//!
//! Invariant: the compiled [`Engine`] is immutable and lives in the
//! configuration snapshot, so a reload swaps the whole policy set at once and
//! a request is decided by one set; [`State`] (learnt tools, flow labels,
//! approvals) lives across reloads.

pub mod admin;
pub mod approval_store;
pub mod approvals;
pub mod arguments;
pub mod book;
pub mod config;
pub mod context;
pub mod engine;
pub mod entities;
pub mod filter;
pub mod flows;
pub mod gate;
pub mod memo;
pub mod policies;
pub mod reads;
pub mod reply;
pub mod shared_approvals;
pub mod shared_flows;
pub mod stores;
pub mod testing;
pub mod validate;

pub use engine::{Decision, Effect, Engine, FindingFact, Query};
pub use gate::DecisionRecord;

use crate::config::ConfigError;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// State kept across requests and reloads.
#[derive(Debug, Default)]
pub struct State {
    /// Tools learnt from list answers.
    pub book: book::ToolBook,
    /// Flow labels per session.
    pub flows: flows::Flows,
    /// Approvals.
    pub approvals: approvals::Approvals,
}

/// Compiles `authorization:`: settings and policy files. The policy files are
/// added to `watched`, so editing one reloads (and a broken one keeps the
/// running set).
pub fn compile(
    raw: &config::RawAuthorization,
    file: &Path,
    base: &Path,
    watched: &mut Vec<PathBuf>,
) -> Result<Arc<Engine>, ConfigError> {
    let settings = config::compile(raw, file)?;
    let paths: Vec<PathBuf> = match &raw.policies {
        config::RawPaths::One(p) => vec![base.join(p)],
        config::RawPaths::Many(ps) => ps.iter().map(|p| base.join(p)).collect(),
    };
    let schema = raw.schema.as_ref().map(|s| base.join(s));
    let loaded = policies::load(&paths, schema.as_deref()).map_err(|e| policy_error(file, e))?;
    watched.extend(loaded.files.iter().cloned());
    let engine =
        Engine::new(loaded, settings).map_err(|e| ConfigError::at(file, "authorization", e))?;
    Ok(Arc::new(engine))
}

/// A policy error as a configuration error: its own file and position.
fn policy_error(config: &Path, e: policies::PolicyError) -> ConfigError {
    match e {
        policies::PolicyError::At {
            file,
            position,
            message,
        } => ConfigError::Invalid {
            file,
            path: String::new(),
            message,
            position,
        },
        other => ConfigError::at(config, "authorization.policies", other.to_string()),
    }
}
