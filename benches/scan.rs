//! Scanner throughput on benign tool output: code, prose and JSON at 1 KiB,
//! 16 KiB and 1 MiB. Five groups: the whole scan (normalisation, decoding,
//! rules, structure, model); the load run's 10 KiB result with warm caches
//! and with the core's caches emptied before each scan (`cold`); a baseline
//! measured in the same run on the same inputs (every rule literal in one
//! plain `aho_corasick::AhoCorasick`, matches counted over the raw text, the
//! cost of a bare literal rule scanner); normalisation alone; and the
//! Aho-Corasick prefilter alone (its first tier: does any literal occur?) on
//! folded text without hits, next to the plain automaton's `is_match` on the
//! same text.
//!
//! Quote `scan/<input>` against `baseline/<input>` from the same run: absolute
//! figures on a shared machine move between runs, the ratio much less.
//!
//! Run: `cargo bench --bench scan` (add `-- prefilter` to pick a group).
#![allow(clippy::expect_used, missing_docs)]

use aho_corasick::AhoCorasick;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use portcullis::scan::normalize::{fold_literal, normalize};
use portcullis::scan::pack::RawPack;
use portcullis::scan::scanner::EMBEDDED_PACKS;
use portcullis::scan::{Scanner, Surface};
use std::hint::black_box;
use std::time::Duration;

const PROSE: &str = "The tower received millions of visitors last year. Its base is square, \
measuring 125 metres on each side, and the top platform is 276 m above the ground. During its \
construction it surpassed the Washington Monument to become the tallest structure in the world, \
a title it held for 41 years. Restaurants sit on the first and second levels; lifts and stairs \
connect them, and the shops near the exit sell maps and postcards to tourists from everywhere.\n";

const CODE: &str = "def parse_header(line, *, strict=False):\n    \"\"\"Split a header line into \
name and value.\"\"\"\n    name, sep, value = line.partition(':')\n    if not sep:\n        if strict:\n            \
raise ValueError(f'bad header: {line!r}')\n        return None\n    return name.strip().lower(), \
value.strip()\n\nfor i, row in enumerate(rows):\n    total += row.amount * rates.get(row.currency, 1.0)\n";

fn filled(unit: &str, size: usize) -> String {
    let mut s = String::with_capacity(size + unit.len());
    let mut i = 0u64;
    while s.len() < size {
        // Vary the text a little so it is not one repeated block.
        s.push_str(&unit.replace("125", &(100 + i % 97).to_string()));
        i += 1;
    }
    let mut end = size.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

/// A list of orders. `unique`: no string leaf repeats (every status, note
/// and SKU differs), the worst case for the scanner, which scans a repeated
/// leaf once per message; otherwise statuses, notes and SKUs repeat, as in
/// most list-shaped results.
fn json_doc(size: usize, unique: bool) -> serde_json::Value {
    let mut items = Vec::new();
    let mut bytes = 0;
    let mut i = 0;
    while bytes < size {
        let item = if unique {
            serde_json::json!({
                "id": i, "name": format!("order-{i}"), "status": format!("shipped-{i}"),
                "note": format!("Delivered to desk {i} at the front; signed by reception."),
                "lines": [{"sku": format!("A-{i}"), "qty": 2, "price": 9.5},
                          {"sku": format!("B-{i}"), "qty": 1, "price": 120.0}]
            })
        } else {
            serde_json::json!({
                "id": i, "name": format!("order-{i}"), "status": "shipped",
                "note": "Delivered to the front desk; signed by reception.",
                "lines": [{"sku": "A-100", "qty": 2, "price": 9.5}, {"sku": "B-7", "qty": 1, "price": 120.0}]
            })
        };
        bytes += item.to_string().len() + 1;
        items.push(item);
        i += 1;
    }
    serde_json::json!({"content": [{"type": "text", "text": "orders"}], "structuredContent": {"orders": items}})
}

/// Benign text that addresses its reader: second person, questions and
/// imperative openings, so the structural analysis and the model do run (the
/// slow path, reported for honesty next to the fast one).
const MAIL: &str = "Hi Anna, thanks for your note about the quarterly report. Could you send \
me the final figures by Friday? Please check the totals in the second table before you share \
it with the board; last time two rows were swapped. Let me know if you need help with the \
charts. I will be in the office on Monday and Tuesday.\nBest regards, Tom\n";

/// Business prose, the paragraph the gateway's scan-overhead load run sends
/// (`benches/loadkit.py`): it reaches the exact literal pass more often than
/// `PROSE` does.
const REPORT: &str = "The quarterly report covers revenue, hiring and the migration of the billing \
service to the new cluster. Revenue grew by four percent against the same quarter last year, \
driven mostly by renewals in the education segment. Two engineers joined the platform team in \
May; one position remains open. The billing migration finished on the twelfth, two days later \
than planned, because the invoice archive needed a schema change that the old exporter did not \
support. Customer tickets about late invoices fell from thirty-one to nine after the change. \
Next quarter the team plans to retire the legacy reporting database and to move nightly jobs to \
the scheduler. ";

const SIZES: [(&str, usize); 3] = [("1KiB", 1 << 10), ("16KiB", 16 << 10), ("1MiB", 1 << 20)];

/// Every rule literal of the shipped packs (folded, as the scanner folds
/// them), without the lexicon's cue words and rot13 forms the scanner adds.
fn rule_literals() -> Vec<String> {
    let mut out: Vec<String> = EMBEDDED_PACKS
        .iter()
        .flat_map(|(_, text)| {
            let pack: RawPack = serde_yaml_ng::from_str(text).expect("a shipped pack parses");
            pack.rules.into_iter().flat_map(|r| r.literals)
        })
        .map(|l| fold_literal(&l))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The baseline automaton: the crate's defaults, ASCII case-insensitive
/// because it reads raw (unfolded) text.
fn plain_automaton() -> AhoCorasick {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(rule_literals())
        .expect("the rule literals build an automaton")
}

/// The inputs of the end-to-end group, as (kind, size label, text). JSON is
/// the serialised message, which is what the baseline reads and what the
/// throughput counts.
fn inputs() -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    for (label, size) in SIZES {
        for (kind, unit) in [("prose", PROSE), ("code", CODE)] {
            out.push((kind, label, filled(unit, size)));
        }
        if size == 16 << 10 {
            out.push(("mail", label, filled(MAIL, size)));
            out.push(("report", label, filled(REPORT, size)));
        }
        out.push(("json", label, json_doc(size, false).to_string()));
        out.push(("json-unique", label, json_doc(size, true).to_string()));
    }
    out
}

fn end_to_end(c: &mut Criterion) {
    let scanner = Scanner::embedded();
    let mut g = c.benchmark_group("scan");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for (kind, label, text) in inputs() {
        g.throughput(Throughput::Bytes(text.len() as u64));
        if kind.starts_with("json") {
            let doc: serde_json::Value = serde_json::from_str(&text).expect("bench JSON parses");
            g.bench_with_input(BenchmarkId::new(kind, label), &doc, |b, d| {
                b.iter(|| black_box(scanner.scan_json(Surface::ToolResult, d)))
            });
        } else {
            g.bench_with_input(BenchmarkId::new(kind, label), &text, |b, t| {
                b.iter(|| black_box(scanner.scan_text(Surface::ToolResult, t)))
            });
        }
    }
    // A direct surface: a tool call's argument, featurised sentence by sentence.
    for (label, size) in [("1KiB", 1 << 10), ("16KiB", 16 << 10)] {
        let text = filled(REPORT, size);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::new("argument-report", label), &text, |b, t| {
            b.iter(|| black_box(scanner.scan_text(Surface::ToolArguments, t)))
        });
    }
    g.finish();
}

