//! The metric names a PromQL expression mentions, for checking dashboards and
//! alert rules against the metric-name contract. A small scanner rather than a
//! parser: label matchers, ranges, strings and grouping clauses are skipped;
//! every other identifier that is not a function call, a keyword or an
//! aggregation is a metric name. `promtool` checks the syntax separately.

/// The metrics the gateway exports: the contract between deploy/ and the
/// metrics code. Dashboards and alerts may name nothing else.
pub const CONTRACT: &[&str] = &[
    "portcullis_requests_total",
    "portcullis_request_duration_seconds_bucket",
    "portcullis_gateway_added_seconds_bucket",
    "portcullis_upstream_duration_seconds_bucket",
    "portcullis_auth_rejections_total",
    "portcullis_findings_total",
    "portcullis_rate_limited_total",
    "portcullis_audit_queue_depth",
    "portcullis_audit_writes_total",
    "portcullis_audit_failures_total",
    "portcullis_audit_dropped_total",
    "portcullis_upstream_up",
    "portcullis_config_reloads_total",
    "portcullis_policy_version_info",
    "portcullis_jwks_refresh_failures_total",
];

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "atan2",
    "inf",
    "nan",
];

/// Aggregation operators: calls whose grouping clause may come before the `(`.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

const GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names in `expr`, in order of appearance (with repeats).
pub fn metric_names(expr: &str) -> Vec<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    let mut after_grouping = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => i = skip_string(&chars, i),
            '{' => i = skip_to(&chars, i, '}'),
            '[' => i = skip_to(&chars, i, ']'),
            '(' if after_grouping => {
                i = skip_to(&chars, i, ')');
                after_grouping = false;
            }
            '$' => {
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
            c if c.is_ascii_digit() || c == '.' => i = skip_number(&chars, i),
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let is_call = j < chars.len() && chars[j] == '(';
                if GROUPING.contains(&word.as_str()) {
                    after_grouping = true;
                    continue;
                }
                after_grouping = false;
                let operator =
                    KEYWORDS.contains(&word.as_str()) || AGGREGATIONS.contains(&word.as_str());
                if !is_call && !operator {
                    names.push(word);
                }
            }
            _ => i += 1,
        }
        if !(c.is_whitespace() || c.is_ascii_alphabetic() || c == '_') {
            after_grouping = false;
        }
    }
    names
}

fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// Past the matching `close`, skipping strings inside.
fn skip_to(chars: &[char], start: usize, close: char) -> usize {
    let mut i = start + 1;
    while i < chars.len() && chars[i] != close {
        if matches!(chars[i], '"' | '\'' | '`') {
            i = skip_string(chars, i);
        } else {
            i += 1;
        }
    }
    i + 1
}

/// A number or a duration (`1e-9`, `0.95`, `5m`, `1h30m`).
fn skip_number(chars: &[char], start: usize) -> usize {
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        let exponent_sign = (c == '-' || c == '+') && matches!(chars[i - 1], 'e' | 'E');
        if c.is_ascii_alphanumeric() || c == '.' || exponent_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

#[test]
fn metric_names_skips_functions_labels_ranges_grouping_and_numbers() {
    let expr = r#"histogram_quantile(0.99, sum by (le, method) (rate(portcullis_x_bucket{a="b}", c=~"$v"}[$__rate_interval]))) / clamp_min(sum(rate(other_total[5m] offset 1h)), 1e-9) > bool 0.2 and on(instance) up"#;
    assert_eq!(
        metric_names(expr),
        ["portcullis_x_bucket", "other_total", "up"]
    );
    assert_eq!(
        metric_names("count(count by (version) (portcullis_policy_version_info))"),
        ["portcullis_policy_version_info"]
    );
    assert_eq!(metric_names("sum(a) without (b) + c"), ["a", "c"]);
}
