//! Approvals shared by two gateway processes through a real Redis server
//! (`authorization.approvals.redis`): requested on one replica, listed and
//! decided on the other (admin endpoint and CLI), used once by all; and
//! refused, never forwarded, while Redis is down.

use crate::authz::{BASE, Policies, call, demo_upstream, demo_url, gateway_with, token};
use crate::authz_limits::OPERATORS;
use crate::support::auth::{self, Keys};
use crate::support::gateway::{audit_events, default_yaml, with_audit};
use crate::support::http::{Reply, Req, modern_body};
use crate::support::peers::{RedisServer, free_port, serve_binary};
use serde_json::{Value, json};
use std::time::Duration;

/// The `authorization:` section: approvals shared through `redis`.
fn section(policies: &Policies, redis: &RedisServer, mode: &str) -> String {
    policies.section(&format!(
        "  approvals:\n    mode: {mode}\n    hold_timeout: 20s\n    redis:\n      url: {}\n",
        redis.url
    ))
}

/// The second replica: the gateway binary in its own process, with the same
/// keys and policies, on fixed ports; its audit trail in `dir/audit`.
pub struct Binary {
    child: tokio::process::Child,
    pub url: String,
    admin: String,
    dir: tempfile::TempDir,
}

impl Binary {
    pub async fn start(upstream: &str, keys: &Keys, authorization: &str) -> Binary {
        let (port, admin) = (free_port(), free_port());
        let dir = tempfile::tempdir().unwrap();
        let yaml = default_yaml(upstream)
            .replace(
                "listen:\n  address: 127.0.0.1:0\n",
                &format!("listen:\n  address: 127.0.0.1:{port}\n"),
            )
            .replace(
                "admin:\n  address: 127.0.0.1:0\n",
                &format!("admin:\n  address: 127.0.0.1:{admin}\n"),
            )
            .replace("authentication:\n  mode: none\n", &auth::section(keys, ""));
        let file = dir.path().join("gw.yaml");
        std::fs::write(&file, with_audit(&format!("{yaml}{authorization}"))).unwrap();
        let (child, ports) = serve_binary(&file, &[port, admin]).await;
        let (port, admin) = (ports[0], ports[1]);
        Binary {
            child,
            url: format!("http://127.0.0.1:{port}/mcp"),
            admin: format!("http://127.0.0.1:{admin}"),
            dir,
        }
    }

    /// SIGTERM, so the audit trail is complete; then its events.
    pub async fn stop(mut self) -> Vec<Value> {
        let pid = self.child.id().unwrap().to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("exited within 20s of SIGTERM")
            .unwrap();
        audit_events(&self.dir.path().join("audit"))
    }
}

pub async fn send(url: &str, token: &str, method: &str, params: Value) -> Reply {
    let name = params["name"].as_str().map(str::to_owned);
    Req::post(url)
        .modern(method, name.as_deref())
        .header("authorization", &format!("Bearer {token}"))
        .body(modern_body(7, method, params))
        .send()
        .await
}

async fn admin(base: &str, method: http::Method, path: &str, token: &str) -> Reply {
    Req::new(method, &format!("{base}{path}"))
        .header("authorization", &format!("Bearer {token}"))
        .send()
        .await
}

fn admin_of(gw: &crate::support::Gateway) -> String {
    format!("http://{}", gw.admin.unwrap())
}

