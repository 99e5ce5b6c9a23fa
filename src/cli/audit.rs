//! `portcullis audit verify FILES [--public-key K]`: checks audit segments and
//! checkpoint files for tampering and says where.
//!
//! Exit status: 0 when intact (warnings allowed), 1 when any file shows
//! tampering, 2 when a file or the key cannot be read.

use crate::audit::checkpoint::public_key_from_pem;
use crate::audit::verify::{Input, verify};
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

/// `portcullis audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify audit log segments and checkpoint files: hash chain, sequence,
    /// checkpoints and (with --public-key) their signatures.
    Verify {
        /// Segment files and checkpoint files, in any order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The checkpoint signing key's public half (SPKI PEM, as
        /// `openssl pkey -pubout` writes it). Without it, signatures are not checked.
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
}

/// Runs an audit subcommand.
pub fn run(command: AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Verify { files, public_key } => verify_files(&files, public_key.as_deref()),
    }
}

fn verify_files(files: &[PathBuf], public_key: Option<&std::path::Path>) -> ExitCode {
    let key = match public_key {
        None => None,
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| public_key_from_pem(&t))
        {
            Ok(k) => Some(k),
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let mut contents = Vec::new();
    for f in files {
        match std::fs::read(f) {
            Ok(bytes) => contents.push((f.display().to_string(), bytes)),
            Err(e) => {
                eprintln!("{}: cannot read: {e}", f.display());
                return ExitCode::from(2);
            }
        }
    }
    let inputs: Vec<Input<'_>> = contents
        .iter()
        .map(|(name, text)| Input { name, text })
        .collect();
    let report = verify(&inputs, key.as_ref());
    for p in &report.problems {
        println!("{p}");
    }
    let verdict = if report.is_intact() {
        "intact"
    } else {
        "TAMPERED"
    };
    let signatures = if key.is_some() {
        format!("{} signature(s) verified", report.signatures_verified)
    } else {
        "signatures not checked (no --public-key)".to_owned()
    };
    println!(
        "{verdict}: {} event(s), {} checkpoint(s), {signatures}",
        report.events, report.checkpoints
    );
    if report.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
