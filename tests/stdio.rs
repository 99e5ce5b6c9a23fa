//! stdio upstreams against real servers (`server-everything`, the Python SDK
//! fixture) and hostile ones (`tests/peers/stdio_hostile.py`): concurrency without
//! crossed ids, progress, notifications, server requests, both eras, crash / hang /
//! garbage / SIGTERM-ignoring processes, and shutdown leaving no process behind.
//!
//! Tests run on a current-thread runtime, so a log capture set for the test's
//! thread sees every task's logs.

use crate::support::peers::{node, node_module, python, repo, script};
use portcullis::config::stdio::{RawStdioUpstream, StdioSettings, compile};
use portcullis::protocol::jsonrpc::parse_message;
use portcullis::protocol::{Era, Message, ParseLimits};
use portcullis::upstream::mux::{Event, MuxError};
use portcullis::upstream::stdio::StdioUpstream;
use portcullis::upstream::supervised::{Health, LinkError};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const STARTUP: Duration = Duration::from_secs(60);

fn settings(yaml: &str) -> StdioSettings {
    let raw: RawStdioUpstream = serde_yaml_ng::from_str(yaml).unwrap();
    compile(&raw, &repo().join("portcullis.yaml"), "stdio").unwrap()
}

fn command(parts: &[String]) -> String {
    let quoted: Vec<String> = parts.iter().map(|p| format!("{p:?}")).collect();
    format!("command: [{}]\n", quoted.join(", "))
}

fn everything(extra: &str) -> String {
    let index = node_module("@modelcontextprotocol/server-everything/dist/index.js");
    let parts = [
        node().display().to_string(),
        index.display().to_string(),
        "stdio".into(),
    ];
    format!("{}{extra}", command(&parts))
}

fn python_fixture(extra: &str) -> String {
    let parts = [
        python().display().to_string(),
        script("conformance_fixture.py").display().to_string(),
        "--stdio".into(),
    ];
    format!("{}{extra}", command(&parts))
}

fn hostile(flags: &[&str], extra: &str) -> String {
    let mut parts = vec![
        python().display().to_string(),
        script("stdio_hostile.py").display().to_string(),
    ];
    parts.extend(flags.iter().map(|f| f.to_string()));
    format!(
        "{}restart: {{ initial_backoff: 50ms, max_backoff: 500ms, jitter: false }}\n{extra}",
        command(&parts)
    )
}

async fn start(name: &str, yaml: &str) -> StdioUpstream {
    let up = StdioUpstream::start(name, settings(yaml), ParseLimits::default());
    up.wait_up(STARTUP).await.unwrap();
    up
}

fn message(value: Value) -> Message {
    parse_message(value.to_string().as_bytes(), &ParseLimits::default()).unwrap()
}

fn call(id: Value, tool: &str, arguments: Value) -> Message {
    message(json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
        "params":{"name":tool,"arguments":arguments}}))
}

async fn result(up: &StdioUpstream, request: &Message) -> Result<Value, LinkError> {
    let frame = up.request(request).await?.response().await?;
    Ok(serde_json::from_slice(frame.raw()).unwrap())
}

fn text(response: &Value) -> &str {
    response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
}

async fn health_becomes(up: &StdioUpstream, pred: impl Fn(&Health) -> bool) -> Health {
    let mut health = up.watch_health();
    let found = tokio::time::timeout(STARTUP, health.wait_for(|h| pred(h))).await;
    found.expect("health change in time").unwrap().clone()
}

/// Whether a process with this pid exists (a zombie counts: it is not reaped).
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether it exists and is not a zombie.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

