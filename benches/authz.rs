//! Authorization hot paths: one Cedar decision for a realistic `tools/call`
//! (role, tenant isolation, a flow rule, an argument condition) at 10, 100 and
//! 1,000 policies, and filtering a 500-tool `tools/list` answer. Targets: p99
//! under 10 µs at 10 policies and under 50 µs at 1,000; the list under 1 ms.
//! After criterion's runs, a percentile pass prints p50/p99 per case.
//!
//! The engine remembers built entity stores (per caller shape, upstream and
//! object: callers whose entities differ only in who they are share one)
//! and list decisions, so each case runs three times: `warm`, the same
//! caller again (what a session sending many requests pays); `new caller`,
//! a caller never seen before whose tenant and roles another caller had
//! (a new user of a known team); and `cold`, a caller from a tenant no
//! caller came from before (nothing remembered: every store built; tenant
//! isolation denies the call).
//!
//! Run: `cargo bench --bench authz`
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portcullis::authn::Principal;
use portcullis::authz::config::{RawAuthorization, RawPaths, RawToolFacts, RawUpstreamFacts};
use portcullis::authz::entities::{Hints, Object};
use portcullis::authz::{Engine, Query};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

const BASE: &str = r#"
permit (principal, action in [Mcp::Action::"connect", Mcp::Action::"tools/list"], resource);
forbid (principal, action, resource) unless { resource.tenants.contains(principal.tenant) };
forbid (principal, action == Mcp::Action::"tools/call", resource)
  when { context.session_labels.contains("untrusted_content") && resource.labels.contains("exfiltration") };
"#;

/// `n` policies: the base three, and per-tool role permits with an argument rule.
fn engine(n: usize) -> Arc<Engine> {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(BASE);
    for i in 0..n.saturating_sub(3) {
        text.push_str(&format!(
            "permit (principal in Mcp::Role::\"role{r}\", action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"tool{i}\")\n  when {{ context.arguments has path && context.arguments.path like \"/srv/t{i}/*\" }};\n",
            r = i % 20
        ));
    }
    std::fs::write(dir.path().join("p.cedar"), text).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/mcp.cedarschema");
    let tools = HashMap::from([(
        "tool3".to_owned(),
        RawToolFacts {
            labels: vec!["sensitive".into()],
            input_schema: None,
        },
    )]);
    let raw = RawAuthorization {
        policies: RawPaths::Many(vec![schema, dir.path().join("p.cedar")]),
        schema: None,
        mode: None,
        unknown_tool: None,
        upstreams: HashMap::from([(
            "default".to_owned(),
            RawUpstreamFacts {
                tenants: vec!["acme".into()],
                labels: vec![],
                tools,
            },
        )]),
        input_validation: Default::default(),
        approvals: Default::default(),
        flows: Default::default(),
    };
    let mut watched = Vec::new();
    portcullis::authz::compile(&raw, dir.path(), dir.path(), &mut watched).unwrap()
}

fn principal() -> Principal {
    caller("alice")
}

fn caller(subject: &str) -> Principal {
    of_tenant(subject, "acme")
}

/// A caller of `tenant`.
fn of_tenant(subject: &str, tenant: &str) -> Principal {
    Principal {
        subject: subject.into(),
        issuer: Some("https://idp.example".into()),
        tenant: Some(tenant.into()),
        roles: vec!["role3".into(), "reader".into()],
        groups: vec!["eng".into()],
        scopes: vec!["mcp:tools".into()],
        client_id: Some("agent-1".into()),
        authenticated: portcullis::authn::principal::Authenticated::Token,
        ..Principal::anonymous()
    }
}

fn query<'a>(p: &'a Principal, args: &'a Value, labels: &'a [String]) -> Query<'a> {
    Query {
        principal: p,
        method: "tools/call",
        upstream: "default",
        object: Object::Tool {
            name: "tool3",
            upstream_name: "tool3",
            hints: Hints::default(),
        },
        arguments: Some(args),
        client_ip: [10, 0, 0, 7].into(),
        now: 1_795_000_000,
        era: "modern",
        protocol_version: "2026-07-28",
        session_labels: labels,
        findings: &[],
    }
}

fn percentiles(name: &str, runs: usize, mut f: impl FnMut()) {
    let mut samples: Vec<u128> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos()
        })
        .collect();
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64) * q) as usize] as f64 / 1000.0;
    let max = samples.last().copied().unwrap_or(0) as f64 / 1000.0;
    println!(
        "{name}: p50 {:.2} µs, p99 {:.2} µs, p99.9 {:.2} µs, max {max:.2} µs",
        at(0.50),
        at(0.99),
        at(0.999)
    );
}

fn tools(n: usize) -> Value {
    let list: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("tool{i}"), "description": "x", "inputSchema": {"type": "object"},
                        "annotations": {"readOnlyHint": i % 2 == 0}}))
        .collect();
    json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": list}})
}

