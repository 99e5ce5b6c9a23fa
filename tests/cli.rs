//! The binary and its shipped examples: `check`, `config schema`, `serve` with SIGTERM, `demo`.

use crate::support::http::{Req, modern_body};
use crate::support::peers::repo;
use http::StatusCode;
use serde_json::json;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

#[test]
fn every_shipped_example_configuration_passes_check() {
    let out = Command::new(BIN)
        .arg("check")
        .arg(repo().join("examples/portcullis.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": OK"));
}

#[test]
fn check_names_the_file_line_and_path_of_a_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "listen:\n  address: 127.0.0.1:8080\nupstream:\n  url: ftp://x/\n",
    )
    .unwrap();
    let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml: upstream.url:") && err.contains("http://"),
        "{err}"
    );
    std::fs::write(
        &file,
        "listen:\n  address: 127.0.0.1:8080\n  tls: {cert: a.pem}\nupstream:\n  url: http://x/\n",
    )
    .unwrap();
    let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:3:")
            && err.contains("listen.tls")
            && err.contains("missing field `key`"),
        "{err}"
    );
}

#[tokio::test]
async fn serve_drains_and_exits_zero_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::support::peers::free_port();
    let file = dir.path().join("p.yaml");
    std::fs::write(
        &file,
        format!("listen:\n  address: 127.0.0.1:{port}\nupstream:\n  url: http://127.0.0.1:1/mcp\nauthentication:\n  mode: none\naudit:\n  file:\n    directory: audit\n"),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&file)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    crate::support::peers::wait_for_port(port).await;
    let down = Req::post(&format!("http://127.0.0.1:{port}/mcp"))
        .mcp()
        .body(json!({"jsonrpc":"2.0","id":"a","method":"ping"}))
        .send()
        .await;
    assert_eq!(
        down.status,
        StatusCode::BAD_GATEWAY,
        "an unreachable upstream is a 502"
    );
    assert_eq!(down.json()["id"], "a");
    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exited after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut stderr = String::new();
    use tokio::io::AsyncReadExt;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    let access = stderr
        .lines()
        .find(|l| l.contains("portcullis::access"))
        .expect("an access record");
    let record: serde_json::Value = serde_json::from_str(access).unwrap();
    assert_eq!(record["http.status"], 502);
    assert_eq!(record["rpc.method"], "ping");
}

#[tokio::test]
async fn the_demo_filters_the_list_denies_a_hidden_tool_and_refuses_a_smuggled_header() {
    crate::support::gateway::logs();
    let demo = portcullis::demo::start("127.0.0.1:0").await.unwrap();
    let running = demo.running;
    let url = format!("http://{}/mcp", running.mcp_addr());
    let text = portcullis::demo::instructions(running.mcp_addr(), &demo.tokens, &demo.audit_dir);
    assert!(
        text.contains(&url),
        "the instructions name the real address"
    );
    assert!(text.contains(&demo.tokens.valid), "and a token to use");
    let bearer = format!("Bearer {}", demo.tokens.valid);
    let call = modern_body(
        1,
        "tools/call",
        json!({"name":"echo","arguments":{"text":"hello"}}),
    );
    for refused in [
        None,
        Some(&demo.tokens.expired),
        Some(&demo.tokens.long_lived),
    ] {
        let mut req = Req::post(&url)
            .modern("tools/call", Some("echo"))
            .body(&call);
        if let Some(token) = refused {
            req = req.header("authorization", &format!("Bearer {token}"));
        }
        let reply = req.send().await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{refused:?}");
        assert!(reply.header("www-authenticate").is_some());
    }
    // The list is filtered by the demo's policies (and teaches the gateway
    // the tools' annotations, which the policies read).
    let listed = Req::post(&url)
        .modern("tools/list", None)
        .header("authorization", &bearer)
        .body(modern_body(3, "tools/list", json!({})))
        .send()
        .await
        .json();
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["echo", "add", "fetch_page"],
        "delete_records is hidden"
    );
    let denied = Req::post(&url)
        .modern("tools/call", Some("delete_records"))
        .header("authorization", &bearer)
        .body(modern_body(
            4,
            "tools/call",
            json!({"name":"delete_records","arguments":{"table":"customers"}}),
        ))
        .send()
        .await
        .json();
    assert_eq!(denied["error"]["code"], -32602);
    assert_eq!(denied["error"]["message"], "Unknown tool: delete_records");
    let ok = Req::post(&url)
        .modern("tools/call", Some("echo"))
        .header("authorization", &bearer)
        .body(&call)
        .send()
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.json()["result"]["content"][0]["text"], "hello");
    let smuggled = Req::post(&url)
        .modern("tools/call", Some("delete_records"))
        .header("authorization", &bearer)
        .body(&call)
        .send()
        .await;
    assert_eq!(smuggled.status, StatusCode::BAD_REQUEST);
    assert_eq!(smuggled.json()["error"]["code"], -32020);
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "portcullis-tests", "version": "1"}}});
    let legacy = Req::post(&url)
        .mcp()
        .header("authorization", &bearer)
        .body(init)
        .send()
        .await;
    assert_eq!(legacy.json()["result"]["protocolVersion"], "2025-06-18");
    running.shutdown().await;
}

