//! Redaction: replace the spans that findings point at with a marker such as
//! `[redacted:secret.aws-access-key]`, leaving the rest of the message intact.
//!
//! Invariants: only string leaves named by a finding's `json_path` change;
//! overlapping spans merge into one marker (named after the first finding);
//! a finding without a span, or with a span that does not fit its leaf,
//! replaces the whole leaf; the result is always valid JSON.

use super::types::Finding;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::Range;

/// A span to redact and the rule id that names its marker.
pub type Span<'a> = (Option<Range<usize>>, &'a str);

/// Redacts every finding's span in `value`; returns the number of markers written.
pub fn redact(value: &mut Value, findings: &[Finding]) -> usize {
    let mut by_path: BTreeMap<&str, Vec<Span<'_>>> = BTreeMap::new();
    for f in findings {
        by_path
            .entry(f.json_path.as_str())
            .or_default()
            .push((f.span.clone(), &f.rule_id));
    }
    let mut written = 0;
    for (path, spans) in by_path {
        let Some(Value::String(s)) = value.pointer_mut(path) else {
            continue;
        };
        let (new, n) = redact_str(s, &spans);
        *s = new;
        written += n;
    }
    written
}

/// Redacts spans in one string; returns the new string and the markers written.
pub fn redact_str(s: &str, spans: &[Span<'_>]) -> (String, usize) {
    let fits = |r: &Range<usize>| {
        r.start <= r.end
            && r.end <= s.len()
            && s.is_char_boundary(r.start)
            && s.is_char_boundary(r.end)
    };
    let mut ranges: Vec<(Range<usize>, &str)> = Vec::new();
    for (span, id) in spans {
        match span {
            Some(r) if fits(r) && !r.is_empty() => ranges.push((r.clone(), id)),
            Some(r) if fits(r) => {}
            _ => return (format!("[redacted:{id}]"), 1),
        }
    }
    ranges.sort_by_key(|(r, _)| (r.start, r.end));
    let mut merged: Vec<(Range<usize>, &str)> = Vec::new();
    for (r, id) in ranges {
        match merged.last_mut() {
            Some((last, _)) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push((r, id)),
        }
    }
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for (r, id) in &merged {
        out.push_str(&s[at..r.start]);
        out.push_str("[redacted:");
        out.push_str(id);
        out.push(']');
        at = r.end;
    }
    out.push_str(&s[at..]);
    (out, merged.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::types::{Category, Severity};
    use serde_json::json;
    use std::sync::Arc;

    fn f(path: &str, span: Option<Range<usize>>, id: &str) -> Finding {
        Finding {
            rule_id: Arc::from(id),
            category: Category::Secret,
            severity: Severity::High,
            json_path: path.into(),
            span,
            score: None,
            explanation: String::new(),
        }
    }

    #[test]
    fn a_span_is_replaced_and_the_rest_is_kept() {
        let mut v = json!({"content": [{"type": "text", "text": "key AKIAABCDEFGHIJKLMNOP here"}]});
        let n = redact(&mut v, &[f("/content/0/text", Some(4..24), "secret.aws")]);
        assert_eq!(n, 1);
        assert_eq!(v["content"][0]["text"], "key [redacted:secret.aws] here");
        assert_eq!(v["content"][0]["type"], "text");
    }

    #[test]
    fn overlapping_spans_merge_into_one_marker() {
        let (s, n) = redact_str(
            "abcdefghij",
            &[(Some(2..5), "a"), (Some(4..8), "b"), (Some(9..10), "c")],
        );
        assert_eq!(s, "ab[redacted:a]i[redacted:c]");
        assert_eq!(n, 2);
    }

    #[test]
    fn a_finding_without_a_span_replaces_the_whole_leaf() {
        let mut v = json!(["hello", "world"]);
        redact(&mut v, &[f("/1", None, "model")]);
        assert_eq!(v, json!(["hello", "[redacted:model]"]));
    }

    #[test]
    fn a_span_off_a_char_boundary_replaces_the_whole_leaf() {
        let (s, _) = redact_str("héllo", &[(Some(0..2), "x")]);
        assert_eq!(s, "[redacted:x]");
    }

    #[test]
    fn a_plain_text_finding_redacts_the_root_string() {
        let mut v = json!("my token ghp_abc");
        redact(&mut v, &[f("", Some(9..16), "secret.github")]);
        assert_eq!(v, json!("my token [redacted:secret.github]"));
    }
}
