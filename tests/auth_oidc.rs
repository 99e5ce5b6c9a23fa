//! Against a real OpenID provider (oidc-provider): signing-key rotation followed
//! without a restart, an MCP SDK client doing the spec's discovery end to end,
//! and the upstream-token API (client credentials, token exchange).

use crate::support::auth;
use crate::support::http::Req;
use crate::support::peers::{self, OidcProvider, Peer};
use crate::support::{Gateway, Recorder};
use portcullis::authn::http::HttpClient;
use portcullis::authn::upstream_token::{
    ACCESS_TOKEN_TYPE, TokenClient, TokenError, TokenRequest, UpstreamTokens,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

const AGENT: (&str, &str) = ("mcp-agent", "agent-secret-0123456789");

fn section(op: &OidcProvider, resource: &str, extra: &str) -> String {
    format!(
        "authentication:\n  mode: jwt\n  resource: {resource}\n{extra}  issuers:\n    - issuer: {issuer}\n      \
         algorithms: [RS256]\n      discovery: true\n      required_claims: [jti, client_id]\n      \
         refresh:\n        interval: 2s\n        min_interval: 1s\n        max_interval: 2s\n        unknown_kid_cooldown: 1s\n",
        issuer = op.issuer
    )
}

fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn kid(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: Value = serde_json::from_slice(&bytes).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_real_provider_rotating_its_key_is_followed_without_restart() {
    let op = OidcProvider::start(&[auth::RESOURCE]).await;
    let upstream = Recorder::ok().await;
    let yaml = crate::support::gateway::default_yaml(&upstream.url()).replace(
        "authentication:\n  mode: none\n",
        &section(&op, auth::RESOURCE, ""),
    );
    let gw = Gateway::start_yaml(&yaml).await;

    let old = op.token(AGENT, auth::RESOURCE).await;
    assert_eq!(claims(&old)["aud"], auth::RESOURCE);
    assert_eq!(auth::call(&gw, Some(&old)).await.status, 200);

    // Rotation: the new key signs at once; the gateway has never seen its kid.
    op.rotate().await;
    let new = op.token(AGENT, auth::RESOURCE).await;
    assert_ne!(kid(&new), kid(&old));
    assert_eq!(
        auth::call(&gw, Some(&new)).await.status,
        200,
        "a token signed with the new key is accepted without a restart"
    );
    assert_eq!(
        auth::call(&gw, Some(&old)).await.status,
        200,
        "during the overlap the old key still verifies"
    );

    // Retirement: once the gateway refreshes, the old key's tokens are refused.
    op.retire().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut accepted_after_retire = 0;
    loop {
        let status = auth::call(&gw, Some(&old)).await.status;
        if status == 401 {
            break;
        }
        accepted_after_retire += 1;
        assert!(
            Instant::now() < deadline,
            "the retired key was still accepted after 15s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(auth::call(&gw, Some(&new)).await.status, 200);
    assert_eq!(upstream.count(), 4 + accepted_after_retire);
    assert_eq!(auth::failures(&gw).await, json!({"unknown_key": 1}));
}

#[tokio::test]
async fn an_mcp_sdk_client_discovers_the_metadata_and_gets_a_token_end_to_end() {
    let port = peers::free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let op = OidcProvider::start(&[&resource]).await;
    let fixture = Peer::python_fixture().await;
    let yaml = crate::support::gateway::default_yaml(&fixture.url)
        .replace(
            "address: 127.0.0.1:0\nadmin",
            &format!("address: 127.0.0.1:{port}\nadmin"),
        )
        .replace(
            "authentication:\n  mode: none\n",
            &section(&op, &resource, "  required_scopes: [mcp:tools]\n"),
        );
    let gw = Gateway::start_yaml(&yaml).await;
    assert_eq!(gw.url(), resource);

    let out = peers::run(
        &peers::python(),
        &[
            peers::script("py_oauth_client.py").to_str().unwrap(),
            &resource,
            &op.issuer,
            AGENT.0,
            AGENT.1,
        ],
        None,
    )
    .await;
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert!(
        summary["tools"]
            .as_array()
            .unwrap()
            .contains(&json!("test_simple_text")),
        "{summary}"
    );
    assert_eq!(
        summary["call"],
        json!(["This is a simple text response for testing."])
    );
    // The client's first, token-less request was challenged; nothing else failed.
    let failures = auth::failures(&gw).await;
    assert!(
        failures["missing_token"].as_u64().unwrap() >= 1,
        "{failures}"
    );
    assert_eq!(failures.as_object().unwrap().len(), 1, "{failures}");
    // And no request reached the upstream without a token: without one, 401.
    assert_eq!(auth::call(&gw, None).await.status, 401);
}

#[tokio::test]
async fn upstream_tokens_come_from_client_credentials_and_token_exchange_and_are_cached() {
    let upstream_resource = "http://127.0.0.1:1/upstream/mcp";
    let op = OidcProvider::start(&[upstream_resource, auth::RESOURCE]).await;
    let token_url = format!("{}/token", op.issuer).parse().unwrap();
    let http = HttpClient::new(Duration::from_secs(5), 64 * 1024).unwrap();
    let tokens = UpstreamTokens::new(
        TokenClient::new(token_url, "gateway", "gateway-secret-0123456789"),
        http.clone(),
        Duration::from_secs(30),
    );
    let request = TokenRequest {
        scope: Some("upstream:read".into()),
        resource: Some(upstream_resource.into()),
        audience: None,
    };
    let first = tokens.client_credentials(&request).await.unwrap();
    assert_eq!(claims(&first.token)["aud"], upstream_resource);
    assert_eq!(claims(&first.token)["sub"], "gateway");
    let again = tokens.client_credentials(&request).await.unwrap();
    assert!(Arc::ptr_eq(&first, &again), "cached until near expiry");

    // RFC 8693: the caller's token (issued for the gateway) for an upstream token.
    let callers = op.token(AGENT, auth::RESOURCE).await;
    let exchanged = tokens
        .exchange(&callers, ACCESS_TOKEN_TYPE, &request)
        .await
        .unwrap();
    assert_ne!(exchanged.token, callers, "never the caller's own token");
    assert_eq!(claims(&exchanged.token)["aud"], upstream_resource);
    assert_eq!(claims(&exchanged.token)["act"]["sub"], "gateway");
    assert_eq!(
        exchanged.issued_token_type.as_deref(),
        Some(ACCESS_TOKEN_TYPE)
    );
    let bogus = tokens
        .exchange("not.a.token", ACCESS_TOKEN_TYPE, &request)
        .await;
    assert!(
        matches!(bogus, Err(TokenError::Refused { .. })),
        "{bogus:?}"
    );

    let wrong = UpstreamTokens::new(
        TokenClient::new(
            format!("{}/token", op.issuer).parse().unwrap(),
            "gateway",
            "wrong-secret",
        ),
        http,
        Duration::from_secs(30),
    );
    match wrong.client_credentials(&request).await {
        Err(TokenError::Refused { code, .. }) => assert_eq!(code, "invalid_client"),
        other => panic!("expected invalid_client, got {other:?}"),
    }
    let _ = Req::get(&op.issuer).send().await;
}

/// The outer gateway's configuration: in front of `inner`, with `oauth` (YAML
/// under `oauth:`, or nothing).
fn outer_yaml(op: &OidcProvider, inner: &str, oauth: &str) -> String {
    let upstream = format!(
        "upstreams:\n  inner:\n    url: {inner}\n    prefix: \"\"\n    response_timeout: 20s\n{oauth}"
    );
    crate::support::gateway::default_yaml(inner)
        .replace(
            &format!("upstream:\n  url: {inner}\n  response_timeout: 20s\n"),
            &upstream,
        )
        .replace(
            "authentication:\n  mode: none\n",
            &section(op, auth::RESOURCE, ""),
        )
}

fn oauth(grant: &str, endpoint: &str, secret: &str) -> String {
    format!(
        "    oauth:\n      grant: {grant}\n      token_endpoint: {endpoint}\n      client_id: gateway\n      \
         client_secret: {{ value: \"{secret}\", allow_inline: true }}\n      scope: \"upstream:read\"\n"
    )
}

/// The principals the inner gateway saw, as its audit trail records them.
async fn principals_seen(inner: Gateway) -> Vec<Value> {
    let folder = inner.stop().await;
    crate::support::gateway::audit_events(&folder.path().join("audit"))
        .into_iter()
        .filter(|e| e["api"]["operation"] == "tools/list")
        .map(|e| e["actor"].clone())
        .collect()
}

/// `upstreams.<name>.oauth` in the running gateway: the upstream gets a token
/// the gateway obtained for it (client credentials: the gateway's own; token
/// exchange: the caller's, for this upstream, naming the gateway as actor),
/// never the caller's. The upstream is a second gateway that accepts tokens
/// for its own resource only, from the same real provider, in front of a
/// real Python SDK server.
#[tokio::test]
async fn an_upstream_gets_a_token_the_gateway_obtained_for_it_never_the_callers() {
    let port = peers::free_port();
    let inner_url = format!("http://127.0.0.1:{port}/mcp");
    let op = OidcProvider::start(&[auth::RESOURCE, &inner_url]).await;
    let fixture = Peer::python_fixture().await;
    let inner_yaml = crate::support::gateway::default_yaml(&fixture.url)
        .replace(
            "address: 127.0.0.1:0\nadmin",
            &format!("address: 127.0.0.1:{port}\nadmin"),
        )
        .replace(
            "authentication:\n  mode: none\n",
            &section(&op, &inner_url, ""),
        );
    let token_url = format!("{}/token", op.issuer);
    let callers = op.token(AGENT, auth::RESOURCE).await;
    let listed = |reply: &crate::support::http::Reply| {
        reply.message()["result"]["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == "test_simple_text"))
    };

    // Without `oauth` the caller's token is not passed on: the upstream refuses.
    let inner = Gateway::start_yaml(&inner_yaml).await;
    let outer = Gateway::start_yaml(&outer_yaml(&op, &inner_url, "")).await;
    let reply = auth::call(&outer, Some(&callers)).await;
    assert!(!listed(&reply), "{reply:?}");
    drop(outer);

    // Client credentials: the gateway's own token, for the upstream's resource.
    let yaml = outer_yaml(
        &op,
        &inner_url,
        &oauth(
            "client_credentials",
            &token_url,
            "gateway-secret-0123456789",
        ),
    );
    let outer = Gateway::start_yaml(&yaml).await;
    for _ in 0..2 {
        let reply = auth::call(&outer, Some(&callers)).await;
        assert!(listed(&reply), "{reply:?}");
    }
    drop(outer);
    let seen = principals_seen(inner).await;
    assert!(!seen.is_empty(), "{seen:#?}");
    let text = serde_json::to_string(&seen).unwrap();
    assert!(text.contains("\"gateway\""), "{seen:#?}");
    assert!(!text.contains("mcp-agent"), "{seen:#?}");

    // Token exchange: the caller's token for one for the upstream; the
    // upstream sees the caller, and the gateway as the actor.
    let inner = Gateway::start_yaml(&inner_yaml).await;
    let yaml = outer_yaml(
        &op,
        &inner_url,
        &oauth("token_exchange", &token_url, "gateway-secret-0123456789"),
    );
    let outer = Gateway::start_yaml(&yaml).await;
    let reply = auth::call(&outer, Some(&callers)).await;
    assert!(listed(&reply), "{reply:?}");
    drop(outer);
    let seen = principals_seen(inner).await;
    let text = serde_json::to_string(&seen).unwrap();
    assert!(
        text.contains("mcp-agent") && text.contains("\"gateway\""),
        "{seen:#?}"
    );
    assert!(
        !text.contains(claims(&callers)["jti"].as_str().unwrap()),
        "not the caller's own token: {seen:#?}"
    );

    // A refused client: no token, no request; the caller gets a JSON-RPC error.
    let inner = Gateway::start_yaml(&inner_yaml).await;
    let yaml = outer_yaml(
        &op,
        &inner_url,
        &oauth("client_credentials", &token_url, "wrong-secret"),
    );
    let outer = Gateway::start_yaml(&yaml).await;
    let reply = auth::call(&outer, Some(&callers)).await;
    assert_eq!(reply.status, 502, "{reply:?}");
    assert_eq!(
        reply.message()["error"]["message"],
        "The gateway could not obtain a token for the upstream MCP server",
        "{reply:?}"
    );
    let folder = outer.stop().await;
    let text = serde_json::to_string(&crate::support::gateway::audit_events(
        &folder.path().join("audit"),
    ))
    .unwrap();
    assert!(
        text.contains("no token for the upstream") && text.contains("invalid_client"),
        "the audit record says why"
    );
    assert!(!text.contains("wrong-secret"), "never the secret");
    assert!(principals_seen(inner).await.is_empty());
}
