//! Fixtures and helpers shared by the audit tests.

#![allow(dead_code)]

use portcullis::audit::config::{AuditConfig, from_yaml};
use portcullis::audit::*;
use portcullis::protocol::Target;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

pub const JWT: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJhbGljZSIsImF1ZCI6Im1jcCJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
pub const SECRET: &str = "AKIAIOSFODNN7EXAMPLE";
pub const DB_PASSWORD: &str = "hunter2-correct-horse";

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/audit/fixtures")
}

/// Skips (loudly) when a tool is missing, or fails under CI.
pub fn require(available: bool, what: &str) -> bool {
    if available {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{what} is required under CI (run scripts/install-peers)");
    }
    eprintln!(
        "\n*** SKIPPED: {what} is not available (run scripts/install-peers); this test did not run ***\n"
    );
    false
}

/// A Python with jsonschema and opentelemetry-proto, if there is one.
pub fn python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let peers =
        std::env::var_os("PORTCULLIS_PEERS").map_or_else(|| root.join(".peers"), PathBuf::from);
    let candidates = [
        std::env::var_os("PORTCULLIS_AUDIT_PYTHON").map(PathBuf::from),
        Some(peers.join("audit-venv/bin/python")),
        Some(root.join(".venv-audit/bin/python")),
        Some(PathBuf::from("python3")),
    ];
    candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .args([
                "-c",
                "import jsonschema, opentelemetry.proto.collector.logs.v1.logs_service_pb2",
            ])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

pub fn has_command(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// An audit configuration writing into `dir`, plus extra YAML lines.
pub fn config(dir: &Path, extra: &str) -> AuditConfig {
    let yaml = format!(
        "file:\n  directory: {}\ngateway_name: gw-test\n{extra}",
        dir.join("log").display()
    );
    from_yaml(&yaml, &dir.join("portcullis.yaml")).unwrap()
}

pub fn signed(extra: &str) -> String {
    format!(
        "checkpoint:\n  signing_key: {}\n  every_events: 10\n{extra}",
        fixtures().join("keys/checkpoint.pem").display()
    )
}

/// Segment files in the log folder, oldest first.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.ends_with(".jsonl") && !name.contains("checkpoints")
        })
        .collect();
    files.sort();
    files
}

pub fn checkpoint_file(dir: &Path) -> PathBuf {
    dir.join("log/audit-checkpoints.jsonl")
}

/// Every event (not checkpoint) line of every segment, parsed.
pub fn events(dir: &Path) -> Vec<Value> {
    segments(dir)
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|l| !l.starts_with("{\"portcullis_checkpoint\""))
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect()
}

fn base(kind: RecordKind) -> AuditRecord {
    let mut r = AuditRecord::now(kind);
    r.time = SystemTime::UNIX_EPOCH + Duration::from_millis(1_790_000_000_123);
    r.actor = Actor {
        subject: Some("alice@example.com".into()),
        client_id: Some("agent-7".into()),
        tenant: Some("acme".into()),
        delegation: vec!["orchestrator-1".into()],
    };
    r.source = Some("192.0.2.10:51234".parse::<SocketAddr>().unwrap());
    r.session = Some("sess-42".into());
    r.protocol = Protocol {
        era: Some("legacy"),
        version: Some("2025-06-18"),
    };
    r.upstream = Some("files".into());
    r.trace = Some(TraceContext {
        trace_id: [0x4b; 16],
        span_id: [0x1c; 8],
    });
    r
}

