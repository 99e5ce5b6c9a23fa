//! A stdio server for `scan server -- COMMAND`, run by the gateway's own stdio
//! upstream ([`StdioUpstream`]): it spawns the command in its own process group,
//! performs the legacy handshake (`initialize`, `notifications/initialized`),
//! and on close shuts stdin, then SIGTERMs, then SIGKILLs, and reaps.
//!
//! Unlike the gateway, the scan hands the child the user's whole environment
//! (the command runs as if typed in the shell that ran the scan), starts it once
//! (a restart would only hide a crash) and sends no pings.

use super::transport::{Hello, ProbeError, outcome};
use crate::config::stdio::{RawRestart, RawShutdown, RawStdioHealth, RawStdioUpstream};
use crate::config::units::HumanDuration;
use crate::protocol::jsonrpc::parse_message;
use crate::protocol::{Kind, ParseLimits};
use crate::upstream::mux::MuxError;
use crate::upstream::stdio::StdioUpstream;
use crate::upstream::supervised::{Health, LinkError};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// A running server process.
#[derive(Debug)]
pub struct StdioClient {
    upstream: StdioUpstream,
    timeout: Duration,
    next_id: u64,
}

/// The settings for running `command` once, within `timeout` per request.
fn raw_settings(command: &[String], timeout: Duration) -> RawStdioUpstream {
    let hour = Some(HumanDuration(Duration::from_secs(3600)));
    RawStdioUpstream {
        command: command.to_vec(),
        cwd: None,
        env_allow: std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .collect(),
        env: Default::default(),
        allow_inline_secrets: false,
        era: Some("legacy".into()),
        protocol_version: None,
        client_capabilities: None,
        request_timeout: Some(HumanDuration(timeout)),
        startup_timeout: Some(HumanDuration(timeout)),
        max_line: None,
        max_stderr_line: None,
        max_in_flight: None,
        // A zero interval turns pings off.
        health: RawStdioHealth {
            ping_interval: Some(HumanDuration(Duration::ZERO)),
            ping_timeout: None,
            max_consecutive_timeouts: None,
        },
        // One start: the first restart would come after the scan has ended.
        restart: RawRestart {
            initial_backoff: hour,
            max_backoff: hour,
            jitter: false,
        },
        shutdown: RawShutdown {
            stdin_grace: Some(HumanDuration(Duration::from_secs(1))),
            term_grace: Some(HumanDuration(Duration::from_secs(2))),
        },
    }
}

impl StdioClient {
    /// Spawns `command` and waits (at most `timeout`) for its handshake.
    pub async fn open(
        command: &[String],
        timeout: Duration,
    ) -> Result<(StdioClient, Hello), ProbeError> {
        let raw = raw_settings(command, timeout);
        // Relative program paths resolve against the current directory.
        let settings =
            crate::config::stdio::compile(&raw, Path::new("./portcullis-scan"), "command")
                .map_err(|e| ProbeError::Usage(e.to_string()))?;
        let name = command.first().map_or("server", String::as_str);
        let upstream = StdioUpstream::start(name, settings, ParseLimits::default());
        let mut health = upstream.watch_health();
        // The handshake is bounded by the startup timeout; the margin lets the
        // supervisor report its own reason first.
        let settled = health.wait_for(|h| !matches!(h, Health::Starting { .. }));
        let outcome = tokio::time::timeout(timeout + Duration::from_millis(500), settled)
            .await
            .map(|h| h.map(|h| h.clone()));
        let failure = match outcome {
            Ok(Ok(Health::Up)) => None,
            Ok(Ok(Health::Down { reason })) => Some(ProbeError::Connect(format!(
                "the server did not start: {reason}"
            ))),
            Ok(_) => Some(ProbeError::Connect("the server did not start".into())),
            Err(_) => Some(ProbeError::Timeout {
                method: "initialize".into(),
                after: timeout,
            }),
        };
        if let Some(e) = failure {
            upstream.shutdown().await;
            return Err(e);
        }
        let Some(session) = upstream.session() else {
            upstream.shutdown().await;
            return Err(ProbeError::bad(
                "initialize",
                "no session after the handshake",
            ));
        };
        let hello = Hello {
            protocol_version: session.version.as_str().to_owned(),
            capabilities: session.capabilities.clone(),
            server_info: session.server_info.clone(),
            instructions: session.instructions.clone().map(Value::String),
        };
        Ok((
            StdioClient {
                upstream,
                timeout,
                next_id: 0,
            },
            hello,
        ))
    }

    /// Sends `method` and returns its result.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, ProbeError> {
        let id = self.next_id;
        self.next_id += 1;
        let text = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let message = parse_message(text.to_string().as_bytes(), &ParseLimits::default())
            .map_err(|e| ProbeError::Usage(format!("{method}: {e}")))?;
        let exchange = self
            .upstream
            .request_within(&message, self.timeout)
            .await
            .map_err(|e| self.error(method, e))?;
        let frame = exchange
            .response()
            .await
            .map_err(|e| self.error(method, LinkError::Mux(e)))?;
        let answer = frame.message();
        match answer.kind() {
            Kind::Response | Kind::ErrorResponse => {
                outcome(method, &Value::Object(answer.as_object().clone()))
            }
            Kind::Request | Kind::Notification => Err(ProbeError::bad(method, "not a response")),
        }
    }

    fn error(&self, method: &str, e: LinkError) -> ProbeError {
        match e {
            LinkError::Mux(MuxError::Timeout { .. }) => ProbeError::Timeout {
                method: method.to_owned(),
                after: self.timeout,
            },
            LinkError::Mux(MuxError::Disconnected { reason, .. }) => {
                ProbeError::bad(method, format!("the server went away: {reason}"))
            }
            other => ProbeError::bad(method, other.to_string()),
        }
    }

    /// Stops the process and waits until it is gone.
    pub async fn close(self) {
        self.upstream.shutdown().await;
    }
}
