//! The audit trail of a real gateway run: every action is one event of the
//! right OCSF class with the fields an investigator needs, nothing secret is
//! in it, and `portcullis audit verify` accepts the log.

use crate::support::Gateway;
use crate::support::gateway::audit_events as events;
use crate::support::http::{Req, modern_body};
use serde_json::{Value, json};

fn operation<'a>(events: &'a [Value], method: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["class_uid"] == 6003 && e["api"]["operation"] == method)
        .collect()
}

#[tokio::test]
async fn every_action_of_a_gateway_run_is_one_verifiable_event() {
    let demo = portcullis::demo::server::start("127.0.0.1:0")
        .await
        .unwrap();
    let gw = Gateway::start(&format!("http://{}/mcp", demo.addr())).await;
    let dir = gw.config_file.parent().unwrap().join("audit");
    let url = gw.url();
    let call = |id: u64, tool: &'static str, args: Value| {
        let req = Req::post(&url)
            .modern("tools/call", Some(tool))
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(modern_body(
                id,
                "tools/call",
                json!({"name": tool, "arguments": args}),
            ));
        async move { req.send().await }
    };
    assert_eq!(call(1, "echo", json!({"text": "hello"})).await.status, 200);
    let withheld = call(2, "fetch_page", json!({"url": "https://shop.example"})).await;
    assert_eq!(withheld.json()["result"]["isError"], true);
    let secret = call(3, "echo", json!({"text": "AKIAIOSFODNN7EXAMPLE"})).await;
    assert_eq!(secret.json()["error"]["code"], -32001);
    let malformed = Req::post(&gw.url())
        .mcp()
        .body("{\"jsonrpc\":")
        .send()
        .await;
    assert_eq!(malformed.status, 400);
    let rebinding = Req::post(&gw.url())
        .mcp()
        .header("host", "evil.example.com")
        .body("{}")
        .send()
        .await;
    assert_eq!(rebinding.status, 421);
    let _folder = gw.stop().await;

    let all = events(&dir);
    let calls = operation(&all, "tools/call");
    assert_eq!(calls.len(), 3, "one event per call: {calls:#?}");
    let by_id = |id: &str| {
        calls
            .iter()
            .find(|e| e["api"]["request"]["uid"] == id)
            .unwrap()
    };
    let echo = by_id("1");
    assert_eq!(echo["status_id"], 1);
    assert_eq!(echo["resources"][0]["name"], "echo");
    assert_eq!(echo["api"]["service"]["name"], "default");
    assert!(echo["api"]["request"]["data"]["arguments_sha256"].is_string());
    assert_eq!(
        echo["unmapped"]["portcullis"]["decision"]["verdict"],
        "allowed"
    );
    assert_eq!(
        echo["trace"]["uid"], "4bf92f3577b34da6a3ce929d0e0e4736",
        "trace id: {echo}"
    );
    assert_eq!(
        by_id("2")["unmapped"]["portcullis"]["decision"]["verdict"],
        "denied"
    );
    assert_eq!(
        by_id("3")["unmapped"]["portcullis"]["decision"]["verdict"],
        "denied"
    );
    let findings: Vec<&Value> = all.iter().filter(|e| e["class_uid"] == 2004).collect();
    assert!(
        findings
            .iter()
            .any(|f| f["evidences"][0]["data"]["surface"] == "tool_result")
    );
    assert!(
        findings
            .iter()
            .any(|f| f["evidences"][0]["data"]["surface"] == "tool_arguments"
                && f["finding_info"]["types"][0] == "secret")
    );
    let refused: Vec<&Value> = all
        .iter()
        .filter(|e| e["class_uid"] == 6003 && e["http_response"]["code"] == 400)
        .collect();
    assert_eq!(refused.len(), 1, "the malformed request");
    assert!(
        all.iter().any(|e| e["http_response"]["code"] == 421),
        "the rebinding attempt"
    );
    let text = all.iter().map(Value::to_string).collect::<String>();
    assert!(
        !text.contains("AKIAIOSFODNN7EXAMPLE"),
        "the secret is in no event"
    );

    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("audit")
        .arg("verify")
        .args(&files)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[tokio::test]
