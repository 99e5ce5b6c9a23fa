//! The walk over a JSON message's string leaves, and the RFC 6901 pointers
//! that name them in findings.

use super::{Scanner, Scratch};
use crate::prehashed::BuildPrehashed;
use crate::scan::model::Model;
use crate::scan::types::{Report, Surface};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::BuildHasher;

/// Leaves longer than this are not remembered (prose is cheap per byte and
/// rarely repeats).
const SEEN_LEN: usize = 1024;
/// How many distinct leaves one message remembers.
const SEEN_CAP: usize = 4096;
/// After this many lookups, a message whose leaves repeat less than one time
/// in [`SEEN_RATE`] stops looking.
const SEEN_TRIAL: usize = 256;
const SEEN_RATE: usize = 16;

impl Scanner {
    /// Scans every string leaf of `value`, with RFC 6901 pointers as paths.
    pub fn scan_json(&self, surface: Surface, value: &Value) -> Report {
        let mut report = Report::default();
        let mut budget = self.settings.max_scan_bytes;
        let mut walk = Walk {
            surface,
            path: Vec::new(),
            report: &mut report,
            budget: &mut budget,
            scratch: Scratch::default(),
            seen: Seen::default(),
        };
        self.walk(value, &mut walk, 0);
        report
    }

    fn walk<'s, 'v>(&'s self, v: &'v Value, w: &mut Walk<'_, 'v, 's>, depth: usize) {
        if depth > 128 {
            w.report.oversize = true;
            return;
        }
        match v {
            Value::String(s) => {
                let seen = w.seen.get(s);
                if s.len() <= *w.budget
                    && let Ok(score) = seen
                {
                    // Scanned before in this message, whole and without
                    // findings: the same text scans the same.
                    *w.budget -= s.len();
                    w.report.scanned_bytes += s.len();
                    if let Some(p) = score {
                        w.report.model_score = Some(w.report.model_score.map_or(p, |q| q.max(p)));
                    }
                    return;
                }
                let whole = s.len() <= *w.budget;
                let score = self.leaf(
                    w.surface,
                    s,
                    &w.path,
                    w.report,
                    w.budget,
                    self.model.as_ref(),
                    &mut w.scratch,
                );
                if let (Some(score), Err(Some(key))) = (score, seen)
                    && whole
                {
                    w.seen.put(key, s, score);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    w.path.push(Step::Index(i));
                    self.walk(item, w, depth + 1);
                    w.path.pop();
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    w.path.push(Step::Key(k));
                    if let Value::String(s) = item
                        && self.rules.may_name_secret(k)
                    {
                        self.keyed_secret(k, s, w);
                    }
                    self.walk(item, w, depth + 1);
                    w.path.pop();
                }
            }
            _ => {}
        }
    }

    /// A credential named by its key (`{"password": "Xk9mQ2vL8pZ"}`): the
    /// whole string is the finding ([`crate::scan::rules::RuleSet::keyed_secret`]).
    fn keyed_secret(&self, key: &str, value: &str, w: &mut Walk<'_, '_, '_>) {
        let Some(rule) = self
            .rules
            .keyed_secret(w.surface, key, value)
            .and_then(|r| self.rules.rules.get(r))
        else {
            return;
        };
        let mut f = super::finding(
            rule.id.clone(),
            rule.category,
            rule.severity,
            Some(0..value.len()),
            format!(
                "{} ({} bytes, named by its key)",
                rule.description,
                value.len()
            ),
        );
        f.json_path = pointer(&w.path);
        w.report.findings.push(f);
    }

    /// Scans one leaf into `report`. Returns the leaf's model score when it
    /// had no findings (`Some(None)` without a score), `None` when it had.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn leaf<'m>(
        &self,
        surface: Surface,
        text: &str,
        path: &[Step<'_>],
        report: &mut Report,
        budget: &mut usize,
        model: Option<&'m Model>,
        scratch: &mut Scratch<'m>,
    ) -> Option<Option<f32>> {
        let mut take = text.len().min(*budget);
        while take > 0 && !text.is_char_boundary(take) {
            take -= 1;
        }
        if take < text.len() {
            report.oversize = true;
        }
        *budget -= take;
        let text = &text[..take];
        report.scanned_bytes += take;
        let mut found = Vec::new();
        let score = self.scan_one(surface, text, 0, model, &mut found, scratch);
        if let Some(p) = score {
            report.model_score = Some(report.model_score.map_or(p, |q| q.max(p)));
        }
        if found.is_empty() {
            return Some(score);
        }
        // The pointer is spelled out only for a leaf with findings: most have none.
        let pointer = pointer(path);
        for mut f in found {
            f.json_path = pointer.clone();
            report.findings.push(f);
        }
        None
    }
}

/// The leaves of one message already scanned whole without findings, with
/// their model scores. List-shaped results repeat values (statuses, types,
/// the same note on every line); a repeated leaf is scanned once. A message
/// whose leaves rarely repeat stops looking after a trial.
///
/// Each leaf is hashed once (seeded per process); the map's keys are those
/// hashes, and a hit is confirmed against the leaf's text.
#[derive(Default)]
struct Seen<'v> {
    hash: foldhash::fast::RandomState,
    scores: HashMap<u64, (&'v str, Option<f32>), BuildPrehashed>,
    looked: usize,
    hits: usize,
    off: bool,
}

impl<'v> Seen<'v> {
    /// `Ok(score)` for a leaf seen before; otherwise the key to
    /// [`Seen::put`] it under, if it may be remembered.
    fn get(&mut self, leaf: &str) -> Result<Option<f32>, Option<u64>> {
        if self.off || leaf.len() > SEEN_LEN {
            return Err(None);
        }
        self.looked += 1;
        let key = self.hash.hash_one(leaf);
        let found = match self.scores.get(&key) {
            Some((text, score)) if *text == leaf => Ok(*score),
            Some(_) => Err(None),
            None => Err(Some(key)),
        };
        self.hits += usize::from(found.is_ok());
        if self.looked == SEEN_TRIAL && self.hits * SEEN_RATE < SEEN_TRIAL {
            self.off = true;
            self.scores = HashMap::default();
        }
        found
    }

    fn put(&mut self, key: u64, leaf: &'v str, score: Option<f32>) {
        if !self.off && self.scores.len() < SEEN_CAP {
            if self.scores.capacity() == 0 {
                // One allocation for a small message's leaves, not five.
                self.scores.reserve(64);
            }
            self.scores.insert(key, (leaf, score));
        }
    }
}

/// The state of a walk over a JSON message's leaves.
pub(super) struct Walk<'r, 'v, 'm> {
    surface: Surface,
    /// The steps from the root to the current value.
    path: Vec<Step<'v>>,
    report: &'r mut Report,
    budget: &'r mut usize,
    scratch: Scratch<'m>,
    seen: Seen<'v>,
}

/// One step of a JSON pointer.
#[derive(Clone, Copy)]
pub(super) enum Step<'v> {
    Index(usize),
    Key(&'v str),
}

/// The RFC 6901 pointer for `path`.
fn pointer(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        out.push('/');
        match step {
            Step::Index(i) => {
                let _ = write!(out, "{i}");
            }
            Step::Key(k) => push_pointer_token(&mut out, k),
        }
    }
    out
}

/// Appends an RFC 6901 reference token (`~` as `~0`, `/` as `~1`) without
/// allocating for the usual key that has neither.
fn push_pointer_token(path: &mut String, key: &str) {
    if !key.contains(['~', '/']) {
        path.push_str(key);
        return;
    }
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}
