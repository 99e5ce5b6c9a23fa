//! Bearer-token validation: for each algorithm, the bare signature check
//! (`jsonwebtoken::crypto::verify`, the floor) next to the gateway's full
//! validation of a token it has not seen (size bounds, strict header and claims
//! parsing, key selection, the same signature check, claim rules, principal) and
//! of a token already in its cache (hash, compare, key still published,
//! revocation). Keys are generated with aws-lc-rs and the configuration is
//! compiled from YAML as in production. Throughput is in tokens.
//!
//! Run: `cargo bench --bench auth`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey};
use portcullis::authn::revocation::RevocationList;
use portcullis::authn::{Authenticator, Authn, now};
use serde_json::{Value, json};
use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

const RESOURCE: &str = "https://gw.bench/mcp";
const ISSUER: &str = "https://issuer.bench";

/// Signs a JWS signing input.
type SignFn = Box<dyn Fn(&[u8]) -> Vec<u8>>;

struct Signer {
    alg: Algorithm,
    name: &'static str,
    jwk: Value,
    key: DecodingKey,
    sign: SignFn,
}

fn rsa(alg: Algorithm, name: &'static str, pss: bool) -> Signer {
    let pair = Arc::new(RsaKeyPair::generate(KeySize::Rsa2048).unwrap());
    let public = pair.public_key();
    let n = public.modulus().big_endian_without_leading_zero().to_vec();
    let e = public.exponent().big_endian_without_leading_zero().to_vec();
    let kid = name.to_lowercase();
    let padding: &'static dyn signature::RsaEncoding = if pss {
        &signature::RSA_PSS_SHA256
    } else {
        &signature::RSA_PKCS1_SHA256
    };
    Signer {
        alg,
        name,
        jwk: json!({"kty":"RSA","n":B64.encode(&n),"e":B64.encode(&e),"kid":kid,"alg":name}),
        key: DecodingKey::from_rsa_raw_components(&n, &e),
        sign: Box::new(move |msg| {
            let mut sig = vec![0; pair.public_modulus_len()];
            pair.sign(padding, &SystemRandom::new(), msg, &mut sig)
                .unwrap();
            sig
        }),
    }
}

fn es256() -> Signer {
    let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let (x, y) = (B64.encode(&point[1..33]), B64.encode(&point[33..65]));
    Signer {
        alg: Algorithm::ES256,
        name: "ES256",
        key: DecodingKey::from_ec_components(&x, &y).unwrap(),
        jwk: json!({"kty":"EC","crv":"P-256","x":x,"y":y,"kid":"es256","alg":"ES256"}),
        sign: Box::new(move |msg| {
            pair.sign(&SystemRandom::new(), msg)
                .unwrap()
                .as_ref()
                .to_vec()
        }),
    }
}

fn eddsa() -> Signer {
    let pair = Ed25519KeyPair::generate().unwrap();
    let x = B64.encode(pair.public_key().as_ref());
    Signer {
        alg: Algorithm::EdDSA,
        name: "EdDSA",
        key: DecodingKey::from_ed_components(&x).unwrap(),
        jwk: json!({"kty":"OKP","crv":"Ed25519","x":x,"kid":"eddsa","alg":"EdDSA"}),
        sign: Box::new(move |msg| pair.sign(msg).as_ref().to_vec()),
    }
}

/// A realistic access token (RFC 9068 claims, a few roles and scopes).
fn token(s: &Signer) -> String {
    let header = json!({"alg": s.name, "typ": "at+jwt", "kid": s.name.to_lowercase()});
    let now = now();
    let claims = json!({
        "iss": ISSUER, "aud": RESOURCE, "sub": "user-8f3a2c", "client_id": "agent-1",
        "iat": now, "exp": now + 600, "jti": "0f8e6d2c-6b1e-4bd8-9a53-3f2d6c1e9b7a",
        "scope": "mcp:tools mcp:resources", "roles": ["reader", "operator"], "tid": "acme"
    });
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let sig = (s.sign)(input.as_bytes());
    format!("{input}.{}", B64.encode(sig))
}

fn authenticator(
    signers: &[Signer],
    cache_size: usize,
    dir: &std::path::Path,
) -> Arc<Authenticator> {
    let jwks = json!({"keys": signers.iter().map(|s| s.jwk.clone()).collect::<Vec<_>>()});
    let file = dir.join(format!("jwks-{cache_size}.json"));
    std::fs::write(&file, jwks.to_string()).unwrap();
    let algs: Vec<&str> = signers.iter().map(|s| s.name).collect();
    let yaml = format!(
        "listen:\n  address: 127.0.0.1:0\nupstream:\n  url: http://127.0.0.1:3000/mcp\n\
         authentication:\n  mode: jwt\n  resource: {RESOURCE}\n  cache_size: {cache_size}\n  issuers:\n    \
         - issuer: {ISSUER}\n      algorithms: [{}]\n      jwks_file: {}\n      tenant_claim: tid\n      \
         required_claims: [jti]\naudit:\n  disabled: true\n",
        algs.join(", "),
        file.display()
    );
    let rt = portcullis::config::load_str(&yaml, &dir.join("bench.yaml")).unwrap();
    match rt.authentication.authn {
        Authn::Jwt(a) => a,
        Authn::None | Authn::Certificate => unreachable!(),
    }
}

/// Static keys never wait, so the validation future completes on its first poll.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("static keys never wait"),
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let signers = vec![
        rsa(Algorithm::RS256, "RS256", false),
        rsa(Algorithm::PS256, "PS256", true),
        es256(),
        eddsa(),
    ];
    let fresh = authenticator(&signers, 0, dir.path());
    let cached = authenticator(&signers, 10_000, dir.path());
    let revoked = RevocationList::new(16);
    let mut group = c.benchmark_group("auth");
    group.throughput(Throughput::Elements(1));
    for s in &signers {
        let t = token(s);
        let dot = t.rfind('.').unwrap();
        let (input, sig) = (&t[..dot], &t[dot + 1..]);
        assert!(jsonwebtoken::crypto::verify(sig, input.as_bytes(), &s.key, s.alg).unwrap());
        group.bench_function(format!("{}: bare signature verification", s.name), |b| {
            b.iter(|| {
                jsonwebtoken::crypto::verify(black_box(sig), input.as_bytes(), &s.key, s.alg)
                    .unwrap()
            })
        });
        group.bench_function(format!("{}: fresh token, full validation", s.name), |b| {
            b.iter(|| ready(fresh.validate(black_box(&t), now(), &revoked)).unwrap())
        });
        ready(cached.validate(&t, now(), &revoked)).unwrap();
        group.bench_function(format!("{}: cached token", s.name), |b| {
            b.iter(|| ready(cached.validate(black_box(&t), now(), &revoked)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
