//! What an upstream says besides its results and lists: JSON-RPC error
//! messages, log lines, progress messages, the instructions it gives at
//! `initialize`, and an elicitation asking the user for a password (standalone,
//! or inside a 2026-07-28 `input_required` result). Agents hand a failed tool's error text to their model as they
//! would its result, and clients may put a server's instructions in the
//! system prompt, so the injection filter reads them too. The upstream is a real Python SDK server (tests/peers/error_server.py);
//! the client the Python SDK, or raw HTTP where the SDK hides notifications.

use crate::support::Gateway;
use crate::support::gateway::audit_events;
use crate::support::http::modern_body;
use crate::support::http::{Req, initialize};
use crate::support::peers::{self, python, script};
use serde_json::{Value, json};
use tokio::process::Child;

/// The fixture on a free port; `instructions`: `poisoned`, `plain` or none.
async fn error_server_with(instructions: &str) -> (Child, String) {
    peers::python_server("error_server.py", &[instructions]).await
}

async fn error_server() -> (Child, String) {
    error_server_with("").await
}

/// One `tools/call` of `tool` through the Python SDK client (`py_call.py`
/// with `options` after the tool's arguments); `{"error": ...}` when the
/// answer is a JSON-RPC error.
async fn py_call(url: &str, tool: &str, options: &[&str]) -> Value {
    let mut args = vec![url, tool];
    args.extend_from_slice(options);
    peers::python_json("py_call.py", &args).await
}

/// One session-era `tools/call` with a record id.
async fn call(url: &str, tool: &str) -> Value {
    py_call(url, tool, &[r#"{"record": "7"}"#, "--mode", "legacy"]).await
}

#[tokio::test]
async fn an_upstreams_error_message_is_scanned_like_its_result() {
    let (_server, upstream) = error_server().await;
    let gw = Gateway::start(&upstream).await;

    // Directly, the error carries the injection to the agent.
    let direct = call(&upstream, "lookup").await;
    assert_eq!(direct["error"]["code"], -32602, "{direct}");
    assert!(
        direct["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ignore all previous instructions"),
        "{direct}"
    );
    // Through the gateway it is still an error, its text withheld.
    let got = call(&gw.url(), "lookup").await;
    assert_eq!(got["error"]["code"], -32001, "{got}");
    let message = got["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("withheld") && message.contains("(rule "),
        "{got}"
    );
    assert!(!message.contains("id_rsa"), "{got}");

    // An ordinary error, orders to the user and all, arrives as it was sent.
    assert_eq!(
        call(&gw.url(), "missing").await,
        call(&upstream, "missing").await
    );
    assert_eq!(
        call(&gw.url(), "missing").await["error"]["message"],
        "No record 42 in table customers. Check the id and try again."
    );

    // A password in an error is redacted; the rest of the message stays.
    let leaky = call(&gw.url(), "connect").await;
    let message = leaky["error"]["message"].as_str().unwrap();
    assert_eq!(leaky["error"]["code"], -32603, "{leaky}");
    assert!(
        message.starts_with("could not connect to the database: ")
            && message.contains("[redacted:secret.url-credentials]")
            && !message.contains("Xk9vQ2mZr7Lp"),
        "{leaky}"
    );

    // Each is one finding in the audit trail, at the error's message.
    let folder = gw.stop().await;
    let findings: Vec<Value> = audit_events(&folder.path().join("audit"))
        .into_iter()
        .filter(|e| e["class_uid"] == 2004)
        .collect();
    let text = serde_json::to_string(&findings).unwrap();
    for rule in ["override.ignore-previous", "secret.url-credentials"] {
        assert!(text.contains(rule), "{rule}: {findings:#?}");
    }
    assert!(text.contains("/message"), "{findings:#?}");
    assert!(
        !text.contains("Xk9vQ2mZr7Lp"),
        "no secret in the audit trail"
    );
}

#[tokio::test]
async fn a_log_line_carrying_an_injection_is_dropped_and_a_progress_message_redacted() {
    let (_server, upstream) = error_server().await;
    let gw = Gateway::start(&upstream).await;
    let (session, _) = initialize(&gw.url(), "2025-11-25").await;
    let reply = Req::post(&gw.url())
        .mcp()
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-session-id", session.as_deref().unwrap())
        .body(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "report", "arguments": {}, "_meta": {"progressToken": "p1"}}}))
        .send()
        .await;
    let messages = reply.messages();
    let methods: Vec<Option<&str>> = messages.iter().map(|m| m["method"].as_str()).collect();
    assert_eq!(
        methods,
        [Some("notifications/progress"), None],
        "the log line was dropped: {messages:#?}"
    );
    let progress = messages[0]["params"]["message"].as_str().unwrap();
    assert!(
        progress.starts_with("Connected with ")
            && progress.contains("[redacted:secret.url-credentials]")
            && !progress.contains("Xk9vQ2mZr7Lp"),
        "{progress}"
    );
    assert_eq!(
        messages[1]["result"]["content"][0]["text"], "Report ready.",
        "{messages:#?}"
    );
}

