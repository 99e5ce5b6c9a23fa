//! The scanner: normalisation, then rules, decoders and the model
//! (`scan::normalize`, `Scanner::scan_text`, `Scanner::scan_json`, `redact`).
//!
//! Input: JSON is scanned as a message on a surface picked from its length,
//! anything else as plain text. Beyond "no panic": the folded text is at most
//! 4x the input; folded spans map back inside the original on char
//! boundaries; every finding's path names a string leaf and its span fits that
//! leaf on char boundaries; the scan stays within its byte budget; the model
//! score is a probability; redaction leaves valid JSON.
//!
//! Shared by the libFuzzer target (`fuzz/fuzz_targets/scan.rs`) and the CI
//! smoke test (`tests/fuzz_smoke.rs`), which runs it on the committed seeds
//! and on deterministic mutations of them.

use portcullis::scan::normalize::normalize;
use portcullis::scan::{Finding, Report, Scanner, Surface, redact};
use serde_json::Value;
use std::sync::OnceLock;

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(Scanner::embedded)
}

/// Runs every check on one input; panics when an invariant fails.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    check_normalize(&text);
    let scanner = scanner();
    let surface = Surface::ALL[data.len() % Surface::ALL.len()];
    let budget = scanner.settings().max_scan_bytes;
    match serde_json::from_slice::<Value>(data) {
        Ok(mut value) => {
            let report = scanner.scan_json(surface, &value);
            check_report(&report, budget);
            for f in &report.findings {
                let leaf = value.pointer(&f.json_path);
                let Some(Value::String(leaf)) = leaf else {
                    panic!(
                        "finding {} names {:?}, not a string leaf",
                        f.rule_id, f.json_path
                    );
                };
                check_span(f, leaf);
            }
            redact(&mut value, &report.findings);
            let out = serde_json::to_vec(&value).expect("a value serialises");
            let _: Value = serde_json::from_slice(&out).expect("redacted JSON parses");
        }
        Err(_) => {
            let report = scanner.scan_text(surface, &text);
            check_report(&report, budget);
            for f in &report.findings {
                assert_eq!(f.json_path, "");
                check_span(f, &text);
            }
        }
    }
}

fn check_normalize(text: &str) {
    let n = normalize(text);
    assert!(n.text.len() <= 4 * text.len(), "folded text grew beyond 4x");
    let len = n.text.len();
    for (a, b) in [(0, len), (0, len / 2), (len / 3, len), (len / 2, len / 2)] {
        let span = n.original_span(a..b, text);
        assert!(span.start <= span.end && span.end <= text.len());
        assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
    }
    for s in &n.signals {
        assert!(
            s.span.start <= s.span.end && s.span.end <= text.len(),
            "{s:?}"
        );
        assert!(s.count > 0);
    }
    if let Some((span, _)) = &n.tag_text {
        assert!(span.end <= text.len());
    }
}

fn check_report(report: &Report, budget: usize) {
    assert!(report.scanned_bytes <= budget, "scanned beyond the budget");
    if let Some(p) = report.model_score {
        assert!((0.0..=1.0).contains(&p), "model score {p}");
    }
}

fn check_span(f: &Finding, leaf: &str) {
    if let Some(span) = &f.span {
        assert!(
            span.start <= span.end
                && span.end <= leaf.len()
                && leaf.is_char_boundary(span.start)
                && leaf.is_char_boundary(span.end),
            "finding {} span {span:?} does not fit its {}-byte leaf",
            f.rule_id,
            leaf.len()
        );
    }
}
