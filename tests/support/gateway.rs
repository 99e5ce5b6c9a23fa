//! The gateway, started in-process on 127.0.0.1:0 and stopped on drop.

use portcullis::server::{self, Running};
use std::net::SocketAddr;
use std::path::PathBuf;

/// A running gateway with its configuration file in a temporary folder.
pub struct Gateway {
    running: Option<Running>,
    pub addr: SocketAddr,
    pub admin: Option<SocketAddr>,
    pub config_file: PathBuf,
    _dir: tempfile::TempDir,
}

/// The configuration tests use unless they need something else.
pub fn default_yaml(upstream: &str) -> String {
    format!(
        "listen:\n  address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nupstream:\n  url: {upstream}\n  response_timeout: 20s\nlimits:\n  shutdown_grace: 5s\nreload:\n  poll_interval: 0s\nlogging:\n  format: text\nauthentication:\n  mode: none\n"
    )
}

/// Every test gateway keeps an audit trail (in its temporary folder) unless the
/// configuration says otherwise: the audit stage runs on every test path.
pub fn with_audit(yaml: &str) -> String {
    if yaml.starts_with("audit:") || yaml.contains("\naudit:") {
        yaml.to_owned()
    } else {
        format!("{yaml}audit:\n  file:\n    directory: audit\n")
    }
}

/// Installs a log subscriber once (RUST_LOG selects what to show).
pub fn logs() {
    if let Ok(Some(guard)) = portcullis::telemetry::init(false, "warn") {
        // The test process's logs live as long as the process.
        std::mem::forget(guard);
    }
}

impl Gateway {
    /// A gateway in front of `upstream` with the default test configuration.
    pub async fn start(upstream: &str) -> Gateway {
        Gateway::start_yaml(&default_yaml(upstream)).await
    }

    /// A gateway running the given configuration text.
    pub async fn start_yaml(yaml: &str) -> Gateway {
        logs();
        let dir = tempfile::tempdir().unwrap();
        let config_file = dir.path().join("portcullis.yaml");
        std::fs::write(&config_file, with_audit(yaml)).unwrap();
        let runtime = portcullis::config::load(&config_file).unwrap();
        let running = server::start(runtime).await.unwrap();
        Gateway {
            addr: running.mcp_addr(),
            admin: running.admin_addr(),
            running: Some(running),
            config_file,
            _dir: dir,
        }
    }

    /// The MCP endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// Drains and stops, waiting for the drain to finish.
    /// Returns the gateway's temporary folder (its configuration and audit
    /// trail), which lives as long as the caller keeps it.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        self._dir
    }
}

/// Every event in a gateway's audit folder (`*.jsonl` segments, in order;
/// checkpoint files left out).
pub fn audit_events(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "jsonl")
                && !p.to_string_lossy().contains("checkpoints")
        })
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<serde_json::Value>>()
        })
        .collect()
}
