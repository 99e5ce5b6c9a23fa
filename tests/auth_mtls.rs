//! Mutual TLS on the listener: the client certificate as the principal
//! (`mode: mtls`), and certificate-bound tokens (RFC 8705) refused without their
//! certificate.

use crate::support::auth::{self, Keys, claims_with};
use crate::support::{Gateway, Recorder};
use base64::Engine;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

struct Pki {
    roots: Arc<rustls::RootCertStore>,
    agent: (CertificateDer<'static>, PrivateKeyDer<'static>),
    stranger: (CertificateDer<'static>, PrivateKeyDer<'static>),
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn client(
    ca: &CertifiedIssuer<'static, KeyPair>,
    uri: &str,
) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .subject_alt_names
        .push(SanType::URI(uri.try_into().unwrap()));
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (cert.der().clone(), key)
}

/// Server certificate and key, the client CA, and two clients: one the CA
/// issued, one from another CA.
fn pki(dir: &Path) -> Pki {
    let server = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), server.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), server.signing_key.serialize_pem()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server.cert.der().clone()).unwrap();
    let clients = ca("portcullis test client CA");
    std::fs::write(dir.join("client-ca.pem"), clients.pem()).unwrap();
    Pki {
        roots: Arc::new(roots),
        agent: client(&clients, "spiffe://acme/agent-1"),
        stranger: client(&ca("someone else"), "spiffe://evil/agent"),
    }
}

fn tls_yaml(upstream: &Recorder, dir: &Path, client_auth: &str, authentication: &str) -> String {
    crate::support::gateway::default_yaml(&upstream.url())
        .replace(
            "  address: 127.0.0.1:0\nadmin",
            &format!(
                "  address: 127.0.0.1:0\n  tls:\n    cert: {d}/cert.pem\n    key: {d}/key.pem\n    \
                 client_ca: {d}/client-ca.pem\n    client_auth: {client_auth}\nadmin",
                d = dir.display()
            ),
        )
        .replace("authentication:\n  mode: none\n", authentication)
}

/// One MCP request over TLS, optionally with a client certificate and a token.
/// `None` when the connection fails (handshake refused).
async fn send(
    gw: &Gateway,
    pki: &Pki,
    certificate: Option<&(CertificateDer<'static>, PrivateKeyDer<'static>)>,
    token: Option<&str>,
) -> Option<StatusCode> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(Arc::clone(&pki.roots));
    let config = match certificate {
        Some((cert, key)) => builder
            .with_client_auth_cert(vec![cert.clone()], key.clone_key())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.ok()?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .ok()?;
    tokio::spawn(conn);
    let body = crate::support::http::modern_body(1, "tools/list", json!({}));
    let mut req = Request::post("/mcp")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/list");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
    sender.send_request(req).await.ok().map(|r| r.status())
}

#[tokio::test]
async fn with_mode_mtls_only_clients_with_a_certificate_from_the_ca_get_through() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let upstream = Recorder::ok().await;
    let yaml = tls_yaml(
        &upstream,
        dir.path(),
        "required",
        "authentication:\n  mode: mtls\n",
    );
    let gw = Gateway::start_yaml(&yaml).await;
    assert_eq!(
        send(&gw, &pki, Some(&pki.agent), None).await,
        Some(StatusCode::OK)
    );
    assert_eq!(
        send(&gw, &pki, None, None).await,
        None,
        "no certificate: no connection"
    );
    assert_eq!(
        send(&gw, &pki, Some(&pki.stranger), None).await,
        None,
        "another CA's certificate"
    );
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn mode_mtls_without_a_required_client_certificate_does_not_load() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let upstream = Recorder::ok().await;
    let yaml = tls_yaml(
        &upstream,
        dir.path(),
        "optional",
        "authentication:\n  mode: mtls\n",
    );
    let err = portcullis::config::load_str(&yaml, Path::new("p.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("authentication.mode: mode: mtls needs"),
        "{err}"
    );
}

#[tokio::test]
async fn a_certificate_bound_token_is_refused_without_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let keys = Keys::generate().await;
    let upstream = Recorder::ok().await;
    let yaml = tls_yaml(&upstream, dir.path(), "optional", &auth::section(&keys, ""));
    let gw = Gateway::start_yaml(&yaml).await;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &pki.agent.0);
    let thumbprint = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    let bound = claims_with(json!({"cnf": {"x5t#S256": thumbprint}}));
    let token = keys.token(json!({"alg": "ES256", "claims": bound})).await;
    assert_eq!(
        send(&gw, &pki, Some(&pki.agent), Some(&token)).await,
        Some(StatusCode::OK),
        "bound token with its certificate"
    );
    assert_eq!(
        send(&gw, &pki, None, Some(&token)).await,
        Some(StatusCode::UNAUTHORIZED),
        "a stolen bound token without the certificate"
    );
    assert_eq!(upstream.count(), 1);
    assert_eq!(
        auth::failures(&gw).await,
        json!({"certificate_mismatch": 1})
    );
}