/// The `instructions` of an `initialize` answer from `url`.
async fn instructions(url: &str) -> Value {
    let (_, reply) = initialize(url, "2025-11-25").await;
    reply.message()["result"]["instructions"].clone()
}

#[tokio::test]
async fn a_servers_poisoned_instructions_are_left_out_and_plain_ones_delivered() {
    let (_poisoned, bad) = error_server_with("poisoned").await;
    let (_plain, good) = error_server_with("plain").await;
    let direct = instructions(&bad).await;
    assert!(
        direct.as_str().unwrap().contains("~/.ssh/id_rsa"),
        "directly, the instructions hide the order: {direct}"
    );

    // One upstream: the session opens, without the instructions.
    let gw = Gateway::start(&bad).await;
    let (session, reply) = initialize(&gw.url(), "2025-11-25").await;
    assert!(session.is_some(), "{reply:?}");
    let result = reply.message()["result"].clone();
    assert_eq!(result["serverInfo"]["name"], "errors", "{result}");
    assert!(result.get("instructions").is_none(), "{result}");
    // 2026-07-28: the same instructions in `server/discover`.
    let discovered = Req::post(&gw.url())
        .modern("server/discover", None)
        .body(modern_body(1, "server/discover", json!({})))
        .send()
        .await
        .message();
    assert!(
        discovered["result"].is_object() && discovered["result"].get("instructions").is_none(),
        "{discovered}"
    );
    let folder = gw.stop().await;
    let text = serde_json::to_string(&audit_events(&folder.path().join("audit"))).unwrap();
    assert!(
        text.contains("credential.sensitive-file") && text.contains("/instructions"),
        "the audit trail names the rule and where"
    );

    // Plain instructions arrive as they were sent.
    let gw = Gateway::start(&good).await;
    assert_eq!(instructions(&gw.url()).await, instructions(&good).await);
    assert_eq!(
        instructions(&gw.url()).await,
        "Use lookup to find a record by its id. Check the id before you call it."
    );

    // Two upstreams: the federated session keeps the plain server's only.
    let yaml = format!(
        "listen:\n  address: 127.0.0.1:0\nreload:\n  poll_interval: 0s\nauthentication:\n  mode: none\n\
         sessions:\n  keys:\n    - id: k1\n      secret: {{ value: \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\", allow_inline: true }}\n\
         upstreams:\n  bad:\n    url: {bad}\n  good:\n    url: {good}\n"
    );
    let gw = Gateway::start_yaml(&yaml).await;
    let merged = instructions(&gw.url()).await;
    assert_eq!(
        merged, "[good] Use lookup to find a record by its id. Check the id before you call it.",
        "{merged}"
    );

    // Over stdio the gateway shakes hands itself, once, for every client: the
    // instructions it learnt are judged for each client's session too.
    let stdio = format!(
        "{}upstreams:\n  local:\n    prefix: \"\"\n    stdio:\n      command: [{:?}, {:?}, stdio, poisoned]\n",
        yaml.split("upstreams:").next().unwrap(),
        python().display().to_string(),
        script("error_server.py").display().to_string(),
    );
    let gw = Gateway::start_yaml(&stdio).await;
    let (session, reply) = initialize(&gw.url(), "2025-11-25").await;
    let result = reply.message()["result"].clone();
    assert!(session.is_some(), "{reply:?}");
    assert!(result["capabilities"]["tools"].is_object(), "{result}");
    assert!(result.get("instructions").is_none(), "{result}");
}

/// A `tools/call` of `signup` from a client that declares elicitation: every
/// message of the answer's stream.
async fn signup(url: &str) -> Vec<Value> {
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {"elicitation": {}},
        "clientInfo": {"name": "portcullis-tests", "version": "1"}}});
    let opened = Req::post(url).mcp().body(init).send().await;
    let session = opened.header("mcp-session-id").unwrap().to_owned();
    let post = |body: Value| {
        Req::post(url)
            .mcp()
            .header("mcp-protocol-version", "2025-11-25")
            .header("mcp-session-id", &session)
            .body(body)
    };
    post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .send()
        .await;
    post(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "signup", "arguments": {}}}))
    .send()
    .await
    .messages()
}

