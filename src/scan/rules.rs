//! Compiled rule packs: one Aho-Corasick automaton over every literal of every
//! rule, and per-rule regexes confirmed on a window around each literal hit
//! (the prefilter-then-confirm design of ripgrep and Hyperscan).
//!
//! Invariants: the automaton runs once per text, on the folded text; a regex
//! only ever reads a window of at most `2 * window + literal` bytes; regexes are
//! built with explicit size limits, so a hostile pack cannot blow up memory;
//! per text, each rule confirms at most [`MAX_CONFIRMS`] windows and reports at
//! most [`MAX_HITS`] spans.

use super::ScanError;
use super::lexicon::{Cue, Lexicon};
use super::normalize::{Normalized, fold_literal};
use super::pack::{RawPack, RawRule};
use super::prefilter::Prefilter;
use super::types::{Category, Severity, Surface};
use regex::{Regex, RegexBuilder};
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Regex windows confirmed per rule per text.
pub const MAX_CONFIRMS: usize = 32;
/// Spans reported per rule per text.
pub const MAX_HITS: usize = 8;
const DEFAULT_WINDOW: usize = 200;
const MAX_WINDOW: usize = 2000;
const REGEX_SIZE_LIMIT: usize = 8 << 20;
const REGEX_DFA_LIMIT: usize = 8 << 20;

/// Words whose rot13 forms are cues that a text is rot13-encoded.
const ROT13_CUES: &[&str] = &[
    "ignore",
    "instructions",
    "previous",
    "your",
    "respond",
    "prompt",
    "system",
    "password",
    "secret",
    "following",
    "include",
    "response",
    "string",
    "you",
    "the",
    "and",
    "this",
    "with",
    "that",
    "from",
];

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    /// Unique id.
    pub id: Arc<str>,
    /// Human description.
    pub description: String,
    /// Finding category.
    pub category: Category,
    /// Finding severity.
    pub severity: Severity,
    /// Bit set of surfaces (bit `n` = surface discriminant `n`).
    pub surfaces: u16,
    /// Confirmation regex.
    pub regex: Option<Regex>,
    /// Window either side of a literal hit.
    pub window: usize,
    /// The regex reads original bytes.
    pub on_original: bool,
    /// Only a model feature.
    pub feature_only: bool,
    /// Examples from the pack, kept for tests and `scan rules --check`.
    pub examples: (Vec<String>, Vec<String>),
}

/// Lexicon classes whose words mark where the structural analysis and the
/// model look in server data (see [`super::model::plan`]). Imperatives are
/// found at sentence starts instead: as plain words they are everywhere.
const GATE_CLASSES: &[&str] = &[
    "second_person",
    "ai_address",
    "override",
    "instructions",
    "urgency",
    "secrecy",
];

/// What a literal pattern in the automaton stands for.
#[derive(Debug, Clone, Default)]
struct Target {
    rules: Vec<u32>,
    rot13: bool,
    cue: bool,
    /// Lexicon classes of the cue word (bits of [`super::lexicon::Cue`]).
    classes: u16,
}

/// Every rule of every pack, compiled.
#[derive(Debug)]
pub struct RuleSet {
    ac: Option<Prefilter>,
    targets: Vec<Target>,
    /// The rules, in pack order.
    pub rules: Vec<Rule>,
    /// Cue words from every pack.
    pub lexicon: Lexicon,
}

/// One rule hit in one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Index into [`RuleSet::rules`].
    pub rule: usize,
    /// Byte span in the original text.
    pub span: Range<usize>,
    /// Byte span in the folded text.
    pub folded: Range<usize>,
}

/// What one pass of the automaton found.
#[derive(Debug, Default)]
pub struct Matches {
    /// Confirmed rule hits.
    pub hits: Vec<Hit>,
    /// Distinct rot13 cue words seen.
    pub rot13_cues: usize,
    /// Folded offsets of every literal and cue-word occurrence (confirmed or
    /// not), in order: where the structural analysis and the model look.
    pub gates: Vec<usize>,
    /// Lexicon classes of the whole-word cue words seen.
    pub cue_classes: u16,
}

