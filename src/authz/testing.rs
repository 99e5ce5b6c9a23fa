//! Policy tests and explanations for security teams: `portcullis policy test`
//! and `portcullis policy explain` read YAML files of requests and expected
//! decisions, and decide them with the same engine the gateway runs.
//!
//! A test file:
//!
//! ```yaml
//! policies: [../mcp.cedarschema, ../examples/base.cedar]   # relative to this file
//! upstreams:                                                 # as in authorization.upstreams
//!   default: { tenants: [acme], tools: { fetch_page: { labels: [untrusted_content] } } }
//! cases:
//!   - name: a reader calls a read-only tool
//!     principal: { subject: alice, tenant: acme, roles: [reader] }
//!     action: tools/call
//!     tool: { name: echo, read_only: true, destructive: false }
//!     arguments: { text: hi }
//!     expect: allow            # allow, deny or approval
//! ```

use super::config::{RawAuthorization, RawPaths, RawUpstreamFacts};
use super::engine::{Effect, Engine, FindingFact, Query};
use super::entities::{Hints, Object};
use crate::authn::Principal;
use crate::authn::principal::Authenticated;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// Policy files and folders (with the schema), relative to the test file.
    pub policies: Vec<PathBuf>,
    /// Facts per upstream.
    #[serde(default)]
    pub upstreams: HashMap<String, RawUpstreamFacts>,
    /// The cases.
    pub cases: Vec<Case>,
}

/// One request and its expected decision.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What it checks, as a sentence.
    pub name: String,
    /// The caller.
    pub principal: TestPrincipal,
    /// The MCP method.
    pub action: String,
    /// The upstream. Default `default`.
    #[serde(default)]
    pub upstream: Option<String>,
    /// The tool called.
    #[serde(default)]
    pub tool: Option<TestTool>,
    /// The prompt.
    #[serde(default)]
    pub prompt: Option<String>,
    /// The resource URI.
    #[serde(default)]
    pub resource: Option<String>,
    /// The arguments.
    #[serde(default)]
    pub arguments: Option<Value>,
    /// Labels already used in the session.
    #[serde(default)]
    pub session_labels: Vec<String>,
    /// Injection findings.
    #[serde(default)]
    pub findings: Vec<TestFinding>,
    /// `allow`, `deny` or `approval` (absent in explain files).
    #[serde(default)]
    pub expect: Option<String>,
}

/// A principal in a test.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestPrincipal {
    /// `sub`.
    pub subject: String,
    /// `iss`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The client id.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// A tool in a test: its name and hints (MCP defaults when absent).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestTool {
    /// Name.
    pub name: String,
    /// `readOnlyHint`.
    #[serde(default)]
    pub read_only: Option<bool>,
    /// `destructiveHint`.
    #[serde(default)]
    pub destructive: Option<bool>,
}

/// A finding in a test.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFinding {
    /// Rule id.
    pub rule: String,
    /// Category.
    pub category: String,
    /// Severity.
    pub severity: String,
}

/// The outcome of a test file.
#[derive(Debug, Default)]
pub struct Report {
    /// Cases that matched.
    pub passed: usize,
    /// Failures, each a line naming the file and case.
    pub failures: Vec<String>,
}

/// Loads a test (or explain) file and its engine.
pub fn load(file: &Path) -> Result<(TestFile, Engine), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let de = serde_yaml_ng::Deserializer::from_str(&text);
    let parsed: TestFile =
        serde_path_to_error::deserialize(de).map_err(|e| format!("{}: {e}", file.display()))?;
    let base = file.parent().unwrap_or(Path::new("."));
    let raw = RawAuthorization {
        policies: RawPaths::Many(parsed.policies.clone()),
        schema: None,
        mode: None,
        unknown_tool: None,
        upstreams: parsed.upstreams.clone(),
        input_validation: Default::default(),
        approvals: Default::default(),
        flows: Default::default(),
    };
    let mut watched = Vec::new();
    let engine = super::compile(&raw, file, base, &mut watched).map_err(|e| e.to_string())?;
    let engine = std::sync::Arc::try_unwrap(engine).map_err(|_| "engine shared".to_owned())?;
    Ok((parsed, engine))
}

/// Runs every case of a test file.
pub fn run(file: &Path) -> Report {
    let mut report = Report::default();
    let (tests, engine) = match load(file) {
        Ok(x) => x,
        Err(e) => {
            report.failures.push(e);
            return report;
        }
    };
    for case in &tests.cases {
        let got = decide(&engine, case).map(|(effect, _)| effect);
        let want = case.expect.as_deref().unwrap_or("(missing expect)");
        match got {
            Ok(got) if got == want => report.passed += 1,
            Ok(got) => report.failures.push(format!(
                "{}: {}: expected {want}, got {got}",
                file.display(),
                case.name
            )),
            Err(e) => report
                .failures
                .push(format!("{}: {}: {e}", file.display(), case.name)),
        }
    }
    report
}

