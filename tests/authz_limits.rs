//! Approvals bound to the exact call, and rate limits (in-process, and shared
//! between two gateway processes through a real Redis server).

use crate::authz::{BASE, Policies, call, demo_upstream, demo_url, gateway_with, token};
use crate::support::auth::Keys;
use crate::support::gateway::{default_yaml, with_audit};
use crate::support::http::{Reply, Req};
use crate::support::peers::{RedisServer, free_port};
use serde_json::{Value, json};
use std::time::Duration;

/// Operators call read-only tools; destructive calls need an approver.
pub const OPERATORS: &str = "permit (principal in Mcp::Role::\"operator\", action == Mcp::Action::\"tools/call\", resource) when { resource.read_only };\n\
    @approval(\"destructive call: a second person must approve it\")\n\
    permit (principal in Mcp::Role::\"operator\", action == Mcp::Action::\"tools/call\", resource) when { resource.destructive && !resource.read_only };\n";

async fn admin(
    gw: &crate::support::Gateway,
    method: http::Method,
    path: &str,
    token: &str,
) -> Reply {
    Req::new(method, &format!("http://{}{path}", gw.admin.unwrap()))
        .header("authorization", &format!("Bearer {token}"))
        .send()
        .await
}

fn approval_id(r: &Reply) -> String {
    let m = r.message();
    assert_eq!(m["error"]["code"], -32040, "{m}");
    m["error"]["data"]["approval_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_approval_is_bound_to_the_exact_call_used_once_and_expires() {
    let demo = demo_upstream().await;
    let keys = Keys::generate().await;
    let policies = Policies::new(&format!("{BASE}{OPERATORS}"));
    let section = policies.section("  approvals:\n    ttl: 2s\n");
    let gw = gateway_with(&demo_url(&demo), Some(&keys), &section).await;
    let olivia = token(&keys, "olivia", "acme", &["operator"]).await;
    let bob = token(&keys, "bob", "acme", &["approver"]).await;
    let mallory = token(&keys, "mallory", "acme", &["operator"]).await;
    crate::authz::list(&gw, Some(&olivia)).await;
    let args = json!({"table": "users"});
    let first = approval_id(&call(&gw, Some(&olivia), "delete_records", args.clone()).await);
    // The same call again waits on the same approval.
    assert_eq!(
        approval_id(&call(&gw, Some(&olivia), "delete_records", args.clone()).await),
        first
    );
    // Only approvers decide, with a valid token.
    let path = format!("/authz/approvals/{first}/approve");
    assert_eq!(
        admin(&gw, http::Method::POST, &path, &mallory).await.status,
        403
    );
    assert_eq!(
        admin(&gw, http::Method::POST, &path, "not-a-token")
            .await
            .status,
        401
    );
    let pending = admin(&gw, http::Method::GET, "/authz/approvals", &bob)
        .await
        .json();
    assert_eq!(pending["approvals"][0]["id"], first.as_str());
    assert_eq!(pending["approvals"][0]["arguments"], args);
    assert_eq!(
        admin(&gw, http::Method::POST, &path, &bob).await.status,
        200
    );
    // A changed argument is another call: a new approval.
    let changed = approval_id(
        &call(
            &gw,
            Some(&olivia),
            "delete_records",
            json!({"table": "orders"}),
        )
        .await,
    );
    assert_ne!(changed, first);
    // Another principal's identical call is not covered either.
    crate::authz::list(&gw, Some(&mallory)).await;
    assert_ne!(
        approval_id(&call(&gw, Some(&mallory), "delete_records", args.clone()).await),
        first
    );
    // The approved call goes through, once.
    let done = call(&gw, Some(&olivia), "delete_records", args.clone())
        .await
        .message();
    assert_eq!(
        done["result"]["content"][0]["text"], "Deleted 1,204 records from table users.",
        "{done}"
    );
    let again = approval_id(&call(&gw, Some(&olivia), "delete_records", args.clone()).await);
    assert_ne!(again, first, "a grant is used once");
    // A grant that expires before use is no grant.
    let reuse = format!("/authz/approvals/{again}/approve");
    assert_eq!(
        admin(&gw, http::Method::POST, &reuse, &bob).await.status,
        200
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let late = approval_id(&call(&gw, Some(&olivia), "delete_records", args.clone()).await);
    assert_ne!(late, again);
    // A rejected call is answered as rejected.
    let reject = format!("/authz/approvals/{late}/reject");
    assert_eq!(
        admin(&gw, http::Method::POST, &reject, &bob).await.status,
        200
    );
    let refused = call(&gw, Some(&olivia), "delete_records", args)
        .await
        .message();
    assert_eq!(refused["error"]["code"], -32041, "{refused}");
    // The grant that lapsed unused is an `expired` event, reported once (the
    // calls still pending when the clock ran out expire with it); the grant
    // that was used never expires.
    let folder = gw.stop().await;
    let states: Vec<(String, String)> =
        crate::support::gateway::audit_events(&folder.path().join("audit"))
            .into_iter()
            .filter(|e| e["api"]["operation"] == "portcullis/approval")
            .map(|e| {
                let x = &e["unmapped"]["portcullis"];
                (
                    x["approval_id"].as_str().unwrap_or("").to_owned(),
                    x["approval_state"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
    let expired: Vec<&String> = states
        .iter()
        .filter(|(_, s)| s == "expired")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        expired.iter().filter(|id| **id == &again).count(),
        1,
        "{states:#?}"
    );
    assert!(
        !expired.contains(&&first),
        "a used grant does not expire: {states:#?}"
    );
    let mut unique = expired.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        expired.len(),
        "each reported once: {states:#?}"
    );
    for (id, state) in [
        (&late, "requested"),
        (&late, "rejected"),
        (&again, "granted"),
    ] {
        assert!(
            states.contains(&(id.clone(), state.to_owned())),
            "{id} {state}: {states:#?}"
        );
    }
}

#[tokio::test]
async fn a_held_call_completes_when_an_approver_approves_it() {
    let demo = demo_upstream().await;
    let keys = Keys::generate().await;
    let policies = Policies::new(&format!("{BASE}{OPERATORS}"));
    let section = policies.section("  approvals:\n    mode: hold\n    hold_timeout: 20s\n");
    let gw = gateway_with(&demo_url(&demo), Some(&keys), &section).await;
    let olivia = token(&keys, "olivia", "acme", &["operator"]).await;
    let bob = token(&keys, "bob", "acme", &["approver"]).await;
    crate::authz::list(&gw, Some(&olivia)).await;
    let url = gw.url();
    let held = tokio::spawn(async move {
        let req = Req::post(&url)
            .modern("tools/call", Some("delete_records"))
            .header("authorization", &format!("Bearer {olivia}"))
            .body(crate::support::http::modern_body(
                9,
                "tools/call",
                json!({"name": "delete_records", "arguments": {"table": "t"}}),
            ));
        req.send().await.message()
    });
    let mut id = Value::Null;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        id = admin(&gw, http::Method::GET, "/authz/approvals", &bob)
            .await
            .json()["approvals"][0]["id"]
            .clone();
        if id.is_string() {
            break;
        }
    }
    let path = format!("/authz/approvals/{}/approve", id.as_str().unwrap());
    assert_eq!(
        admin(&gw, http::Method::POST, &path, &bob).await.status,
        200
    );
    let answer = held.await.unwrap();
    assert_eq!(
        answer["result"]["content"][0]["text"], "Deleted 1,204 records from table t.",
        "{answer}"
    );
    // The approval's life is in the audit trail: requested once (by olivia,
    // though the held call polled), then granted by bob.
    let folder = gw.stop().await;
    let approvals: Vec<Value> = crate::support::gateway::audit_events(&folder.path().join("audit"))
        .into_iter()
        .filter(|e| e["api"]["operation"] == "portcullis/approval")
        .collect();
    let states: Vec<&str> = approvals
        .iter()
        .map(|e| {
            e["unmapped"]["portcullis"]["approval_state"]
                .as_str()
                .unwrap_or("")
        })
        .collect();
    assert_eq!(states, ["requested", "granted"], "{approvals:#?}");
    assert!(
        approvals
            .iter()
            .all(|e| e["unmapped"]["portcullis"]["approval_id"] == id)
    );
    assert_eq!(
        approvals[0]["actor"]["user"]["uid"], "olivia",
        "{:#}",
        approvals[0]
    );
    assert!(
        approvals[1]["unmapped"]["portcullis"]["approver"]
            .as_str()
            .is_some_and(|a| a.ends_with(" bob"))
    );
}

fn limited(r: &Reply) -> bool {
    r.status == 429
}

#[tokio::test]
async fn over_a_tool_limit_the_call_gets_a_json_rpc_error_and_retry_after() {
    let demo = demo_upstream().await;
    let policies = Policies::new(&format!(
        "{BASE}permit (principal, action == Mcp::Action::\"tools/call\", resource);\n"
    ));
    let limits = "rate_limits:\n  rules:\n    - name: echo-per-caller\n      per: [principal, tool]\n      tools: [echo]\n      rate: 1/min\n      burst: 2\n";
    let gw = gateway_with(
        &demo_url(&demo),
        None,
        &format!("{}{limits}", policies.section("")),
    )
    .await;
    crate::authz::list(&gw, None).await;
    for _ in 0..2 {
        assert!(!limited(
            &call(&gw, None, "echo", json!({"text": "x"})).await
        ));
    }
    let over = call(&gw, None, "echo", json!({"text": "x"})).await;
    assert!(limited(&over), "{over:?}");
    let retry: u64 = over.header("retry-after").unwrap().parse().unwrap();
    assert!((59..=60).contains(&retry), "{retry}");
    let m = over.message();
    assert_eq!(m["id"], 7);
    assert_eq!(m["error"]["code"], -32042);
    assert!(m["error"]["data"]["retry_after_ms"].as_u64().unwrap() > 58_000);
    assert!(
        !limited(&call(&gw, None, "add", json!({"a": 1, "b": 2})).await),
        "other tools are not limited"
    );
}

#[tokio::test]
async fn a_caller_limit_refuses_before_the_body_is_read() {
    let demo = demo_upstream().await;
    let limits = "rate_limits:\n  rules:\n    - name: per-caller\n      per: [principal]\n      rate: 1/hour\n      burst: 3\n";
    let gw = gateway_with(&demo_url(&demo), None, limits).await;
    for _ in 0..3 {
        assert_eq!(crate::authz::list(&gw, None).await.len(), 4);
    }
    let over = Req::post(&gw.url())
        .mcp()
        .body("not even json")
        .send()
        .await;
    assert_eq!(over.status, 429, "{over:?}");
    assert!(over.header("retry-after").is_some());
    // The refusal is an audit event naming the limit.
    let folder = gw.stop().await;
    let limited: Vec<serde_json::Value> =
        crate::support::gateway::audit_events(&folder.path().join("audit"))
            .into_iter()
            .filter(|e| e["api"]["operation"] == "portcullis/rate_limited")
            .collect();
    assert_eq!(limited.len(), 1, "{limited:#?}");
    assert_eq!(limited[0]["unmapped"]["portcullis"]["limit"], "per-caller");
    assert!(limited[0]["unmapped"]["portcullis"]["retry_after_secs"].as_u64() > Some(0));
}

#[tokio::test]
async fn limits_are_shared_by_two_gateway_processes_through_redis() {
    let redis = RedisServer::start().await;
    let demo = demo_upstream().await;
    let limits = format!(
        "rate_limits:\n  redis:\n    url: {}\n  rules:\n    - name: per-caller\n      per: [principal]\n      rate: 1/hour\n      burst: 3\n",
        redis.url
    );
    let one = gateway_with(&demo_url(&demo), None, &limits).await;
    // The second gateway is the real binary, in its own process.
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = default_yaml(&demo_url(&demo))
        .replace("127.0.0.1:0\nadmin", &format!("127.0.0.1:{port}\nadmin"));
    let file = dir.path().join("gw.yaml");
    std::fs::write(&file, with_audit(&format!("{yaml}{limits}"))).unwrap();
    let (_two, ports) = crate::support::peers::serve_binary(&file, &[port]).await;
    let port = ports[0];
    let two_url = format!("http://127.0.0.1:{port}/mcp");
    let list = |url: String| async move {
        Req::post(&url)
            .modern("tools/list", None)
            .body(crate::support::http::modern_body(
                1,
                "tools/list",
                json!({}),
            ))
            .send()
            .await
    };
    assert_eq!(list(one.url()).await.status, 200);
    assert_eq!(list(two_url.clone()).await.status, 200);
    assert_eq!(list(one.url()).await.status, 200);
    // The burst of 3 is spent across both processes.
    let over = list(two_url.clone()).await;
    assert_eq!(over.status, 429, "{over:?}");
    let retry: u64 = over.header("retry-after").unwrap().parse().unwrap();
    assert!((3590..=3600).contains(&retry), "exact GCRA wait: {retry}");
    assert_eq!(list(one.url()).await.status, 429);
}
