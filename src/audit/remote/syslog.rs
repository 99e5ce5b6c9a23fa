//! Syslog sink: RFC 5424 messages over TCP (RFC 6587) or TLS (RFC 5425), with
//! octet-counting framing (`LEN SP MSG`), so events of any size and content
//! (newlines included) arrive whole.
//!
//! Each message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID audit - JSON`, PRI =
//! facility × 8 + a severity mapped from the event's OCSF severity. There is no
//! acknowledgement in syslog over TCP: bytes accepted by the kernel when a
//! connection dies are lost; a resent batch may duplicate events (their uids
//! tell). The segment file is the record; syslog is a copy.

use super::{Backoff, Outbound};
use crate::audit::Shared;
use crate::audit::config::SyslogSettings;
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

type Conn = Box<dyn AsyncWrite + Send + Unpin>;

/// Most bytes gathered into one write.
const MAX_WRITE: usize = 256 << 10;

/// A rustls client configuration trusting the CAs in `ca` (PEM).
pub fn client_tls(
    ca: &Path,
    server_name: Option<&str>,
    address: SocketAddr,
) -> Result<(Arc<ClientConfig>, ServerName<'static>), String> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .map_err(|e| format!("cannot read CA certificates from {}: {e}", ca.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("invalid certificate PEM in {}: {e}", ca.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("unusable CA certificate in {}: {e}", ca.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("no CA certificate in {}", ca.display()));
    }
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = match server_name {
        Some(n) => {
            ServerName::try_from(n.to_owned()).map_err(|_| format!("`{n}` is not a server name"))?
        }
        None => ServerName::IpAddress(address.ip().into()),
    };
    Ok((Arc::new(config), name))
}

/// One framed message: `LEN SP <PRI>1 ...`.
pub fn frame(out: &mut Vec<u8>, s: &SyslogSettings, hostname: &str, o: &Outbound) {
    let severity = match o.meta.severity {
        0 | 1 => 6,
        2 => 5,
        3 => 4,
        4 => 3,
        _ => 2,
    };
    let pri = u32::from(s.facility) * 8 + severity;
    let head = format!(
        "<{pri}>1 {} {} {} {} audit - ",
        crate::audit::time::rfc3339(o.meta.time),
        header_field(hostname, 255),
        header_field(&s.app_name, 48),
        std::process::id()
    );
    let len = head.len() + o.line.len();
    out.extend_from_slice(format!("{len} ").as_bytes());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(&o.line);
}

/// RFC 5424 header fields are printable US-ASCII without spaces, bounded.
fn header_field(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if clean.is_empty() { "-".into() } else { clean }
}

async fn connect(s: &SyslogSettings) -> std::io::Result<Conn> {
    let tcp = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(s.address))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    tcp.set_nodelay(true)?;
    match &s.tls {
        None => Ok(Box::new(tcp)),
        Some((config, name)) => {
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name.clone(), tcp)
                .await?;
            Ok(Box::new(tls))
        }
    }
}

/// Delivers queued events until the queue closes and drains.
pub async fn run(
    s: SyslogSettings,
    hostname: String,
    mut rx: mpsc::Receiver<Outbound>,
    shared: Arc<Shared>,
) {
    let mut conn: Option<Conn> = None;
    let mut backoff = Backoff::default();
    let mut buf = Vec::with_capacity(MAX_WRITE);
    let mut count = 0u64;
    loop {
        if buf.is_empty() {
            let Some(first) = rx.recv().await else { break };
            frame(&mut buf, &s, &hostname, &first);
            count = 1;
            while buf.len() < MAX_WRITE {
                let Ok(next) = rx.try_recv() else { break };
                frame(&mut buf, &s, &hostname, &next);
                count += 1;
            }
        }
        if conn.is_none() {
            match connect(&s).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::warn!(target: "portcullis::audit", error = %e, address = %s.address, "syslog receiver unreachable; retrying");
                    backoff.wait().await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let sent = async {
            c.write_all(&buf).await?;
            c.flush().await
        };
        match sent.await {
            Ok(()) => {
                shared.remote_sent.fetch_add(count, Ordering::Relaxed);
                buf.clear();
                backoff.reset();
            }
            Err(e) => {
                tracing::warn!(target: "portcullis::audit", error = %e, "syslog send failed; reconnecting");
                conn = None;
                backoff.wait().await;
            }
        }
    }
    if let Some(mut c) = conn {
        let _ = c.shutdown().await;
    }
}
