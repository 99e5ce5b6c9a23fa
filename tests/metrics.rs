//! Prometheus metrics on the admin listener: the exact series a gateway serves
//! after allowed, denied, unauthenticated, rate-limited and flagged calls; and a
//! real Prometheus (Debian's package) scraping it and answering queries.

use crate::authz::{BASE, Policies, call, demo_upstream, demo_url, gateway_with, list, token};
use crate::support::Gateway;
use crate::support::auth::Keys;
use crate::support::http::Req;
use crate::support::peers::{free_port, spawn_listening};
use portcullis::demo::server::DemoServer;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::process::Command;

/// `GET /metrics` on the admin listener: the body, after checking the content type.
async fn scrape(gw: &Gateway) -> String {
    let reply = Req::get(&format!("http://{}/metrics", gw.admin.unwrap()))
        .send()
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    String::from_utf8(reply.body.to_vec()).unwrap()
}

/// The value of the series written exactly as `series` (name and labels).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

fn assert_series(text: &str, series: &str, expected: f64) {
    assert_eq!(value(text, series), Some(expected), "{series} in\n{text}");
}

/// Echo is allowed, `delete_records` forbidden, one echo per caller per hour.
async fn gateway(keys: &Keys, policies: &Policies, demo: &DemoServer) -> Gateway {
    let limits = "rate_limits:\n  rules:\n    - name: echo-once\n      per: [principal, tool]\n      tools: [echo]\n      rate: 1/hour\n      burst: 1\n";
    let yaml = format!("{}{limits}", policies.section(""));
    gateway_with(&demo_url(demo), Some(keys), &yaml).await
}

fn policies() -> Policies {
    Policies::new(&format!(
        "{BASE}permit (principal, action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"echo\");\n\
         forbid (principal, action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"delete_records\");\n"
    ))
}