/// A tools/call with credentials in its arguments.
pub fn tool_call(n: u64) -> AuditRecord {
    let mut r = base(RecordKind::Operation(Operation {
        direction: Direction::ClientToServer,
        method: "tools/call".into(),
        rpc_id: Some(n.to_string()),
        target: Some(Target::Tool("read_file".into())),
        arguments: Some(json!({
            "path": "/srv/data/report.txt",
            "auth": {"header": format!("Bearer {JWT}")},
            "db": {"password": DB_PASSWORD, "dsn": "postgres://db/prod"},
            "note": format!("key {SECRET} inside"),
        })),
        decision: Decision {
            verdict: Verdict::Allowed,
            policies: vec!["permit-readers".into()],
            policy_version: Some("pv-3f2a".into()),
            reason: None,
        },
        findings: vec![FindingRef {
            rule_id: "secret.aws-key".into(),
            json_path: Some("$.params.arguments.note".into()),
        }],
        outcome: Outcome {
            http_status: Some(200),
            rpc_error: None,
            latency: Some(Duration::from_micros(1830)),
        },
    }));
    r.secrets = vec![SECRET.into()];
    r
}

/// One record of every kind and variant the pipeline produces.
pub fn every_kind() -> Vec<AuditRecord> {
    let op = |method: &str, direction, target, verdict, rpc_error, reason: Option<&str>| {
        base(RecordKind::Operation(Operation {
            direction,
            method: method.into(),
            rpc_id: (!method.starts_with("notifications/")).then(|| "17".into()),
            target,
            arguments: None,
            decision: Decision {
                verdict,
                policies: vec![],
                policy_version: Some("pv-3f2a".into()),
                reason: reason.map(Into::into),
            },
            findings: vec![],
            outcome: Outcome {
                http_status: Some(200),
                rpc_error,
                latency: Some(Duration::from_millis(3)),
            },
        }))
    };
    let finding = |rule: &str, category: &str, action: &str, pin: Option<(String, String)>| {
        base(RecordKind::Finding(Finding {
            rule_id: rule.into(),
            category: category.into(),
            title: format!("{category} found"),
            severity: Severity::High,
            surface: "tool_result".into(),
            json_path: Some("$.result.content[0].text".into()),
            span: Some((10, 52)),
            action: action.into(),
            pin,
            score_percent: None,
            method: Some("tools/call".into()),
            rpc_id: Some("17".into()),
            target: Some(Target::Tool("fetch".into())),
        }))
    };
    let auth = |accepted: bool, reason: Option<&str>| {
        base(RecordKind::Authentication(Authentication {
            accepted,
            method: AuthMethod::BearerToken,
            issuer: Some("https://idp.example.com".into()),
            token_id: Some("jti-123".into()),
            reason: reason.map(Into::into),
            http_status: (!accepted).then_some(401),
        }))
    };
    let gw = |g: GatewayEvent| {
        let mut r = AuditRecord::now(RecordKind::Gateway(g));
        r.time = SystemTime::UNIX_EPOCH + Duration::from_millis(1_790_000_000_999);
        r
    };
    vec![
        tool_call(1),
        op(
            "resources/read",
            Direction::ClientToServer,
            Some(Target::Resource("file:///etc/passwd".into())),
            Verdict::Denied,
            Some(-32002),
            Some("no permit"),
        ),
        op(
            "prompts/get",
            Direction::ClientToServer,
            Some(Target::Prompt("summarise".into())),
            Verdict::ApprovalRequired,
            Some(-32001),
            Some("approval required"),
        ),
        op(
            "tools/list",
            Direction::ClientToServer,
            None,
            Verdict::Allowed,
            None,
            None,
        ),
        op(
            "sampling/createMessage",
            Direction::ServerToClient,
            None,
            Verdict::Flagged,
            None,
            None,
        ),
        op(
            "notifications/tools/list_changed",
            Direction::ServerToClient,
            None,
            Verdict::Allowed,
            None,
            None,
        ),
        op(
            "tools/call",
            Direction::ClientToServer,
            Some(Target::Tool("fetch".into())),
            Verdict::Error,
            None,
            Some("upstream timed out"),
        ),
        auth(true, None),
        auth(false, Some("expired")),
        finding("pi.role-marker", "injection", "block", None),
        finding(
            "pin.changed",
            "tool_pin",
            "block",
            Some(("a".repeat(64), "b".repeat(64))),
        ),
        gw(GatewayEvent::Reload {
            what: "policy".into(),
            ok: true,
            version: Some("pv-3f2b".into()),
            error: None,
        }),
        gw(GatewayEvent::Reload {
            what: "config".into(),
            ok: false,
            version: None,
            error: Some("line 3: unknown field".into()),
        }),
        gw(GatewayEvent::UpstreamHealth {
            up: false,
            reason: Some("connection refused".into()),
        }),
        gw(GatewayEvent::RateLimited {
            limit: "per_principal".into(),
            retry_after_secs: 3,
        }),
        gw(GatewayEvent::Approval {
            approval_id: "ap-1".into(),
            state: ApprovalState::Requested,
            approver: None,
            arguments_digest: Some("c".repeat(64)),
        }),
        gw(GatewayEvent::Approval {
            approval_id: "ap-1".into(),
            state: ApprovalState::Granted,
            approver: Some("bob".into()),
            arguments_digest: Some("c".repeat(64)),
        }),
        gw(GatewayEvent::Approval {
            approval_id: "ap-2".into(),
            state: ApprovalState::Expired,
            approver: None,
            arguments_digest: None,
        }),
        gw(GatewayEvent::AuditEventsLost { count: 4 }),
    ]
}

