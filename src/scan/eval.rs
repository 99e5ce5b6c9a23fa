//! Offline evaluation and training on labelled JSONL corpora (the development
//! corpus format: `{"text", "label": "injection"|"benign", "kind", ...}`).
//!
//! The statistical layer is reported leave-one-file-out: a file's scores come
//! from a model that never trained on it, with a threshold chosen without it
//! (from out-of-fold scores of the remaining training files). Only files whose
//! licence allows shipping weights ([`TRAINABLE`]) are ever trained on.
//!
//! Invariant: everything here is deterministic (fixed seeds, sorted inputs,
//! no threads); reading files and timing are the caller's job.

use super::model::Model;
use super::model::features::Group;
use super::model::train::{Example, Options, threshold_for, train};
use super::scanner::{Scanner, group_of};
use super::types::{Severity, Surface};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Files of the development corpus whose licence (MIT, Apache-2.0, PSF)
/// allows training shipped weights. Others are measured only.
pub const TRAINABLE: &[&str] = &[
    "bipia_train.jsonl",
    "agentdojo_workspace_travel.jsonl",
    "garak.jsonl",
    "spikee_seeds.jsonl",
    "piguard_misc.jsonl",
    "cyberseceval_instruct_benign.jsonl",
    "benign_cpython_stdlib.jsonl",
    "tool_descriptions_dev.jsonl",
    "derived_obfuscation_dev.jsonl",
];

/// One labelled row.
#[derive(Debug, Clone, Deserialize)]
pub struct Row {
    /// The text.
    pub text: String,
    /// `injection` or `benign`.
    pub label: String,
    /// Where it crosses the gateway: direct, indirect, tool_description, jailbreak.
    #[serde(default)]
    pub kind: String,
}

impl Row {
    /// True for an injection.
    pub fn is_injection(&self) -> bool {
        self.label == "injection"
    }

    /// The surface the row's `kind` stands for.
    pub fn surface(&self) -> Surface {
        match self.kind.as_str() {
            "direct" => Surface::ToolArguments,
            "jailbreak" => Surface::PromptArguments,
            "tool_description" => Surface::ToolDescription,
            _ => Surface::ToolResult,
        }
    }
}

/// Parses JSON Lines; an error names the 1-based line.
pub fn parse_jsonl(text: &str) -> Result<Vec<Row>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// Per-file results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileScore {
    /// File name.
    pub file: String,
    /// Rows.
    pub rows: usize,
    /// Injection rows.
    pub injection: usize,
    /// Benign rows.
    pub benign: usize,
    /// Injection rows flagged (rules, structure or model).
    pub detected: usize,
    /// Benign rows flagged.
    pub false_positives: usize,
    /// Injection rows flagged by rules and structure alone.
    pub rules_detected: usize,
    /// Benign rows flagged by rules and structure alone.
    pub rules_false_positives: usize,
    /// Bytes of text.
    pub bytes: usize,
    /// Up to 5 missed injections and 10 false positives (first 160 chars), for reports.
    pub samples: Vec<String>,
    /// Row indices of every missed injection.
    pub missed_rows: Vec<usize>,
    /// Row indices of every false positive.
    pub false_positive_rows: Vec<usize>,
}

impl FileScore {
    /// Recall over injection rows, if any.
    pub fn recall(&self) -> Option<f64> {
        (self.injection > 0).then(|| self.detected as f64 / self.injection as f64)
    }

    /// False-positive rate over benign rows, if any.
    pub fn false_positive_rate(&self) -> Option<f64> {
        (self.benign > 0).then(|| self.false_positives as f64 / self.benign as f64)
    }

    /// Rules-only recall.
    pub fn rules_recall(&self) -> Option<f64> {
        (self.injection > 0).then(|| self.rules_detected as f64 / self.injection as f64)
    }

    /// Rules-only false-positive rate.
    pub fn rules_false_positive_rate(&self) -> Option<f64> {
        (self.benign > 0).then(|| self.rules_false_positives as f64 / self.benign as f64)
    }
}

/// Scores one file with `model` (None: rules and structure only).
pub fn score_file(scanner: &Scanner, model: Option<&Model>, file: &str, rows: &[Row]) -> FileScore {
    let mut s = FileScore {
        file: file.to_owned(),
        ..FileScore::default()
    };
    for (index, row) in rows.iter().enumerate() {
        let surface = row.surface();
        let report = scanner.scan_text_with(surface, &row.text, model);
        let min = scanner.settings().min_severity(surface);
        let by_rules = report.findings.iter().any(|f| {
            f.category.is_injection() && f.category != super::Category::Model && f.severity >= min
        });
        let flagged = report.is_injection(min.max(Severity::Low));
        s.rows += 1;
        s.bytes += row.text.len();
        if row.is_injection() {
            s.injection += 1;
            s.detected += usize::from(flagged);
            s.rules_detected += usize::from(by_rules);
            if !flagged {
                s.missed_rows.push(index);
            }
            if !flagged && s.samples.len() < 5 {
                s.samples.push(format!("missed: {}", one_line(&row.text)));
            }
        } else {
            s.benign += 1;
            s.false_positives += usize::from(flagged);
            s.rules_false_positives += usize::from(by_rules);
            if flagged {
                s.false_positive_rows.push(index);
            }
            if flagged && s.samples.len() < 15 {
                let why: Vec<_> = report
                    .findings
                    .iter()
                    .filter(|f| f.severity >= min)
                    .map(|f| format!("{} {}", f.rule_id, f.explanation))
                    .collect();
                s.samples.push(format!(
                    "false positive [{}]: {}",
                    why.join(","),
                    one_line(&row.text)
                ));
            }
        }
    }
    s
}

