//! What a server tells and asks a caller, under policy, with the real Python
//! SDK on both sides in both eras.
//!
//! - Who hears of a resource's change: a `notifications/resources/updated`
//!   reaches a caller only if the policies let it read that resource, whatever
//!   the upstream sends (`tests/peers/updates_server.py`,
//!   `tests/peers/py_updates.py`): a `subscriptions/listen` naming a URI the
//!   caller may not read (2026-07-28), and a session-era server that tells
//!   every session of every change.
//! - What a server may ask: `sampling/createMessage` (and elicitation, roots)
//!   is an action like any other, default deny (`tests/peers/error_server.py`'s
//!   `digest`, which asks the client's model for a summary): standalone in the
//!   session era, inside an `input_required` answer at 2026-07-28.
//! - What a server suggests: a `completion/complete` of a prompt's argument
//!   needs the prompt itself to be permitted (`error_server.py`'s `ticket`).

use crate::authz::{BASE, Policies, gateway_with};
use crate::support::Gateway;
use crate::support::gateway::{audit_events, default_yaml};
use crate::support::http::{Req, modern_body};
use crate::support::peers;
use serde_json::{Value, json};
use tokio::process::Command;

const PUBLIC: &str = "notes://public";
const SECRET: &str = "notes://secret";

async fn server(script: &str) -> (tokio::process::Child, String) {
    peers::python_server(script, &[]).await
}

/// The updates a client in `mode` hears after asking for both resources'
/// and touching the secret one, then the public one.
async fn hear(url: &str, mode: &str) -> Value {
    let args = [
        url, "--mode", mode, "--listen", PUBLIC, SECRET, "--touch", SECRET, PUBLIC,
    ];
    peers::python_json("py_updates.py", &args).await
}

#[tokio::test]
async fn a_resource_update_reaches_only_a_caller_who_may_read_the_resource() {
    let (_server, url) = server("updates_server.py").await;
    for mode in ["2026-07-28", "legacy"] {
        let direct = hear(&url, mode).await;
        assert_eq!(direct["heard"], json!([SECRET, PUBLIC]), "{mode}: {direct}");
    }

    let policies = Policies::new(&format!(
        "{BASE}permit (principal, action in [Mcp::Action::\"tools/call\", Mcp::Action::\"subscriptions/listen\"], resource);\n\
         permit (principal, action in [Mcp::Action::\"resources/read\", Mcp::Action::\"resources/subscribe\"], resource)\n\
           when {{ resource.uri == \"{PUBLIC}\" }};\n"
    ));
    let gw = gateway_with(&url, None, &policies.section("")).await;
    let modern = hear(&gw.url(), "2026-07-28").await;
    assert_eq!(modern["heard"], json!([PUBLIC]), "{modern}");
    // The session era: subscribing to the secret is refused as a resource
    // that does not exist, and the server's unasked update is dropped too.
    let legacy = hear(&gw.url(), "legacy").await;
    assert_eq!(legacy["heard"], json!([PUBLIC]), "{legacy}");
    assert_eq!(legacy["subscribed"][PUBLIC], "ok", "{legacy}");
    assert!(
        legacy["subscribed"][SECRET]
            .as_str()
            .is_some_and(|e| e.contains("not found")),
        "{legacy}"
    );

    let folder = gw.stop().await;
    let events = audit_events(&folder.path().join("audit"));
    let updates: Vec<&Value> = events
        .iter()
        .filter(|e| e.to_string().contains("notifications/resources/updated"))
        .collect();
    let withheld: Vec<&&Value> = updates
        .iter()
        .filter(|e| e["resources"][0]["name"] == SECRET)
        .collect();
    assert_eq!(withheld.len(), 2, "one per era: {updates:#?}");
    for e in withheld {
        assert_eq!(
            e["status_detail"], "the caller may not read this resource",
            "{e:#}"
        );
        assert_eq!(
            e["unmapped"]["portcullis"]["decision"]["verdict"], "denied",
            "{e:#}"
        );
    }
    let heard = updates
        .iter()
        .filter(|e| e["resources"][0]["name"] == PUBLIC)
        .all(|e| e["unmapped"]["portcullis"]["decision"]["verdict"] == "allowed");
    assert!(heard, "{updates:#?}");
}

