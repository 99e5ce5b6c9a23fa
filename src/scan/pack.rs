//! Rule packs as written: `policies/scan/*.yaml`, one pack per file.
//!
//! ```yaml
//! pack: injection-core
//! description: What this pack is for.
//! lexicon:                 # optional cue words for the model's structural features
//!   imperative: [ignore, disregard, ignora, ignorez]
//! rules:
//!   - id: override.ignore-previous
//!     description: Asks the reader to drop its earlier instructions.
//!     category: instruction_override
//!     severity: high
//!     surfaces: [inbound]      # all (default) | inbound | outbound | surface names
//!     literals: [ignore previous, ignore all previous]
//!     regex: '\bignore (all )?previous (instructions|rules)'   # optional
//!     window: 200              # bytes around a literal hit searched by the regex
//!     on: normalized           # normalized (default) | original (for secrets)
//!     examples:                # checked by the test suite
//!       hit: ["Please ignore previous instructions."]
//!       miss: ["Ignore the whitespace in the diff."]
//! ```
//!
//! Every struct denies unknown fields. Semantic checks (regex validity, ids,
//! surfaces) happen when the pack is compiled in [`super::rules`].

use super::types::{Category, Severity};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One pack file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPack {
    /// The pack's name.
    pub pack: String,
    /// What the pack covers.
    #[serde(default)]
    pub description: Option<String>,
    /// Cue words by class (`imperative`, `second_person`, `ai_address`,
    /// `response`, `instructions`, `override`, `urgency`, `secrecy`), used by the
    /// model's structural features and by the structural rules.
    #[serde(default)]
    pub lexicon: BTreeMap<String, Vec<String>>,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

/// One rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Unique across all packs, e.g. `override.ignore-previous`.
    pub id: String,
    /// What it catches and why, for the people reading findings.
    pub description: String,
    /// The finding category.
    pub category: Category,
    /// The finding severity.
    pub severity: Severity,
    /// Where the rule applies. Default: every surface.
    #[serde(default)]
    pub surfaces: Option<Vec<String>>,
    /// Literal anchors, matched case-insensitively on folded text. Without a
    /// regex, a literal hit (on word boundaries) is a finding.
    #[serde(default)]
    pub literals: Vec<String>,
    /// A regex confirmed on a window around each literal hit.
    #[serde(default)]
    pub regex: Option<String>,
    /// Bytes either side of the literal hit searched by the regex. Default 200, at most 2000.
    #[serde(default)]
    pub window: Option<usize>,
    /// `normalized` (default): the regex reads folded, lower-cased text.
    /// `original`: the regex reads the original bytes (case-sensitive), for secrets.
    #[serde(default)]
    pub on: Option<String>,
    /// Feed the model only: never a finding by itself.
    #[serde(default)]
    pub feature_only: bool,
    /// Least Shannon entropy, in bits per character, of what the regex
    /// matched (of its group named `secret`, `secret2`, ... when it has them,
    /// one per alternative) for a match to count: a credential assignment
    /// holds a random value, a placeholder (`changeme`, `xxxx1`) does not.
    /// That group is also the span reported and redacted, so a key's name
    /// stays readable.
    #[serde(default)]
    pub min_entropy: Option<f32>,
    /// Words that show a text talks about what the rule matches instead of
    /// using it (a tokenizer's documentation naming `<|im_start|>`). In a
    /// text holding one of them, a match is a mention and no finding.
    #[serde(default)]
    pub discussion_words: Vec<String>,
    /// Examples the test suite checks.
    #[serde(default)]
    pub examples: Option<RawExamples>,
}

/// Texts a rule must match and must not match.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExamples {
    /// Each must produce a finding of this rule.
    #[serde(default)]
    pub hit: Vec<String>,
    /// None may produce a finding of this rule.
    #[serde(default)]
    pub miss: Vec<String>,
}
