//! The identity of a TLS client certificate (pure): what mutual TLS on the
//! listener contributes to authentication.
//!
//! The certificate chain was verified by rustls against the configured client
//! CA before any of this runs; here it is only read. The identity is the first
//! URI SAN (e.g. a SPIFFE ID), else the first DNS SAN, else the subject CN, else
//! the thumbprint. The thumbprint is RFC 8705's `x5t#S256` (base64url SHA-256 of
//! the DER), which certificate-bound access tokens carry in `cnf`.

use super::principal::{Authenticated, Principal};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// A verified client certificate, as identities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The identity used as the principal's subject.
    pub identity: String,
    /// RFC 8705 `x5t#S256`.
    pub thumbprint: String,
    /// URI SANs.
    pub uris: Vec<String>,
    /// DNS SANs.
    pub dns: Vec<String>,
    /// The subject's common name.
    pub common_name: Option<String>,
    /// The issuer's distinguished name.
    pub issuer: Option<String>,
}

impl ClientCertificate {
    /// Reads a DER certificate. Never fails: an unparsable one (rustls accepted
    /// it, so this should not happen) is known by its thumbprint alone.
    pub fn from_der(der: &[u8]) -> ClientCertificate {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
        let thumbprint = URL_SAFE_NO_PAD.encode(digest.as_ref());
        let (mut uris, mut dns, mut common_name, mut issuer) = (Vec::new(), Vec::new(), None, None);
        if let Ok((_, cert)) = X509Certificate::from_der(der) {
            if let Ok(Some(san)) = cert.subject_alternative_name() {
                for name in &san.value.general_names {
                    match name {
                        GeneralName::URI(u) => uris.push((*u).to_owned()),
                        GeneralName::DNSName(d) => dns.push((*d).to_owned()),
                        _ => {}
                    }
                }
            }
            common_name = cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_owned);
            issuer = Some(cert.issuer().to_string());
        }
        let identity = uris
            .first()
            .or(dns.first())
            .or(common_name.as_ref())
            .cloned()
            .unwrap_or_else(|| format!("x5t#S256:{thumbprint}"));
        ClientCertificate {
            identity,
            thumbprint,
            uris,
            dns,
            common_name,
            issuer,
        }
    }

    /// The principal of `authentication: { mode: mtls }`.
    pub fn principal(&self) -> Principal {
        Principal {
            authenticated: Authenticated::Certificate,
            subject: self.identity.clone(),
            issuer: self.issuer.clone(),
            ..Principal::anonymous()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_prefers_uri_then_dns_then_common_name() {
        let mut params = rcgen::CertificateParams::new(vec!["agent.example.com".into()]).unwrap();
        params.subject_alt_names.push(rcgen::SanType::URI(
            "spiffe://acme/agent-1".try_into().unwrap(),
        ));
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "agent one");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let c = ClientCertificate::from_der(cert.der());
        assert_eq!(c.identity, "spiffe://acme/agent-1");
        assert_eq!(c.dns, ["agent.example.com"]);
        assert_eq!(c.common_name.as_deref(), Some("agent one"));
        assert_eq!(c.thumbprint.len(), 43);
        assert_eq!(c.principal().subject, "spiffe://acme/agent-1");
        let junk = ClientCertificate::from_der(b"not a certificate");
        assert!(junk.identity.starts_with("x5t#S256:"));
    }
}