const SUMMARY: &str = "All checks passed.";

/// `digest` through the Python SDK client in `mode`, whose "model" answers
/// the server's sampling request with [`SUMMARY`].
async fn digest(url: &str, mode: &str) -> Value {
    let args = [url, "digest", "{}", "--mode", mode, "--sample", SUMMARY];
    peers::python_json("py_call.py", &args).await
}

fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_server_asks_the_clients_model_only_where_policy_permits_it() {
    let (_server, url) = server("error_server.py").await;
    let calls =
        format!("{BASE}permit (principal, action == Mcp::Action::\"tools/call\", resource);\n");
    let denying = Policies::new(&calls);
    let permitting = Policies::new(&format!(
        "{calls}permit (principal, action == Mcp::Action::\"sampling/createMessage\", resource);\n"
    ));
    // The SDK client calls without listing first.
    let forward = "  input_validation:\n    unlisted_tools: forward\n";
    let gw = gateway_with(&url, None, &denying.section(forward)).await;
    let open = gateway_with(&url, None, &permitting.section(forward)).await;
    for mode in ["legacy", "2026-07-28"] {
        let direct = digest(&url, mode).await;
        assert_eq!(
            text(&direct),
            format!("digest: {SUMMARY}"),
            "{mode}: {direct}"
        );
        let permitted = digest(&open.url(), mode).await;
        assert_eq!(
            text(&permitted),
            format!("digest: {SUMMARY}"),
            "{mode}: {permitted}"
        );
        let refused = digest(&gw.url(), mode).await;
        assert!(!refused.to_string().contains(SUMMARY), "{mode}: {refused}");
        let said = match mode {
            // The server's tool ends at once with the error the gateway
            // answered its request with, in the client's place.
            "legacy" => {
                assert_eq!(refused["error"]["code"], -32001, "{refused}");
                refused["error"]["message"].as_str().unwrap_or_default()
            }
            // The `input_required` answer ends the call.
            _ => {
                assert_eq!(refused["isError"], true, "{refused}");
                text(&refused)
            }
        };
        assert!(
            said.contains("sampling/createMessage") && said.contains("policy"),
            "{mode}: {refused}"
        );
    }
    let folder = gw.stop().await;
    let events = audit_events(&folder.path().join("audit"));
    let reason = "policy does not permit this server's sampling/createMessage for the caller";
    let refusals: Vec<(&Value, &Value)> = events
        .iter()
        .filter(|e| e["status_detail"] == reason)
        .map(|e| {
            (
                &e["api"]["operation"],
                &e["unmapped"]["portcullis"]["direction"],
            )
        })
        .collect();
    assert_eq!(
        refusals,
        [
            (&json!("sampling/createMessage"), &json!("server_to_client")),
            (&json!("tools/call"), &json!("client_to_server")),
        ],
        "the server's request (session era), the call it asked in (2026-07-28)"
    );
}

/// The values the Python SDK client in `mode` gets for `ticket`'s `city`
/// starting with "Pa".
async fn complete(url: &str, mode: &str) -> Value {
    let args = [url, "--complete", "ticket", "city", "Pa", "--mode", mode];
    peers::python_json("py_call.py", &args).await["values"].clone()
}

#[tokio::test]
async fn completions_of_a_prompt_reach_only_a_caller_who_may_use_the_prompt() {
    let (_server, url) = server("error_server.py").await;
    let complete_any = format!(
        "{BASE}permit (principal, action == Mcp::Action::\"completion/complete\", resource);\n"
    );
    let hidden = Policies::new(&format!(
        "{complete_any}permit (principal, action == Mcp::Action::\"prompts/get\", resource) when {{ resource.name == \"other\" }};\n"
    ));
    let usable = Policies::new(&format!(
        "{complete_any}permit (principal, action == Mcp::Action::\"prompts/get\", resource) when {{ resource.name == \"ticket\" }};\n"
    ));
    let gw = gateway_with(&url, None, &hidden.section("")).await;
    let open = gateway_with(&url, None, &usable.section("")).await;
    for mode in ["legacy", "2026-07-28"] {
        let direct = complete(&url, mode).await;
        assert_eq!(direct.as_array().map(Vec::len), Some(3), "{mode}: {direct}");
        // The gateway's filter leaves the poisoned suggestion out.
        assert_eq!(
            complete(&open.url(), mode).await,
            json!(["Paris", "Pau"]),
            "{mode}"
        );
        assert_eq!(complete(&gw.url(), mode).await, json!([]), "{mode}");
    }
    let folder = gw.stop().await;
    let events = audit_events(&folder.path().join("audit"));
    let verdicts: Vec<&Value> = events
        .iter()
        .filter(|e| e["api"]["operation"] == "completion/complete")
        .map(|e| &e["unmapped"]["portcullis"]["decision"]["verdict"])
        .collect();
    assert_eq!(
        verdicts,
        [&json!("denied"), &json!("denied")],
        "one per era"
    );
}

