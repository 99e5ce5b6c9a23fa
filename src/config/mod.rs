//! Configuration: the YAML file as written (`raw`), compiled once into a
//! [`Runtime`] where every address, pattern, bound and TLS key is already built
//! (`compile`), loaded with errors that name the file, the path inside it and what
//! was expected (`load`), and watched for changes (`reload`).
//!
//! Invariant: once [`load()`] returns a runtime, nothing can fail later because of
//! configuration. A reload that fails leaves the running runtime in place.

pub mod authn;
pub mod compile;
pub mod hosts;
pub mod load;
pub mod raw;
pub mod reload;
pub mod schema;
pub mod stdio;
pub mod tls;
pub mod units;
pub mod upstreams;

pub use compile::{LegacySse, Limits, Listen, Runtime};
pub use load::{load, load_str};
pub use upstreams::{Federation, HttpSettings, Transport, UpstreamSpec};

use std::fmt;

/// The name of the single upstream configured with `upstream:`.
pub const DEFAULT_UPSTREAM: &str = "default";
use std::path::PathBuf;

/// A configuration problem, located as precisely as the parser allows.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file was read but a value is wrong.
    #[error("{}", Located(self))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// The dotted path inside it, e.g. `upstream.url`.
        path: String,
        /// What is wrong and what was expected.
        message: String,
        /// 1-based line and column, when the parser knows them.
        position: Option<(usize, usize)>,
    },
}

struct Located<'a>(&'a ConfigError);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let ConfigError::Invalid {
            file,
            path,
            message,
            position,
        } = self.0
        {
            write!(f, "{}", file.display())?;
            if let Some((line, column)) = position {
                write!(f, ":{line}:{column}")?;
            }
            if path.is_empty() || path == "." {
                write!(f, ": {message}")
            } else {
                write!(f, ": {path}: {message}")
            }
        } else {
            Ok(())
        }
    }
}

impl ConfigError {
    pub(crate) fn at(
        file: &std::path::Path,
        path: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            file: file.to_path_buf(),
            path: path.to_owned(),
            message: message.into(),
            position: None,
        }
    }
}
