//! `portcullis scan …`: offline scanning, evaluation and training.
//!
//! - `scan text [--surface S] [--json]`: scans stdin and prints the findings.
//! - `scan eval DIR [--format json] [--lofo] [--check FILE]`: scores labelled
//!   JSONL corpora per file; `--lofo` reports the model leave-one-file-out;
//!   `--check` exits non-zero when a figure falls below the committed targets.
//! - `scan train [DIR] [--out FILE]`: trains the shipped weights, deterministically.
//! - `scan server URL | -- COMMAND`: connects to an MCP server and reports the
//!   poisoned descriptions it lists (see [`super::scan_server`]).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use crate::scan::eval::{self, FileScore, Row, Target};
use crate::scan::model::{Model, train::Options, weights};
use crate::scan::{ScanSettings, Scanner, Surface};
use clap::Subcommand;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Training knobs shared by `scan eval --lofo` and `scan train`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// False-positive rate the model's thresholds aim at, per benign file.
    #[arg(long, default_value_t = Options::default().target_fpr)]
    target_fpr: f64,
    /// Least model threshold on direct surfaces (prompts, arguments).
    #[arg(long, default_value_t = Options::default().direct_floor)]
    direct_floor: f32,
    /// Passes over the training data.
    #[arg(long, default_value_t = Options::default().epochs)]
    epochs: usize,
}

impl TrainArgs {
    fn options(&self) -> Options {
        Options {
            target_fpr: self.target_fpr,
            direct_floor: self.direct_floor,
            epochs: self.epochs,
            ..Options::default()
        }
    }
}

/// The `scan` subcommands.
#[derive(Debug, Subcommand)]
pub enum ScanCommand {
    /// Scan text from stdin and print the findings.
    Text {
        /// The surface the text arrives on.
        #[arg(long, default_value = "tool_result")]
        surface: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Rule packs folder (default: built in).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Weights file (default: built in).
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Score labelled JSONL files, per file.
    Eval {
        /// Folder of `*.jsonl` files.
        dir: PathBuf,
        /// `text` (default) or `json` (one object per file).
        #[arg(long, default_value = "text")]
        format: String,
        /// Report the model leave-one-file-out (trains one model per file).
        #[arg(long)]
        lofo: bool,
        /// Rules and structure only, no model.
        #[arg(long, conflicts_with = "lofo")]
        rules_only: bool,
        /// Exit non-zero if a figure is below the targets in this JSON file.
        #[arg(long)]
        check: Option<PathBuf>,
        /// Print missed injections and false positives.
        #[arg(long)]
        samples: bool,
        /// Write every missed injection and false positive to `DIR/<file>.misses.jsonl`.
        #[arg(long)]
        dump: Option<PathBuf>,
        /// Featurise every sentence of server data, not only the planned
        /// regions (to check that the plan changes no verdict).
        #[arg(long)]
        whole_text: bool,
        /// Training knobs for `--lofo`.
        #[command(flatten)]
        train: TrainArgs,
        /// Rule packs folder (default: built in).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Weights file (default: built in).
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Connect to an MCP server (`URL` or `-- COMMAND ARGS`), list everything it
    /// advertises and report what the gateway would drop. Exits 0 clean, 1
    /// poisoned, 2 on error.
    Server(super::scan_server::ServerArgs),
    /// Train the statistical layer on the trainable files and write the weights.
    Train {
        /// Folder of the development corpus.
        #[arg(default_value = "../shared/data/injection")]
        dir: PathBuf,
        /// Where to write the weights.
        #[arg(long, default_value = "policies/scan/model-v1.bin")]
        out: PathBuf,
        /// Rule packs folder.
        #[arg(long, default_value = "policies/scan")]
        rules: PathBuf,
        /// Training knobs.
        #[command(flatten)]
        train: TrainArgs,
    },
}

/// Runs a `scan` subcommand.
pub async fn run(cmd: ScanCommand) -> ExitCode {
    if let ScanCommand::Server(args) = cmd {
        return super::scan_server::run(args).await;
    }
    match run_inner(cmd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The scanner `scan` commands use: built-in packs and weights unless `rules`
/// or `model` say otherwise, with the default settings.
pub(super) fn scanner(rules: Option<&Path>, model: Option<&Path>) -> Result<Scanner, String> {
    let settings = ScanSettings::default();
    match rules {
        None if model.is_none() => Scanner::try_embedded(settings).map_err(|e| e.to_string()),
        None => {
            let packs: Vec<(PathBuf, String)> = crate::scan::scanner::EMBEDDED_PACKS
                .iter()
                .map(|(n, t)| (PathBuf::from(*n), (*t).to_owned()))
                .collect();
            Scanner::from_parts(&packs, load_model(model)?, settings).map_err(|e| e.to_string())
        }
        Some(dir) => Scanner::load(dir, model, &settings).map_err(|e| e.to_string()),
    }
}

fn load_model(path: Option<&Path>) -> Result<Option<Model>, String> {
    let Some(path) = path else { return Ok(None) };
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    weights::from_bytes(&bytes)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn read_dir(dir: &Path) -> Result<Vec<(String, Vec<Row>)>, String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let rows = eval::parse_jsonl(&text).map_err(|e| format!("{}: {e}", p.display()))?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, rows))
        })
        .collect()
}