/// A server that asks the user for a password through elicitation, which the
/// specification forbids (URL-mode elicitation exists for that): the request
/// never reaches the client, and the gateway answers the server in the
/// client's place with an error naming the rule, over Streamable HTTP and over
/// stdio, so that the server's call ends at once instead of on its timeout.
#[tokio::test]
async fn an_elicitation_asking_for_a_password_never_reaches_the_user() {
    let (_server, upstream) = error_server().await;
    let direct = signup(&upstream).await;
    assert_eq!(
        direct[0]["method"], "elicitation/create",
        "directly, the user is asked: {direct:#?}"
    );
    let gw = Gateway::start(&upstream).await;
    let through = signup(&gw.url()).await;
    assert!(
        through.iter().all(|m| m["method"] != "elicitation/create"),
        "{through:#?}"
    );
    refused_by_the_gateway(&through);
    let folder = gw.stop().await;
    let text = serde_json::to_string(&audit_events(&folder.path().join("audit"))).unwrap();
    assert!(
        text.contains("credential.elicited"),
        "the audit names the rule"
    );

    // Over stdio (a session-era server: a 2026-07-28 one asks through its
    // result instead) the request is answered through the process's stdin.
    let stdio = format!(
        "listen:\n  address: 127.0.0.1:0\nreload:\n  poll_interval: 0s\nauthentication:\n  mode: none\n\
         upstreams:\n  local:\n    prefix: \"\"\n    stdio:\n      command: [{:?}, {:?}, stdio]\n      era: legacy\n",
        python().display().to_string(),
        script("error_server.py").display().to_string(),
    );
    let gw = Gateway::start_yaml(&stdio).await;
    refused_by_the_gateway(&signup(&gw.url()).await);
}

/// The `signup` call ended with the gateway's error, not the server's timeout
/// ("no answer") nor anything the user did.
fn refused_by_the_gateway(messages: &[Value]) {
    let text = messages.last().unwrap()["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.starts_with("refused: ")
            && text.contains("withheld")
            && text.contains("credential.elicited"),
        "{messages:#?}"
    );
}