/// A 10 KiB tool result of the load run's prose, scanned as the gateway
/// scans it (a JSON result, every string leaf), with warm caches and with
/// caches emptied before each scan. In the running gateway each request's
/// network and pipeline work, and the other processes on the core, come
/// between two scans; the cold case is that, without the noise.
fn cold(c: &mut Criterion) {
    let scanner = Scanner::embedded();
    let text = filled(REPORT, 10 << 10);
    let doc = serde_json::json!({"content": [{"type": "text", "text": text}], "isError": false});
    // Twice the core's L2 (2 MiB here): writing it evicts the scanner's tables to L3.
    let mut sweep = vec![0u8; 4 << 20];
    let mut g = c.benchmark_group("cold");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("result-report/10KiB/warm", |b| {
        b.iter(|| black_box(scanner.scan_json(Surface::ToolResult, &doc)))
    });
    g.bench_function("result-report/10KiB/cold", |b| {
        b.iter_custom(|n| {
            let mut spent = Duration::ZERO;
            for k in 0..n {
                for (i, byte) in sweep.iter_mut().enumerate().step_by(64) {
                    *byte = byte.wrapping_add((i as u64 ^ k) as u8);
                }
                black_box(&sweep);
                let t = std::time::Instant::now();
                black_box(scanner.scan_json(Surface::ToolResult, &doc));
                spent += t.elapsed();
            }
            spent
        })
    });
    g.finish();
}

fn baseline(c: &mut Criterion) {
    let ac = plain_automaton();
    let mut g = c.benchmark_group("baseline");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300));
    for (kind, label, text) in inputs() {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::new(kind, label), &text, |b, t| {
            b.iter(|| black_box(ac.find_iter(t.as_str()).count()))
        });
    }
    g.finish();
}

fn normalisation(c: &mut Criterion) {
    let mut g = c.benchmark_group("normalize");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300));
    for (kind, unit) in [("prose", PROSE), ("code", CODE)] {
        let text = filled(unit, 1 << 20);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::new(kind, "1MiB"), &text, |b, t| {
            b.iter(|| black_box(normalize(t)))
        });
    }
    g.finish();
}

fn prefilter(c: &mut Criterion) {
    let scanner = Scanner::embedded();
    let plain = plain_automaton();
    let mut g = c.benchmark_group("prefilter");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300));
    for (label, size) in SIZES {
        // Folded text without literal hits: the automaton's fast path.
        let folded = normalize(&filled(PROSE, size)).text;
        assert!(
            !scanner.rules().prefilter_any(&folded),
            "bench text must not hit"
        );
        g.throughput(Throughput::Bytes(folded.len() as u64));
        g.bench_with_input(BenchmarkId::new("prose", label), &folded, |b, t| {
            b.iter(|| black_box(scanner.rules().prefilter_any(t)))
        });
        g.bench_with_input(BenchmarkId::new("plain-ac", label), &folded, |b, t| {
            b.iter(|| black_box(plain.is_match(t.as_str())))
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    end_to_end,
    cold,
    baseline,
    normalisation,
    prefilter
);
criterion_main!(benches);
