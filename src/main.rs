//! The `portcullis` binary: parse the command line, hand over to the library.

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    portcullis::cli::run(portcullis::cli::Cli::parse()).await
}