/// Log lines of this test's thread, as text.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn everything_over_stdio_answers_concurrent_calls_without_crossing_ids() {
    let up = Arc::new(start("everything", &everything("")).await);
    let session = up.session().unwrap();
    assert_eq!(
        session.era,
        Era::Legacy,
        "auto falls back for a legacy-only server"
    );
    assert_eq!(session.server_info["name"], "mcp-servers/everything");
    let tools = result(
        &up,
        &message(json!({"jsonrpc":"2.0","id":"list","method":"tools/list"})),
    )
    .await
    .unwrap();
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"echo") && names.contains(&"get-sum"),
        "{names:?}"
    );
    let mut tasks = Vec::new();
    for i in 0..24 {
        let up = up.clone();
        tasks.push(tokio::spawn(async move {
            // Every client uses id 1: the gateway's upstream ids keep them apart.
            let echo = result(
                &up,
                &call(json!(1), "echo", json!({"message": format!("m{i}")})),
            )
            .await
            .unwrap();
            assert_eq!(
                (echo["id"].clone(), text(&echo)),
                (json!(1), format!("Echo: m{i}").as_str())
            );
            let sum = result(&up, &call(json!(1), "get-sum", json!({"a": i, "b": 1000})))
                .await
                .unwrap();
            assert_eq!(
                text(&sum),
                format!("The sum of {i} and 1000 is {}.", i + 1000)
            );
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(up.mux().in_flight(), 0);
    Arc::into_inner(up).unwrap().shutdown().await;
}

#[tokio::test]
async fn everything_over_stdio_reports_progress_with_the_clients_token() {
    let up = start("everything", &everything("")).await;
    let request = message(
        json!({"jsonrpc":"2.0","id":"long","method":"tools/call","params":{
        "name":"trigger-long-running-operation","arguments":{"duration":1,"steps":3},
        "_meta":{"progressToken":"tok-1"}}}),
    );
    let mut exchange = up.request(&request).await.unwrap();
    let mut progress = Vec::new();
    let response = loop {
        match exchange.next().await.unwrap().unwrap() {
            Event::Notification(frame) => {
                let v: Value = serde_json::from_slice(frame.raw()).unwrap();
                assert_eq!(v["params"]["progressToken"], "tok-1");
                progress.push(v["params"]["progress"].as_f64().unwrap());
            }
            Event::Response(frame) => break serde_json::from_slice::<Value>(frame.raw()).unwrap(),
            Event::Request(_) => panic!("no server request expected"),
        }
    };
    assert_eq!(progress, [1.0, 2.0, 3.0]);
    assert_eq!(response["id"], "long");
    assert!(
        text(&response).contains("Long running operation completed"),
        "{response}"
    );
    up.shutdown().await;
}

#[tokio::test]
async fn everything_over_stdio_broadcasts_notifications_and_routes_sampling_to_its_request() {
    let settings = everything("client_capabilities: { sampling: {} }\n");
    let up = StdioUpstream::start(
        "everything",
        self::settings(&settings),
        ParseLimits::default(),
    );
    let mut notifications = up.notifications();
    up.wait_up(STARTUP).await.unwrap();
    let first = tokio::time::timeout(STARTUP, notifications.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first.message().method(),
        Some("notifications/tools/list_changed")
    );
    result(&up, &call(json!(2), "toggle-simulated-logging", json!({})))
        .await
        .unwrap();
    let log = loop {
        let n = tokio::time::timeout(STARTUP, notifications.recv())
            .await
            .unwrap()
            .unwrap();
        if n.message().method() == Some("notifications/message") {
            break n;
        }
    };
    assert!(log.message().params().unwrap().contains_key("level"));

    let request = call(
        json!("s"),
        "trigger-sampling-request",
        json!({"prompt": "hello", "maxTokens": 5}),
    );
    let mut exchange = up.request(&request).await.unwrap();
    let Some(Ok(Event::Request(sampling))) = exchange.next().await else {
        panic!("expected the sampling request");
    };
    assert_eq!(
        sampling.frame().message().method(),
        Some("sampling/createMessage")
    );
    let answer = message(
        json!({"jsonrpc":"2.0","id":"whatever","result":{"role":"assistant",
        "content":{"type":"text","text":"sampled!"},"model":"test-model","stopReason":"endTurn"}}),
    );
    sampling.respond(&answer).await.unwrap();
    let frame = exchange.response().await.unwrap();
    let response: Value = serde_json::from_slice(frame.raw()).unwrap();
    assert_eq!(response["id"], "s");
    assert!(response.to_string().contains("sampled!"), "{response}");
    up.shutdown().await;
}

#[tokio::test]
async fn python_sdk_over_stdio_negotiates_2026_07_28_when_auto_probes_it() {
    let up = start("python", &python_fixture("")).await;
    let session = up.session().unwrap();
    assert_eq!(session.era, Era::Modern);
    assert_eq!(
        session.server_info["name"],
        "portcullis-conformance-fixture"
    );
    let envelope = json!({"io.modelcontextprotocol/protocolVersion":"2026-07-28",
        "io.modelcontextprotocol/clientCapabilities":{},
        "io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"}});
    let simple = message(json!({"jsonrpc":"2.0","id":7,"method":"tools/call",
        "params":{"name":"test_simple_text","arguments":{},"_meta":envelope}}));
    let response = result(&up, &simple).await.unwrap();
    assert_eq!(response["id"], 7);
    assert_eq!(
        text(&response),
        "This is a simple text response for testing."
    );
    let mut meta = envelope.clone();
    meta["progressToken"] = json!(42);
    let progress = message(json!({"jsonrpc":"2.0","id":8,"method":"tools/call",
        "params":{"name":"test_tool_with_progress","arguments":{},"_meta":meta}}));
    let mut exchange = up.request(&progress).await.unwrap();
    let mut tokens = Vec::new();
    while let Some(event) = exchange.next().await {
        match event.unwrap() {
            Event::Notification(f) => {
                tokens.push(f.message().params().unwrap()["progressToken"].clone())
            }
            Event::Response(f) => {
                assert!(String::from_utf8_lossy(f.raw()).contains("Progress test completed"))
            }
            Event::Request(_) => panic!("2026-07-28 has no server requests"),
        }
    }
    assert_eq!(tokens, [json!(42), json!(42), json!(42)]);
    up.shutdown().await;
}

#[tokio::test]
async fn python_sdk_over_stdio_in_the_legacy_era_attributes_sampling_to_its_request() {
    let up = start(
        "python",
        &python_fixture("era: legacy\nclient_capabilities: { sampling: {} }\n"),
    )
    .await;
    assert_eq!(up.session().unwrap().era, Era::Legacy);
    let mut exchange = up
        .request(&call(json!(3), "test_sampling", json!({"prompt": "hi"})))
        .await
        .unwrap();
    loop {
        match exchange.next().await.unwrap().unwrap() {
            Event::Request(request) => {
                let answer = message(json!({"jsonrpc":"2.0","id":1,"result":{"role":"assistant",
                    "content":{"type":"text","text":"from the client"},"model":"m","stopReason":"endTurn"}}));
                request.respond(&answer).await.unwrap();
            }
            Event::Notification(_) => {}
            Event::Response(frame) => {
                let v: Value = serde_json::from_slice(frame.raw()).unwrap();
                assert_eq!(text(&v), "LLM response: from the client");
                break;
            }
        }
    }
    up.shutdown().await;
}

#[tokio::test]
async fn a_crashing_upstream_is_restarted_and_its_in_flight_requests_fail_clearly() {
    let once = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    std::fs::remove_file(&once).unwrap();
    let flags = ["--crash-after", "2", "--once", once.to_str().unwrap()];
    let up = start("crashy", &hostile(&flags, "")).await;
    let first_pid = up.pid().unwrap();
    for i in 0..2 {
        let r = result(&up, &call(json!(i), "echo", json!({"text": "ok"})))
            .await
            .unwrap();
        assert_eq!(text(&r), "ok");
    }
    // Two requests in flight when the process dies: both fail at once, with the reason.
    let (call_a, call_b) = (
        call(json!("a"), "echo", json!({"text": "a"})),
        call(json!("b"), "echo", json!({"text": "b"})),
    );
    let (a, b) = tokio::join!(result(&up, &call_a), result(&up, &call_b));
    for err in [a.unwrap_err(), b.unwrap_err()] {
        assert!(
            matches!(&err, LinkError::Mux(MuxError::Disconnected { reason, .. }) if reason.contains("exited with status 3")),
            "{err}"
        );
    }
    let down = health_becomes(&up, |h| !h.is_up()).await;
    assert!(
        matches!(down, Health::Down { .. } | Health::Starting { .. }),
        "{down:?}"
    );
    up.wait_up(STARTUP).await.unwrap();
    assert_ne!(up.pid(), Some(first_pid));
    assert!(!exists(first_pid), "the crashed process was reaped");
    let r = result(&up, &call(json!(9), "echo", json!({"text": "again"})))
        .await
        .unwrap();
    assert_eq!(text(&r), "again");
    assert_eq!(up.stats().starts, 2);
    up.shutdown().await;
}

#[tokio::test]
async fn a_hanging_upstream_times_out_and_is_restarted() {
    let once = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    std::fs::remove_file(&once).unwrap();
    let flags = ["--hang-after", "1", "--once", once.to_str().unwrap()];
    let up = start(
        "hangs",
        &hostile(&flags, "health: { max_consecutive_timeouts: 2 }\n"),
    )
    .await;
    let short = Duration::from_millis(300);
    let ok = up
        .request_within(&call(json!(1), "echo", json!({"text": "x"})), short)
        .await
        .unwrap();
    ok.response().await.unwrap();
    for i in 0..2 {
        let exchange = up
            .request_within(&call(json!(i), "echo", json!({"text": "x"})), short)
            .await
            .unwrap();
        let err = exchange.response().await.unwrap_err();
        assert!(matches!(err, MuxError::Timeout { .. }), "{err}");
    }
    let Health::Down { reason } = health_becomes(&up, |h| matches!(h, Health::Down { .. })).await
    else {
        unreachable!()
    };
    assert!(
        reason.contains("stopped answering: 2 requests in a row timed out"),
        "{reason}"
    );
    up.wait_up(STARTUP).await.unwrap();
    let r = result(&up, &call(json!(5), "echo", json!({"text": "back"})))
        .await
        .unwrap();
    assert_eq!(text(&r), "back");
    up.shutdown().await;
}

#[tokio::test]
async fn garbage_on_stdout_is_dropped_and_reported_while_valid_lines_are_served() {
    let (logs, _guard) = Logs::capture();
    let up = start("garbage", &hostile(&["--garbage"], "max_line: 64KiB\n")).await;
    for i in 0..20 {
        let r = result(
            &up,
            &call(json!(i), "echo", json!({"text": format!("t{i}")})),
        )
        .await
        .unwrap();
        assert_eq!(text(&r), format!("t{i}"));
    }
    assert!(up.health().is_up());
    assert_eq!(up.stats().starts, 1, "garbage never costs a restart");
    // 6 garbage lines per answer (the empty line is skipped; a response to an
    // unknown id is valid JSON-RPC and dropped by the mux instead).
    assert!(up.stats().garbage_lines >= 6 * 21, "{:?}", up.stats());
    let text = logs.text();
    assert!(
        text.contains("dropped a stdout line that is not a JSON-RPC message"),
        "{text}"
    );
    assert!(text.contains("exceeds max_line"), "{text}");
    assert!(
        text.contains("keeps writing lines that are not JSON-RPC messages"),
        "{text}"
    );
    assert!(text.contains("unknown or already-answered id"), "{text}");
    up.shutdown().await;
}

#[tokio::test]
async fn an_upstream_ignoring_sigterm_is_killed_after_the_bound() {
    let (logs, _guard) = Logs::capture();
    let up = start(
        "stubborn",
        &hostile(
            &["--ignore-term"],
            "shutdown: { stdin_grace: 200ms, term_grace: 300ms }\n",
        ),
    )
    .await;
    let pid = up.pid().unwrap();
    let started = Instant::now();
    up.shutdown().await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(!exists(pid), "killed and reaped");
    assert!(
        logs.text().contains("was killed by signal 9"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn shutdown_leaves_no_process_behind_not_even_a_grandchild() {
    let (logs, _guard) = Logs::capture();
    let up = start("parent", &hostile(&["--grandchild"], "")).await;
    let pid = up.pid().unwrap();
    let grandchild: u32 = tokio::time::timeout(STARTUP, async {
        loop {
            if let Some(rest) = logs.text().split("GRANDCHILD ").nth(1) {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert!(running(grandchild));
    up.shutdown().await;
    assert!(!exists(pid), "the server was reaped");
    for _ in 0..100 {
        if !running(grandchild) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("grandchild {grandchild} still runs");
}

#[tokio::test]
async fn dropping_the_handle_stops_and_reaps_the_process() {
    let up = start("dropped", &hostile(&[], "")).await;
    let pid = up.pid().unwrap();
    drop(up);
    for _ in 0..250 {
        if !exists(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("process {pid} is still there");
}

#[tokio::test]
async fn a_command_that_cannot_start_is_down_with_its_reason_and_retried() {
    let (logs, _guard) = Logs::capture();
    let yaml = "command: [/nonexistent/mcp-server]\nrestart: { initial_backoff: 20ms, max_backoff: 40ms }\n";
    let up = StdioUpstream::start("missing", settings(yaml), ParseLimits::default());
    let Health::Down { reason } = health_becomes(&up, |h| matches!(h, Health::Down { .. })).await
    else {
        unreachable!()
    };
    assert!(
        reason.starts_with("cannot start `/nonexistent/mcp-server`"),
        "{reason}"
    );
    let err = up
        .request(&call(json!(1), "echo", json!({})))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("upstream missing is unavailable: "),
        "{err}"
    );
    tokio::time::timeout(STARTUP, async {
        while logs.text().matches("stdio upstream down").count() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("retried");
    assert_eq!(up.stats().starts, 0);
    up.shutdown().await;
}

#[tokio::test]
async fn a_legacy_only_server_configured_for_2026_07_28_is_down_with_the_handshake_error() {
    let up = StdioUpstream::start(
        "old",
        settings(&hostile(&[], "era: 2026-07-28\n")),
        ParseLimits::default(),
    );
    let Health::Down { reason } = health_becomes(&up, |h| matches!(h, Health::Down { .. })).await
    else {
        unreachable!()
    };
    assert!(
        reason.contains("initialization failed: the server refused server/discover"),
        "{reason}"
    );
    up.shutdown().await;
}

#[tokio::test]
async fn the_child_sees_only_allow_listed_and_configured_variables_in_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "from-a-file\n").unwrap();
    assert!(std::env::var_os("PATH").is_some() && std::env::var_os("HOME").is_some());
    let extra = format!(
        "cwd: {:?}\nenv_allow: [PATH]\nenv:\n  PLAIN: {{ value: v }}\n  SECRET_FILE: {{ file: {:?} }}\n",
        dir.path().display().to_string(),
        secret.display().to_string()
    );
    let up = start("env", &hostile(&[], &extra)).await;
    let env = |name: &str| {
        let request = call(json!(1), "env", json!({"name": name}));
        let up = &up;
        async move { text(&result(up, &request).await.unwrap()).to_owned() }
    };
    assert_eq!(env("HOME").await, "null", "not allow-listed");
    assert_eq!(
        env("PATH").await,
        format!("{:?}", std::env::var("PATH").unwrap())
    );
    assert_eq!(env("PLAIN").await, r#""v""#);
    assert_eq!(env("SECRET_FILE").await, r#""from-a-file""#);
    assert_eq!(
        env("__cwd__").await,
        format!(
            "{:?}",
            dir.path().canonicalize().unwrap().display().to_string()
        )
    );
    up.shutdown().await;
}

#[tokio::test]
async fn stderr_lines_are_logged_with_the_upstream_name() {
    let (logs, _guard) = Logs::capture();
    let up = start("chatty", &hostile(&["--stderr", "3"], "")).await;
    result(&up, &call(json!(1), "echo", json!({"text": "x"})))
        .await
        .unwrap();
    up.shutdown().await;
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("stderr line 2"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("upstream=chatty"), "{line}");
    assert!(line.contains("portcullis::upstream::stderr"), "{line}");
}

#[test]
fn a_runtime_going_away_kills_and_reaps_the_process() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (up, pid) = runtime.block_on(async {
        let up = start("orphan", &hostile(&["--ignore-term"], "")).await;
        let pid = up.pid().unwrap();
        (up, pid)
    });
    // No shutdown, no graceful stop: the runtime ends with the supervisor in it.
    drop(runtime);
    assert!(
        !exists(pid),
        "the process was killed and reaped when its task was dropped"
    );
    drop(up);
}
