//! Who hears of a resource's change: a `notifications/resources/updated`
//! reaches a caller only if the policies let it read that resource, whatever
//! the upstream sends. The real Python SDK on both sides
//! (`tests/peers/updates_server.py`, `tests/peers/py_updates.py`), in both eras:
//! a `subscriptions/listen` naming a URI the caller may not read (2026-07-28),
//! and a session-era server that tells every session of every change.

use crate::authz::{BASE, Policies, gateway_with};
use crate::support::gateway::audit_events;
use crate::support::peers;
use serde_json::{Value, json};
use tokio::process::Command;

const PUBLIC: &str = "notes://public";
const SECRET: &str = "notes://secret";

async fn server() -> (tokio::process::Child, String) {
    let port = peers::free_port();
    let child = peers::spawn_listening(
        Command::new(peers::python())
            .arg(peers::script("updates_server.py"))
            .arg(port.to_string()),
        port,
    )
    .await;
    (child, format!("http://127.0.0.1:{port}/mcp"))
}

/// The updates a client in `mode` hears after asking for both resources'
/// and touching the secret one, then the public one.
async fn hear(url: &str, mode: &str) -> Value {
    let out = Command::new(peers::python())
        .arg(peers::script("py_updates.py"))
        .args([url, "--mode", mode, "--listen", PUBLIC, SECRET])
        .args(["--touch", SECRET, PUBLIC])
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "py_updates: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn a_resource_update_reaches_only_a_caller_who_may_read_the_resource() {
    let (_server, url) = server().await;
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
