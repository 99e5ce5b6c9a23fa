//! Reloading configuration on change (polling the watched files) and on SIGHUP.
//! A reload that fails keeps the running configuration and logs why; a reload
//! that succeeds applies to every request that starts after it.

use crate::config::{self, reload::FileWatch};
use crate::pipeline::Shared;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// Watches until the gateway drains.
pub async fn watch(shared: Arc<Shared>, mut drain: watch::Receiver<bool>) {
    let running = shared.snapshot().config.clone();
    let file = running.file.clone();
    let mut files = FileWatch::new(&running.watched);
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; reload only by file change");
            None
        }
    };
    loop {
        let poll = shared.snapshot().config.poll_interval;
        tokio::select! {
            _ = tokio::time::sleep(poll.unwrap_or(Duration::from_secs(3600))), if poll.is_some() => {
                if !files.changed() {
                    continue;
                }
            }
            Some(()) = async { match hangup.as_mut() { Some(s) => s.recv().await, None => None } } => {
                files.changed();
                tracing::info!("SIGHUP: reloading configuration");
            }
            _ = super::drained(&mut drain) => return,
        }
        match config::load(&file) {
            Ok(next) => {
                let current = shared.snapshot().config.clone();
                if next.listen.address != current.listen.address || next.admin != current.admin {
                    tracing::warn!("listener addresses changed: they take effect after a restart");
                }
                if next.logging != current.logging {
                    tracing::warn!("logging settings changed: they take effect after a restart");
                }
                files = FileWatch::new(&next.watched);
                shared.install(next);
                shared.metrics.reload(true);
                tracing::info!(file = %file.display(), "configuration reloaded");
                shared.audit_event(reloaded(&shared, true, None));
            }
            Err(e) => {
                shared.metrics.reload(false);
                tracing::error!(error = %e, "configuration reload failed; keeping the running configuration");
                shared.audit_event(reloaded(&shared, false, Some(e.to_string())));
            }
        }
    }
}

/// The audit event of a reload: whether the new configuration is in force, the
/// policy set version in force after it, and why it failed.
fn reloaded(shared: &Shared, ok: bool, error: Option<String>) -> crate::audit::AuditRecord {
    let version = shared
        .snapshot()
        .config
        .authorization
        .as_ref()
        .map(|e| e.version.to_string());
    crate::audit::AuditRecord::now(crate::audit::RecordKind::Gateway(
        crate::audit::GatewayEvent::Reload {
            what: "config".into(),
            ok,
            version,
            error,
        },
    ))
}
