//! `portcullis scan server` (issue 6) against a real Python SDK server
//! (tests/peers/scan_target.py) over stdio and Streamable HTTP, and against
//! targets that refuse, die at once or never answer.

use crate::support::peers::{free_port, python, script, spawn_listening};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// What one run of the binary produced.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Run {
    /// Exit code 2 (an error), with `needle` in the error line.
    fn fails_with(&self, needle: &str) {
        assert_eq!(self.code, Some(2), "{}{}", self.stdout, self.stderr);
        assert!(self.stderr.contains(needle), "{}", self.stderr);
    }
}

async fn scan(args: &[&str]) -> Run {
    let start = Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(90),
        Command::new(BIN)
            .args(["scan", "server"])
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("scan server hung for 90s")
    .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: start.elapsed(),
    }
}

/// The fixture over Streamable HTTP on a free port, killed on drop.
async fn http_target(extra: &[&str]) -> (Child, String) {
    let port = free_port();
    let child = spawn_listening(
        Command::new(python())
            .arg(script("scan_target.py"))
            .args(extra)
            .args(["http", &port.to_string()]),
        port,
    )
    .await;
    (child, format!("http://127.0.0.1:{port}/mcp"))
}

fn stdio_command(extra: &[&str]) -> Vec<String> {
    let mut argv = vec![
        python().display().to_string(),
        script("scan_target.py").display().to_string(),
    ];
    argv.extend(extra.iter().map(|s| (*s).to_owned()));
    argv.push("stdio".into());
    argv
}

/// `scan server --OPTIONS -- python scan_target.py FIXTURE_FLAGS stdio`.
async fn scan_stdio(options: &[&str], fixture: &[&str]) -> Run {
    let argv = stdio_command(fixture);
    let mut args = options.to_vec();
    args.extend(["--timeout", "30s", "--"]);
    args.extend(argv.iter().map(String::as_str));
    scan(&args).await
}

fn item<'a>(report: &'a Value, kind: &str, name: &str) -> &'a Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == kind && i["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {report:#}"))
}

fn rule_ids(item: &Value) -> Vec<&str> {
    item["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn stdio_server_with_poisoned_descriptions_is_reported_with_rule_ids_and_exit_1() {
    let run = scan_stdio(&[], &[]).await;
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let line = |start: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no `{start}` line in\n{}", run.stdout))
            .to_owned()
    };
    assert!(line("tool              add ").ends_with("clean"));
    assert!(line("tool              save_note ").contains("POISONED"));
    assert!(line("prompt            summarize ").contains("POISONED"));
    assert!(line("resource          readme ").ends_with("clean"));
    assert!(run.stdout.contains("credential.sensitive-file"));
    assert!(run.stdout.contains("/description"));
    assert!(run.stdout.contains("pin sha256 "));
    assert!(
        run.stdout
            .contains("4 item(s): 2 clean, 2 poisoned, 0 redacted")
    );
}