fn bench(c: &mut Criterion) {
    let p = principal();
    let args = json!({"path": "/srv/t3/report.txt", "mode": "read"});
    let labels = vec!["sensitive".to_owned()];
    let mut group = c.benchmark_group("authz_decision");
    group.throughput(Throughput::Elements(1));
    let mut report = Vec::new();
    for n in [10, 100, 1000] {
        let e = engine(n);
        let q = query(&p, &args, &labels);
        assert_eq!(
            e.decide(&q).unwrap().effect,
            portcullis::authz::Effect::Allow
        );
        let (bob, other) = (caller("bob"), of_tenant("carol", "globex"));
        let decide = |p: &Principal| e.decide(&query(p, &args, &labels)).unwrap().effect;
        assert_eq!(decide(&bob), portcullis::authz::Effect::Allow);
        assert_eq!(decide(&other), portcullis::authz::Effect::Deny);
        group.bench_function(format!("{n}_policies_warm"), |b| {
            b.iter(|| black_box(e.decide(black_box(&q)).unwrap()))
        });
        let mut i = 0u64;
        group.bench_function(format!("{n}_policies_new_caller"), |b| {
            b.iter(|| {
                i += 1;
                let p = caller(&format!("agent-{i}"));
                black_box(e.decide(&query(&p, &args, &labels)).unwrap())
            })
        });
        group.bench_function(format!("{n}_policies_cold"), |b| {
            b.iter(|| {
                i += 1;
                let p = of_tenant(&format!("agent-{i}"), &format!("tenant-{i}"));
                black_box(e.decide(&query(&p, &args, &labels)).unwrap())
            })
        });
        report.push((format!("decision, {n} policies"), e));
    }
    group.finish();
    let e = engine(100);
    // One gateway's state: the tools are learnt from the first list.
    let state = Arc::new(portcullis::authz::State::default());
    let lister = |p: Principal| portcullis::authz::filter::Lister {
        engine: Arc::clone(&e),
        state: Arc::clone(&state),
        principal: Arc::new(p),
        upstream: "default".into(),
        index: 0,
        naming: portcullis::federation::Naming::new(vec![None], "__").unwrap(),
        client_ip: [10, 0, 0, 7].into(),
        era: "modern",
        protocol_version: "2026-07-28",
        flow_key: "session bench".into(),
    };
    let answer = tools(500);
    let answer = answer.as_object().unwrap().clone();
    let mut group = c.benchmark_group("authz_list_filter");
    group.throughput(Throughput::Elements(500));
    let alice = lister(principal());
    group.bench_function("500_tools_100_policies_warm", |b| {
        b.iter(|| black_box(alice.rewrite("tools/list", black_box(&answer))))
    });
    let mut i = 0u64;
    group.bench_function("500_tools_100_policies_new_caller", |b| {
        b.iter(|| {
            i += 1;
            let fresh = lister(caller(&format!("agent-{i}")));
            black_box(fresh.rewrite("tools/list", black_box(&answer)))
        })
    });
    group.bench_function("500_tools_100_policies_cold", |b| {
        b.iter(|| {
            i += 1;
            let fresh = lister(of_tenant(&format!("agent-{i}"), &format!("tenant-{i}")));
            black_box(fresh.rewrite("tools/list", black_box(&answer)))
        })
    });
    group.finish();
    for (name, e) in &report {
        let q = query(&p, &args, &labels);
        percentiles(&format!("{name}, warm"), 20_000, || {
            black_box(e.decide(&q).unwrap());
        });
        let mut i = 0u64;
        percentiles(&format!("{name}, new caller"), 20_000, || {
            i += 1;
            let p = caller(&format!("agent-{i}"));
            black_box(e.decide(&query(&p, &args, &labels)).unwrap());
        });
        percentiles(&format!("{name}, cold"), 20_000, || {
            i += 1;
            let p = of_tenant(&format!("agent-{i}"), &format!("tenant-{i}"));
            black_box(e.decide(&query(&p, &args, &labels)).unwrap());
        });
    }
    percentiles("list filter, 500 tools, 100 policies, warm", 2_000, || {
        black_box(alice.rewrite("tools/list", &answer));
    });
    let mut i = 0u64;
    percentiles(
        "list filter, 500 tools, 100 policies, new caller",
        300,
        || {
            i += 1;
            black_box(lister(caller(&format!("agent-{i}"))).rewrite("tools/list", &answer));
        },
    );
    percentiles("list filter, 500 tools, 100 policies, cold", 300, || {
        i += 1;
        let p = of_tenant(&format!("agent-{i}"), &format!("tenant-{i}"));
        black_box(lister(p).rewrite("tools/list", &answer));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
