//! The walk over a JSON message's string leaves, and the RFC 6901 pointers
//! that name them in findings.

use super::{Scanner, Scratch};
use crate::scan::model::Model;
use crate::scan::types::{Report, Surface};
use serde_json::Value;
use std::fmt::Write as _;

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
            Value::String(s) => self.leaf(
                w.surface,
                s,
                &w.path,
                w.report,
                w.budget,
                self.model.as_ref(),
                &mut w.scratch,
            ),
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
                    self.walk(item, w, depth + 1);
                    w.path.pop();
                }
            }
            _ => {}
        }
    }

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
    ) {
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
            return;
        }
        // The pointer is spelled out only for a leaf with findings: most have none.
        let pointer = pointer(path);
        for mut f in found {
            f.json_path = pointer.clone();
            report.findings.push(f);
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
