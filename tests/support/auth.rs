//! Authentication fixtures: keys and tokens minted by independent libraries
//! (PyJWT in `tests/peers/mint.py`, `jose` in `tests/peers/jose_mint.mjs`), a
//! gateway configured to trust them, and the admin view of failure reasons.

use super::http::{Reply, Req};
use super::peers;
use super::{Gateway, Recorder};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The issuer of the test keys.
pub const ISSUER: &str = "https://issuer.test";
/// The issuer of the HMAC secret.
pub const HMAC_ISSUER: &str = "https://hmac.test";
/// The gateway's resource URI in most tests.
pub const RESOURCE: &str = "https://gw.test/mcp";
/// Every asymmetric algorithm.
pub const ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];
/// The admin token the test configuration uses.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef0123456789";

/// A folder of test keys (private PEMs, a public JWKS, HMAC secrets).
pub struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    /// Fresh keys for every algorithm.
    pub async fn generate() -> Keys {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().to_str().unwrap().to_owned();
        peers::run(
            &peers::python(),
            &[peers::script("mint.py").to_str().unwrap(), "keys", &folder],
            None,
        )
        .await;
        Keys { dir }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A file in the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Tokens from PyJWT, one per spec (see mint.py).
    pub async fn mint(&self, specs: &[Value]) -> Vec<String> {
        let out = pipe(
            peers::python().as_path(),
            &[
                peers::script("mint.py").to_str().unwrap(),
                "tokens",
                self.path().to_str().unwrap(),
            ],
            &Value::from(specs.to_vec()),
            &[],
        )
        .await;
        serde_json::from_str(&out).unwrap()
    }

    /// One PyJWT token.
    pub async fn token(&self, spec: Value) -> String {
        self.mint(&[spec]).await.remove(0)
    }

    /// Tokens from `jose` (Node), one per spec.
    pub async fn jose(&self, specs: &[Value]) -> Vec<String> {
        let modules = peers::peers_dir().join("node/node_modules");
        let out = pipe(
            peers::node().as_path(),
            &[
                peers::script("jose_mint.mjs").to_str().unwrap(),
                self.path().to_str().unwrap(),
            ],
            &Value::from(specs.to_vec()),
            &[("PEERS_NODE_MODULES", modules.to_str().unwrap())],
        )
        .await;
        serde_json::from_str(&out).unwrap()
    }
}

async fn pipe(program: &Path, args: &[&str], input: &Value, env: &[(&str, &str)]) -> String {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.to_string().as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{} failed: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    portcullis::authn::now()
}

/// Claims a good token carries: issued now for five minutes, for [`RESOURCE`].
pub fn claims() -> Value {
    let now = now();
    json!({
        "iss": ISSUER, "aud": RESOURCE, "sub": "alice", "iat": now, "exp": now + 300,
        "jti": format!("jti-{now}-{}", rand_suffix()), "client_id": "agent-1",
        "scope": "mcp:tools", "tid": "acme", "roles": ["reader"]
    })
}

/// `claims()` with some members replaced (`null` removes one).
pub fn claims_with(changes: Value) -> Value {
    let mut c = claims();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The `authentication:` section trusting `keys` for [`ISSUER`] (every
/// asymmetric algorithm) and its HMAC secret for [`HMAC_ISSUER`].
pub fn section(keys: &Keys, extra: &str) -> String {
    let admin = keys.file("admin-token");
    std::fs::write(&admin, ADMIN_TOKEN).unwrap();
    let revoked = keys.file("revoked.txt");
    if !revoked.exists() {
        std::fs::write(&revoked, "# jti exp\n").unwrap();
    }
    format!(
        "authentication:\n  mode: jwt\n  resource: {RESOURCE}\n  scopes_supported: [mcp:tools]\n\
         \x20 revocation:\n    admin_token_file: {admin}\n    file: {revoked}\n{extra}\
         \x20 issuers:\n\
         \x20   - issuer: {ISSUER}\n      algorithms: [{algs}]\n      jwks_file: {jwks}\n      \
         tenant_claim: tid\n      required_claims: [jti]\n\
         \x20   - issuer: {HMAC_ISSUER}\n      algorithms: [HS256]\n      hmac_secret_file: {hmac}\n",
        admin = admin.display(),
        revoked = revoked.display(),
        algs = ALGORITHMS.join(", "),
        jwks = keys.file("jwks.json").display(),
        hmac = keys.file("hmac.b64").display(),
    )
}

/// A gateway in front of `upstream` trusting `keys`; `extra` is inserted in
/// the `authentication:` section (two-space indented lines).
pub async fn gateway(upstream: &Recorder, keys: &Keys, extra: &str) -> Gateway {
    let yaml = super::gateway::default_yaml(&upstream.url())
        .replace("authentication:\n  mode: none\n", &section(keys, extra));
    Gateway::start_yaml(&yaml).await
}

/// A modern `tools/list` with `token` as bearer credential.
pub async fn call(gw: &Gateway, token: Option<&str>) -> Reply {
    call_url(&gw.url(), token).await
}

/// Same, against any URL.
pub async fn call_url(url: &str, token: Option<&str>) -> Reply {
    let mut req = Req::post(url)
        .modern("tools/list", None)
        .body(super::http::modern_body(1, "tools/list", json!({})));
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    req.send().await
}

/// Authentication failures by reason, from the admin listener.
pub async fn failures(gw: &Gateway) -> Value {
    let url = format!("http://{}/authn/failures", gw.admin.unwrap());
    Req::get(&url).send().await.json()
}

/// Asserts a refusal: `status`, a challenge, nothing forwarded, and exactly one
/// failure recorded, of category `reason`.
pub async fn assert_refused(
    gw: &Gateway,
    upstream: &Recorder,
    reply: &Reply,
    status: u16,
    reason: &str,
) {
    assert_eq!(reply.status.as_u16(), status, "{reply:?}");
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer ")
            && challenge.contains(
                "resource_metadata=\"https://gw.test/.well-known/oauth-protected-resource/mcp\""
            ),
        "{challenge}"
    );
    assert_eq!(upstream.count(), 0, "nothing may reach the upstream");
    assert_eq!(failures(gw).await, json!({ reason: 1 }), "recorded reason");
}
