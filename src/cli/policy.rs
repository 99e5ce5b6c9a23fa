//! `portcullis policy check|test|explain` for security teams, and
//! `portcullis approvals list|approve|reject` for approvers.

use crate::authz;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

/// `portcullis policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate policy files against the schema (errors name file:line:column).
    Check {
        /// Policy files and folders (with one *.cedarschema), or a gateway
        /// configuration file (its `authorization:` section is checked).
        paths: Vec<PathBuf>,
    },
    /// Run policy test files (YAML: requests and expected decisions).
    Test {
        /// A test file or a folder of them.
        dir: PathBuf,
    },
    /// Explain which policies decide each request of a file, and why.
    Explain {
        /// A file in the test format (`expect` optional).
        file: PathBuf,
    },
}

/// `portcullis approvals …`.
#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// List unexpired approvals, pending first.
    List(AdminArgs),
    /// Approve a pending approval.
    Approve {
        /// The approval id.
        id: String,
        /// Where and how.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Reject a pending approval.
    Reject {
        /// The approval id.
        id: String,
        /// Where and how.
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// The admin listener and the approver's token.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// The admin listener, e.g. http://127.0.0.1:9090.
    #[arg(long)]
    pub admin: String,
    /// A file holding the approver's bearer token (role `approver`).
    #[arg(long)]
    pub token_file: PathBuf,
}

/// Runs a policy command.
pub fn run(command: PolicyCommand) -> ExitCode {
    match command {
        PolicyCommand::Check { paths } => check(&paths),
        PolicyCommand::Test { dir } => {
            let report = authz::testing::run_dir(&dir);
            for f in &report.failures {
                println!("FAIL {f}");
            }
            println!("{} passed, {} failed", report.passed, report.failures.len());
            if report.failures.is_empty() && report.passed > 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        PolicyCommand::Explain { file } => match authz::testing::load(&file) {
            Ok((tests, engine)) => {
                let mut ok = true;
                for case in &tests.cases {
                    match authz::testing::decide(&engine, case) {
                        Ok((_, text)) => println!("== {}\n{text}", case.name),
                        Err(e) => {
                            ok = false;
                            println!("== {}\nerror: {e}\n", case.name);
                        }
                    }
                }
                if ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn check(paths: &[PathBuf]) -> ExitCode {
    let is_config = matches!(paths, [one] if matches!(one.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")));
    let result = if is_config {
        crate::config::load(&paths[0])
            .and_then(|rt| {
                rt.authorization
                    .map(|e| (e.version.to_string(), e.len()))
                    .ok_or_else(|| {
                        crate::config::ConfigError::at(
                            &paths[0],
                            "authorization",
                            "no `authorization:` section",
                        )
                    })
            })
            .map_err(|e| e.to_string())
    } else {
        authz::policies::load(paths, None)
            .map(|l| (l.version, l.info.len()))
            .map_err(|e| e.to_string())
    };
    match result {
        Ok((version, n)) => {
            println!("OK: {n} policies, version {version}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs an approvals command against the admin listener.
pub async fn run_approvals(command: ApprovalsCommand) -> ExitCode {
    let (method, path, admin) = match &command {
        ApprovalsCommand::List(a) => (http::Method::GET, "/authz/approvals".to_owned(), a),
        ApprovalsCommand::Approve { id, admin } => (
            http::Method::POST,
            format!("/authz/approvals/{id}/approve"),
            admin,
        ),
        ApprovalsCommand::Reject { id, admin } => (
            http::Method::POST,
            format!("/authz/approvals/{id}/reject"),
            admin,
        ),
    };
    let token = match std::fs::read_to_string(&admin.token_file) {
        Ok(t) => t.trim().to_owned(),
        Err(e) => {
            eprintln!("{}: {e}", admin.token_file.display());
            return ExitCode::FAILURE;
        }
    };
    match call(
        method,
        &format!("{}{path}", admin.admin.trim_end_matches('/')),
        &token,
    )
    .await
    {
        Ok((status, body)) => {
            println!("{body}");
            if status.is_success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("approvals: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn call(
    method: http::Method,
    url: &str,
    token: &str,
) -> Result<(http::StatusCode, String), String> {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let request = http::Request::builder()
        .method(method)
        .uri(url)
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