/// The schema as the binary prints it.
fn printed_schema() -> String {
    let out = Command::new(BIN)
        .args(["config", "schema"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn schema_validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(&printed_schema()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// Every configuration file the repository ships for people to copy.
fn shipped_configurations() -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(repo().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            files.push(path);
        }
    }
    files.push(repo().join("deploy/compose/portcullis.yaml"));
    for entry in std::fs::read_dir(repo().join("deploy/kubernetes")).unwrap() {
        let path = entry.unwrap().path().join("portcullis.yaml");
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn the_committed_schema_is_what_the_binary_generates() {
    let committed = std::fs::read_to_string(repo().join("docs/portcullis.schema.json")).unwrap();
    assert!(
        committed == printed_schema(),
        "docs/portcullis.schema.json is stale: regenerate it with \
         `portcullis config schema > docs/portcullis.schema.json`"
    );
}

#[test]
fn every_shipped_configuration_validates_against_the_schema() {
    let validator = schema_validator();
    let files = shipped_configurations();
    assert!(files.len() >= 4, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let value: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

#[test]
fn the_schema_and_the_parser_both_refuse_unknown_keys_and_wrong_types() {
    let validator = schema_validator();
    let base = "listen: {address: '127.0.0.1:8080'}\n\
                upstream: {url: 'http://127.0.0.1:3000/mcp', connect_timeout: 5s}\n\
                authentication: {mode: none}\n\
                audit: {disabled: true}\n\
                limits: {max_request_body: 4MiB, max_sse_event: 65536}\n";
    let accepts = |yaml: &str| {
        let value: serde_json::Value = serde_yaml_ng::from_str(yaml).unwrap();
        let by_schema = validator.is_valid(&value);
        let by_parser = portcullis::config::load::parse(yaml, "t.yaml".as_ref()).is_ok();
        assert_eq!(
            by_schema, by_parser,
            "schema and parser disagree on:\n{yaml}"
        );
        by_schema
    };
    assert!(accepts(base));
    let mistakes = [
        "listn: {address: '127.0.0.1:8081'}\n",
        "logging: {format: json, colour: true}\n",
        "federation: {separator: '__', prefix: x}\n",
        "reload: {poll_interval: 30}\n",
        "reload: {poll_interval: 5 parsecs}\n",
        "limits: {max_response_body: 16 parsecs}\n",
        "limits: {max_headers: many}\n",
        "authorization: {policies: policies, mode: [enforce]}\n",
        "scan: {actions: [{surface: tool_result, injection: ignore}]}\n",
        "audit: {disabled: true, on_failure: sometimes}\n",
        "rate_limits: {rules: [{name: x, rate: 1/s, burst: -1}]}\n",
    ];
    for mistake in mistakes {
        // A later duplicate key would be a YAML error, not a schema one:
        // replace the section the mistake names instead of appending.
        let section = mistake.split(':').next().unwrap();
        let kept: String = base
            .lines()
            .filter(|l| !l.starts_with(&format!("{section}:")))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(!accepts(&format!("{kept}{mistake}")), "accepted: {mistake}");
    }
}

#[test]
fn the_configuration_reference_names_every_option_of_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(&printed_schema()).unwrap();
    let doc = std::fs::read_to_string(repo().join("docs/configuration.md")).unwrap();
    let mut objects = vec![&schema];
    objects.extend(schema["$defs"].as_object().unwrap().values());
    let mut missing = Vec::new();
    for object in objects {
        let Some(properties) = object.get("properties").and_then(|p| p.as_object()) else {
            continue;
        };
        for name in properties.keys() {
            // `name`, `section.name` or `list[].name` in a table row.
            let named = [format!("{name}`"), format!("{name}."), format!("{name}[")]
                .iter()
                .any(|form| doc.contains(form.as_str()));
            if !named {
                missing.push(name.clone());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not document: {missing:?}"
    );
}

#[test]
fn the_schema_refuses_the_values_the_compiler_refuses_in_closed_string_options() {
    let validator = schema_validator();
    let base = "listen: {address: '127.0.0.1:8080'}\n\
                authentication: {mode: none}\n\
                audit: {disabled: true}\n";
    let upstream = "upstream: {url: 'http://127.0.0.1:3000/mcp'}\n";
    // Options the parser reads as free strings and the compiler checks
    // against a fixed set: a typo must be caught by both, the right spelling by neither.
    let cases = [
        (
            format!("{upstream}scan: {{oversize: allow}}\n"),
            "allow",
            "alow",
        ),
        (
            format!("{upstream}logging: {{format: text}}\n"),
            "text",
            "txt",
        ),
        (
            format!(
                "{upstream}tracing: {{endpoint: 'http://127.0.0.1:4318', protocol: http/protobuf}}\n"
            ),
            "http/protobuf",
            "http/json",
        ),
        (
            format!("{upstream}tracing: {{endpoint: 'http://127.0.0.1:4317', protocol: grpc}}\n"),
            "grpc",
            "gprc",
        ),
        (
            format!(
                "{upstream}metrics: {{otlp: {{endpoint: 'http://127.0.0.1:4317', protocol: grpc}}}}\n"
            ),
            "grpc",
            "gprc",
        ),
        (
            format!(
                "{upstream}rate_limits: {{redis: {{url: 'redis://127.0.0.1:1/0', on_error: deny}}, rules: []}}\n"
            ),
            "deny",
            "refuse",
        ),
        (
            format!(
                "{upstream}rate_limits: {{rules: [{{name: x, per: [principal], rate: 10/min}}]}}\n"
            ),
            "10/min",
            "10/week",
        ),
        (
            format!(
                "{upstream}rate_limits: {{rules: [{{name: x, per: [principal], rate: 10/min}}]}}\n"
            ),
            "principal",
            "user",
        ),
        (
            "upstreams: {a: {url: 'http://127.0.0.1:3000/mcp', transport: streamable_http}}\n"
                .to_owned(),
            "streamable_http",
            "websocket",
        ),
    ];
    for (section, good, typo) in cases {
        let yaml = format!("{base}{section}");
        let value: serde_json::Value = serde_yaml_ng::from_str(&yaml).unwrap();
        assert!(validator.is_valid(&value), "schema refused: {yaml}");
        portcullis::config::load_str(&yaml, "t.yaml".as_ref())
            .unwrap_or_else(|e| panic!("compiler refused: {yaml}: {e}"));
        let yaml = yaml.replace(good, typo);
        let value: serde_json::Value = serde_yaml_ng::from_str(&yaml).unwrap();
        assert!(!validator.is_valid(&value), "schema accepted: {yaml}");
        assert!(
            portcullis::config::load_str(&yaml, "t.yaml".as_ref()).is_err(),
            "compiler accepted: {yaml}"
        );
    }
}
