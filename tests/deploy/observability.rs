//! The Grafana dashboard and the Prometheus alert rules name only the metrics of
//! the contract with the gateway's `/metrics` (and between them cover all of
//! it); the real `promtool` checks the rules' syntax, runs their unit tests,
//! checks the compose stack's Prometheus configuration, and parses every
//! dashboard query.

use super::promql::{CONTRACT, metric_names};
use super::{str_at, yaml};
use crate::support::peers::repo;
use serde_json::Value as Json;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Every `expr` of the dashboard (panel targets) and every templating query.
fn dashboard_queries() -> Vec<String> {
    let path = repo().join("deploy/grafana/portcullis.json");
    let dashboard: Json = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(dashboard["uid"], "portcullis");
    let mut exprs = Vec::new();
    fn walk(v: &Json, out: &mut Vec<String>) {
        match v {
            Json::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("expr", Json::String(e)) => out.push(e.clone()),
                        ("query", Json::Object(q)) => {
                            if let Some(Json::String(e)) = q.get("query") {
                                out.push(label_values_metric(e));
                            }
                        }
                        _ => walk(v, out),
                    }
                }
            }
            Json::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    walk(&dashboard, &mut exprs);
    exprs
}

/// `label_values(METRIC, label)` → `METRIC` (Grafana's templating, not PromQL).
fn label_values_metric(query: &str) -> String {
    let inner = query
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected templating query {query}"));
    inner.split(',').next().unwrap().trim().to_owned()
}

fn alert_rules() -> Vec<(String, String)> {
    let rules = yaml("deploy/prometheus/alerts.yml");
    let mut out = Vec::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            out.push((
                str_at(rule, &["alert"]).to_owned(),
                str_at(rule, &["expr"]).to_owned(),
            ));
        }
    }
    out
}

/// Metric names outside the contract, with the expression naming them.
fn foreign_metrics(exprs: &[String]) -> Vec<(String, String)> {
    exprs
        .iter()
        .flat_map(|e| {
            metric_names(e)
                .into_iter()
                .filter(|m| !CONTRACT.contains(&m.as_str()))
                .map(move |m| (m, e.clone()))
        })
        .collect()
}

#[test]
fn dashboard_queries_name_only_contract_metrics_and_cover_them_all() {
    let exprs = dashboard_queries();
    assert!(exprs.len() >= 20, "{} queries", exprs.len());
    for e in &exprs {
        assert!(!metric_names(e).is_empty(), "a query naming no metric: {e}");
    }
    assert_eq!(foreign_metrics(&exprs), [], "metrics outside the contract");
    let used: BTreeSet<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    let missing: Vec<&&str> = CONTRACT.iter().filter(|m| !used.contains(**m)).collect();
    assert!(
        missing.is_empty(),
        "the dashboard does not show {missing:?}"
    );
}

#[test]
fn alert_rules_name_only_contract_metrics_and_cover_the_required_conditions() {
    let rules = alert_rules();
    let exprs: Vec<String> = rules.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(foreign_metrics(&exprs), [], "metrics outside the contract");
    // The conditions an operator must hear about, each by the metric that shows it.
    for (condition, metric) in [
        ("audit drops", "portcullis_audit_dropped_total"),
        ("audit failures", "portcullis_audit_failures_total"),
        ("upstream down", "portcullis_upstream_up"),
        ("spike in denials", "portcullis_requests_total"),
        ("spike in findings", "portcullis_findings_total"),
        (
            "JWKS refresh failing",
            "portcullis_jwks_refresh_failures_total",
        ),
        ("config reload failing", "portcullis_config_reloads_total"),
    ] {
        assert!(
            rules
                .iter()
                .any(|(_, e)| metric_names(e).iter().any(|m| m == metric)),
            "no alert for {condition} ({metric})"
        );
    }
    let names: BTreeSet<&str> = rules.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), rules.len(), "duplicate alert names");
}

/// `promtool`, from Debian's `prometheus` package (scripts/install-peers).
/// Missing: a failure in CI, a loud skip elsewhere.
fn promtool() -> Option<&'static str> {
    let found = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("promtool");
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "promtool is missing: run scripts/install-peers (it installs Debian's prometheus)"
    );
    eprintln!("promtool is missing: alert rules NOT validated (scripts/install-peers installs it)");
    None
}

fn promtool_ok(args: &[&str], cwd: &Path) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {}: {text}", args.join(" "));
    text
}

#[test]
fn promtool_validates_the_alert_rules_and_their_unit_tests() {
    let Some(_) = promtool() else { return };
    let dir = repo().join("deploy/prometheus");
    let out = promtool_ok(&["check", "rules", "alerts.yml"], &dir);
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", alert_rules().len())),
        "{out}"
    );
    let out = promtool_ok(&["test", "rules", "alerts_test.yml"], &dir);
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn promtool_rejects_a_broken_rule_file() {
    // The validation above can fail: a rule with a syntax error is refused.
    let Some(_) = promtool() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yml"),
        "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(portcullis_requests_total[5m])\n",
    )
    .unwrap();
    let out = Command::new("promtool")
        .args(["check", "rules", "bad.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn promtool_accepts_the_compose_prometheus_config_and_every_dashboard_query() {
    let Some(_) = promtool() else { return };
    let dir = tempfile::tempdir().unwrap();
    // prometheus.yml names the rule file by its path in the container.
    let config = std::fs::read_to_string(repo().join("deploy/compose/prometheus.yml"))
        .unwrap()
        .replace(
            "/etc/prometheus/alerts.yml",
            &repo()
                .join("deploy/prometheus/alerts.yml")
                .display()
                .to_string(),
        );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let out = promtool_ok(&["check", "config", "prometheus.yml"], dir.path());
    assert!(out.contains("SUCCESS"), "{out}");
    // Each dashboard query as a recording rule, with Grafana's variables bound:
    // promtool parses them all.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in dashboard_queries().iter().enumerate() {
        let bound = e
            .replace("$__rate_interval", "5m")
            .replace("$instance", ".*")
            .replace("$upstream", ".*");
        rules.push_str(&format!(
            "      - record: dashboard:query{i}\n        expr: {}\n",
            serde_json::to_string(&bound).unwrap()
        ));
    }
    std::fs::write(dir.path().join("dashboard.yml"), rules).unwrap();
    promtool_ok(&["check", "rules", "dashboard.yml"], dir.path());
}