fn one_line(t: &str) -> String {
    t.chars()
        .take(160)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Featurized rows of one file.
struct Featurized {
    name: String,
    examples: Vec<Example>,
}

fn featurize_files(scanner: &Scanner, files: &[(String, Vec<Row>)]) -> Vec<Featurized> {
    files
        .iter()
        .map(|(name, rows)| {
            let (pos, neg) = rows.iter().fold((0usize, 0usize), |(p, n), r| {
                if r.is_injection() {
                    (p + 1, n)
                } else {
                    (p, n + 1)
                }
            });
            let examples = rows
                .iter()
                .map(|r| {
                    let surface = r.surface();
                    let n = if r.is_injection() { pos } else { neg };
                    Example {
                        doc: scanner.features(surface, &r.text),
                        group: group_of(surface),
                        label: r.is_injection(),
                        weight: 1.0 / (n.max(1) as f32).sqrt(),
                    }
                })
                .collect();
            Featurized {
                name: name.clone(),
                examples,
            }
        })
        .collect()
}

/// Trains on the given featurized files, balancing the two classes' total weight.
fn fit(files: &[&Featurized], opts: &Options) -> Model {
    let mut examples: Vec<Example> = files
        .iter()
        .flat_map(|f| f.examples.iter().cloned())
        .collect();
    let (wp, wn) = examples.iter().fold((0.0f32, 0.0f32), |(p, n), e| {
        if e.label {
            (p + e.weight, n)
        } else {
            (p, n + e.weight)
        }
    });
    let total = examples.len() as f32;
    for e in &mut examples {
        let side = if e.label { wp } else { wn };
        if side > 0.0 {
            e.weight *= total / (2.0 * side);
        }
    }
    train(&examples, opts)
}

/// Per-group thresholds from out-of-fold benign scores, file by file: the
/// smallest threshold keeping every file's false-positive rate at or under
/// [`Options::target_fpr`], and at least [`Options::direct_floor`] on direct surfaces.
fn thresholds_from(scores: &[(String, Group, bool, f32)], opts: &Options) -> [f32; 4] {
    let mut t = [0.5f32; 4];
    let mut per: BTreeMap<(String, usize), Vec<f32>> = BTreeMap::new();
    for (file, g, label, p) in scores {
        if !label {
            per.entry((file.clone(), *g as usize)).or_default().push(*p);
        }
    }
    for ((_, g), mut v) in per {
        t[g] = t[g].max(threshold_for(&mut v, opts.target_fpr));
    }
    // A user's own prompt addresses the assistant in the second person by
    // design; the model may only overrule that with near certainty.
    t[Group::Direct as usize] = t[Group::Direct as usize].max(opts.direct_floor);
    t
}

/// Out-of-fold scores of `train_files`, split into `folds` round-robin groups.
fn out_of_fold(
    train_files: &[&Featurized],
    folds: usize,
    opts: &Options,
) -> Vec<(String, Group, bool, f32)> {
    let mut out = Vec::new();
    for k in 0..folds {
        let fit_on: Vec<&Featurized> = train_files
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds != k)
            .map(|(_, f)| *f)
            .collect();
        let held: Vec<&Featurized> = train_files
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds == k)
            .map(|(_, f)| *f)
            .collect();
        if fit_on.is_empty() || held.is_empty() {
            continue;
        }
        let m = fit(&fit_on, opts);
        for f in held {
            for e in &f.examples {
                out.push((
                    f.name.clone(),
                    e.group,
                    e.label,
                    m.score(&e.doc, e.group).probability,
                ));
            }
        }
    }
    out
}

fn trainable(name: &str) -> bool {
    TRAINABLE.contains(&name)
}

/// Trains the model to ship: on every trainable file, with thresholds from
/// leave-one-file-out scores.
pub fn train_shipped(scanner: &Scanner, files: &[(String, Vec<Row>)], opts: &Options) -> Model {
    let feats = featurize_files(scanner, files);
    let train_files: Vec<&Featurized> = feats.iter().filter(|f| trainable(&f.name)).collect();
    let oof = out_of_fold(&train_files, train_files.len(), opts);
    let mut model = fit(&train_files, opts);
    model.thresholds = thresholds_from(&oof, opts);
    model
}

