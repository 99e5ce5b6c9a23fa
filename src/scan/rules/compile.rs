//! Compiling rule packs: parsing each file, checking every rule (ids,
//! literals, surfaces, windows, regexes) with errors that name the file, the
//! rule and the field, and building the one automaton over every literal and
//! cue word.

use super::{Reading, Rule, RuleSet, Target};
use crate::scan::ScanError;
use crate::scan::lexicon::{Cue, Lexicon};
use crate::scan::normalize::fold_literal;
use crate::scan::pack::{RawPack, RawRule};
use crate::scan::prefilter::Prefilter;
use crate::scan::types::{Category, Surface};
use regex::RegexBuilder;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const DEFAULT_WINDOW: usize = 200;
const MAX_WINDOW: usize = 2000;
const REGEX_SIZE_LIMIT: usize = 8 << 20;
const REGEX_DFA_LIMIT: usize = 8 << 20;

/// Words whose rot13 forms are cues that a text is rot13-encoded, and whose
/// reversed forms are cues that it is written backwards.
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

/// Words whose reversed forms, with those of [`ROT13_CUES`] but "and"
/// (reversed it is "dna"), are cues that a text is written backwards
/// ("snoitcurtsni", "tnatsissa"); none reads as a word backwards.
const MORE_REVERSED_CUES: &[&str] = &[
    "assistant",
    "user",
    "instead",
    "must",
    "tell",
    "send",
    "forget",
    "reveal",
    "rules",
    "everything",
    "before",
    "above",
    "email",
    "reading",
];

/// Text-speak forms of the words overrides are made of: one calls for the
/// text-speak reading ([`crate::scan::decode::text_speak`]). Short forms that
/// are also parts of common words ("prev", "sys", "hist", "jus") are not cues:
/// every "previous" and "system" would be a hit for the automaton.
const TEXT_SPEAK_CUES: &[&str] = &[
    "instrux",
    "instrs",
    "instructns",
    "4get",
    "4got",
    "ignor",
    "ignr",
    "rulz",
    "filtrs",
];

/// Text-speak words of ordinary chat ("pls", "thx"): two distinct ones call
/// for the reading.
const TEXT_SPEAK_PAIRED: &[&str] = &["creds", "wut", "sez", "frst", "plz", "pls", "thx"];

/// Lexicon classes whose words mark where the structural analysis and the
/// model look in server data (see [`crate::scan::model::plan`]). Imperatives are
/// found at sentence starts instead: as plain words they are everywhere.
const GATE_CLASSES: &[&str] = &[
    "second_person",
    "ai_address",
    "override",
    "instructions",
    "urgency",
    "secrecy",
    "automated",
    "constraint",
];

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
                        t.surfaces |= rule.surfaces;
                    }
                }
                rules.push(rule);
            }
        }
        lexicon.add_misspellings(
            crate::scan::decode::misspellings()
                .into_iter()
                .map(|(f, _)| f),
        );
        let readings = ROT13_CUES
            .iter()
            .map(|c| (crate::scan::decode::rot13(c), Reading::Rot13))
            .chain(
                ROT13_CUES
                    .iter()
                    .filter(|c| **c != "and")
                    .chain(MORE_REVERSED_CUES)
                    .map(|c| (crate::scan::decode::reversed(c), Reading::Reversed)),
            )
            .chain(
                TEXT_SPEAK_CUES
                    .iter()
                    .map(|c| (c.to_string(), Reading::TextSpeak)),
            )
            .chain(
                TEXT_SPEAK_PAIRED
                    .iter()
                    .map(|c| (c.to_string(), Reading::TextSpeakPaired)),
            );
        for (cue, reading) in readings {
            // A cue that is also a rule's literal or a lexicon word shares
            // its pattern; a pattern stands for one reading at most.
            let ix = *literal_ix.entry(cue.clone()).or_insert_with(|| {
                patterns.push(cue);
                targets.push(Target::default());
                patterns.len() - 1
            });
            if let Some(t) = targets.get_mut(ix) {
                t.reading.get_or_insert(reading);
            }
        }
        let ac = Prefilter::new(&patterns)
            .map_err(|e| pack_error(Path::new("<packs>"), "", "literals", e))?;
        let mut key_ends = Vec::new();
        for word in rules.iter().flat_map(|r| &r.key_words) {
            if let [.., a, b] = word.as_bytes() {
                let end = u16::from_le_bytes([a.to_ascii_lowercase(), b.to_ascii_lowercase()]);
                if !key_ends.contains(&end) {
                    key_ends.push(end);
                }
            }
        }
        let keyed = (0..rules.len())
            .filter(|&r| !rules[r].key_words.is_empty())
            .collect();
        Ok(RuleSet {
            ac: Some(ac),
            targets,
            rules,
            lexicon,
            key_ends,
            keyed,
        })
    }
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
            out.push_str(&crate::scan::normalize::normalize(c.encode_utf8(&mut buf)).text);
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
    let mut discussion_words = Vec::with_capacity(raw.discussion_words.len());
    for (i, w) in raw.discussion_words.iter().enumerate() {
        let folded = fold_literal(w);
        if folded.len() < 3 {
            return Err(err(
                &format!("discussion_words[{i}]"),
                format!("`{w}` folds to fewer than 3 bytes; a discussion word must be a word"),
            ));
        }
        discussion_words.push(folded);
    }
    let min_entropy = match raw.min_entropy {
        None => 0.0,
        Some(_) if regex.is_none() => {
            return Err(err(
                "min_entropy",
                "needs a regex: the floor applies to what the regex matched".into(),
            ));
        }
        Some(e) if e.is_finite() && e > 0.0 && e <= 8.0 => e,
        Some(e) => {
            return Err(err(
                "min_entropy",
                format!("{e} is not a number of bits per character in (0, 8]"),
            ));
        }
    };
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
        min_entropy,
        key_words: if min_entropy > 0.0 && raw.category == Category::Secret {
            raw.literals.iter().map(|l| fold_literal(l)).collect()
        } else {
            Vec::new()
        },
        discussion_words,
        examples: (examples.hit, examples.miss),
    })
}
