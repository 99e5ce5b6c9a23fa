//! The handle a transport's public type wraps: it starts the supervisor task,
//! watches the health it publishes, refuses traffic while the connection is not
//! up, and stops the task when asked or when dropped.
//!
//! Invariants: no request or notification passes [`Handle`] unless the health
//! is [`Health::Up`] at that moment (the [`Mux`] itself still refuses client
//! traffic before the handshake); the supervisor is told to stop exactly when
//! the handle goes away, whichever way it goes.

use super::{Health, LinkError, Session};
use crate::protocol::Message;
use crate::upstream::mux::{Exchange, Mux};
use arc_swap::ArcSwapOption;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a transport's supervisor task shares with the handle: where it
/// publishes health and the session, and where it learns that it must stop.
#[derive(Debug)]
pub struct Wiring {
    /// Publishes every health change.
    pub health: watch::Sender<Health>,
    /// Holds what the server said in the current session's handshake.
    pub session: Arc<ArcSwapOption<Session>>,
    /// Turns `true` (or closes) when the supervisor must stop.
    pub stop: watch::Receiver<bool>,
}

/// One supervised connection as its users see it. Dropping it tells the
/// supervisor to stop (the transport decides what stopping means).
#[derive(Debug)]
pub struct Handle {
    name: Arc<str>,
    mux: Mux,
    health: watch::Receiver<Health>,
    session: Arc<ArcSwapOption<Session>>,
    stop: watch::Sender<bool>,
    supervisor: Option<JoinHandle<()>>,
}

impl Handle {
    /// Spawns the supervisor task that `supervise` builds from the [`Wiring`].
    /// Health starts as [`Health::Starting`] (attempt 1); must be called inside
    /// a Tokio runtime.
    pub fn start<F>(name: Arc<str>, mux: Mux, supervise: impl FnOnce(Wiring) -> F) -> Handle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (health_tx, health) = watch::channel(Health::Starting { attempt: 1 });
        let (stop, stop_rx) = watch::channel(false);
        let session = Arc::new(ArcSwapOption::empty());
        let task = supervise(Wiring {
            health: health_tx,
            session: session.clone(),
            stop: stop_rx,
        });
        Handle {
            name,
            mux,
            health,
            session,
            stop,
            supervisor: Some(tokio::spawn(task)),
        }
    }

    /// The upstream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The multiplexer (for notifications and direct use; prefer [`Self::request`]).
    pub fn mux(&self) -> &Mux {
        &self.mux
    }

    /// The current health.
    pub fn health(&self) -> Health {
        self.health.borrow().clone()
    }

    /// A receiver that sees every health change.
    pub fn watch_health(&self) -> watch::Receiver<Health> {
        self.health.clone()
    }

    /// What the server said in the current session's handshake.
    pub fn session(&self) -> Option<Arc<Session>> {
        self.session.load_full()
    }

    /// Waits until the upstream is up. Fails with [`LinkError::Unavailable`]
    /// naming the last health when `within` passes first.
    pub async fn wait_up(&self, within: Duration) -> Result<(), LinkError> {
        let mut health = self.health.clone();
        match tokio::time::timeout(within, health.wait_for(Health::is_up)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(self.unavailable()),
        }
    }

    /// Waits for a connection that is starting (at most `startup`), so that the
    /// first requests after a (re)start are served rather than refused; one that
    /// is down fails at once with [`LinkError::Unavailable`].
    pub async fn ready(&self, startup: Duration) -> Result<(), LinkError> {
        let mut health = self.health.clone();
        let settled = health.wait_for(|h| !matches!(h, Health::Starting { .. }));
        match tokio::time::timeout(startup, settled).await {
            Ok(Ok(h)) if h.is_up() => Ok(()),
            _ => Err(self.unavailable()),
        }
    }

    /// Sends a client request that must be answered within `deadline`.
    /// Refused with [`LinkError::Unavailable`] while not up.
    pub async fn request(
        &self,
        message: &Message,
        deadline: Duration,
    ) -> Result<Exchange, LinkError> {
        if !self.health.borrow().is_up() {
            return Err(self.unavailable());
        }
        Ok(self.mux.request(message, deadline).await?)
    }

    /// Sends a client notification. Refused with [`LinkError::Unavailable`]
    /// while not up.
    pub async fn notify(&self, message: &Message) -> Result<(), LinkError> {
        if !self.health.borrow().is_up() {
            return Err(self.unavailable());
        }
        Ok(self.mux.notify(message).await?)
    }

    /// The refusal for the current health.
    fn unavailable(&self) -> LinkError {
        LinkError::unavailable(&self.name, &self.health.borrow())
    }

    /// Tells the supervisor to stop and waits until its task has ended.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(supervisor) = self.supervisor.take() {
            let _ = supervisor.await;
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // The supervisor sees the stop (or the closed channel) and ends its
        // connection; the task itself is left to finish on its own.
        self.stop.send_replace(true);
    }
}
