//! Authentication in the running gateway: tokens from independent libraries for
//! every algorithm, the resource-server face (metadata, challenges, 403 on
//! scope), no token passthrough, revocation through the admin endpoint.

use crate::support::auth::{self, ADMIN_TOKEN, ALGORITHMS, Keys, claims, claims_with};
use crate::support::http::Req;
use crate::support::{Gateway, Recorder};
use serde_json::{Value, json};

#[tokio::test]
async fn tokens_from_pyjwt_and_jose_are_accepted_for_every_algorithm() {
    let keys = Keys::generate().await;
    let upstream = Recorder::ok().await;
    let gw = auth::gateway(&upstream, &keys, "").await;
    let specs: Vec<Value> = ALGORITHMS
        .iter()
        .map(|alg| json!({"alg": alg, "claims": claims()}))
        .collect();
    let mut tokens = keys.mint(&specs).await;
    tokens.extend(keys.jose(&specs).await);
    let hmac_claims = claims_with(json!({"iss": auth::HMAC_ISSUER}));
    tokens.push(
        keys.token(json!({"alg": "HS256", "key": "hmac", "claims": hmac_claims}))
            .await,
    );
    for (i, token) in tokens.iter().enumerate() {
        let reply = auth::call(&gw, Some(token)).await;
        assert_eq!(reply.status, 200, "token {i}: {reply:?}");
    }
    assert_eq!(upstream.count(), tokens.len());
    for request in upstream.requests() {
        assert!(
            request.headers.get("authorization").is_none(),
            "the client's token must never reach the upstream"
        );
    }
    assert_eq!(auth::failures(&gw).await, json!({}));
}

#[tokio::test]
async fn a_missing_token_gets_401_with_resource_metadata_and_nothing_is_forwarded() {
    let keys = Keys::generate().await;
    let upstream = Recorder::ok().await;
    let gw = auth::gateway(&upstream, &keys, "").await;
    let reply = auth::call(&gw, None).await;
    auth::assert_refused(&gw, &upstream, &reply, 401, "missing_token").await;
    let challenge = reply.header("www-authenticate").unwrap();
    assert!(!challenge.contains("error="), "RFC 6750 §3.1: {challenge}");
    let body = reply.json();
    assert_eq!(body["error"]["code"], -32600);
    // GET (standalone stream) and DELETE need a token too.
    let get = Req::get(&gw.url())
        .header("accept", "text/event-stream")
        .send()
        .await;
    assert_eq!(get.status, 401);
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn protected_resource_metadata_is_served_at_both_well_known_uris_without_a_token() {
    let keys = Keys::generate().await;
    let upstream = Recorder::ok().await;
    let gw = auth::gateway(&upstream, &keys, "").await;
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let reply = Req::get(&format!("http://{}{path}", gw.addr)).send().await;
        assert_eq!(reply.status, 200, "{path}");
        let doc = reply.json();
        assert_eq!(doc["resource"], auth::RESOURCE);
        assert_eq!(
            doc["authorization_servers"],
            json!([auth::ISSUER, auth::HMAC_ISSUER])
        );
        assert_eq!(doc["scopes_supported"], json!(["mcp:tools"]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    }
    let other = Req::get(&format!(
        "http://{}/.well-known/oauth-protected-resource/x",
        gw.addr
    ))
    .send()
    .await;
    assert_eq!(other.status, 404);
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn a_token_without_the_required_scope_gets_403_insufficient_scope() {
    let keys = Keys::generate().await;
    let upstream = Recorder::ok().await;
    let gw = auth::gateway(&upstream, &keys, "  required_scopes: [mcp:admin]\n").await;
    let token = keys
        .token(json!({"alg": "ES256", "claims": claims()}))
        .await;
    let reply = auth::call(&gw, Some(&token)).await;
    auth::assert_refused(&gw, &upstream, &reply, 403, "insufficient_scope").await;
    let challenge = reply.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"mcp:admin\""), "{challenge}");
    let admin = claims_with(json!({"scope": "mcp:tools mcp:admin"}));
    let token = keys.token(json!({"alg": "ES256", "claims": admin})).await;
    assert_eq!(auth::call(&gw, Some(&token)).await.status, 200);
}

#[tokio::test]
async fn a_jti_revoked_through_the_admin_endpoint_is_refused_even_when_cached() {
    let keys = Keys::generate().await;
    let upstream = Recorder::ok().await;
    let gw = auth::gateway(&upstream, &keys, "").await;
    let c = claims();
    let jti = c["jti"].as_str().unwrap().to_owned();
    let token = keys.token(json!({"alg": "EdDSA", "claims": c})).await;
    assert_eq!(auth::call(&gw, Some(&token)).await.status, 200);
    assert_eq!(auth::call(&gw, Some(&token)).await.status, 200, "cached");
    let admin = format!("http://{}/authn/revocations", gw.admin.unwrap());
    let body = json!({"jti": jti, "exp": auth::now() + 300}).to_string();
    let wrong = Req::post(&admin)
        .header(
            "authorization",
            "Bearer not-the-admin-token-0123456789abcdef",
        )
        .body(&body)
        .send()
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        auth::call(&gw, Some(&token)).await.status,
        200,
        "not revoked yet"
    );
    let revoked = Req::post(&admin)
        .header("authorization", &format!("Bearer {ADMIN_TOKEN}"))
        .body(&body)
        .send()
        .await;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    let reply = auth::call(&gw, Some(&token)).await;
    assert_eq!(reply.status, 401);
    assert_eq!(auth::failures(&gw).await, json!({"revoked": 1}));
    assert_eq!(upstream.count(), 3);
    // The endpoint does not exist on the MCP listener.
    let on_mcp = Req::post(&format!("http://{}/authn/revocations", gw.addr))
        .header("authorization", &format!("Bearer {ADMIN_TOKEN}"))
        .body(&body)
        .send()
        .await;
    assert_eq!(on_mcp.status, 404);
}