fn run_inner(cmd: ScanCommand) -> Result<ExitCode, String> {
    match cmd {
        ScanCommand::Text {
            surface,
            json,
            rules,
            model,
        } => {
            let surface =
                Surface::parse(&surface).ok_or_else(|| format!("unknown surface `{surface}`"))?;
            let s = scanner(rules.as_deref(), model.as_deref())?;
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("stdin: {e}"))?;
            let report = s.scan_text(surface, &text);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
                );
            } else {
                for f in &report.findings {
                    let span = f
                        .span
                        .as_ref()
                        .map(|r| format!("{}..{}", r.start, r.end))
                        .unwrap_or_default();
                    println!(
                        "{:<8} {:<36} {:<10} {}",
                        f.severity, f.rule_id, span, f.explanation
                    );
                }
                if let Some(p) = report.model_score {
                    println!("model probability {p:.3}");
                }
            }
            let min = s.settings().min_severity(surface);
            Ok(if report.is_injection(min) {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        ScanCommand::Eval {
            dir,
            format,
            lofo,
            rules_only,
            check,
            samples,
            dump,
            whole_text,
            train,
            rules,
            model,
        } => {
            let s = scanner(rules.as_deref(), model.as_deref())?.with_whole_text(whole_text);
            let files = read_dir(&dir)?;
            let models: Vec<Option<Model>> = if lofo {
                eval::leave_one_file_out(&s, &files, &train.options())
                    .into_iter()
                    .map(Some)
                    .collect()
            } else if rules_only {
                vec![None; files.len()]
            } else {
                vec![s.model().cloned(); files.len()]
            };
            let mut scores = Vec::new();
            for ((name, rows), m) in files.iter().zip(&models) {
                let t0 = Instant::now();
                let score = eval::score_file(&s, m.as_ref(), name, rows);
                let secs = t0.elapsed().as_secs_f64();
                print_score(&score, secs, &format, samples);
                if let Some(d) = &dump {
                    dump_misses(d, &score, rows)?;
                }
                scores.push(score);
            }
            match check {
                None => Ok(ExitCode::SUCCESS),
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    let targets: BTreeMap<String, Target> = serde_json::from_str(&text)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    let failures = eval::check(&scores, &targets);
                    for f in &failures {
                        eprintln!("below target: {f}");
                    }
                    Ok(if failures.is_empty() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    })
                }
            }
        }
        // Async: `run` hands it to `scan_server::run` before coming here.
        ScanCommand::Server(_) => Err("`scan server` needs the async runtime".into()),
        ScanCommand::Train {
            dir,
            out,
            rules,
            train,
        } => {
            let s =
                Scanner::load(&rules, None, &ScanSettings::default()).map_err(|e| e.to_string())?;
            let files = read_dir(&dir)?;
            let t0 = Instant::now();
            let model = eval::train_shipped(&s, &files, &train.options());
            let bytes = weights::to_bytes(&model);
            std::fs::write(&out, &bytes).map_err(|e| format!("{}: {e}", out.display()))?;
            println!(
                "wrote {} ({} bytes) in {:.1}s; thresholds direct {:.4} indirect {:.4} description {:.4}",
                out.display(),
                bytes.len(),
                t0.elapsed().as_secs_f64(),
                model.thresholds[1],
                model.thresholds[2],
                model.thresholds[3]
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn dump_misses(dir: &Path, s: &FileScore, rows: &[Row]) -> Result<(), String> {
    let mut out = String::new();
    for (what, list) in [
        ("missed", &s.missed_rows),
        ("false_positive", &s.false_positive_rows),
    ] {
        for &i in list {
            if let Some(r) = rows.get(i) {
                out.push_str(
                    &serde_json::json!({"what": what, "row": i, "text": r.text}).to_string(),
                );
                out.push('\n');
            }
        }
    }
    let path = dir.join(format!("{}.misses.jsonl", s.file));
    std::fs::write(&path, out).map_err(|e| format!("{}: {e}", path.display()))
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{:.2}%", v * 100.0))
}

fn print_score(s: &FileScore, secs: f64, format: &str, samples: bool) {
    let mbps = if secs > 0.0 {
        s.bytes as f64 / secs / 1e6
    } else {
        0.0
    };
    if format == "json" {
        let v = serde_json::json!({
            "file": s.file,
            "rows": s.rows,
            "injection": s.injection,
            "benign": s.benign,
            "recall": s.recall(),
            "false_positive_rate": s.false_positive_rate(),
            "rules_recall": s.rules_recall(),
            "rules_false_positive_rate": s.rules_false_positive_rate(),
            "mb_per_s": mbps,
        });
        println!("{v}");
    } else {
        println!(
            "{:<38} rows {:>5}  inj {:>5}  benign {:>5}  recall {:>8} (rules {:>8})  FPR {:>7} (rules {:>7})  {:>7.1} MB/s",
            s.file,
            s.rows,
            s.injection,
            s.benign,
            pct(s.recall()),
            pct(s.rules_recall()),
            pct(s.false_positive_rate()),
            pct(s.rules_false_positive_rate()),
            mbps
        );
    }
    if samples {
        for line in &s.samples {
            println!("    {line}");
        }
    }
}
