//! The token attack corpus (SECURITY.md §1.2, RFC 8725, jwt_tool's playbook):
//! one test per attack, each asserting the refusal status, that nothing reached
//! the upstream, and the failure category recorded for audit.

use crate::support::auth::{self, Keys, claims, claims_with};
use crate::support::http::Reply;
use crate::support::{Gateway, Recorder};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

struct Case {
    keys: Keys,
    upstream: Recorder,
    gw: Gateway,
}

async fn case() -> Case {
    case_with("").await
}

async fn case_with(extra: &str) -> Case {
    let keys = Keys::generate().await;
    let upstream = Recorder::ok().await;
    let gw = auth::gateway(&upstream, &keys, extra).await;
    Case { keys, upstream, gw }
}

impl Case {
    async fn send(&self, token: &str) -> Reply {
        auth::call(&self.gw, Some(token)).await
    }

    async fn refused(&self, spec: Value, reason: &str) {
        let token = self.keys.token(spec).await;
        let reply = self.send(&token).await;
        auth::assert_refused(&self.gw, &self.upstream, &reply, 401, reason).await;
        let text = String::from_utf8_lossy(&reply.body);
        assert!(!text.contains(&token[..20]), "the token is never echoed");
    }
}

#[tokio::test]
async fn alg_none_is_refused_in_every_spelling() {
    let c = case().await;
    for alg in ["none", "None", "NONE", "nOnE"] {
        let token = c
            .keys
            .token(json!({"alg": alg, "unsigned": true, "claims": claims()}))
            .await;
        assert_eq!(c.send(&token).await.status, 401, "{alg}");
    }
    assert_eq!(c.upstream.count(), 0);
    assert_eq!(
        auth::failures(&c.gw).await,
        json!({"algorithm_not_allowed": 4})
    );
}

#[tokio::test]
async fn an_rs256_public_key_used_as_an_hs256_secret_is_refused() {
    let c = case().await;
    let spec =
        json!({"alg": "HS256", "kid": "rs256", "key": "public-pem:rs256", "claims": claims()});
    c.refused(spec, "algorithm_not_allowed").await;
}

#[tokio::test]
async fn a_kid_with_path_traversal_is_an_unknown_key() {
    let c = case().await;
    let spec = json!({"alg": "RS256", "kid": "../../../../../../dev/null", "claims": claims()});
    c.refused(spec, "unknown_key").await;
}

#[tokio::test]
async fn a_kid_with_sql_metacharacters_is_an_unknown_key() {
    let c = case().await;
    let spec = json!({"alg": "RS256", "kid": "x' UNION SELECT 'key' --", "claims": claims()});
    c.refused(spec, "unknown_key").await;
}

#[tokio::test]
async fn an_embedded_jwk_header_is_refused() {
    let c = case().await;
    let jwks: Value =
        serde_json::from_slice(&std::fs::read(c.keys.file("jwks.json")).unwrap()).unwrap();
    let jwk = jwks["keys"][0].clone();
    let spec = json!({"alg": "RS256", "header": {"jwk": jwk}, "claims": claims()});
    c.refused(spec, "forbidden_header").await;
}

#[tokio::test]
async fn a_jku_header_is_refused_and_never_fetched() {
    let c = case().await;
    let trap = Recorder::ok().await;
    let spec = json!({"alg": "RS256", "header": {"jku": trap.url()}, "claims": claims()});
    c.refused(spec, "forbidden_header").await;
    assert_eq!(trap.count(), 0, "the gateway must not fetch a token's jku");
}

#[tokio::test]
async fn an_x5u_header_is_refused_and_never_fetched() {
    let c = case().await;
    let trap = Recorder::ok().await;
    let spec = json!({"alg": "RS256", "header": {"x5u": trap.url()}, "claims": claims()});
    c.refused(spec, "forbidden_header").await;
    assert_eq!(trap.count(), 0);
}

#[tokio::test]
async fn a_critical_header_extension_is_refused() {
    let c = case().await;
    let spec = json!({"alg": "ES256", "header": {"crit": ["x-unknown"], "x-unknown": 1}, "claims": claims()});
    c.refused(spec, "forbidden_header").await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let c = case().await;
    let now = auth::now();
    let spec =
        json!({"alg": "ES256", "claims": claims_with(json!({"iat": now - 400, "exp": now - 100}))});
    c.refused(spec, "expired").await;
}

#[tokio::test]
async fn a_not_yet_valid_token_is_refused() {
    let c = case().await;
    let nbf = auth::now() + 600;
    let spec = json!({"alg": "ES256", "claims": claims_with(json!({"nbf": nbf}))});
    c.refused(spec, "not_yet_valid").await;
}

#[tokio::test]
async fn a_token_issued_in_the_future_is_refused() {
    let c = case().await;
    let now = auth::now();
    let spec =
        json!({"alg": "ES256", "claims": claims_with(json!({"iat": now + 600, "exp": now + 900}))});
    c.refused(spec, "issued_in_future").await;
}