/// Leave-one-file-out models, one per file: for a trainable file, a model
/// trained on the other trainable files with thresholds from their own
/// out-of-fold scores (3 inner folds); for any other file, the model trained
/// on every trainable file, likewise thresholded. Score each file with its
/// model through [`score_file`].
pub fn leave_one_file_out(
    scanner: &Scanner,
    files: &[(String, Vec<Row>)],
    opts: &Options,
) -> Vec<Model> {
    let feats = featurize_files(scanner, files);
    let all_train: Vec<&Featurized> = feats.iter().filter(|f| trainable(&f.name)).collect();
    let mut shared: Option<Model> = None;
    let mut out = Vec::new();
    for (name, _) in files {
        let model = if trainable(name) {
            let rest: Vec<&Featurized> = all_train
                .iter()
                .copied()
                .filter(|f| &f.name != name)
                .collect();
            let mut m = fit(&rest, opts);
            m.thresholds = thresholds_from(&out_of_fold(&rest, 3, opts), opts);
            m
        } else {
            shared
                .get_or_insert_with(|| {
                    let mut m = fit(&all_train, opts);
                    m.thresholds = thresholds_from(&out_of_fold(&all_train, 3, opts), opts);
                    m
                })
                .clone()
        };
        out.push(model);
    }
    out
}

/// A committed floor for one file, checked by `portcullis scan eval --check`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Least recall (0..1) on injection rows.
    #[serde(default)]
    pub min_recall: Option<f64>,
    /// Most false-positive rate (0..1) on benign rows.
    #[serde(default)]
    pub max_false_positive_rate: Option<f64>,
    /// Most rules-only false-positive rate.
    #[serde(default)]
    pub max_rules_false_positive_rate: Option<f64>,
}

/// Compares scores with targets; returns one message per figure below its floor.
pub fn check(scores: &[FileScore], targets: &BTreeMap<String, Target>) -> Vec<String> {
    let mut failures = Vec::new();
    for (file, t) in targets {
        let Some(s) = scores.iter().find(|s| &s.file == file) else {
            failures.push(format!("{file}: not evaluated"));
            continue;
        };
        if let (Some(min), Some(r)) = (t.min_recall, s.recall())
            && r + 1e-9 < min
        {
            failures.push(format!(
                "{file}: recall {:.2}% ({} of {}) below {:.2}%",
                r * 100.0,
                s.detected,
                s.injection,
                min * 100.0
            ));
        }
        if let (Some(max), Some(f)) = (t.max_false_positive_rate, s.false_positive_rate())
            && f > max + 1e-9
        {
            failures.push(format!(
                "{file}: false-positive rate {:.3}% ({} of {}) above {:.3}%",
                f * 100.0,
                s.false_positives,
                s.benign,
                max * 100.0
            ));
        }
        if let (Some(max), Some(f)) = (
            t.max_rules_false_positive_rate,
            s.rules_false_positive_rate(),
        ) && f > max + 1e-9
        {
            failures.push(format!(
                "{file}: rules-only false-positive rate {:.3}% ({} of {}) above {:.3}%",
                f * 100.0,
                s.rules_false_positives,
                s.benign,
                max * 100.0
            ));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_parse_and_map_kinds_to_surfaces() {
        let rows = parse_jsonl("{\"text\":\"a\",\"label\":\"benign\",\"kind\":\"direct\"}\n\n{\"text\":\"b\",\"label\":\"injection\",\"kind\":\"indirect\",\"meta\":{}}\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].surface(), Surface::ToolArguments);
        assert!(rows[1].is_injection());
        assert_eq!(rows[1].surface(), Surface::ToolResult);
        assert!(parse_jsonl("{").unwrap_err().starts_with("line 1"));
    }

    #[test]
    fn the_committed_targets_parse_and_name_corpus_files() {
        let t: BTreeMap<String, Target> =
            serde_json::from_str(include_str!("../../docs/detection-targets.json")).unwrap();
        assert!(t.len() >= 10);
        for name in t.keys() {
            assert!(name.ends_with(".jsonl"), "{name}");
        }
        for name in TRAINABLE {
            assert!(t.contains_key(*name), "{name} has no committed target");
        }
    }

    #[test]
    fn a_figure_below_its_target_is_reported() {
        let s = FileScore {
            file: "f".into(),
            injection: 10,
            detected: 8,
            benign: 100,
            false_positives: 2,
            ..FileScore::default()
        };
        let mut t = BTreeMap::new();
        t.insert(
            "f".to_owned(),
            Target {
                min_recall: Some(0.85),
                max_false_positive_rate: Some(0.01),
                max_rules_false_positive_rate: None,
            },
        );
        let f = check(&[s], &t);
        assert_eq!(f.len(), 2, "{f:?}");
    }
}
