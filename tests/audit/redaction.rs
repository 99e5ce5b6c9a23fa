//! Tokens (Authorization values, JWT-shaped strings), secrets the filter
//! reported, and configured argument paths reach no sink: not the segment file,
//! not the checkpoint file, not the OTLP copy, in OCSF or ECS.

use super::support::*;
use portcullis::audit::*;
use portcullis::protocol::Target;

fn leaky_records() -> Vec<AuditRecord> {
    let mut rejected = AuditRecord::now(RecordKind::Authentication(Authentication {
        accepted: false,
        method: AuthMethod::BearerToken,
        issuer: None,
        token_id: None,
        reason: Some(format!("signature check failed for {JWT}")),
        http_status: Some(401),
    }));
    rejected.actor.subject = Some(format!("Bearer {JWT}"));
    let mut finding = AuditRecord::now(RecordKind::Finding(Finding {
        rule_id: "secret.aws-key".into(),
        category: "secret".into(),
        title: format!("AWS key {SECRET} in arguments"),
        severity: Severity::High,
        surface: "tool_arguments".into(),
        json_path: Some("$.params.arguments.note".into()),
        span: Some((4, 24)),
        action: "block".into(),
        pin: None,
        score_percent: None,
        method: Some("tools/call".into()),
        rpc_id: Some("1".into()),
        target: Some(Target::Tool("read_file".into())),
    }));
    finding.secrets = vec![SECRET.into()];
    vec![tool_call(1), rejected, finding]
}

fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for secret in [
        JWT,
        SECRET,
        DB_PASSWORD,
        "postgres://db/prod",
        "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ",
    ] {
        assert!(!text.contains(secret), "{what} contains {secret}");
    }
}

fn run(format: &str) {
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(vec![]);
    let yaml = format!(
        "fsync: none\nformat: {format}\narguments:\n  record: redacted\n  tools:\n    read_file:\n      record: redacted\n      redact: [db.dsn]\n{}",
        collector.yaml()
    );
    let auditor = Auditor::start(config(dir.path(), &yaml)).unwrap();
    for r in leaky_records() {
        let _ = auditor.record(r).unwrap();
    }
    auditor.shutdown_blocking();
    assert_eq!(auditor.stats().remote_sent, 4);
    for seg in segments(dir.path()) {
        assert_clean("segment file", &std::fs::read(seg).unwrap());
    }
    assert_clean(
        "checkpoint file",
        &std::fs::read(checkpoint_file(dir.path())).unwrap(),
    );
    for (_, _, body) in collector.requests.lock().unwrap().iter() {
        assert_clean("OTLP request", body);
    }
    let events = events(dir.path());
    let args = if format == "ocsf" {
        &events[0]["api"]["request"]["data"]["arguments"]
    } else {
        &events[0]["portcullis"]["arguments"]
    };
    assert_eq!(args["path"], "/srv/data/report.txt", "the rest is kept");
    assert_eq!(args["db"]["password"], "[REDACTED]");
    assert_eq!(args["db"]["dsn"], "[REDACTED]");
    assert_eq!(args["auth"]["header"], "[REDACTED]");
    assert_eq!(args["note"], "key [REDACTED] inside");
}

#[test]
fn tokens_secrets_and_configured_paths_reach_no_sink_in_ocsf() {
    run("ocsf");
}

#[test]
fn tokens_secrets_and_configured_paths_reach_no_sink_in_ecs() {
    run("ecs");
}

#[test]
fn the_argument_digest_is_computed_before_redaction() {
    let dir = tempfile::tempdir().unwrap();
    write_all(config(dir.path(), "fsync: none\n"), vec![tool_call(1)]);
    let e = &events(dir.path())[0];
    let portcullis::audit::RecordKind::Operation(op) = &tool_call(1).kind else {
        unreachable!()
    };
    let expected = portcullis::audit::canonical::digest(op.arguments.as_ref().unwrap());
    assert_eq!(
        e["api"]["request"]["data"]["arguments_sha256"],
        expected.as_str()
    );
    assert!(
        e["api"]["request"]["data"].get("arguments").is_none(),
        "digest only by default"
    );
}
