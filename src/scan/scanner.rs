//! The [`Scanner`]: compiled rules, lexicon and model, and the scan of one
//! text. `build` makes a scanner (from files, a policy or the packs compiled
//! in); `walk` goes over a JSON message's string leaves. See the module docs
//! of [`crate::scan`] for the order of the steps and why.
//!
//! Invariants: a scan never fails and never panics; it reads at most
//! `max_scan_bytes` of text per message (then sets [`Report::oversize`]);
//! decoded text is scanned at most `max_decode_depth` levels deep.

use super::config::ScanSettings;
use super::decode::{self, Derived, Encoding};
use super::flood;
use super::model::Model;
use super::model::features::{Doc, Extra, Group, Scores, StructKind, extra_hash, featurize_into};
use super::model::plan;
use super::model::sink::Weights;
use super::normalize::{Normalized, SignalKind, normalize, normalize_into};
use super::rules::{Matches, RuleSet};
use super::types::{Category, Finding, Report, Severity, Surface};
use std::sync::Arc;

mod build;
mod derived;
mod walk;

pub use build::{EMBEDDED_MODEL, EMBEDDED_PACKS, MODEL_FILE};

/// A compiled scanner. Immutable, `Send + Sync`; share it with an `Arc`.
#[derive(Debug)]
pub struct Scanner {
    rules: RuleSet,
    rule_hashes: Vec<u64>,
    model: Option<Model>,
    settings: ScanSettings,
    /// Featurise whole texts instead of the planned regions (for the
    /// equivalence check in `scan eval --whole-text`).
    whole_text: bool,
}

impl Scanner {
    /// Featurises every sentence of server data instead of the planned regions
    /// ([`super::model::plan`]): slower, for checking that the plan changes
    /// no structural finding.
    pub fn with_whole_text(mut self, yes: bool) -> Scanner {
        self.whole_text = yes;
        self
    }

    /// The compiled rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The model, if loaded.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    /// The settings.
    pub fn settings(&self) -> &ScanSettings {
        &self.settings
    }

    /// Scans one text as a single leaf (`json_path` is empty).
    pub fn scan_text(&self, surface: Surface, text: &str) -> Report {
        self.scan_text_with(surface, text, self.model.as_ref())
    }

    /// Like [`Scanner::scan_text`] with an explicit model (leave-one-file-out evaluation).
    pub fn scan_text_with(&self, surface: Surface, text: &str, model: Option<&Model>) -> Report {
        let mut report = Report::default();
        let mut budget = self.settings.max_scan_bytes;
        let mut scratch = Scratch::default();
        self.leaf(
            surface,
            text,
            &[],
            &mut report,
            &mut budget,
            model,
            &mut scratch,
        );
        report
    }

