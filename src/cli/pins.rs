//! `portcullis pins`: tool pinning against a committed pins file, so that a
//! tool whose description or schema changed upstream (a rug pull) is seen in
//! review before it is approved.

use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The `pins` subcommands: tool pinning against a committed pins file.
#[derive(Debug, Subcommand)]
pub enum PinsCommand {
    /// Show which tools are new, changed (field by field) or gone. Exits 1 when anything changed.
    Diff {
        /// The pins file (missing: nothing is pinned yet).
        #[arg(long, default_value = "portcullis-pins.json")]
        pins: PathBuf,
        /// The upstream the tools come from.
        #[arg(long)]
        upstream: String,
        /// A tools/list result (JSON-RPC response, `{"tools": [...]}` or an array).
        tools: PathBuf,
    },
    /// Pin the tools as listed now (replaces that upstream's pins) and write the file.
    Approve {
        /// The pins file.
        #[arg(long, default_value = "portcullis-pins.json")]
        pins: PathBuf,
        /// The upstream the tools come from.
        #[arg(long)]
        upstream: String,
        /// A tools/list result.
        tools: PathBuf,
    },
}

/// Runs a `pins` subcommand.
pub fn run_pins(cmd: PinsCommand) -> ExitCode {
    match run_pins_inner(cmd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run_pins_inner(cmd: PinsCommand) -> Result<ExitCode, String> {
    use crate::scan::pins::{self, PinsFile};
    let read_pins = |path: &Path| -> Result<PinsFile, String> {
        match std::fs::read_to_string(path) {
            Ok(t) => PinsFile::parse(&t).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PinsFile::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    };
    let read_tools = |path: &Path| -> Result<Vec<serde_json::Value>, String> {
        let t = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let v: serde_json::Value =
            serde_json::from_str(&t).map_err(|e| format!("{}: {e}", path.display()))?;
        pins::tools_of(&v).map_err(|e| format!("{}: {e}", path.display()))
    };
    match cmd {
        PinsCommand::Diff {
            pins: p,
            upstream,
            tools,
        } => {
            let file = read_pins(&p)?;
            let tools = read_tools(&tools)?;
            let changes = pins::compare(&file, &upstream, &tools).map_err(|e| e.to_string())?;
            print!("{}", pins::render(&upstream, &changes));
            let catalog: Vec<(String, String)> =
                file.upstreams
                    .iter()
                    .filter(|(u, _)| **u != upstream)
                    .flat_map(|(u, t)| t.keys().map(move |n| (u.clone(), n.clone())))
                    .chain(tools.iter().filter_map(|t| {
                        Some((upstream.clone(), t.get("name")?.as_str()?.to_owned()))
                    }))
                    .collect();
            for s in pins::shadowing(&catalog) {
                let how = if s.identical {
                    "collides with"
                } else {
                    "looks like"
                };
                println!(
                    "! {}/{} {how} {}/{}",
                    s.second.0, s.second.1, s.first.0, s.first.1
                );
            }
            Ok(if changes.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        PinsCommand::Approve {
            pins: p,
            upstream,
            tools,
        } => {
            let mut file = read_pins(&p)?;
            let tools = read_tools(&tools)?;
            file.approve(&upstream, &tools).map_err(|e| e.to_string())?;
            std::fs::write(&p, file.to_json()).map_err(|e| format!("{}: {e}", p.display()))?;
            println!(
                "pinned {} tool(s) of {upstream} in {}",
                tools.len(),
                p.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
