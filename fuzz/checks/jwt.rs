//! JWT header and claims parsing through the public validation entry point
//! (`authn::Authenticator::validate`), plus `authn::token::read` directly.
//!
//! One issuer with an HS256 secret. Input: if the first byte is even, the rest
//! is an arbitrary bearer token; if odd, the rest is `header JSON \0 claims
//! JSON`, which the target signs with the issuer's secret, so that claim checks
//! and principal building run on arbitrary claims. Beyond "no panic": an
//! arbitrary token is accepted only if its signature verifies under the secret;
//! an accepted token's header names an allowed algorithm and no key material,
//! and its claims pass the registered-claim checks on their own; the principal
//! carries the token's `sub`, `iss` and `exp`; `token::read` splits a token
//! into exactly its signing input and signature.
//!
//! Shared by the libFuzzer target (`fuzz/fuzz_targets/jwt.rs`) and the CI
//! smoke test (`tests/fuzz_smoke.rs`), which runs it on the committed seeds
//! and on deterministic mutations of them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use portcullis::authn::Authenticator;
use portcullis::authn::authenticator::{Issuer, KeySource};
use portcullis::authn::claims::{self, ClaimRules};
use portcullis::authn::keys::{KeySet, VerifyKey};
use portcullis::authn::metadata::ResourceMetadata;
use portcullis::authn::principal::ClaimNames;
use portcullis::authn::revocation::RevocationList;
use portcullis::authn::token;
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

const SECRET: &[u8] = b"portcullis-fuzz-secret-of-32-bytes!!";
const ISSUER: &str = "https://idp.example";
const AUDIENCE: &str = "https://gw.example/mcp";
const NOW: u64 = 1_800_000_000;
const MAX_TOKEN_BYTES: usize = 8192;

/// Runs every check on one input; panics when an invariant fails.
pub fn check(data: &[u8]) {
    let [mode, rest @ ..] = data else {
        return;
    };
    let token = if mode % 2 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let mut parts = rest.splitn(2, |b| *b == 0);
        let header = parts.next().unwrap_or_default();
        let claims = parts.next().unwrap_or_default();
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let key = EncodingKey::from_secret(SECRET);
        let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::HS256)
            .expect("HS256 signs");
        format!("{input}.{signature}")
    };
    check_read(&token);
    let authenticator = authenticator();
    let revoked = RevocationList::new(16);
    let Ok(principal) = block_on(authenticator.validate(&token, NOW, &revoked)) else {
        return;
    };
    // Accepted: the signature is genuine, the header sane, the claims valid.
    let unverified = token::read(&token, MAX_TOKEN_BYTES).expect("an accepted token reads");
    let genuine = jsonwebtoken::crypto::verify(
        unverified.signature,
        unverified.signing_input.as_bytes(),
        &DecodingKey::from_secret(SECRET),
        Algorithm::HS256,
    );
    assert!(
        matches!(genuine, Ok(true)),
        "accepted a token not signed with the secret"
    );
    assert_eq!(unverified.alg, Algorithm::HS256);
    let window = claims::check(&unverified.claims, &rules(), NOW).expect("accepted claims check");
    let claim = |name: &str| unverified.claims.get(name).and_then(Value::as_str);
    assert_eq!(Some(principal.subject.as_str()), claim("sub"));
    assert!(!principal.subject.is_empty());
    assert_eq!(principal.issuer.as_deref(), Some(ISSUER));
    assert_eq!(principal.expires_at, Some(window.expires));
    assert!(window.expires + 30 >= NOW, "accepted an expired token");
}

/// `token::read` on any string: an accepted token is exactly
/// `signing_input.signature`, within the size bound.
fn check_read(token: &str) {
    if let Ok(u) = token::read(token, MAX_TOKEN_BYTES) {
        assert!(token.len() <= MAX_TOKEN_BYTES);
        assert_eq!(format!("{}.{}", u.signing_input, u.signature), token);
        assert_eq!(u.signing_input.matches('.').count(), 1);
        assert!(!u.signature.is_empty() && !u.signature.contains('.'));
        assert!(
            u.kid
                .as_ref()
                .is_none_or(|k| k.len() <= token::MAX_KID_BYTES)
        );
    }
}

fn rules() -> ClaimRules {
    ClaimRules {
        issuer: ISSUER.into(),
        audiences: vec![AUDIENCE.into()],
        leeway: 30,
        max_lifetime: 3600,
        max_age: 86_400,
        required: Vec::new(),
    }
}

fn authenticator() -> Authenticator {
    let key = VerifyKey {
        kid: None,
        alg: Algorithm::HS256,
        key: DecodingKey::from_secret(SECRET),
    };
    let issuer = Issuer {
        rules: rules(),
        algorithms: vec![Algorithm::HS256],
        token_type: None,
        names: ClaimNames {
            tenant: Some("tenant".into()),
            ..ClaimNames::default()
        },
        keys: KeySource::Static(Arc::new(KeySet::from_keys(vec![key]))),
    };
    let resource: http::Uri = AUDIENCE.parse().expect("a valid URI");
    let metadata = ResourceMetadata::new(&resource, "/mcp", &[ISSUER.into()], &[], &[], None);
    Authenticator::new(
        vec![issuer],
        MAX_TOKEN_BYTES,
        Vec::new(),
        metadata,
        None,
        16,
    )
}

/// Static keys never wait, so one poll finishes validation.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("validation with static keys waited"),
    }
}
