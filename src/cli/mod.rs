//! The command line: `serve`, `check`, `config`, `demo`, `scan`, `pins`, `policy`, `approvals` and `audit`. This is the only code that
//! prints to stdout and stderr directly; everything else logs.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod audit;
pub mod pins;
pub mod policy;
pub mod scan;
pub mod scan_server;

use crate::{config, demo, server, telemetry};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// portcullis: a security gateway for the Model Context Protocol.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve {
        /// The configuration file.
        #[arg(long, short, default_value = "portcullis.yaml")]
        config: PathBuf,
    },
    /// Validate a configuration file without starting anything.
    Check {
        /// The configuration file.
        file: PathBuf,
    },
    /// Configuration tooling.
    Config {
        /// What to do.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Offline injection scanning, evaluation and training.
    Scan {
        /// What to do.
        #[command(subcommand)]
        command: scan::ScanCommand,
    },
    /// Tool pinning: diff and approve tool definitions against a pins file.
    Pins {
        /// What to do.
        #[command(subcommand)]
        command: pins::PinsCommand,
    },
    /// Run the gateway in front of an embedded demo MCP server and print what to try.
    Demo {
        /// Where the gateway listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Policy tooling: check, test, explain.
    Policy {
        /// What to do.
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Human approvals through the admin listener.
    Approvals {
        /// What to do.
        #[command(subcommand)]
        command: policy::ApprovalsCommand,
    },
    /// Audit trail tools.
    Audit {
        /// What to do.
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
}

/// `portcullis config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the JSON Schema of `portcullis.yaml` (for editor validation).
    Schema,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Scan { command } => scan::run(command).await,
        Command::Pins { command } => pins::run_pins(command),
        Command::Audit { command } => audit::run(command),
        Command::Policy { command } => policy::run(command),
        Command::Config {
            command: ConfigCommand::Schema,
        } => {
            print!("{}", config::schema::schema_json());
            ExitCode::SUCCESS
        }
        Command::Approvals { command } => policy::run_approvals(command).await,
        Command::Check { file } => match config::load(&file) {
            Ok(rt) => {
                let upstreams: Vec<String> = rt
                    .federation
                    .upstreams
                    .iter()
                    .map(|u| match &u.transport {
                        config::Transport::Http(h) => format!("{} ({})", u.name, h.url),
                        config::Transport::Sse(h) => format!("{} (HTTP+SSE {})", u.name, h.url),
                        config::Transport::Stdio(s) => {
                            format!("{} (stdio {})", u.name, s.program.display())
                        }
                    })
                    .collect();
                println!(
                    "{}: OK: MCP on {}{} -> {}",
                    file.display(),
                    rt.listen.address,
                    rt.listen.path,
                    upstreams.join(", ")
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Serve { config } => {
            let rt = match config::load(&config) {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            let _logs = match telemetry::init(rt.logging.0, &rt.logging.1) {
                Ok(guard) => guard,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            serve_until_signal(rt).await
        }
        Command::Demo { listen } => {
            let _logs = match telemetry::init(false, "warn,portcullis::access=info") {
                Ok(guard) => guard,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            let signals = Signals::install();
            match demo::start(&listen).await {
                Ok(demo) => {
                    let addr = demo.running.mcp_addr();
                    println!(
                        "{}",
                        demo::instructions(addr, &demo.tokens, &demo.audit_dir)
                    );
                    signals.wait().await;
                    demo.running.shutdown().await;
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("demo: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn serve_until_signal(rt: config::Runtime) -> ExitCode {
    // Handlers first: a SIGTERM that arrives once the listener accepts must
    // drain, not kill the process with the default action.
    let signals = Signals::install();
    match server::start(rt).await {
        Ok(running) => {
            signals.wait().await;
            tracing::info!("shutting down");
            running.shutdown().await;
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM and SIGINT handlers, installed before the gateway listens.
struct Signals(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

impl Signals {
    fn install() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(term), Ok(int)) => Signals(Some((term, int))),
            _ => Signals(None),
        }
    }

    /// Waits for SIGTERM or SIGINT.
    async fn wait(self) {
        match self.0 {
            Some((mut term, mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}