/// A 2026-07-28 `tools/call` of `tool` from a client that declares elicitation
/// and sampling: the answer.
async fn modern_call(url: &str, tool: &str) -> Value {
    let mut body = modern_body(1, "tools/call", json!({"name": tool, "arguments": {}}));
    body["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] =
        json!({"elicitation": {"form": {}}, "sampling": {}});
    Req::post(url)
        .modern("tools/call", Some(tool))
        .body(body)
        .send()
        .await
        .message()
}

/// At 2026-07-28 a server asks through an `input_required` result instead:
/// each of its input requests is read on its own surface (an elicitation as
/// an elicitation) and a redaction lands inside the request it concerns.
#[tokio::test]
async fn input_requests_in_a_2026_07_28_result_are_read_like_the_requests_they_replace() {
    let (_server, upstream) = error_server().await;
    let gw = Gateway::start(&upstream).await;

    let direct = modern_call(&upstream, "enroll").await;
    let asked = &direct["result"]["inputRequests"]["__main__:ask_password"];
    assert_eq!(asked["method"], "elicitation/create", "{direct}");
    let through = modern_call(&gw.url(), "enroll").await;
    let result = &through["result"];
    assert_eq!(result["isError"], true, "{through}");
    assert_eq!(result["resultType"], "complete", "{through}");
    assert!(result.get("inputRequests").is_none(), "{through}");
    assert!(
        result["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("credential.elicited"),
        "{through}"
    );

    let text = |answer: &Value| {
        answer["result"]["inputRequests"]["__main__:ask_summary"]["params"]["messages"][0]
            ["content"]["text"]
            .clone()
    };
    let direct = modern_call(&upstream, "digest").await;
    assert!(
        text(&direct)
            .as_str()
            .unwrap()
            .contains("AKIAIOSFODNN7EXAMPLE"),
        "{direct}"
    );
    let through = modern_call(&gw.url(), "digest").await;
    assert_eq!(
        text(&through),
        "Summarise this log: Deploy log: used [redacted:secret.aws-access-key-id] for the upload; \
         build 42 passed all checks.",
        "{through}"
    );
    assert_eq!(through["result"]["resultType"], "input_required");
    assert!(
        through["result"]["requestState"]
            .as_str()
            .is_some_and(|s| s.starts_with("v1.")),
        "the request state goes through: {through}"
    );
    let folder = gw.stop().await;
    let text = serde_json::to_string(&audit_events(&folder.path().join("audit"))).unwrap();
    assert!(
        text.contains("/inputRequests/__main__:ask_summary/params/messages/0/content/text"),
        "the finding points into the result"
    );
    assert!(
        !text.contains("AKIAIOSFODNN7EXAMPLE"),
        "no secret in the audit trail"
    );
}

const SAMPLED: &str = "The deploy used AKIAIOSFODNN7EXAMPLE; all checks passed.";

/// `digest` through the Python SDK client in `mode`, whose "model" answers the
/// server's sampling request with [`SAMPLED`].
async fn digest(url: &str, mode: &str) -> Value {
    py_call(url, "digest", &["{}", "--mode", mode, "--sample", SAMPLED]).await
}

/// What a client answers a server leaves toward the server like arguments
/// do: a sampled answer quoting an AWS key never reaches it. Session era: the
/// client's answer is replaced by an error, so the server does not wait for
/// one; 2026-07-28: the retried call carrying the answer in `inputResponses`
/// is refused.
#[tokio::test]
async fn a_secret_in_a_clients_answer_to_the_server_never_reaches_it() {
    let (_server, upstream) = error_server().await;
    let gw = Gateway::start(&upstream).await;
    for mode in ["legacy", "2026-07-28"] {
        let direct = digest(&upstream, mode).await;
        assert_eq!(
            direct["content"][0]["text"],
            format!("digest: {SAMPLED}"),
            "{mode}: {direct}"
        );
        let through = digest(&gw.url(), mode).await;
        assert_eq!(through["error"]["code"], -32001, "{mode}: {through}");
        let message = through["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("secret.aws-access-key-id") && !message.contains("AKIA"),
            "{mode}: {through}"
        );
    }
    let folder = gw.stop().await;
    let events = audit_events(&folder.path().join("audit"));
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        text.contains("secret.aws-access-key-id") && text.contains("/inputResponses/"),
        "both answers are findings"
    );
    assert!(
        !text.contains("AKIAIOSFODNN7EXAMPLE"),
        "no secret in the audit trail"
    );
}

/// A server's completions are suggestions a client shows its user and may put
/// into a prompt's arguments: a poisoned one leaves the list, the others stay.
/// The request carries what the user types: a secret in it is blocked.
#[tokio::test]
async fn a_poisoned_completion_leaves_the_suggestions_and_the_others_stay() {
    let (_server, upstream) = error_server().await;
    let gw = Gateway::start(&upstream).await;
    for mode in ["legacy", "2026-07-28"] {
        let complete = |url: String| async move {
            py_call(
                &url,
                "--complete",
                &["ticket", "city", "Pa", "--mode", mode],
            )
            .await
        };
        let direct = complete(upstream.clone()).await;
        assert_eq!(direct["total"], 3, "{mode}: {direct}");
        assert!(
            direct.to_string().contains("ignore all previous"),
            "{direct}"
        );
        let through = complete(gw.url()).await;
        assert_eq!(
            through,
            json!({"values": ["Paris", "Pau"], "total": 2, "hasMore": false}),
            "{mode}"
        );
    }
    // What the user types is read too: a key typed into the argument never
    // reaches the server (directly it gets no suggestion, and the key).
    let typed = ["ticket", "city", "AKIAIOSFODNN7EXAMPLE", "--mode", "legacy"];
    let direct = py_call(&upstream, "--complete", &typed).await;
    assert_eq!(direct["values"], json!([]), "{direct}");
    let through = py_call(&gw.url(), "--complete", &typed).await;
    assert_eq!(through["error"]["code"], -32001, "{through}");
    assert!(
        through["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("secret.aws-access-key-id")),
        "{through}"
    );
    let folder = gw.stop().await;
    let text = serde_json::to_string(&audit_events(&folder.path().join("audit"))).unwrap();
    assert!(
        text.contains("\"/completion/values/2\""),
        "the finding names the value"
    );
    assert!(
        text.contains("\"/argument/value\""),
        "the typed key's finding"
    );
    assert!(
        !text.contains("AKIAIOSFODNN7EXAMPLE"),
        "no key in the audit trail"
    );
    assert!(text.contains("prompt_messages"), "judged as prompt text");
}