    /// Scans one text; pushes findings (with empty paths) and returns the
    /// model probability. `scratch` holds buffers reused from text to text.
    fn scan_one<'m>(
        &self,
        surface: Surface,
        text: &str,
        depth: usize,
        model: Option<&'m Model>,
        out: &mut Vec<Finding>,
        scratch: &mut Scratch<'m>,
    ) -> Option<f32> {
        let Scratch { norm, scores: doc } = scratch;
        normalize_into(text, norm);
        let norm = &*norm;
        let matches = self.rules.find(surface, text, norm);
        self.rule_findings(&matches, text, out);
        for s in &norm.signals {
            // Text spelled in tag characters is invisible to people and read by
            // models; no legitimate text does that beyond short emoji flag tags.
            let severity = match (&s.kind, &norm.tag_text) {
                (SignalKind::TagSmuggling, Some((_, t))) if is_smuggled_text(t) => Severity::High,
                _ => Severity::Info,
            };
            out.push(finding(
                Arc::from(s.kind.rule_id()),
                Category::Obfuscation,
                severity,
                Some(s.span.clone()),
                format!("{} occurrence(s)", s.count),
            ));
        }
        // A flood of one letter or of closing brackets in what a client sends
        // (results may hold grids and dumps; see `flood`).
        if surface.is_outbound()
            && let Some(f) = flood::find(text)
        {
            out.push(finding(
                Arc::from("obf.token-flood"),
                Category::Obfuscation,
                Severity::Medium,
                Some(f.span),
                format!("\"{}\" repeated {} times", f.unit, f.repeats),
            ));
        }
        if depth < self.settings.max_decode_depth {
            self.scan_derived(surface, text, norm, &matches, depth, model, out);
        }
        // An id, a status or a SKU holds no sentence for the model to read;
        // rules, decoding and signals above still ran on it.
        if holds_no_sentence(text) {
            return None;
        }
        let group = group_of(surface);
        // Scanning featurises straight into per-token scores: no feature list.
        let extras = self.extras(norm, &matches);
        doc.reset(model.map_or(Weights::Plain(&[]), Model::scoring_weights));
        let regions = self.regions(group, norm, &matches);
        featurize_into(
            &norm.text,
            regions.as_slice(),
            group,
            &self.rules.lexicon,
            &extras,
            doc,
        );
        let mut misspelled = false;
        for (kind, span) in &doc.structs {
            if *kind == StructKind::Misspelling {
                misspelled = true;
                continue;
            }
            // Orders to the assistant are normal in what the client sends;
            // dictated literal output and a persona freed of its rules are
            // not.
            if surface.is_outbound()
                && !matches!(
                    kind,
                    StructKind::LiteralIntoReply | StructKind::PersonaFreed
                )
            {
                continue;
            }
            let (id, what) = match kind {
                StructKind::InstructionToResponder => (
                    "struct.instruction-to-responder",
                    "an order about the reader's own reply",
                ),
                StructKind::AddressedToAi => (
                    "struct.addressed-to-ai",
                    "a sentence addressing the AI with an order",
                ),
                StructKind::OverrideInstructions => (
                    "struct.override-instructions",
                    "an order to drop instructions",
                ),
                StructKind::InstructionAtEdge => (
                    "struct.instruction-at-edge",
                    "an order or question alone at the edge of a record-like document",
                ),
                StructKind::LiteralIntoReply => (
                    "struct.literal-into-reply",
                    "a quoted string dictated into the reader's reply",
                ),
                StructKind::RulesRevoked => (
                    "struct.rules-revoked",
                    "the reader's rules declared no longer in force",
                ),
                StructKind::ModeSwitched => (
                    "struct.mode-switched",
                    "the reader declared in a debug, developer or unrestricted mode",
                ),
                StructKind::PersonaFreed => (
                    "struct.persona-freed",
                    "the reader cast as a persona or an AI free of its rules",
                ),
                StructKind::Misspelling => continue,
            };
            let category = if *kind == StructKind::PersonaFreed {
                Category::Jailbreak
            } else {
                Category::AddressedInstruction
            };
            let orig = norm.original_span(span.clone(), text);
            out.push(finding(
                Arc::from(id),
                category,
                Severity::Medium,
                Some(orig.clone()),
                format!("{what}: \"{}\"", excerpt(&text[orig])),
            ));
        }
        // Key words misspelled where the featuriser read: the text again,
        // spelled right ("ignroe prevoius instrcutions").
        if misspelled
            && depth < self.settings.max_decode_depth
            && let Some((repaired, words)) = decode::repair_typos(&norm.text)
        {
            let lines = decode::line_around(&norm.text, words);
            let d = Derived {
                encoding: Encoding::Misspelled,
                span: norm.original_span(lines, text),
                text: repaired,
            };
            self.scan_decoded(surface, vec![d], depth, model, out);
        }
        let model = model?;
        if doc.sums.is_empty() {
            return None;
        }
        let (margin, window) = model.best_window_of(&doc.sums, &doc.counts, group);
        let s = super::model::Score {
            probability: super::model::sigmoid(margin),
            window,
        };
        let threshold = self.settings.model_threshold[surface as usize]
            .unwrap_or_else(|| model.threshold(group));
        if s.probability >= threshold {
            let (a, b) = s.window;
            let span = match (doc.spans.get(a), doc.spans.get(b.saturating_sub(1))) {
                (Some(x), Some(y)) => {
                    Some(norm.original_span(x.start as usize..y.end as usize, text))
                }
                _ => None,
            };
            let mut top: Vec<(usize, f32)> = (a..b)
                .filter_map(|t| Some((t, *doc.sums.get(t)?)))
                .filter(|&(_, w)| w > 0.0)
                .collect();
            top.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
            top.truncate(5);
            let strongest: Vec<String> = top
                .into_iter()
                .filter_map(|(t, w)| {
                    let r = doc.spans.get(t)?;
                    Some(format!(
                        "\"{}\" {w:+.2}",
                        norm.text.get(r.start as usize..r.end as usize)?
                    ))
                })
                .collect();
            let mut f = finding(
                Arc::from("model"),
                Category::Model,
                Severity::Medium,
                span,
                format!(
                    "p={:.3} >= {threshold:.3}; strongest: {}",
                    s.probability,
                    strongest.join(", ")
                ),
            );
            f.score = Some(s.probability);
            out.push(f);
        }
        Some(s.probability)
    }

    fn rule_findings(&self, matches: &Matches, text: &str, out: &mut Vec<Finding>) {
        for h in &matches.hits {
            let Some(rule) = self.rules.rules.get(h.rule) else {
                continue;
            };
            if rule.feature_only {
                continue;
            }
            let shown = if rule.category == Category::Secret {
                format!("{} ({} bytes)", rule.description, h.span.len())
            } else {
                format!(
                    "{}: \"{}\"",
                    rule.description,
                    excerpt(&text[h.span.clone()])
                )
            };
            out.push(finding(
                rule.id.clone(),
                rule.category,
                rule.severity,
                Some(h.span.clone()),
                shown,
            ));
        }
    }

    /// The model's features for a folded text and its rule matches.
    fn extras(&self, norm: &Normalized, matches: &Matches) -> Vec<Extra> {
        let mut extras: Vec<Extra> = matches
            .hits
            .iter()
            .filter_map(|h| {
                Some(Extra {
                    at: h.folded.start,
                    hash: *self.rule_hashes.get(h.rule)?,
                })
            })
            .collect();
        for s in &norm.signals {
            extras.push(Extra {
                at: 0,
                hash: extra_hash(s.kind.rule_id()),
            });
        }
        extras.sort_by_key(|e| e.at);
        extras
    }

    /// What to featurise: all of a prompt or argument (short, and addressed
    /// to the assistant by design, so every word counts); of server data, the
    /// sentences the plan picks.
    fn regions(&self, group: Group, norm: &Normalized, matches: &Matches) -> Regions {
        if group == Group::Direct || self.whole_text || norm.text.len() <= plan::WHOLE {
            return Regions::Whole([plan::Region::whole(&norm.text)]);
        }
        Regions::Planned(plan::regions(
            &norm.text,
            &self.rules.lexicon,
            &matches.gates,
        ))
    }

    /// The model's features for `text` on `surface` (for training).
    pub fn features(&self, surface: Surface, text: &str) -> Doc {
        let norm = normalize(text);
        let matches = self.rules.find(surface, text, &norm);
        let extras = self.extras(&norm, &matches);
        let group = group_of(surface);
        let regions = self.regions(group, &norm, &matches);
        let mut doc = Doc::default();
        featurize_into(
            &norm.text,
            regions.as_slice(),
            group,
            &self.rules.lexicon,
            &extras,
            &mut doc,
        );
        doc
    }
}