/// A stream outlives a policy reload: what it carries is decided by the set
/// in force when it arrives. A 2026-07-28 listen opened while the secret was
/// readable does not hear of it once a reload says otherwise.
#[tokio::test]
async fn an_open_stream_follows_the_policies_of_a_reload() {
    let (_server, url) = server("updates_server.py").await;
    let grant = |uris: &str| {
        format!(
            "{BASE}permit (principal, action in [Mcp::Action::\"tools/call\", Mcp::Action::\"subscriptions/listen\", Mcp::Action::\"resources/list\"], resource);\n\
             permit (principal, action == Mcp::Action::\"resources/read\", resource) when {{ {uris}.contains(resource.uri) }};\n"
        )
    };
    let policies = Policies::new(&grant(&format!("[\"{PUBLIC}\", \"{SECRET}\"]")));
    let yaml = format!("{}{}", default_yaml(&url), policies.section(""))
        .replace("poll_interval: 0s", "poll_interval: 100ms");
    let gw = Gateway::start_yaml(&yaml).await;
    let folder = tempfile::tempdir().unwrap();
    let (ready, go) = (folder.path().join("ready"), folder.path().join("go"));
    let client = Command::new(peers::python())
        .arg(peers::script("py_updates.py"))
        .args([
            &gw.url(),
            "--mode",
            "2026-07-28",
            "--listen",
            PUBLIC,
            SECRET,
        ])
        .args(["--touch", SECRET, PUBLIC])
        .arg("--ready")
        .arg(&ready)
        .arg("--go")
        .arg(&go)
        .kill_on_drop(true)
        .output();
    let client = tokio::spawn(client);
    // Once the stream is open, the secret stops being readable.
    let listed = || async {
        let reply = Req::post(&gw.url())
            .modern("resources/list", None)
            .body(modern_body(3, "resources/list", json!({})))
            .send()
            .await;
        reply.message()["result"]["resources"]
            .as_array()
            .map_or(0, Vec::len)
    };
    for _ in 0..100 {
        if ready.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready.exists(), "the client never listened");
    assert_eq!(listed().await, 2);
    std::fs::write(policies.file(), grant(&format!("[\"{PUBLIC}\"]"))).unwrap();
    for _ in 0..50 {
        if listed().await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(listed().await, 1, "the reload took effect");
    std::fs::write(&go, "").unwrap();
    let out = client.await.unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let heard: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(heard["heard"], json!([PUBLIC]), "{heard}");
}

/// A flow rule on an open stream: the session's labels are read when each
/// message arrives. Touching a resource goes through a tool labelled
/// `untrusted_content`; once it ran, the secret's update is withheld from the
/// listen opened before it.
#[tokio::test]
async fn a_flow_rule_holds_on_a_stream_opened_before_the_flow() {
    let (_server, url) = server("updates_server.py").await;
    let policies = Policies::new(&format!(
        "{BASE}permit (principal, action in [Mcp::Action::\"tools/call\", Mcp::Action::\"subscriptions/listen\", Mcp::Action::\"resources/read\"], resource);\n\
         forbid (principal, action == Mcp::Action::\"resources/read\", resource)\n\
           when {{ context.session_labels.contains(\"untrusted_content\") && resource.uri == \"{SECRET}\" }};\n"
    ));
    let facts = "  upstreams:\n    default:\n      tools:\n        touch: { labels: [untrusted_content] }\n";
    let gw = gateway_with(&url, None, &policies.section(facts)).await;
    let heard = hear(&gw.url(), "2026-07-28").await;
    assert_eq!(heard["heard"], json!([PUBLIC]), "{heard}");
}
