//! Every record kind renders to exactly one event, valid against the OCSF
//! class it maps to (JSON Schemas derived from the OCSF schema, see
//! `tests/audit/fixtures/ocsf/derive.py`), with the fields the issue asks for.

use super::support::*;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn every_record_kind_renders_to_one_event_valid_for_its_ocsf_class() {
    let dir = tempfile::tempdir().unwrap();
    let records = every_kind();
    let n = records.len();
    let stats = write_all(
        config(dir.path(), "fsync: none\narguments:\n  record: redacted\n"),
        records,
    );
    assert_eq!(stats.written, n as u64);
    let events = events(dir.path());
    assert_eq!(events.len(), n, "one event per record");
    let per_class = |uid: u64| events.iter().filter(|e| e["class_uid"] == uid).count();
    assert_eq!(
        (per_class(6003), per_class(3002), per_class(2004)),
        (15, 2, 2)
    );

    let Some(py) = python() else {
        require(false, "python3 with jsonschema");
        return;
    };
    let mut child = Command::new(py)
        .arg(fixtures().join("ocsf/validate.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for e in &events {
        writeln!(stdin, "{e}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "schema violations:\n{report}");
    assert!(
        report.contains(r#""per_class": {"2004": 2, "3002": 2, "6003": 15}"#),
        "{report}"
    );
}

#[test]
fn a_tool_call_event_carries_who_what_decision_and_why() {
    let dir = tempfile::tempdir().unwrap();
    write_all(
        config(dir.path(), "fsync: none\narguments:\n  record: redacted\n"),
        vec![tool_call(9)],
    );
    let e = &events(dir.path())[0];
    let get = |path: &str| -> &Value { path.split('.').fold(e, |v, k| &v[k]) };
    assert_eq!(get("class_uid"), 6003);
    assert_eq!(get("type_uid"), 600399);
    assert_eq!(get("activity_name"), "Invoke");
    assert_eq!(get("time"), 1_790_000_000_123u64);
    assert_eq!(get("metadata.tenant_uid"), "acme");
    assert_eq!(get("metadata.version"), "1.9.0-dev");
    assert_eq!(get("metadata.product.name"), "portcullis");
    assert!(get("metadata.uid").as_str().unwrap().ends_with(":0"));
    assert_eq!(get("actor.user.uid"), "alice@example.com");
    assert_eq!(get("actor.app_uid"), "agent-7");
    assert_eq!(get("actor.session.uid"), "sess-42");
    assert_eq!(
        e["actor"]["authorizations"][0]["policy"]["uid"],
        "permit-readers"
    );
    assert_eq!(
        e["actor"]["authorizations"][0]["policy"]["version"],
        "pv-3f2a"
    );
    assert_eq!(e["actor"]["authorizations"][0]["decision"], "allowed");
    assert_eq!(get("src_endpoint.ip"), "192.0.2.10");
    assert_eq!(get("src_endpoint.port"), 51234);
    assert_eq!(get("api.operation"), "tools/call");
    assert_eq!(get("api.version"), "2025-06-18");
    assert_eq!(get("api.request.uid"), "9");
    assert_eq!(get("api.service.name"), "files");
    assert_eq!(e["resources"][0]["name"], "read_file");
    assert_eq!(e["resources"][0]["uid"], "files/read_file");
    assert_eq!(get("status_id"), 1);
    assert_eq!(get("status_code"), "200");
    assert_eq!(get("duration"), 1);
    assert_eq!(get("trace.uid").as_str().unwrap(), "4b".repeat(16));
    assert_eq!(get("trace.span.uid").as_str().unwrap(), "1c".repeat(8));
    assert_eq!(get("ai_agent.uid"), "agent-7");
    assert_eq!(get("message_context.ai_role"), "Tool");
    assert_eq!(get("unmapped.portcullis.era"), "legacy");
    assert_eq!(get("unmapped.portcullis.direction"), "client_to_server");
    assert_eq!(e["unmapped"]["portcullis"]["act"][0], "orchestrator-1");
    assert_eq!(get("unmapped.portcullis.latency_us"), 1830);
    assert_eq!(
        e["unmapped"]["portcullis"]["findings"][0]["rule_id"],
        "secret.aws-key"
    );
    let digest = get("api.request.data.arguments_sha256").as_str().unwrap();
    assert_eq!(digest.len(), 64);
    assert_eq!(
        get("api.request.data.arguments.path"),
        "/srv/data/report.txt"
    );
    assert_eq!(get("attestation.fingerprint.algorithm"), "SHA-256");
    assert!(
        get("attestation.authority_uid").is_null(),
        "unsigned config has no authority"
    );
}

#[test]
fn findings_and_authentication_events_fill_their_class_fields() {
    let dir = tempfile::tempdir().unwrap();
    write_all(config(dir.path(), "fsync: none\n"), every_kind());
    let events = events(dir.path());
    let finding = events.iter().find(|e| e["class_uid"] == 2004).unwrap();
    assert_eq!(finding["finding_info"]["analytic"]["uid"], "pi.role-marker");
    assert_eq!(finding["finding_info"]["types"][0], "injection");
    assert_eq!(
        finding["evidences"][0]["data"]["json_path"],
        "$.result.content[0].text"
    );
    assert_eq!(
        finding["evidences"][0]["data"]["span"],
        serde_json::json!([10, 52])
    );
    assert_eq!(finding["is_alert"], true);
    let pin = events
        .iter()
        .find(|e| e["finding_info"]["analytic"]["uid"] == "pin.changed")
        .unwrap();
    assert_eq!(
        pin["unmapped"]["portcullis"]["pin"]["current_sha256"],
        "b".repeat(64)
    );
    let rejected = events
        .iter()
        .find(|e| e["class_uid"] == 3002 && e["status_id"] == 2)
        .unwrap();
    assert_eq!(rejected["status_detail"], "expired");
    assert_eq!(rejected["user"]["uid"], "alice@example.com");
    assert_eq!(rejected["auth_protocol_id"], 6);
    let lost = events
        .iter()
        .find(|e| e["api"]["operation"] == "portcullis/audit_events_lost")
        .unwrap();
    assert_eq!(lost["unmapped"]["portcullis"]["events_lost"], 4);
    assert_eq!(lost["actor"]["app_name"], "gw-test");
}

#[test]
fn ecs_documents_carry_the_same_facts_and_the_same_chain() {
    let dir = tempfile::tempdir().unwrap();
    let n = every_kind().len();
    write_all(
        config(dir.path(), &signed("fsync: none\nformat: ecs\n")),
        every_kind(),
    );
    let events = events(dir.path());
    assert_eq!(events.len(), n);
    let call = &events[0];
    assert_eq!(call["event"]["action"], "mcp.tools.call");
    assert_eq!(call["event"]["category"][0], "api");
    assert_eq!(call["user"]["id"], "alice@example.com");
    assert_eq!(call["organization"]["id"], "acme");
    assert_eq!(call["source"]["ip"], "192.0.2.10");
    assert_eq!(call["trace"]["id"], "4b".repeat(16));
    assert_eq!(call["rule"]["version"], "pv-3f2a");
    assert!(call["@timestamp"].as_str().unwrap().starts_with("2026-"));
    assert!(call["event"]["id"].as_str().unwrap().ends_with(":0"));
    let alert = events
        .iter()
        .find(|e| e["event"]["kind"] == "alert")
        .unwrap();
    assert_eq!(alert["event"]["category"][0], "intrusion_detection");
    let mut files = segments(dir.path());
    files.push(checkpoint_file(dir.path()));
    let (code, out) = cli_verify(&files, Some(&fixtures().join("keys/checkpoint.pub.pem")));
    assert_eq!(code, 0, "{out}");
}