#[tokio::test]
async fn without_an_authentication_section_the_gateway_does_not_start() {
    let upstream = Recorder::ok().await;
    let yaml = crate::support::gateway::default_yaml(&upstream.url())
        .replace("authentication:\n  mode: none\n", "");
    let err = portcullis::config::load_str(&yaml, std::path::Path::new("p.yaml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("authentication: required"), "{err}");
    let gw = Gateway::start(&upstream.url()).await;
    assert_eq!(
        auth::call(&gw, None).await.status,
        200,
        "mode: none is explicit"
    );
}

#[tokio::test]
async fn unknown_kids_cost_one_jwks_fetch_and_a_jwks_outage_keeps_the_last_good_keys() {
    use crate::support::recorder::full;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let keys = Keys::generate().await;
    let jwks = std::fs::read(keys.file("jwks.json")).unwrap();
    let down = Arc::new(AtomicBool::new(false));
    let outage = Arc::clone(&down);
    let idp = Recorder::start(move |_| {
        if outage.load(Ordering::SeqCst) {
            full(http::StatusCode::SERVICE_UNAVAILABLE, None, "down")
        } else {
            full(http::StatusCode::OK, Some("application/json"), jwks.clone())
        }
    })
    .await;
    let upstream = Recorder::ok().await;
    let extra = format!(
        "  issuers:\n    - issuer: {iss}\n      algorithms: [ES256]\n      jwks_url: http://{addr}/jwks\n      \
         refresh:\n        interval: 1s\n        min_interval: 1s\n        unknown_kid_cooldown: 60s\n",
        iss = auth::ISSUER,
        addr = idp.addr
    );
    let yaml = crate::support::gateway::default_yaml(&upstream.url()).replace(
        "authentication:\n  mode: none\n",
        &format!(
            "authentication:\n  mode: jwt\n  resource: {}\n{extra}",
            auth::RESOURCE
        ),
    );
    let gw = Gateway::start_yaml(&yaml).await;
    let good = keys
        .token(json!({"alg": "ES256", "claims": claims()}))
        .await;
    assert_eq!(auth::call(&gw, Some(&good)).await.status, 200);
    let before = idp.count();

    // A flood of made-up kids: one refetch per cooldown, not one per token.
    let specs: Vec<Value> = (0..20)
        .map(|i| json!({"alg": "ES256", "kid": format!("made-up-{i}"), "key": "es256", "claims": claims()}))
        .collect();
    let forged = keys.mint(&specs).await;
    let started = std::time::Instant::now();
    let mut flood = tokio::task::JoinSet::new();
    for token in forged {
        let url = gw.url();
        flood.spawn(async move { auth::call_url(&url, Some(&token)).await.status });
    }
    while let Some(status) = flood.join_next().await {
        assert_eq!(status.unwrap(), 401);
    }
    // One refetch for all the misses; the 1s refresh interval may add a due
    // refresh per second elapsed (the machine may be slow), never one per kid.
    let due = started.elapsed().as_secs() as usize + 1;
    let fetched = idp.count() - before;
    assert!(fetched <= 1 + due, "{fetched} fetches for 20 unknown kids");
    assert_eq!(auth::failures(&gw).await, json!({"unknown_key": 20}));

    // The JWKS endpoint goes down: the keys fetched last keep working.
    down.store(true, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    for _ in 0..3 {
        let fresh = keys
            .token(json!({"alg": "ES256", "claims": claims()}))
            .await;
        assert_eq!(auth::call(&gw, Some(&fresh)).await.status, 200);
    }
    assert!(idp.count() > before + 1, "refresh was attempted while down");
}

#[tokio::test]
async fn a_reload_while_the_issuer_is_down_keeps_the_keys_already_fetched() {
    use crate::support::recorder::full;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let keys = Keys::generate().await;
    let jwks = std::fs::read(keys.file("jwks.json")).unwrap();
    let down = Arc::new(AtomicBool::new(false));
    let outage = Arc::clone(&down);
    let idp = Recorder::start(move |_| {
        if outage.load(Ordering::SeqCst) {
            full(http::StatusCode::SERVICE_UNAVAILABLE, None, "down")
        } else {
            full(http::StatusCode::OK, Some("application/json"), jwks.clone())
        }
    })
    .await;
    let upstream = Recorder::ok().await;
    let yaml = |name: &str| {
        crate::support::gateway::default_yaml(&upstream.url())
            .replace("poll_interval: 0s", "poll_interval: 100ms")
            .replace(
                "authentication:\n  mode: none\n",
                &format!(
                    "authentication:\n  mode: jwt\n  resource: {}\n  resource_name: {name}\n  issuers:\n    \
                     - issuer: {}\n      algorithms: [EdDSA]\n      jwks_url: http://{}/jwks\n",
                    auth::RESOURCE,
                    auth::ISSUER,
                    idp.addr
                ),
            )
    };
    let gw = Gateway::start_yaml(&yaml("before")).await;
    let first = keys
        .token(json!({"alg": "EdDSA", "claims": claims()}))
        .await;
    assert_eq!(auth::call(&gw, Some(&first)).await.status, 200);
    down.store(true, Ordering::SeqCst);
    std::fs::write(
        &gw.config_file,
        crate::support::gateway::with_audit(&yaml("after")),
    )
    .unwrap();
    let metadata = format!("http://{}/.well-known/oauth-protected-resource", gw.addr);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while Req::get(&metadata).send().await.json()["resource_name"] != "after" {
        assert!(std::time::Instant::now() < deadline, "no reload within 10s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let fresh = keys
        .token(json!({"alg": "EdDSA", "claims": claims()}))
        .await;
    assert_eq!(
        auth::call(&gw, Some(&fresh)).await.status,
        200,
        "the reloaded configuration still has the keys"
    );
}

#[tokio::test]
async fn the_access_record_names_the_principal_or_the_reason_for_refusal() {
    let keys = Keys::generate().await;
    let upstream = Recorder::ok().await;
    let port = crate::support::peers::free_port();
    let file = keys.file("serve.yaml");
    let yaml = crate::support::gateway::default_yaml(&upstream.url())
        .replace(
            "address: 127.0.0.1:0\nadmin",
            &format!("address: 127.0.0.1:{port}\nadmin"),
        )
        .replace("format: text", "format: json")
        .replace("authentication:\n  mode: none\n", &auth::section(&keys, ""));
    std::fs::write(&file, crate::support::gateway::with_audit(&yaml)).unwrap();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--config"])
        .arg(&file)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    crate::support::peers::wait_for_port(port).await;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let delegated = claims_with(json!({"act": {"sub": "orchestrator"}}));
    let good = keys
        .token(json!({"alg": "PS384", "claims": delegated}))
        .await;
    assert_eq!(auth::call_url(&url, Some(&good)).await.status, 200);
    let now = auth::now();
    let expired = claims_with(json!({"iat": now - 900, "exp": now - 600}));
    let expired = keys.token(json!({"alg": "PS384", "claims": expired})).await;
    assert_eq!(auth::call_url(&url, Some(&expired)).await.status, 401);
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let records: Vec<Value> = stderr
        .lines()
        .filter(|l| l.contains("portcullis::access"))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2, "{stderr}");
    let ok = &records[0];
    assert_eq!(ok["principal"], "alice");
    assert_eq!(ok["principal.issuer"], auth::ISSUER);
    assert_eq!(ok["principal.tenant"], "acme");
    assert_eq!(ok["principal.client"], "agent-1");
    assert_eq!(
        ok["principal.actor"], "orchestrator",
        "the delegation chain"
    );
    assert!(ok.get("auth.reason").is_none());
    let refused = &records[1];
    assert_eq!(refused["http.status"], 401);
    assert_eq!(refused["auth.reason"], "expired");
    assert!(refused.get("principal").is_none());
    assert!(!stderr.contains(&expired), "the token is never logged");
    assert!(!stderr.contains(&good), "the token is never logged");
}