#[tokio::test]
async fn a_correctly_signed_long_lived_token_is_refused() {
    let c = case().await;
    let exp = auth::now() + 365 * 86_400;
    let spec = json!({"alg": "RS256", "claims": claims_with(json!({"exp": exp}))});
    c.refused(spec, "lifetime_too_long").await;
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    let c = case().await;
    let spec = json!({"alg": "RS256", "claims": claims_with(json!({"iss": "https://evil.test"}))});
    c.refused(spec, "unknown_issuer").await;
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let c = case().await;
    let spec =
        json!({"alg": "RS256", "claims": claims_with(json!({"aud": "https://other.test/mcp"}))});
    c.refused(spec, "wrong_audience").await;
}

#[tokio::test]
async fn a_token_without_an_audience_is_refused() {
    let c = case().await;
    let spec = json!({"alg": "RS256", "claims": claims_with(json!({"aud": null}))});
    c.refused(spec, "missing_claim").await;
}

#[tokio::test]
async fn a_token_without_exp_is_refused() {
    let c = case().await;
    let spec = json!({"alg": "RS256", "claims": claims_with(json!({"exp": null}))});
    c.refused(spec, "missing_claim").await;
}

#[tokio::test]
async fn a_token_with_duplicate_claims_is_refused() {
    let c = case().await;
    let body = claims().to_string();
    // The issuer might read the first `tid`, a last-wins parser the second.
    let payload = format!(
        "{},\"tid\":\"evil-corp\",\"scope\":\"mcp:admin\"}}",
        &body[..body.len() - 1]
    );
    let spec = json!({"alg": "ES384", "payload": payload});
    c.refused(spec, "duplicate_member").await;
}

#[tokio::test]
async fn a_wrong_token_type_is_refused() {
    let c = case().await;
    let spec = json!({"alg": "ES256", "header": {"typ": "JWT"}, "claims": claims()});
    c.refused(spec, "wrong_type").await;
}

#[tokio::test]
async fn a_signature_by_another_key_is_refused() {
    let c = case().await;
    let spec = json!({"alg": "RS256", "kid": "rs256", "key": "rs384", "claims": claims()});
    c.refused(spec, "bad_signature").await;
}

#[tokio::test]
async fn truncated_tokens_are_refused() {
    let c = case().await;
    let token = c
        .keys
        .token(json!({"alg": "PS256", "claims": claims()}))
        .await;
    let cut = &token[..token.len() - 12];
    assert_eq!(c.send(cut).await.status, 401);
    let two = &token[..token.rfind('.').unwrap()];
    assert_eq!(c.send(two).await.status, 401);
    assert_eq!(c.upstream.count(), 0);
    assert_eq!(
        auth::failures(&c.gw).await,
        json!({"bad_signature": 1, "malformed": 1})
    );
}

#[tokio::test]
async fn an_oversized_token_is_refused_before_it_is_decoded() {
    let c = case().await;
    let big = "x".repeat(12 * 1024);
    let spec = json!({"alg": "ES256", "claims": claims_with(json!({"padding": big}))});
    c.refused(spec, "oversized").await;
}

#[tokio::test]
async fn an_ecdsa_signature_with_zero_r_and_s_is_refused() {
    let c = case().await;
    let token = c
        .keys
        .token(json!({"alg": "ES256", "claims": claims()}))
        .await;
    let signing_input = &token[..token.rfind('.').unwrap()];
    let zeros = URL_SAFE_NO_PAD.encode([0u8; 64]);
    let reply = c.send(&format!("{signing_input}.{zeros}")).await;
    auth::assert_refused(&c.gw, &c.upstream, &reply, 401, "bad_signature").await;
}

#[tokio::test]
async fn a_weak_hmac_secret_is_refused_at_config_load() {
    let keys = Keys::generate().await;
    let yaml = crate::support::gateway::default_yaml("http://127.0.0.1:1/mcp").replace(
        "authentication:\n  mode: none\n",
        &auth::section(&keys, "").replace("hmac.b64", "weak.b64"),
    );
    let err = portcullis::config::load_str(&yaml, std::path::Path::new("p.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("authentication.issuers[1].hmac_secret_file") && err.contains("at least 32"),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_whose_jti_is_in_the_revocation_file_is_refused() {
    let keys = Keys::generate().await;
    let c = claims();
    let line = format!("{} {}\n", c["jti"].as_str().unwrap(), auth::now() + 300);
    std::fs::write(keys.file("revoked.txt"), line).unwrap();
    let upstream = Recorder::ok().await;
    let gw = auth::gateway(&upstream, &keys, "").await;
    let token = keys.token(json!({"alg": "ES256", "claims": c})).await;
    let reply = auth::call(&gw, Some(&token)).await;
    auth::assert_refused(&gw, &upstream, &reply, 401, "revoked").await;
}

#[tokio::test]
async fn a_token_in_the_query_string_is_refused_even_with_a_valid_header() {
    let c = case().await;
    let token = c
        .keys
        .token(json!({"alg": "ES256", "claims": claims()}))
        .await;
    let url = format!("{}?access_token={token}", c.gw.url());
    let reply = auth::call_url(&url, Some(&token)).await;
    auth::assert_refused(&c.gw, &c.upstream, &reply, 401, "token_in_query").await;
}
