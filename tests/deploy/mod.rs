//! The deployment artefacts (issue 8): the container build, the docker-compose
//! stack, the Kubernetes manifests, the Grafana dashboard and the Prometheus
//! alerts. No Docker engine or cluster here, so each artefact is parsed and its
//! cross-references checked (mounted files exist, ports and labels agree), the
//! gateway configurations it ships go through `portcullis check`, and the
//! Prometheus files through the real `promtool`.

/// docker-compose.yml, its mounted files, its gateway configuration, the Dockerfile.
mod compose;
/// deploy/kubernetes: replicas, probes, PDB, NetworkPolicy, ConfigMap/Secret split.
mod kubernetes;
/// The Grafana dashboard and alert rules against the metric-name contract; promtool.
mod observability;
/// Metric names mentioned by a PromQL expression.
mod promql;
/// The compose gateway configuration, served with native peers.
mod stack;

use std::path::Path;
use std::process::Command;

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// Reads a YAML file of the repository.
fn yaml(rel: &str) -> serde_yaml_ng::Value {
    let path = crate::support::peers::repo().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Runs `portcullis check FILE`; Ok(stdout) or Err(stderr).
fn check(file: &Path) -> Result<String, String> {
    let out = Command::new(BIN).arg("check").arg(file).output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A string field, or a failure naming where it was expected.
fn str_at<'a>(v: &'a serde_yaml_ng::Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for key in path {
        cur = &cur[*key];
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("expected a string at {}", path.join(".")))
}
