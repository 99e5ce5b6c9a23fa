//! Building a [`Scanner`]: from a folder of packs and a weights file, from a
//! compiled `scan:` section, or from the packs and weights compiled into the
//! binary.

use super::Scanner;
use crate::scan::ScanError;
use crate::scan::config::ScanSettings;
use crate::scan::model::features::extra_hash;
use crate::scan::model::{Model, weights};
use crate::scan::rules::RuleSet;
use std::path::{Path, PathBuf};

/// The packs compiled into the binary, by file name.
pub const EMBEDDED_PACKS: &[(&str, &str)] = &[
    (
        "lexicon.yaml",
        include_str!("../../../policies/scan/lexicon.yaml"),
    ),
    (
        "injection.yaml",
        include_str!("../../../policies/scan/injection.yaml"),
    ),
    (
        "exfiltration.yaml",
        include_str!("../../../policies/scan/exfiltration.yaml"),
    ),
    (
        "code.yaml",
        include_str!("../../../policies/scan/code.yaml"),
    ),
    (
        "secrets.yaml",
        include_str!("../../../policies/scan/secrets.yaml"),
    ),
];
/// The weights compiled into the binary.
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../../../policies/scan/model-v1.bin");
/// The file name of the shipped weights.
pub const MODEL_FILE: &str = "model-v1.bin";

impl Scanner {
    /// Compiles every `*.yaml` pack in `rules_dir` (sorted by name) and the
    /// weights at `model` (none: rules only). Fails on an unreadable or invalid
    /// pack or weights file, naming the file, rule and field.
    pub fn load(
        rules_dir: &Path,
        model: Option<&Path>,
        config: &ScanSettings,
    ) -> Result<Scanner, ScanError> {
        let read_err = |file: &Path, source| ScanError::Read {
            file: file.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(rules_dir)
            .map_err(|e| read_err(rules_dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        let mut packs = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| read_err(&f, e))?;
            packs.push((f, text));
        }
        let model = match model {
            None => None,
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|e| read_err(path, e))?;
                Some(
                    weights::from_bytes(&bytes).map_err(|message| ScanError::Model {
                        file: path.to_path_buf(),
                        message,
                    })?,
                )
            }
        };
        Scanner::from_parts(&packs, model, config.clone())
    }

    /// Builds the scanner a compiled `scan:` section asks for: built-in or
    /// folder packs, built-in, file or no weights, and its settings.
    pub fn from_policy(policy: &crate::scan::ScanPolicy) -> Result<Scanner, ScanError> {
        let settings = policy.settings.clone();
        let model =
            match &policy.model {
                None => Some(weights::from_bytes(EMBEDDED_MODEL).map_err(|message| {
                    ScanError::Model {
                        file: PathBuf::from(format!("policies/scan/{MODEL_FILE}")),
                        message,
                    }
                })?),
                Some(None) => None,
                Some(Some(path)) => {
                    let bytes = std::fs::read(path).map_err(|source| ScanError::Read {
                        file: path.clone(),
                        source,
                    })?;
                    Some(
                        weights::from_bytes(&bytes).map_err(|message| ScanError::Model {
                            file: path.clone(),
                            message,
                        })?,
                    )
                }
            };
        match &policy.rules_dir {
            None => {
                let packs: Vec<(PathBuf, String)> = EMBEDDED_PACKS
                    .iter()
                    .map(|(n, t)| (PathBuf::from(format!("policies/scan/{n}")), (*t).to_owned()))
                    .collect();
                Scanner::from_parts(&packs, model, settings)
            }
            Some(dir) => {
                let mut s = Scanner::load(dir, None, &settings)?;
                s.model = model;
                Ok(s)
            }
        }
    }

    /// Compiles packs given as (file, text) and an optional model.
    pub fn from_parts(
        packs: &[(PathBuf, String)],
        model: Option<Model>,
        settings: ScanSettings,
    ) -> Result<Scanner, ScanError> {
        let rules = RuleSet::compile(packs)?;
        let rule_hashes = rules
            .rules
            .iter()
            .map(|r| extra_hash(&format!("rule:{}", r.id)))
            .collect();
        Ok(Scanner {
            rules,
            rule_hashes,
            model,
            settings,
            whole_text: false,
        })
    }

    /// The shipped packs and weights, compiled in. Fails only if the shipped
    /// files are broken, which the test suite rules out.
    pub fn try_embedded(settings: ScanSettings) -> Result<Scanner, ScanError> {
        let packs: Vec<(PathBuf, String)> = EMBEDDED_PACKS
            .iter()
            .map(|(n, t)| (PathBuf::from(format!("policies/scan/{n}")), (*t).to_owned()))
            .collect();
        let model = weights::from_bytes(EMBEDDED_MODEL).map_err(|message| ScanError::Model {
            file: PathBuf::from(format!("policies/scan/{MODEL_FILE}")),
            message,
        })?;
        Scanner::from_parts(&packs, Some(model), settings)
    }

    /// The shipped packs and weights with default settings. Should the shipped
    /// files ever fail to compile (the test suite checks they do not), this
    /// returns a scanner without rules or model and logs an error.
    pub fn embedded() -> Scanner {
        Scanner::try_embedded(ScanSettings::default()).unwrap_or_else(|e| {
            tracing::error!(error = %e, "built-in scan packs failed to compile");
            Scanner {
                rules: RuleSet::empty(),
                rule_hashes: Vec::new(),
                model: None,
                settings: ScanSettings::default(),
                whole_text: false,
            }
        })
    }
}