#[tokio::test]
async fn metrics_count_allowed_denied_unauthenticated_and_limited_calls_exactly() {
    let keys = Keys::generate().await;
    let policies = policies();
    let demo = demo_upstream().await;
    let gw = gateway(&keys, &policies, &demo).await;
    let alice = token(&keys, "alice", "t1", &["reader"]).await;
    // The catalog learns the tools (and their annotations) from a listing.
    assert!(list(&gw, Some(&alice)).await.contains(&"echo".to_owned()));

    let allowed = call(&gw, Some(&alice), "echo", json!({"text": "hi"})).await;
    assert_eq!(allowed.message()["result"]["content"][0]["text"], "hi");
    let limited = call(&gw, Some(&alice), "echo", json!({"text": "again"})).await;
    assert_eq!(limited.status, 429, "{limited:?}");
    let denied = call(&gw, Some(&alice), "delete_records", json!({"table": "t"})).await;
    assert!(denied.message()["error"].is_object(), "{denied:?}");
    let anonymous = call(&gw, None, "echo", json!({"text": "hi"})).await;
    assert_eq!(anonymous.status, 401);
    let forged = call(&gw, Some("not-a-jwt"), "echo", json!({"text": "hi"})).await;
    assert_eq!(forged.status, 401);

    let text = scrape(&gw).await;
    let requests = |method: &str, upstream: &str, outcome: &str, decision: &str| {
        format!(
            "portcullis_requests_total{{decision=\"{decision}\",method=\"{method}\",outcome=\"{outcome}\",upstream=\"{upstream}\"}}"
        )
    };
    assert_series(
        &text,
        &requests("tools/call", "default", "ok", "allowed"),
        1.0,
    );
    // Policy removed `delete_records` from the listing: the audit verdict says so.
    assert_series(
        &text,
        &requests("tools/list", "default", "ok", "denied"),
        1.0,
    );
    assert_series(
        &text,
        &requests("tools/call", "default", "client_error", "denied"),
        2.0,
    );
    // Refused before the body is read: no method, no upstream.
    assert_series(
        &text,
        &requests("none", "none", "client_error", "denied"),
        2.0,
    );
    let total: f64 = text
        .lines()
        .filter(|l| l.starts_with("portcullis_requests_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 6.0, "one count per request:\n{text}");

    assert_series(
        &text,
        "portcullis_auth_rejections_total{reason=\"missing_token\"}",
        1.0,
    );
    assert_series(
        &text,
        "portcullis_auth_rejections_total{reason=\"malformed\"}",
        1.0,
    );
    assert_series(
        &text,
        "portcullis_auth_rejections_total{reason=\"expired\"}",
        0.0,
    );
    assert_series(
        &text,
        "portcullis_rate_limited_total{scope=\"principal+tool\"}",
        1.0,
    );

    assert_series(
        &text,
        "portcullis_request_duration_seconds_count{method=\"tools/call\"}",
        3.0,
    );
    assert_series(
        &text,
        "portcullis_request_duration_seconds_count{method=\"none\"}",
        2.0,
    );
    // Of the calls, only the allowed one reached the upstream.
    assert_series(
        &text,
        "portcullis_gateway_added_seconds_count{method=\"tools/call\"}",
        1.0,
    );
    // The listing and the allowed call.
    assert_series(
        &text,
        "portcullis_upstream_duration_seconds_count{upstream=\"default\"}",
        2.0,
    );
    let total_time = value(
        &text,
        "portcullis_request_duration_seconds_sum{method=\"tools/call\"}",
    )
    .unwrap();
    let added = value(
        &text,
        "portcullis_gateway_added_seconds_sum{method=\"tools/call\"}",
    )
    .unwrap();
    assert!(added > 0.0 && added < total_time, "{added} of {total_time}");

    assert_series(&text, "portcullis_upstream_up{upstream=\"default\"}", 1.0);
    let versions: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("portcullis_policy_version_info{version=\""))
        .collect();
    assert_eq!(versions.len(), 1, "{text}");
    assert!(
        versions[0].ends_with("\"} 1") && versions[0].len() > 50,
        "{versions:?}"
    );
    assert_series(
        &text,
        "portcullis_config_reloads_total{result=\"success\"}",
        0.0,
    );
    assert_series(
        &text,
        "portcullis_config_reloads_total{result=\"failure\"}",
        0.0,
    );
    // The audit trail wrote the calls; nothing failed, nothing was lost.
    // Its writer runs after the responses, so a busy machine may scrape
    // before the first write: wait for it, up to ten seconds.
    let mut text = text;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !value(&text, "portcullis_audit_writes_total").is_some_and(|n| n >= 1.0)
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        text = scrape(&gw).await;
    }
    assert!(
        value(&text, "portcullis_audit_writes_total").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert_series(&text, "portcullis_audit_failures_total", 0.0);
    assert_series(&text, "portcullis_audit_dropped_total", 0.0);
    assert!(
        value(&text, "portcullis_audit_queue_depth").is_some(),
        "{text}"
    );
    // Static keys: no JWKS refresher, so no series (the family is declared).
    assert!(text.contains("# TYPE portcullis_jwks_refresh_failures_total counter"));

    // Bounded labels: neither the principal nor the token nor arguments appear.
    for secret in ["alice", "not-a-jwt", "again", "delete_records"] {
        assert!(!text.contains(secret), "{secret} leaked into\n{text}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn findings_are_counted_by_rule_and_action() {
    let policies = Policies::new(&format!(
        "{BASE}permit (principal, action == Mcp::Action::\"tools/call\", resource);\n"
    ));
    let demo = demo_upstream().await;
    let gw = gateway_with(&demo_url(&demo), None, &policies.section("")).await;
    list(&gw, None).await;
    let reply = call(
        &gw,
        None,
        "echo",
        json!({"text": "aws key AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}),
    )
    .await;
    assert_eq!(
        reply.message()["error"]["data"]["category"],
        "secret",
        "{reply:?}"
    );
    let text = scrape(&gw).await;
    let findings: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("portcullis_findings_total{"))
        .collect();
    assert!(!findings.is_empty(), "no finding counted:\n{text}");
    for line in &findings {
        assert!(line.contains("action=\"block\""), "{line}");
    }
    assert!(
        !text.contains("AKIA"),
        "the secret stays out of the metrics"
    );
    gw.stop().await;
}

/// A real Prometheus server scraping `target` every second; killed on drop.
struct Prometheus {
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
    url: String,
}

impl Prometheus {
    async fn start(target: std::net::SocketAddr) -> Prometheus {
        let found = std::process::Command::new("prometheus")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "prometheus is missing: run scripts/install-peers (it installs Debian's prometheus)"
        );
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: portcullis\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = spawn_listening(
            Command::new("prometheus")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}")),
            port,
        )
        .await;
        Prometheus {
            _child: child,
            _dir: dir,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The result vector of an instant query.
    async fn query(&self, promql: &str) -> Vec<Value> {
        let url = format!("{}/api/v1/query?query={}", self.url, encode(promql));
        let reply = Req::get(&url).send().await;
        if reply.status != 200 {
            return Vec::new();
        }
        let body = reply.json();
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// Percent-encoding for a query string value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_real_prometheus_scrapes_the_gateway_and_answers_queries() {
    let policies = Policies::new(&format!(
        "{BASE}permit (principal, action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"echo\");\n"
    ));
    let demo = demo_upstream().await;
    let gw = gateway_with(&demo_url(&demo), None, &policies.section("")).await;
    list(&gw, None).await;
    for _ in 0..3 {
        let reply = call(&gw, None, "echo", json!({"text": "hi"})).await;
        assert_eq!(reply.status, 200);
    }
    let denied = call(&gw, None, "add", json!({"a": 1, "b": 2})).await;
    assert!(denied.message()["error"].is_object(), "{denied:?}");

    let prometheus = Prometheus::start(gw.admin.unwrap()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let series = loop {
        let result = prometheus.query("portcullis_requests_total").await;
        if result.len() >= 2 || Instant::now() > deadline {
            break result;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let find = |decision: &str| {
        series
            .iter()
            .find(|s| s["metric"]["decision"] == decision && s["metric"]["method"] == "tools/call")
            .unwrap_or_else(|| panic!("no {decision} tools/call series in {series:?}"))
            .clone()
    };
    let allowed = find("allowed");
    assert_eq!(allowed["metric"]["job"], "portcullis");
    assert_eq!(allowed["metric"]["upstream"], "default");
    assert_eq!(allowed["metric"]["outcome"], "ok");
    assert_eq!(allowed["value"][1], "3");
    assert_eq!(find("denied")["value"][1], "1");

    // A histogram Prometheus can compute a quantile from, and scrape-time gauges.
    let p99 = prometheus
        .query("histogram_quantile(0.99, sum by (le) (portcullis_request_duration_seconds_bucket))")
        .await;
    let seconds: f64 = p99[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(seconds > 0.0 && seconds < 30.0, "{p99:?}");
    let up = prometheus.query("portcullis_upstream_up").await;
    assert_eq!(up[0]["metric"]["upstream"], "default", "{up:?}");
    assert_eq!(up[0]["value"][1], "1");
    gw.stop().await;
}

#[tokio::test]
async fn the_request_series_are_pushed_over_otlp_with_the_same_labels_as_metrics() {
    request_series_are_pushed_to(crate::support::otlp::Collector::start().await).await;
}

/// Issue 8: the same series reach a collector that speaks only OTLP/gRPC (the
/// official `MetricsService`, served by tonic).
#[tokio::test]
async fn issue_8_the_request_series_are_pushed_over_otlp_grpc_with_the_same_labels() {
    request_series_are_pushed_to(crate::support::otlp::Collector::start_grpc().await).await;
}

async fn request_series_are_pushed_to(collector: crate::support::otlp::Collector) {
    let demo = portcullis::demo::server::start("127.0.0.1:0")
        .await
        .unwrap();
    let yaml = format!(
        "{}{}",
        crate::support::gateway::default_yaml(&format!("http://{}/mcp", demo.addr())),
        collector.metrics_yaml()
    );
    let gw = Gateway::start_yaml(&yaml).await;
    let reply = Req::post(&gw.url())
        .modern("tools/call", Some("echo"))
        .body(crate::support::http::modern_body(
            1,
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "hi"}}),
        ))
        .send()
        .await;
    assert_eq!(reply.message()["result"]["content"][0]["text"], "hi");

    let calls = collector
        .point_where("portcullis_requests_total", |p| {
            p.attr("method") == Some("tools/call")
        })
        .await;
    assert!(calls.monotonic, "a counter: {calls:?}");
    assert_eq!(calls.service_name, "portcullis-test");
    for (key, value) in [
        ("method", "tools/call"),
        ("outcome", "ok"),
        ("decision", "allowed"),
        ("upstream", "default"),
    ] {
        assert_eq!(calls.attr(key), Some(value), "{key} in {calls:?}");
    }
    assert_eq!(calls.attributes.len(), 4, "the /metrics labels only");
    assert_eq!(calls.value, 1.0);
    let text = scrape(&gw).await;
    assert_series(
        &text,
        "portcullis_requests_total{decision=\"allowed\",method=\"tools/call\",outcome=\"ok\",upstream=\"default\"}",
        calls.value,
    );

    let took = collector
        .point_where("portcullis_request_duration_seconds", |p| {
            p.attr("method") == Some("tools/call")
        })
        .await;
    assert_eq!(took.unit, "s");
    assert_eq!(took.value, 1.0, "one observation");
    assert_eq!(took.bounds.first(), Some(&0.0005), "the /metrics buckets");
    assert_eq!(took.bounds.last(), Some(&30.0));
    collector
        .point_where("portcullis_upstream_duration_seconds", |p| {
            p.attr("upstream") == Some("default")
        })
        .await;

    // The scrape-time series travel too, read at each export.
    let up = collector
        .point_where("portcullis_upstream_up", |p| {
            p.attr("upstream") == Some("default")
        })
        .await;
    assert!(!up.monotonic, "a gauge: {up:?}");
    assert_eq!(up.value, 1.0);
    let written = collector
        .point_where("portcullis_audit_writes_total", |p| p.value >= 1.0)
        .await;
    assert!(written.monotonic, "a counter: {written:?}");
    assert!(written.attributes.is_empty(), "{written:?}");
    let rejected = collector
        .point_where("portcullis_auth_rejections_total", |p| {
            p.attr("reason") == Some("expired")
        })
        .await;
    assert!(rejected.monotonic && rejected.value == 0.0, "{rejected:?}");
    let text = scrape(&gw).await;
    assert_series(
        &text,
        "portcullis_upstream_up{upstream=\"default\"}",
        up.value,
    );
    assert_series(
        &text,
        "portcullis_auth_rejections_total{reason=\"expired\"}",
        0.0,
    );
    let _ = gw.stop().await;
}
