//! Flow labels shared by two gateway processes through a real Redis server
//! (`authorization.flows.redis`): a label recorded through one replica
//! forbids an exfiltration tool through the other, for that principal only;
//! and with Redis down the request is refused, never decided on a replica's
//! partial knowledge.

use crate::authz::{BASE, Policies, call, demo_upstream, demo_url, gateway_with, token};
use crate::authz_shared_approvals::{Binary, send};
use crate::support::auth::Keys;
use crate::support::peers::RedisServer;
use serde_json::{Value, json};

/// Calls for everyone; `echo` is forbidden once the session (here: the
/// principal, stateless traffic) has used a tool labelled `untrusted_content`.
const FLOW: &str = "permit (principal, action == Mcp::Action::\"tools/call\", resource);\n\
    forbid (principal, action == Mcp::Action::\"tools/call\", resource)\n\
      when { context.session_labels.contains(\"untrusted_content\") && resource.labels.contains(\"exfiltration\") };\n";

/// The `authorization:` section: `fetch_page` reads untrusted content,
/// `echo` can send data out; labels shared through `redis`; policies in
/// `mode` (`enforce` or `shadow`).
fn section(policies: &Policies, redis: &RedisServer, mode: &str) -> String {
    policies.section(&format!(
        "  mode: {mode}\n  upstreams:\n    default:\n      tools:\n        fetch_page: {{ labels: [untrusted_content] }}\n        \
         echo: {{ labels: [exfiltration] }}\n  flows:\n    redis:\n      url: {}\n",
        redis.url
    ))
}

fn echoed(reply: &Value) -> bool {
    reply["result"]["content"][0]["text"] == "out"
}

fn names(listed: &Value) -> Vec<&str> {
    listed["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {listed}"))
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect()
}

#[tokio::test]
async fn a_fetch_through_one_replica_forbids_exfiltration_through_another() {
    let redis = RedisServer::start().await;
    let demo = demo_upstream().await;
    let keys = Keys::generate().await;
    let policies = Policies::new(&format!("{BASE}{FLOW}"));
    let authorization = section(&policies, &redis, "enforce");
    let a = gateway_with(&demo_url(&demo), Some(&keys), &authorization).await;
    let b = Binary::start(&demo_url(&demo), &keys, &authorization).await;
    let olivia = token(&keys, "olivia", "acme", &["analyst"]).await;
    let pat = token(&keys, "pat", "acme", &["analyst"]).await;
    crate::authz::list(&a, Some(&olivia)).await;
    let on_b = |who: &str| {
        let (url, who) = (b.url.clone(), who.to_owned());
        async move {
            let params = json!({"name": "echo", "arguments": {"text": "out"}});
            send(&url, &who, "tools/call", params).await.message()
        }
    };
    let listed = send(&b.url, &olivia, "tools/list", json!({}))
        .await
        .message();
    assert!(names(&listed).contains(&"echo"), "{listed}");
    let before = on_b(&olivia).await;
    assert!(echoed(&before), "before any fetch: {before}");

    // Fetched through A (its injection is blocked; the call was made).
    let fetched = call(
        &a,
        Some(&olivia),
        "fetch_page",
        json!({"url": "https://x.example"}),
    )
    .await;
    assert_eq!(fetched.status, 200, "{fetched:?}");

    let after = on_b(&olivia).await;
    assert_eq!(after["error"]["code"], -32602, "{after}");
    assert_eq!(after["error"]["message"], "Unknown tool: echo", "{after}");
    let listed = send(&b.url, &olivia, "tools/list", json!({}))
        .await
        .message();
    assert!(
        !names(&listed).contains(&"echo") && names(&listed).contains(&"fetch_page"),
        "hidden from her list on B too: {listed}"
    );
    let other = on_b(&pat).await;
    assert!(echoed(&other), "another principal is unaffected: {other}");

    let events = b.stop().await;
    let verdicts: Vec<&Value> = events
        .iter()
        .filter(|e| e["api"]["operation"] == "tools/call")
        .map(|e| &e["unmapped"]["portcullis"]["decision"]["verdict"])
        .collect();
    assert_eq!(
        verdicts,
        [&json!("allowed"), &json!("denied"), &json!("allowed")],
        "B audited each decision"
    );
}

#[tokio::test]
async fn with_redis_down_requests_are_refused_not_decided_on_partial_labels() {
    let mut redis = RedisServer::start().await;
    let demo = demo_upstream().await;
    let keys = Keys::generate().await;
    let policies = Policies::new(&format!("{BASE}{FLOW}"));
    let b = Binary::start(
        &demo_url(&demo),
        &keys,
        &section(&policies, &redis, "enforce"),
    )
    .await;
    let shadow = section(&policies, &redis, "shadow");
    let trying = gateway_with(&demo_url(&demo), Some(&keys), &shadow).await;
    // No policy here reads the labels: only recording them needs Redis.
    let unread = Policies::new(&format!(
        "{BASE}permit (principal, action == Mcp::Action::\"tools/call\", resource);\n"
    ));
    let recording = section(&unread, &redis, "enforce");
    let recording = gateway_with(&demo_url(&demo), Some(&keys), &recording).await;
    let olivia = token(&keys, "olivia", "acme", &["analyst"]).await;
    let listed = send(&b.url, &olivia, "tools/list", json!({})).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    crate::authz::list(&trying, Some(&olivia)).await;
    crate::authz::list(&recording, Some(&olivia)).await;

    redis.stop().await;
    let started = std::time::Instant::now();
    let params = json!({"name": "echo", "arguments": {"text": "out"}});
    let refused = send(&b.url, &olivia, "tools/call", params).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(refused.status, 503, "{refused:?}");
    let m = refused.message();
    assert_eq!(m["id"], 7, "{m}");
    assert_eq!(m["error"]["code"], -32603, "{m}");
    let text = m["error"]["message"].as_str().unwrap();
    assert!(
        text.contains("flow labels") && text.contains("not forwarded"),
        "{m}"
    );
    let sum = call(&recording, Some(&olivia), "add", json!({"a": 1, "b": 2})).await;
    assert_eq!(
        sum.status, 200,
        "an unlabelled call needs no labels: {sum:?}"
    );
    assert!(sum.message()["result"].is_object(), "{sum:?}");
    let labelled = call(&recording, Some(&olivia), "echo", json!({"text": "out"})).await;
    assert_eq!(
        labelled.status, 503,
        "a labelled call is not forwarded unrecorded: {labelled:?}"
    );
    let logged = call(&trying, Some(&olivia), "echo", json!({"text": "out"})).await;
    assert!(
        echoed(&logged.message()),
        "shadow mode logs and forwards: {logged:?}"
    );

    let events = b.stop().await;
    let refusal = events
        .iter()
        .find(|e| e["api"]["operation"] == "tools/call")
        .expect("the refusal is audited");
    assert_eq!(refusal["status_code"], "-32603", "{refusal}");
    assert_eq!(
        refusal["status_detail"], "the flow labels store is unavailable",
        "{refusal}"
    );
}