async fn a_refused_token_is_an_authentication_event() {
    let upstream = crate::support::Recorder::ok().await;
    let yaml = crate::support::gateway::default_yaml(&upstream.url()).replace(
        "authentication:\n  mode: none\n",
        "authentication:\n  mode: jwt\n  resource: http://127.0.0.1/mcp\n  issuers:\n    - issuer: https://idp.example\n      algorithms: [ES256]\n      jwks_file: jwks.json\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let jwks = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","use":"sig","alg":"ES256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
    let gw = {
        let yaml = yaml.replace(
            "jwks.json",
            &dir.path().join("jwks.json").display().to_string(),
        );
        std::fs::write(dir.path().join("jwks.json"), jwks).unwrap();
        Gateway::start_yaml(&yaml).await
    };
    let audit_dir = gw.config_file.parent().unwrap().join("audit");
    let reply = Req::post(&gw.url())
        .mcp()
        .body(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .send()
        .await;
    assert_eq!(reply.status, 401);
    let bad = Req::post(&gw.url())
        .mcp()
        .header("authorization", "Bearer not.a.token")
        .body(json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}))
        .send()
        .await;
    assert_eq!(bad.status, 401);
    let _folder = gw.stop().await;
    let all = events(&audit_dir);
    let auth: Vec<&Value> = all.iter().filter(|e| e["class_uid"] == 3002).collect();
    assert_eq!(auth.len(), 2, "{all:#?}");
    assert_eq!(auth[0]["status_id"], 2, "failure");
    assert_eq!(auth[0]["status_detail"], "missing_token", "{}", auth[0]);
    assert_eq!(auth[1]["status_detail"], "malformed", "{}", auth[1]);
    assert!(
        !all.iter()
            .map(Value::to_string)
            .collect::<String>()
            .contains("not.a.token")
    );
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn a_full_audit_disk_turns_requests_into_503_and_they_recover_with_space() {
    let demo = portcullis::demo::server::start("127.0.0.1:0")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let Some(fs) = super::durability::Tmpfs::mount(&log, "512k") else {
        super::support::require(false, "mounting a tmpfs (needs root)");
        return;
    };
    let yaml = format!(
        "{}audit:\n  on_failure: fail_closed\n  file:\n    directory: {}\n",
        crate::support::gateway::default_yaml(&format!("http://{}/mcp", demo.addr())),
        log.display()
    );
    let gw = Gateway::start_yaml(&yaml).await;
    let url = gw.url();
    let echo = |id: u64| {
        Req::post(&url)
            .modern("tools/call", Some("echo"))
            .body(modern_body(
                id,
                "tools/call",
                json!({"name": "echo", "arguments": {"text": "x"}}),
            ))
    };
    assert_eq!(echo(1).send().await.status, 200);
    let filler = fs.fill();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let refused = loop {
        let reply = echo(2).send().await;
        if reply.status == 503 {
            break reply;
        }
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(std::time::Instant::now() < deadline, "never refused");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let error = &refused.json()["error"];
    assert!(error["code"].is_i64(), "{refused:?}");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase()
            .contains("audit"),
        "the client is told why: {refused:?}"
    );
    std::fs::remove_file(filler).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let reply = echo(3).send().await;
        if reply.status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not recover: {reply:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(gw.stop().await);
}

/// The gateway process is SIGKILLed under load with `fsync: always`: every
/// request that got its response has its event on disk, and the chain up to
/// the crash verifies.
#[tokio::test]
async fn a_sigkilled_gateway_under_fsync_always_has_every_answered_request_on_disk() {
    use crate::support::peers::free_port;
    let demo = portcullis::demo::server::start("127.0.0.1:0")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit");
    let port = free_port();
    let yaml = crate::support::gateway::default_yaml(&format!("http://{}/mcp", demo.addr()))
        .replace("127.0.0.1:0\nadmin", &format!("127.0.0.1:{port}\nadmin"));
    let config = dir.path().join("gw.yaml");
    std::fs::write(
        &config,
        format!(
            "{yaml}audit:\n  fsync: always\n  file:\n    directory: {}\n",
            log.display()
        ),
    )
    .unwrap();
    let (mut child, ports) = crate::support::peers::serve_binary(&config, &[port]).await;
    let port = ports[0];
    let url = format!("http://127.0.0.1:{port}/mcp");
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let mut clients = Vec::new();
    for worker in 0..8u64 {
        let (url, answered) = (url.clone(), std::sync::Arc::clone(&answered));
        clients.push(tokio::spawn(async move {
            for n in 0.. {
                let id = worker * 1_000_000 + n;
                let reply = Req::post(&url)
                    .modern("tools/call", Some("echo"))
                    .body(modern_body(
                        id,
                        "tools/call",
                        json!({"name": "echo", "arguments": {"text": "x"}}),
                    ))
                    .try_send()
                    .await;
                match reply {
                    Some(r) if r.status == 200 => answered.lock().unwrap().push(id),
                    _ => break,
                }
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    child.start_kill().unwrap(); // SIGKILL
    let _ = child.wait().await;
    for c in clients {
        let _ = c.await;
    }
    let answered = answered.lock().unwrap().clone();
    assert!(answered.len() > 50, "load ran: {} answered", answered.len());
    let on_disk: std::collections::HashSet<String> = events(&log)
        .iter()
        .filter(|e| e["api"]["operation"] == "tools/call")
        .filter_map(|e| e["api"]["request"]["uid"].as_str().map(str::to_owned))
        .collect();
    let missing: Vec<&u64> = answered
        .iter()
        .filter(|id| !on_disk.contains(&id.to_string()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered requests have no event: {:?}",
        missing.len(),
        answered.len(),
        &missing[..missing.len().min(10)]
    );
}
