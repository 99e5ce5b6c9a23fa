//! `portcullis scan server URL | -- COMMAND [ARGS...]`: connect to an MCP server
//! as a client, list everything it advertises, and report what the gateway's
//! injection filter would drop from those lists (issue 6).
//!
//! The stages, in order: build the scanner (a bad rules folder fails before any
//! connection); connect and open a session ([`http`] or [`stdio`]); list each
//! advertised list to its end ([`listing`]); close the session (always, also
//! after a failed listing); judge and render ([`report`]).
//!
//! Exit codes: 0 nothing would be dropped or changed, 1 something would,
//! 2 the scan could not be completed (one line on stderr says what and where).
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod http;
pub mod listing;
pub mod report;
pub mod stdio;
pub mod transport;

use crate::config::units::HumanDuration;
use crate::pipeline::scanning::Filter;
use crate::scan::ScanPolicy;
use listing::{Limits, ListKind, Pager};
use report::ServerReport;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use transport::{Connection, Hello, ProbeError};

/// `scan server` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// The server's Streamable HTTP endpoint (http:// or https://).
    #[arg(conflicts_with = "command")]
    pub url: Option<String>,
    /// Or a stdio server to spawn, after `--`: its program and arguments.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
    /// An HTTP header sent with every request, `Name: value` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Longest wait for the server to start and for each answer (`10s`, `500ms`).
    #[arg(long, default_value = "10s", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Most pages read per list.
    #[arg(long, default_value_t = 100)]
    pub max_pages: usize,
    /// Most items read over all lists.
    #[arg(long, default_value_t = 10_000)]
    pub max_items: usize,
    /// Print the report as one JSON document.
    #[arg(long)]
    pub json: bool,
    /// Rule packs folder (default: built in).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Weights file (default: built in).
    #[arg(long)]
    pub model: Option<PathBuf>,
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    match HumanDuration::parse(s)?.0 {
        d if d.is_zero() => Err("must be longer than zero".into()),
        d => Ok(d),
    }
}

impl ServerArgs {
    /// The URL or the command line, as messages name the target.
    fn target(&self) -> String {
        match &self.url {
            Some(url) => url.clone(),
            None => self.command.join(" "),
        }
    }
}

/// Runs `scan server`.
pub async fn run(args: ServerArgs) -> ExitCode {
    if args.url.is_none() {
        show_server_stderr();
    }
    let target = args.target();
    match scan(&args).await {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(text) => println!("{text}"),
                    Err(e) => {
                        eprintln!("portcullis scan server: {target}: {e}");
                        return ExitCode::from(2);
                    }
                }
            } else {
                print!("{}", report::render_text(&report));
            }
            if report.is_poisoned() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            let target = if target.is_empty() {
                "(no target)"
            } else {
                &target
            };
            eprintln!("portcullis scan server: {target}: {e}");
            ExitCode::from(2)
        }
    }
}

/// Shows what a spawned server writes to its stderr (why it failed to
/// start, usually) on this command's stderr, apart from the report on stdout.
/// Nothing else is logged.
fn show_server_stderr() {
    let filter = tracing_subscriber::EnvFilter::new("off,portcullis::upstream::stderr=info");
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .with_level(false)
        .with_target(false)
        .compact()
        .try_init();
}

async fn scan(args: &ServerArgs) -> Result<ServerReport, ProbeError> {
    let scanner = super::scan::scanner(args.rules.as_deref(), args.model.as_deref())
        .map_err(ProbeError::Usage)?;
    let policy = ScanPolicy::default();
    let filter = Filter {
        scanner: &scanner,
        policy: &policy,
    };
    let (mut connection, hello) = connect(args).await?;
    let limits = Limits {
        max_pages: args.max_pages,
        max_items: args.max_items,
    };
    let listed = list_everything(&mut connection, &hello, limits).await;
    connection.close().await;
    let (lists, notes) = listed?;
    let mut items: Vec<_> = hello
        .instructions
        .iter()
        .map(|text| report::judge_instructions(&filter, text))
        .collect();
    let mut lookalikes = Vec::new();
    for (kind, list) in &lists {
        items.extend(report::judge(&filter, *kind, list));
        if *kind == ListKind::Tools {
            lookalikes = report::lookalikes(list);
        }
    }
    Ok(ServerReport {
        target: args.target(),
        server: hello.server_info,
        protocol_version: hello.protocol_version,
        items,
        lookalikes,
        notes,
    })
}

async fn connect(args: &ServerArgs) -> Result<(Connection, Hello), ProbeError> {
    match (&args.url, args.command.is_empty()) {
        (Some(url), true) => {
            let headers = args
                .headers
                .iter()
                .map(|h| http::parse_header(h))
                .collect::<Result<Vec<_>, _>>()?;
            let (client, hello) = http::HttpClient::open(url, headers, args.timeout).await?;
            Ok((Connection::Http(Box::new(client)), hello))
        }
        (None, false) => {
            if !args.headers.is_empty() {
                return Err(ProbeError::Usage(
                    "--header applies to a URL, not to a command".into(),
                ));
            }
            let (client, hello) = stdio::StdioClient::open(&args.command, args.timeout).await?;
            Ok((Connection::Stdio(client), hello))
        }
        _ => Err(ProbeError::Usage(
            "give a URL or `-- COMMAND [ARGS...]` (one of them)".into(),
        )),
    }
}

type Lists = Vec<(ListKind, Vec<Value>)>;

/// Lists every advertised list to its end. A server that advertises resources
/// but does not implement `resources/templates/list` (method not found) gets a
/// note rather than a failure: templates are optional in practice.
async fn list_everything(
    connection: &mut Connection,
    hello: &Hello,
    limits: Limits,
) -> Result<(Lists, Vec<String>), ProbeError> {
    let mut lists = Vec::new();
    let mut notes = Vec::new();
    let mut total = 0;
    for kind in ListKind::ALL {
        if !kind.advertised(&hello.capabilities) {
            continue;
        }
        match list_one(connection, kind, limits, total).await {
            Ok(items) => {
                total += items.len();
                lists.push((kind, items));
            }
            Err(ProbeError::Server { code: -32601, .. }) if kind == ListKind::ResourceTemplates => {
                notes.push(format!("{}: method not found", kind.method()));
            }
            Err(e) => return Err(e),
        }
    }
    Ok((lists, notes))
}

async fn list_one(
    connection: &mut Connection,
    kind: ListKind,
    limits: Limits,
    before: usize,
) -> Result<Vec<Value>, ProbeError> {
    let mut pager = Pager::new(kind, limits, before);
    let mut cursor: Option<String> = None;
    loop {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let result = connection.request(kind.method(), params).await?;
        cursor = pager.take(&result)?;
        if cursor.is_none() {
            return Ok(pager.finish());
        }
    }
}