/// Buffers one scan reuses from text to text (the string leaves of a JSON
/// message are many and mostly short: allocating for each cost more than
/// scanning them).
#[derive(Default)]
struct Scratch<'m> {
    norm: Normalized,
    scores: Scores<'m>,
}

/// What to featurise: the whole text (no allocation: most leaves are short)
/// or the planned regions.
enum Regions {
    Whole([plan::Region; 1]),
    Planned(Vec<plan::Region>),
}

impl Regions {
    fn as_slice(&self) -> &[plan::Region] {
        match self {
            Regions::Whole(r) => r,
            Regions::Planned(v) => v,
        }
    }
}

/// True when tag characters spell more than an emoji subdivision flag
/// (lowercase letters and digits, at most 7): words, spaces, capitals.
fn is_smuggled_text(t: &str) -> bool {
    let flag_like = t.len() <= 7
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    t.len() >= 8 && !flag_like
}

/// The model group a surface belongs to.
pub fn group_of(surface: Surface) -> Group {
    match surface {
        Surface::ToolArguments | Surface::PromptArguments => Group::Direct,
        // Descriptions are data from a server, like results: one model group.
        _ => Group::Indirect,
    }
}

fn finding(
    rule_id: Arc<str>,
    category: Category,
    severity: Severity,
    span: Option<std::ops::Range<usize>>,
    explanation: String,
) -> Finding {
    Finding {
        rule_id,
        category,
        severity,
        json_path: String::new(),
        span,
        score: None,
        explanation,
    }
}

/// At most 80 characters of `s`, on one line.
fn excerpt(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(80)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().nth(80).is_some() {
        out.push('…');
    }
    out
}

/// What the model does not score: at most 32 bytes of ASCII without
/// whitespace and with at most two runs of letters and digits that hold a
/// letter (`order-17`, `shipped`, `A-100`, `2026-11-29T10:00:00Z`). Not
/// `ignore-previous-instructions` (three words joined), not CJK or any other
/// script written without spaces.
fn holds_no_sentence(text: &str) -> bool {
    if text.len() > 32 {
        return false;
    }
    let (mut words, mut run, mut letter) = (0, false, false);
    for &b in text.as_bytes() {
        if !b.is_ascii() || b.is_ascii_whitespace() {
            return false;
        }
        if b.is_ascii_alphanumeric() {
            run = true;
            letter |= b.is_ascii_alphabetic();
        } else if run {
            words += usize::from(letter);
            (run, letter) = (false, false);
        }
    }
    words + usize::from(run && letter) <= 2
}

#[cfg(test)]
#[path = "scanner_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "scanner_struct_tests.rs"]
mod struct_tests;
