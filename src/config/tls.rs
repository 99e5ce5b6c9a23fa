//! TLS on the listener: a rustls server configuration from PEM files.

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Client certificates to ask for: CA bundle and whether one is required.
#[derive(Debug, Clone, Copy)]
pub struct ClientAuth<'a> {
    /// PEM CA certificates.
    pub ca: &'a Path,
    /// Whether the handshake fails without a client certificate.
    pub required: bool,
}

/// Loads a certificate chain and key; ALPN offers h2 when `http2` is set;
/// client certificates are verified against `client` when given.
pub fn server_config(
    cert: &Path,
    key: &Path,
    http2: bool,
    client: Option<ClientAuth<'_>>,
) -> Result<Arc<ServerConfig>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read certificates from {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("invalid certificate PEM in {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("no certificate found in {}", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read a private key from {}: {e}", key.display()))?;
    // An explicit provider: the process-wide default is ambiguous when more than
    // one rustls provider is linked in, and the gateway must not depend on that.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?;
    let builder = match client {
        None => builder.with_no_client_auth(),
        Some(client) => builder.with_client_cert_verifier(client_verifier(client, provider)?),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("certificate and key do not form a usable pair: {e}"))?;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Arc::new(config))
}

fn client_verifier(
    client: ClientAuth<'_>,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let cas = CertificateDer::pem_file_iter(client.ca).map_err(|e| {
        format!(
            "cannot read client CA certificates from {}: {e}",
            client.ca.display()
        )
    })?;
    for ca in cas {
        let ca =
            ca.map_err(|e| format!("invalid certificate PEM in {}: {e}", client.ca.display()))?;
        roots
            .add(ca)
            .map_err(|e| format!("unusable client CA in {}: {e}", client.ca.display()))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "no CA certificate found in {}",
            client.ca.display()
        ));
    }
    let builder =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = if client.required {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    builder
        .build()
        .map_err(|e| format!("client certificate verification: {e}"))
}