impl RuleSet {
    /// Compiles packs given as (file, text) pairs.
    pub fn compile(packs: &[(PathBuf, String)]) -> Result<RuleSet, ScanError> {
        let mut rules = Vec::new();
        let mut literal_ix: HashMap<String, usize> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut targets: Vec<Target> = Vec::new();
        let mut lexicon = Lexicon::default();
        let mut ids: HashMap<String, PathBuf> = HashMap::new();
        for (file, text) in packs {
            let pack = parse_pack(file, text)?;
            for (class, words) in &pack.lexicon {
                lexicon.add(class, words).map_err(|message| {
                    pack_error(file, "", &format!("lexicon.{class}"), message)
                })?;
                if GATE_CLASSES.contains(&class.as_str()) {
                    for w in words {
                        let folded = fold_literal(w);
                        if folded.len() < 3 {
                            continue;
                        }
                        let ix = *literal_ix.entry(folded.clone()).or_insert_with(|| {
                            patterns.push(folded);
                            targets.push(Target::default());
                            patterns.len() - 1
                        });
                        if let Some(t) = targets.get_mut(ix) {
                            t.cue = true;
                            t.classes |= Cue::ALL
                                .iter()
                                .find(|c| c.name() == class)
                                .map_or(0, |c| c.bit());
                        }
                    }
                }
            }
            for raw in &pack.rules {
                if let Some(first) = ids.insert(raw.id.clone(), file.clone()) {
                    let msg = format!("duplicate rule id, first defined in {}", first.display());
                    return Err(pack_error(file, &raw.id, "id", msg));
                }
                let rule = compile_rule(file, raw)?;
                let index = rules.len() as u32;
                for (i, lit) in raw.literals.iter().enumerate() {
                    let folded = fold_literal(lit);
                    if folded.len() < 3 {
                        let msg = format!("`{lit}` is shorter than 3 bytes once folded");
                        return Err(pack_error(file, &raw.id, &format!("literals[{i}]"), msg));
                    }
                    let ix = *literal_ix.entry(folded.clone()).or_insert_with(|| {
                        patterns.push(folded);
                        targets.push(Target::default());
                        patterns.len() - 1
                    });
                    if let Some(t) = targets.get_mut(ix)
                        && !t.rules.contains(&index)
                    {
                        t.rules.push(index);
                    }
                }
                rules.push(rule);
            }
        }
        for cue in ROT13_CUES {
            patterns.push(super::decode::rot13(cue));
            targets.push(Target {
                rot13: true,
                ..Target::default()
            });
        }
        let ac = Prefilter::new(&patterns)
            .map_err(|e| pack_error(Path::new("<packs>"), "", "literals", e))?;
        Ok(RuleSet {
            ac: Some(ac),
            targets,
            rules,
            lexicon,
        })
    }

    /// A set without rules (matches nothing).
    pub fn empty() -> RuleSet {
        RuleSet {
            ac: None,
            targets: Vec::new(),
            rules: Vec::new(),
            lexicon: Lexicon::default(),
        }
    }

    /// Runs the automaton alone over `folded` and counts literal hits (for benchmarks).
    pub fn prefilter_count(&self, folded: &str) -> usize {
        self.ac
            .as_ref()
            .map_or(0, |ac| ac.occurrences(folded).len())
    }

    /// The prefilter's first tier alone: does any literal occur in `folded`?
    pub fn prefilter_any(&self, folded: &str) -> bool {
        self.ac.as_ref().is_some_and(|ac| ac.any(folded.as_bytes()))
    }

    /// Finds every rule hit in `norm` (folded from `original`) for `surface`.
    pub fn find(&self, surface: Surface, original: &str, norm: &Normalized) -> Matches {
        let mut m = Matches::default();
        let mut confirms: HashMap<usize, (usize, usize)> = HashMap::new();
        let mut rot13_seen = 0u64;
        let text = norm.text.as_str();
        let Some(ac) = &self.ac else {
            return m;
        };
        for hit in ac.occurrences(text) {
            let pid = hit.pattern;
            let Some(target) = self.targets.get(pid) else {
                continue;
            };
            let whole_word = on_word_boundaries(text, &(hit.start..hit.end));
            if target.rot13 {
                // Short rot13 forms ("gur", "naq") hide inside words: whole words only.
                if whole_word {
                    rot13_seen |= 1 << (pid % 64);
                }
                continue;
            }
            if target.cue && whole_word {
                m.cue_classes |= target.classes;
            }
            if !target.rules.is_empty() || (target.cue && whole_word) {
                m.gates.push(hit.start);
            }
            for &r in &target.rules {
                let r = r as usize;
                let Some(rule) = self.rules.get(r) else {
                    continue;
                };
                if rule.surfaces & surface.bit() == 0 {
                    continue;
                }
                let (tries, hits) = confirms.entry(r).or_insert((0, 0));
                if *tries >= MAX_CONFIRMS || *hits >= MAX_HITS {
                    continue;
                }
                *tries += 1;
                let found = confirm(rule, text, hit.start..hit.end, original, norm);
                if let Some((folded, span)) = found {
                    let dup = m.hits.iter().any(|h| h.rule == r && h.span == span);
                    if !dup {
                        *hits += 1;
                        m.hits.push(Hit {
                            rule: r,
                            span,
                            folded,
                        });
                    }
                }
            }
        }
        m.rot13_cues = rot13_seen.count_ones() as usize;
        m.gates.sort_unstable();
        m.gates.dedup();
        m
    }
}

/// Confirms one literal hit for one rule; returns (folded span, original span).
fn confirm(
    rule: &Rule,
    text: &str,
    lit: Range<usize>,
    original: &str,
    norm: &Normalized,
) -> Option<(Range<usize>, Range<usize>)> {
    let Some(re) = &rule.regex else {
        if !on_word_boundaries(text, &lit) {
            return None;
        }
        return Some((lit.clone(), norm.original_span(lit, original)));
    };
    let lo = floor_boundary(text, lit.start.saturating_sub(rule.window));
    let hi = ceil_boundary(text, lit.end.saturating_add(rule.window));
    if rule.on_original {
        let span = norm.original_span(lo..hi, original);
        let m = re.find(&original[span.clone()])?;
        let abs = span.start + m.start()..span.start + m.end();
        return Some((lo..hi, abs));
    }
    let m = re.find(&text[lo..hi])?;
    let folded = lo + m.start()..lo + m.end();
    Some((folded.clone(), norm.original_span(folded, original)))
}