/// Runs every `*.yaml` test file in `dir` (recursively).
pub fn run_dir(dir: &Path) -> Report {
    let mut files = Vec::new();
    collect(dir, &mut files);
    files.sort();
    let mut report = Report::default();
    for f in files {
        let r = run(&f);
        report.passed += r.passed;
        report.failures.extend(r.failures);
    }
    report
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    if dir.is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

/// Decides a case: the effect name and an explanation.
pub fn decide(engine: &Engine, case: &Case) -> Result<(&'static str, String), String> {
    let p = &case.principal;
    let principal = Principal {
        authenticated: Authenticated::Token,
        subject: p.subject.clone(),
        issuer: p.issuer.clone(),
        tenant: p.tenant.clone(),
        roles: p.roles.clone(),
        groups: p.groups.clone(),
        scopes: p.scopes.clone(),
        client_id: p.client_id.clone(),
        ..Principal::anonymous()
    };
    let object = match (&case.tool, &case.prompt, &case.resource) {
        (Some(t), _, _) => Object::Tool {
            name: &t.name,
            upstream_name: &t.name,
            hints: Hints {
                read_only: t.read_only.unwrap_or(false),
                destructive: t.destructive.unwrap_or(true),
                ..Hints::default()
            },
        },
        (_, Some(name), _) => Object::Prompt {
            name,
            upstream_name: name,
        },
        (_, _, Some(uri)) => Object::Resource { uri },
        _ => Object::Upstream,
    };
    let findings: Vec<FindingFact> = case
        .findings
        .iter()
        .map(|f| FindingFact {
            rule: f.rule.clone(),
            category: f.category.clone(),
            severity: f.severity.clone(),
        })
        .collect();
    let q = Query {
        principal: &principal,
        method: &case.action,
        upstream: case
            .upstream
            .as_deref()
            .unwrap_or(crate::config::DEFAULT_UPSTREAM),
        object,
        arguments: case.arguments.as_ref(),
        client_ip: std::net::IpAddr::from([127, 0, 0, 1]),
        now: crate::authn::now(),
        era: "modern",
        protocol_version: "2026-07-28",
        session_labels: &case.session_labels,
        findings: &findings,
    };
    engine.conforms(&q)?;
    let d = engine.decide(&q).map_err(|e| e.to_string())?;
    let effect = match d.effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
        Effect::Approval(_) => "approval",
    };
    let mut text = format!("decision: {effect}\npolicy set: {}\n", d.version);
    if d.policies.is_empty() && effect == "deny" {
        text.push_str("no policy permits this request (default deny)\n");
    }
    for id in &d.policies {
        let info = engine.policy(id);
        let _ = writeln!(
            text,
            "{} policy {id} ({}:{}){}",
            if effect == "deny" {
                "forbidden by"
            } else {
                "permitted by"
            },
            info.map_or_else(String::new, |i| i.file.display().to_string()),
            info.map_or(0, |i| i.line),
            info.and_then(|i| i.reason.as_deref().or(i.approval.as_deref()))
                .map_or_else(String::new, |r| format!(": {r}")),
        );
    }
    for e in &d.errors {
        let _ = writeln!(text, "did not apply (error): {e}");
    }
    Ok((effect, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_example_passes_its_policy_tests() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/tests");
        let report = run_dir(&dir);
        assert!(report.failures.is_empty(), "{:#?}", report.failures);
        assert!(report.passed >= 30, "{}", report.passed);
    }

    #[test]
    fn a_wrong_expectation_is_reported_with_file_and_case() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/mcp.cedarschema");
        std::fs::write(
            dir.path().join("p.cedar"),
            "permit (principal, action, resource);",
        )
        .unwrap();
        let test = format!(
            "policies: [{}, p.cedar]\ncases:\n  - name: everything is denied\n    principal: {{ subject: a }}\n    action: tools/call\n    tool: {{ name: t }}\n    expect: deny\n",
            schema.display()
        );
        std::fs::write(dir.path().join("t.yaml"), test).unwrap();
        let report = run_dir(dir.path());
        assert_eq!(report.failures.len(), 1);
        assert!(
            report.failures[0].ends_with("everything is denied: expected deny, got allow"),
            "{}",
            report.failures[0]
        );
    }
}