/// Runs `records` through a fresh auditor and shuts it down.
pub fn write_all(cfg: AuditConfig, records: Vec<AuditRecord>) -> AuditStats {
    let auditor = Auditor::start(cfg).unwrap();
    for r in records {
        auditor.record(r).unwrap().wait().unwrap();
    }
    auditor.shutdown_blocking();
    auditor.stats()
}

/// Runs `portcullis audit verify` on files; returns (exit code, stdout).
pub fn cli_verify(files: &[PathBuf], key: Option<&Path>) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.args(["audit", "verify"]).args(files);
    if let Some(k) = key {
        cmd.arg("--public-key").arg(k);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Requests received: (path, content type, body).
pub type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String, Vec<u8>)>>>;

/// An OTLP/HTTP receiver on loopback: records every request body and answers
/// with the scripted statuses (then 200).
pub struct Collector {
    pub port: u16,
    pub requests: Received,
}

impl Collector {
    pub fn start(mut statuses: Vec<u16>) -> Collector {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests: Received = std::sync::Arc::default();
        let store = requests.clone();
        statuses.reverse();
        let statuses = std::sync::Arc::new(std::sync::Mutex::new(statuses));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (store, statuses) = (store.clone(), statuses.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut out = stream;
                    loop {
                        let mut request_line = String::new();
                        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                            return;
                        }
                        let path = request_line.split(' ').nth(1).unwrap_or("").to_owned();
                        let (mut len, mut ctype) = (0usize, String::new());
                        loop {
                            let mut h = String::new();
                            reader.read_line(&mut h).unwrap();
                            let h = h.trim_end();
                            if h.is_empty() {
                                break;
                            }
                            let (k, v) = h.split_once(':').unwrap();
                            match k.to_ascii_lowercase().as_str() {
                                "content-length" => len = v.trim().parse().unwrap(),
                                "content-type" => ctype = v.trim().to_owned(),
                                _ => {}
                            }
                        }
                        let mut body = vec![0; len];
                        reader.read_exact(&mut body).unwrap();
                        store.lock().unwrap().push((path, ctype, body));
                        let status = statuses.lock().unwrap().pop().unwrap_or(200);
                        let _ = write!(out, "HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                    }
                });
            }
        });
        Collector { port, requests }
    }

    pub fn yaml(&self) -> String {
        format!(
            "otlp:\n  endpoint: http://127.0.0.1:{}/v1/logs\n",
            self.port
        )
    }

    /// Decodes every body received with the official protobuf classes.
    pub fn decode(&self, py: &Path) -> Vec<Value> {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (i, (_, _, body)) in self.requests.lock().unwrap().iter().enumerate() {
            let f = dir.path().join(format!("{i}.pb"));
            std::fs::write(&f, body).unwrap();
            files.push(f);
        }
        let out = Command::new(py)
            .arg(fixtures().join("otlp/decode.py"))
            .args(&files)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}