#[tokio::test]
async fn http_server_answering_with_event_streams_gives_json_naming_the_poisoned_tool() {
    let (_peer, url) = http_target(&[]).await;
    let run = scan(&["--json", &url]).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["target"], url.as_str());
    assert_eq!(report["server"]["name"], "scan-target");
    let note = item(&report, "tool", "save_note");
    assert_eq!(note["verdict"], "poisoned");
    assert!(note["rule_id"].is_string());
    assert!(rule_ids(note).contains(&"credential.sensitive-file"));
    assert!(rule_ids(note).contains(&"address.secrecy-from-user"));
    assert_eq!(note["findings"][0]["json_path"], "/description");
    assert_eq!(note["pin_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(item(&report, "prompt", "summarize")["verdict"], "poisoned");
    let add = item(&report, "tool", "add");
    assert_eq!(add["verdict"], "clean");
    assert_eq!(rule_ids(add), Vec::<&str>::new());
    assert_eq!(item(&report, "resource", "readme")["verdict"], "clean");
}

#[tokio::test]
async fn the_pin_digest_is_the_one_pins_approve_writes() {
    let (_peer, url) = http_target(&[]).await;
    let run = scan(&["--json", &url]).await;
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let add = item(&report, "tool", "add");
    let dir = tempfile::tempdir().unwrap();
    let tools = dir.path().join("tools.json");
    let definition = serde_json::json!({"tools": [{
        "name": "add",
        "description": "Adds two integers and returns the sum.",
        "inputSchema": {"type": "object", "properties": {
            "a": {"title": "A", "type": "integer"},
            "b": {"title": "B", "type": "integer"}},
            "required": ["a", "b"], "title": "addArguments"},
        "outputSchema": {"type": "object", "properties": {"result": {"title": "Result", "type": "string"}},
            "required": ["result"], "title": "addOutput"},
    }]});
    std::fs::write(&tools, definition.to_string()).unwrap();
    let pins = dir.path().join("pins.json");
    let out = Command::new(BIN)
        .args(["pins", "approve", "--upstream", "x", "--pins"])
        .arg(&pins)
        .arg(&tools)
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let file: Value = serde_json::from_slice(&std::fs::read(&pins).unwrap()).unwrap();
    // The fixture's schemas are the SDK's; if they drift, only this copy needs updating.
    assert_eq!(
        file["upstreams"]["x"]["add"]["sha256"], add["pin_sha256"],
        "the SDK's definition of `add` changed: {add:#}"
    );
}

#[tokio::test]
async fn clean_servers_exit_0_over_json_responses_with_a_bearer_header_and_over_stdio() {
    let (_peer, url) = http_target(&["--clean", "--json-response", "--token", "t0k"]).await;
    let run = scan(&["--header", "Authorization: Bearer t0k", &url]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("2 item(s): 2 clean, 0 poisoned"));

    let run = scan(&[&url]).await;
    run.fails_with(&format!("{url}: initialize: HTTP status 401"));

    let run = scan_stdio(&[], &["--clean"]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
}

#[tokio::test]
async fn an_unreachable_url_exits_2_with_one_line_naming_it() {
    let url = format!("http://127.0.0.1:{}/mcp", free_port());
    let run = scan(&[&url]).await;
    assert_eq!(run.code, Some(2));
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with(&format!("portcullis scan server: {url}: cannot connect: ")),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_command_that_exits_at_once_exits_2_naming_the_command_and_showing_its_stderr() {
    let py = python().display().to_string();
    let code = "import sys; print('no API key in MCP_TOKEN', file=sys.stderr); sys.exit(3)";
    let run = scan(&["--", &py, "-c", code]).await;
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains(&format!(
            "{py} -c {code}: cannot connect: the server did not start"
        )) && run.stderr.contains("status 3"),
        "{}",
        run.stderr
    );
    // Why it exited, in its own words, before the error line; stdout stays empty.
    let said = run.stderr.find("no API key in MCP_TOKEN");
    let error = run.stderr.find("portcullis scan server:");
    assert!(said.is_some() && said < error, "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

#[tokio::test]
async fn a_redirect_is_named_with_its_target_and_not_followed() {
    // A hostile fake: no real MCP server redirects its endpoint elsewhere.
    let port = free_port();
    let fake = format!(
        "import http.server\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_POST(self):\n\
         \x20       self.send_response(307)\n\
         \x20       self.send_header('Location', 'https://elsewhere.example/mcp')\n\
         \x20       self.send_header('Content-Length', '0')\n\
         \x20       self.end_headers()\n\
         \x20   def log_message(self, *a):\n\
         \x20       pass\n\
         http.server.HTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
    );
    let _server = spawn_listening(Command::new(python()).args(["-c", &fake]), port).await;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let run = scan(&[&url, "--header", "Authorization: Bearer secret"]).await;
    run.fails_with(&format!(
        "{url}: initialize: HTTP status 307 Temporary Redirect: a redirect to \
         https://elsewhere.example/mcp (not followed"
    ));
}

#[tokio::test]
async fn a_server_that_never_answers_is_cut_off_by_the_timeout() {
    // Accepts connections and reads, never answers: no real server does that.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let url = format!("http://127.0.0.1:{port}/mcp");
    let run = scan(&["--timeout", "1s", &url]).await;
    run.fails_with(&format!("{url}: initialize: no answer within 1s"));
    // Well under the server's 60 s: the timeout cut it off (the bound leaves
    // room for a loaded machine: 10.1 s was seen under CI load).
    assert!(run.took < Duration::from_secs(30), "took {:?}", run.took);
    silent.abort();

    let py = python().display().to_string();
    let run = scan(&[
        "--timeout",
        "1s",
        "--",
        &py,
        "-c",
        "import time; time.sleep(60)",
    ])
    .await;
    run.fails_with("time.sleep(60): initialize: no answer within 1s");
    // Well under the server's 60 s: the timeout cut it off (the bound leaves
    // room for a loaded machine: 10.1 s was seen under CI load).
    assert!(run.took < Duration::from_secs(30), "took {:?}", run.took);
}

#[tokio::test]
async fn paginated_tools_are_followed_to_the_last_page_within_the_bounds() {
    let run = scan_stdio(&["--json"], &["--paged"]).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(item(&report, "tool", "add")["verdict"], "clean");
    assert_eq!(item(&report, "tool", "save_note")["verdict"], "poisoned");

    let run = scan_stdio(&["--max-pages", "1"], &["--paged"]).await;
    run.fails_with("stdio: tools/list: more than 1 page(s) (raise --max-pages");

    let run = scan_stdio(&["--max-items", "2"], &[]).await;
    run.fails_with("prompts/list: more than 2 item(s) in all");
}

#[tokio::test]
async fn a_server_that_repeats_its_cursor_is_stopped_not_followed_forever() {
    let run = scan_stdio(&[], &["--cursor-loop"]).await;
    run.fails_with("tools/list: the server repeated cursor `0` (a pagination loop)");
}

/// The server's `instructions`, which clients may put in the system prompt,
/// are judged as the gateway judges them: poisoned over stdio (exit 1, the
/// rule named), clean when they are an ordinary usage note over HTTP.
#[tokio::test]
async fn a_servers_poisoned_instructions_are_reported_and_plain_ones_clean() {
    let python = python().display().to_string();
    let fixture = script("error_server.py").display().to_string();
    let run = scan(&["--json", "--", &python, &fixture, "stdio", "poisoned"]).await;
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let instructions = item(&report, "instructions", "initialize");
    assert_eq!(instructions["verdict"], "poisoned", "{instructions}");
    assert!(rule_ids(instructions).contains(&"credential.sensitive-file"));

    let port = free_port();
    let _server = spawn_listening(
        Command::new(python).args([&fixture, &port.to_string(), "plain"]),
        port,
    )
    .await;
    let run = scan(&["--json", &format!("http://127.0.0.1:{port}/mcp")]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        item(&report, "instructions", "initialize")["verdict"],
        "clean"
    );
}