fn approval_id(r: &Reply) -> String {
    let m = r.message();
    assert_eq!(m["error"]["code"], -32040, "{m}");
    m["error"]["data"]["approval_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn deleted(r: &Reply, table: &str) -> bool {
    r.message()["result"]["content"][0]["text"]
        == format!("Deleted 1,204 records from table {table}.")
}

/// `(approval id, state)` of every approval event.
fn approval_states(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e["api"]["operation"] == "portcullis/approval")
        .map(|e| {
            let x = &e["unmapped"]["portcullis"];
            (
                x["approval_id"].as_str().unwrap_or("").to_owned(),
                x["approval_state"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_approval_requested_on_one_replica_is_approved_on_another_and_used_once() {
    let redis = RedisServer::start().await;
    let demo = demo_upstream().await;
    let keys = Keys::generate().await;
    let policies = Policies::new(&format!("{BASE}{OPERATORS}"));
    let authorization = section(&policies, &redis, "error");
    let a = gateway_with(&demo_url(&demo), Some(&keys), &authorization).await;
    let b = Binary::start(&demo_url(&demo), &keys, &authorization).await;
    let olivia = token(&keys, "olivia", "acme", &["operator"]).await;
    let bob = token(&keys, "bob", "acme", &["approver"]).await;
    crate::authz::list(&a, Some(&olivia)).await;
    let listed = send(&b.url, &olivia, "tools/list", json!({})).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let args = json!({"table": "users"});
    let on_b = |args: Value| {
        let (url, olivia) = (b.url.clone(), olivia.clone());
        async move {
            let params = json!({"name": "delete_records", "arguments": args});
            send(&url, &olivia, "tools/call", params).await
        }
    };

    // Requested on A, pending on B, bound to the exact call.
    let first = approval_id(&call(&a, Some(&olivia), "delete_records", args.clone()).await);
    assert_eq!(
        approval_id(&on_b(args.clone()).await),
        first,
        "same binding"
    );
    let pending = admin(&b.admin, http::Method::GET, "/authz/approvals", &bob)
        .await
        .json();
    let entry = &pending["approvals"][0];
    assert_eq!(entry["id"], first.as_str(), "{pending}");
    assert_eq!(entry["state"], "pending");
    assert_eq!(entry["arguments"], args);
    assert_eq!(entry["tool"], "delete_records");
    assert!(entry["principal"].as_str().unwrap().ends_with(" olivia"));
    assert_eq!(entry["policy_version"], pending["policy_version"]);

    // Approved with the CLI pointed at B; A forwards the call, once.
    let token_file = keys.file("bob.jwt");
    std::fs::write(&token_file, &bob).unwrap();
    let cli = tokio::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "approvals",
            "approve",
            &first,
            "--admin",
            &b.admin,
            "--token-file",
        ])
        .arg(&token_file)
        .output()
        .await
        .unwrap();
    assert!(cli.status.success(), "{cli:?}");
    let approved: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(approved["state"], "approved", "{approved}");
    let done = call(&a, Some(&olivia), "delete_records", args.clone()).await;
    assert!(deleted(&done, "users"), "{:?}", done.message());
    let second = approval_id(&on_b(args.clone()).await);
    assert_ne!(second, first, "the grant was used on A: none left for B");
    assert_eq!(
        approval_id(&call(&a, Some(&olivia), "delete_records", args.clone()).await),
        second
    );
    let again = format!("/authz/approvals/{first}/approve");
    assert_eq!(
        admin(&admin_of(&a), http::Method::POST, &again, &bob)
            .await
            .status,
        409,
        "decided once, whichever replica is asked"
    );

    // Approved on A this time; A and B race for the one grant: one wins.
    let path = format!("/authz/approvals/{second}/approve");
    assert_eq!(
        admin(&admin_of(&a), http::Method::POST, &path, &bob)
            .await
            .status,
        200
    );
    let (on_a, on_b_reply) = tokio::join!(
        call(&a, Some(&olivia), "delete_records", args.clone()),
        on_b(args.clone())
    );
    let winners = [&on_a, &on_b_reply]
        .iter()
        .filter(|r| deleted(r, "users"))
        .count();
    assert_eq!(
        winners,
        1,
        "{:?} / {:?}",
        on_a.message(),
        on_b_reply.message()
    );
    let loser = if deleted(&on_a, "users") {
        &on_b_reply
    } else {
        &on_a
    };
    let third = approval_id(loser);
    assert!(third != first && third != second);

    // Rejected on B: refused on A.
    let reject = format!("/authz/approvals/{third}/reject");
    assert_eq!(
        admin(&b.admin, http::Method::POST, &reject, &bob)
            .await
            .status,
        200
    );
    let refused = call(&a, Some(&olivia), "delete_records", args.clone())
        .await
        .message();
    assert_eq!(refused["error"]["code"], -32041, "{refused}");
    assert_eq!(refused["error"]["data"]["approval_id"], third.as_str());

    // Each replica records what happened on it: the call's replica the
    // request, the deciding replica the grant or rejection.
    let on_b_events = approval_states(&b.stop().await);
    let folder = a.stop().await;
    let on_a_events = approval_states(&audit_events(&folder.path().join("audit")));
    let has = |events: &[(String, String)], id: &str, state: &str| {
        events.contains(&(id.to_owned(), state.to_owned()))
    };
    assert!(has(&on_a_events, &first, "requested"), "{on_a_events:?}");
    assert!(has(&on_b_events, &first, "granted"), "{on_b_events:?}");
    assert!(!has(&on_a_events, &first, "granted"), "{on_a_events:?}");
    assert!(has(&on_a_events, &second, "granted"), "{on_a_events:?}");
    assert!(has(&on_b_events, &third, "rejected"), "{on_b_events:?}");
}

#[tokio::test]
async fn a_held_call_completes_when_another_replica_approves_it() {
    let redis = RedisServer::start().await;
    let demo = demo_upstream().await;
    let keys = Keys::generate().await;
    let policies = Policies::new(&format!("{BASE}{OPERATORS}"));
    let authorization = section(&policies, &redis, "hold");
    let a = gateway_with(&demo_url(&demo), Some(&keys), &authorization).await;
    let b = Binary::start(&demo_url(&demo), &keys, &authorization).await;
    let olivia = token(&keys, "olivia", "acme", &["operator"]).await;
    let bob = token(&keys, "bob", "acme", &["approver"]).await;
    crate::authz::list(&a, Some(&olivia)).await;
    let url = a.url();
    let held = tokio::spawn(async move {
        let params = json!({"name": "delete_records", "arguments": {"table": "t"}});
        send(&url, &olivia, "tools/call", params).await
    });
    let mut id = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        id = admin(&b.admin, http::Method::GET, "/authz/approvals", &bob)
            .await
            .json()["approvals"][0]["id"]
            .clone();
        if id.is_string() {
            break;
        }
    }
    let path = format!("/authz/approvals/{}/approve", id.as_str().unwrap());
    assert_eq!(
        admin(&b.admin, http::Method::POST, &path, &bob)
            .await
            .status,
        200
    );
    let answer = tokio::time::timeout(Duration::from_secs(5), held)
        .await
        .expect("the held call on A completes within seconds of B's approval")
        .unwrap();
    assert!(deleted(&answer, "t"), "{:?}", answer.message());
    drop(b);
}

#[tokio::test]
async fn with_redis_down_a_call_that_needs_approval_is_refused() {
    let mut redis = RedisServer::start().await;
    let demo = demo_upstream().await;
    let keys = Keys::generate().await;
    let policies = Policies::new(&format!("{BASE}{OPERATORS}"));
    let gw = gateway_with(
        &demo_url(&demo),
        Some(&keys),
        &section(&policies, &redis, "error"),
    )
    .await;
    let olivia = token(&keys, "olivia", "acme", &["operator"]).await;
    let bob = token(&keys, "bob", "acme", &["approver"]).await;
    crate::authz::list(&gw, Some(&olivia)).await;
    let args = json!({"table": "users"});
    let id = approval_id(&call(&gw, Some(&olivia), "delete_records", args.clone()).await);
    let path = format!("/authz/approvals/{id}/approve");
    assert_eq!(
        admin(&admin_of(&gw), http::Method::POST, &path, &bob)
            .await
            .status,
        200
    );

    // Even the granted call is refused: nothing falls back to memory.
    redis.stop().await;
    let started = std::time::Instant::now();
    let refused = call(&gw, Some(&olivia), "delete_records", args).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(refused.status, 503, "{refused:?}");
    let m = refused.message();
    assert_eq!(m["id"], 7);
    assert_eq!(m["error"]["code"], -32603, "{m}");
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("approvals store"),
        "{m}"
    );
    // Calls that need no approval are served.
    let echo = call(&gw, Some(&olivia), "echo", json!({"text": "hi"})).await;
    assert_eq!(echo.message()["result"]["content"][0]["text"], "hi");
    // Approvers are told nothing was listed or decided.
    for (method, path) in [
        (http::Method::GET, "/authz/approvals".to_owned()),
        (http::Method::POST, format!("/authz/approvals/{id}/reject")),
    ] {
        let reply = admin(&admin_of(&gw), method, &path, &bob).await;
        assert_eq!(reply.status, 503, "{path}: {reply:?}");
    }
}

#[tokio::test]
async fn a_grant_expires_on_every_replica_and_its_expiry_is_recorded_once() {
    let redis = RedisServer::start().await;
    let demo = demo_upstream().await;
    let keys = Keys::generate().await;
    let policies = Policies::new(&format!("{BASE}{OPERATORS}"));
    let authorization = section(&policies, &redis, "error").replace(
        "    redis:\n",
        "    ttl: 2s\n    redis:\n      prefix: \"t:\"\n",
    );
    let a = gateway_with(&demo_url(&demo), Some(&keys), &authorization).await;
    let b = Binary::start(&demo_url(&demo), &keys, &authorization).await;
    let olivia = token(&keys, "olivia", "acme", &["operator"]).await;
    let bob = token(&keys, "bob", "acme", &["approver"]).await;
    crate::authz::list(&a, Some(&olivia)).await;
    let args = json!({"table": "users"});
    let first = approval_id(&call(&a, Some(&olivia), "delete_records", args.clone()).await);
    let path = format!("/authz/approvals/{first}/approve");
    assert_eq!(
        admin(&b.admin, http::Method::POST, &path, &bob)
            .await
            .status,
        200
    );
    // Redis expires the binding with the approval (under the configured prefix).
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let bindings: Vec<String> = redis::cmd("KEYS")
        .arg("t:b:*")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(bindings.len(), 1, "{bindings:?}");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&bindings[0])
        .query_async(&mut con)
        .await
        .unwrap();
    assert!((1..=3000).contains(&ttl), "{ttl}");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let late = approval_id(&call(&a, Some(&olivia), "delete_records", args.clone()).await);
    assert_ne!(late, first, "an expired grant is no grant");
    assert_eq!(
        admin(&b.admin, http::Method::POST, &path, &bob)
            .await
            .status,
        404
    );
    // Both replicas look at the approvals; one of them records the expiry.
    for base in [b.admin.clone(), admin_of(&a)] {
        let listed = admin(&base, http::Method::GET, "/authz/approvals", &bob)
            .await
            .json();
        assert_eq!(listed["approvals"][0]["id"], late.as_str(), "{listed}");
    }
    let mut events = approval_states(&b.stop().await);
    let folder = a.stop().await;
    events.extend(approval_states(&audit_events(&folder.path().join("audit"))));
    let expired = events
        .iter()
        .filter(|(id, s)| *id == first && s == "expired")
        .count();
    assert_eq!(expired, 1, "{events:?}");
}