fn on_word_boundaries(text: &str, r: &Range<usize>) -> bool {
    let b = text.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let first = b.get(r.start).copied().unwrap_or(b' ');
    let last = b.get(r.end.wrapping_sub(1)).copied().unwrap_or(b' ');
    let before_ok = r.start == 0 || !word(first) || !word(b[r.start - 1]);
    let after_ok = r.end >= b.len() || !word(last) || !word(b[r.end]);
    before_ok && after_ok
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

fn parse_pack(file: &Path, text: &str) -> Result<RawPack, ScanError> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let rule = rule_id_at(text, &path);
        let inner = e.into_inner().to_string();
        pack_error(file, &rule, &path, inner)
    })
}

/// The id of the rule a YAML path like `rules[3].severity` points into, if it can be read.
fn rule_id_at(text: &str, path: &str) -> String {
    let Some(rest) = path.strip_prefix("rules[") else {
        return String::new();
    };
    let Some(n) = rest.split(']').next().and_then(|n| n.parse::<usize>().ok()) else {
        return String::new();
    };
    let value: Result<serde_yaml_ng::Value, _> = serde_yaml_ng::from_str(text);
    value
        .ok()
        .and_then(|v| {
            v.get("rules")?
                .get(n)?
                .get("id")?
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

fn pack_error(file: &Path, rule: &str, field: &str, message: impl Into<String>) -> ScanError {
    ScanError::Pack {
        file: file.to_path_buf(),
        rule: rule.to_owned(),
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Folds the non-ASCII characters of a regex exactly as text is folded, so a
/// rule can be written with accents or Cyrillic; ASCII (regex syntax) is kept.
fn fold_regex_source(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    for c in src.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            out.push_str(&super::normalize::normalize(c.encode_utf8(&mut buf)).text);
        }
    }
    out
}

fn compile_rule(file: &Path, raw: &RawRule) -> Result<Rule, ScanError> {
    let err = |field: &str, msg: String| pack_error(file, &raw.id, field, msg);
    if raw.id.trim().is_empty() || raw.id.contains(char::is_whitespace) {
        return Err(err(
            "id",
            "must be a non-empty word such as `override.ignore-previous`".into(),
        ));
    }
    if raw.literals.is_empty() {
        return Err(err(
            "literals",
            "at least one literal anchor is required (regexes only run where a literal hit)".into(),
        ));
    }
    let surfaces = match &raw.surfaces {
        None => Surface::ALL.iter().fold(0, |a, s| a | s.bit()),
        Some(list) => {
            let mut bits = 0u16;
            for (i, name) in list.iter().enumerate() {
                bits |= match name.as_str() {
                    "all" => Surface::ALL.iter().fold(0, |a, s| a | s.bit()),
                    "inbound" => Surface::ALL
                        .iter()
                        .filter(|s| !s.is_outbound())
                        .fold(0, |a, s| a | s.bit()),
                    "outbound" => Surface::ALL
                        .iter()
                        .filter(|s| s.is_outbound())
                        .fold(0, |a, s| a | s.bit()),
                    other => Surface::parse(other).map(Surface::bit).ok_or_else(|| {
                        err(
                            &format!("surfaces[{i}]"),
                            format!("unknown surface `{other}`; use all, inbound, outbound or a surface name"),
                        )
                    })?,
                };
            }
            bits
        }
    };
    let on_original = match raw.on.as_deref() {
        None | Some("normalized") => false,
        Some("original") => true,
        Some(other) => {
            return Err(err(
                "on",
                format!("`{other}`: expected `normalized` or `original`"),
            ));
        }
    };
    let window = raw.window.unwrap_or(DEFAULT_WINDOW);
    if window > MAX_WINDOW {
        return Err(err(
            "window",
            format!("{window} is larger than {MAX_WINDOW}"),
        ));
    }
    let regex = raw
        .regex
        .as_deref()
        .map(|src| {
            let src = if on_original {
                src.to_owned()
            } else {
                fold_regex_source(src)
            };
            RegexBuilder::new(&src)
                .case_insensitive(!on_original)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_DFA_LIMIT)
                .build()
                .map_err(|e| err("regex", e.to_string()))
        })
        .transpose()?;
    let examples = raw.examples.clone().unwrap_or_default();
    Ok(Rule {
        id: Arc::from(raw.id.as_str()),
        description: raw.description.clone(),
        category: raw.category,
        severity: raw.severity,
        surfaces,
        regex,
        window,
        on_original,
        feature_only: raw.feature_only,
        examples: (examples.hit, examples.miss),
    })
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
