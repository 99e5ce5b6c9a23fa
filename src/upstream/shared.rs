//! Long-lived upstream connections: stdio processes and legacy HTTP+SSE
//! sessions. A replica holds one per upstream and multiplexes every client
//! over it; the broker uses both the same way, through [`Connection`]. They outlive configuration snapshots: a
//! reload starts the new ones, stops the removed ones and restarts only those
//! whose settings changed.

use super::mux::Exchange;
use super::sse::SseUpstream;
use super::stdio::StdioUpstream;
use super::supervised::{Health, LinkError, Offer, Session};
use crate::config::{Federation, Transport};
use crate::protocol::{Message, ParseLimits};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// A long-lived connection to one upstream.
#[derive(Debug, Clone)]
pub enum Connection {
    /// A stdio process.
    Stdio(Arc<StdioUpstream>),
    /// A legacy HTTP+SSE session.
    Sse(Arc<SseUpstream>),
}

impl Connection {
    /// The current health.
    pub fn health(&self) -> Health {
        match self {
            Connection::Stdio(up) => up.health(),
            Connection::Sse(up) => up.health(),
        }
    }

    /// A receiver that sees every health change.
    pub fn watch_health(&self) -> watch::Receiver<Health> {
        match self {
            Connection::Stdio(up) => up.watch_health(),
            Connection::Sse(up) => up.watch_health(),
        }
    }

    /// Waits for a connection that is starting; fails at once when it is down.
    pub async fn ready(&self) -> Result<(), LinkError> {
        match self {
            Connection::Stdio(up) => up.ready().await,
            Connection::Sse(up) => up.ready().await,
        }
    }

    /// What the server said in the current handshake.
    pub fn session(&self) -> Option<Arc<Session>> {
        match self {
            Connection::Stdio(up) => up.session(),
            Connection::Sse(up) => up.session(),
        }
    }

    /// What the gateway offers in the handshake (for the 2026-07-28 envelope).
    pub fn offer(&self) -> Offer {
        match self {
            Connection::Stdio(up) => up.offer(),
            Connection::Sse(up) => up.offer(),
        }
    }

    /// Sends a client request with the upstream's deadline; refused while not up.
    pub async fn request(&self, message: &Message) -> Result<Exchange, LinkError> {
        match self {
            Connection::Stdio(up) => up.request(message).await,
            Connection::Sse(up) => up.request(message).await,
        }
    }

    /// Sends a client notification; refused while not up.
    pub async fn notify(&self, message: &Message) -> Result<(), LinkError> {
        match self {
            Connection::Stdio(up) => up.notify(message).await,
            Connection::Sse(up) => up.notify(message).await,
        }
    }
}

#[derive(Debug)]
struct Entry {
    fingerprint: String,
    connection: Connection,
}

/// Every long-lived connection of this replica, by upstream name.
#[derive(Debug, Default)]
pub struct Connections {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Connections {
    /// Brings the connections in line with `federation`: starts the new ones,
    /// restarts the changed ones, stops the removed ones.
    /// Returns the connections it started.
    /// `parse` bounds every message read, `max_event` every SSE event.
    pub fn reconcile(
        &self,
        federation: &Federation,
        parse: ParseLimits,
        max_event: usize,
    ) -> Vec<(String, Connection)> {
        let mut started = Vec::new();
        let Ok(mut entries) = self.entries.lock() else {
            return started;
        };
        let mut keep: Vec<String> = Vec::new();
        for spec in &federation.upstreams {
            // Settings print without secret values; a changed secret file is
            // noticed through the watched files and restarts on the next change.
            let fingerprint = match &spec.transport {
                Transport::Http(_) => continue,
                Transport::Stdio(settings) => format!("{settings:?}"),
                Transport::Sse(settings) => format!("{settings:?}"),
            };
            keep.push(spec.name.clone());
            if entries
                .get(&spec.name)
                .is_some_and(|e| e.fingerprint == fingerprint)
            {
                continue;
            }
            let connection = match &spec.transport {
                Transport::Stdio(settings) => {
                    tracing::info!(upstream = %spec.name, "starting a stdio upstream");
                    let up = StdioUpstream::start(&spec.name, settings.clone(), parse);
                    Connection::Stdio(Arc::new(up))
                }
                Transport::Sse(settings) => {
                    tracing::info!(upstream = %spec.name, url = %settings.url, "opening an HTTP+SSE upstream");
                    let up = SseUpstream::start(&spec.name, settings, parse, max_event);
                    Connection::Sse(Arc::new(up))
                }
                Transport::Http(_) => continue,
            };
            started.push((spec.name.clone(), connection.clone()));
            if let Some(old) = entries.insert(
                spec.name.clone(),
                Entry {
                    fingerprint,
                    connection,
                },
            ) {
                stop(old.connection);
            }
        }
        let removed: Vec<String> = entries
            .keys()
            .filter(|k| !keep.contains(k))
            .cloned()
            .collect();
        for name in removed {
            if let Some(old) = entries.remove(&name) {
                tracing::info!(upstream = %name, "stopping a removed upstream");
                stop(old.connection);
            }
        }
        started
    }

    /// The connection of the upstream named `name`.
    pub fn get(&self, name: &str) -> Option<Connection> {
        self.entries
            .lock()
            .ok()?
            .get(name)
            .map(|e| e.connection.clone())
    }

    /// Stops every connection (gateway shutdown).
    pub async fn shutdown(&self) {
        let drained: Vec<Entry> = match self.entries.lock() {
            Ok(mut entries) => entries.drain().map(|(_, e)| e).collect(),
            Err(_) => Vec::new(),
        };
        for entry in drained {
            match entry.connection {
                Connection::Stdio(upstream) => {
                    if let Ok(upstream) = Arc::try_unwrap(upstream) {
                        upstream.shutdown().await;
                    }
                }
                Connection::Sse(upstream) => {
                    if let Ok(upstream) = Arc::try_unwrap(upstream) {
                        upstream.shutdown().await;
                    }
                }
            }
        }
    }
}

fn stop(connection: Connection) {
    match connection {
        // Dropping the last handle stops the process (stdin closed, SIGTERM,
        // SIGKILL after its bound); requests still holding it finish first.
        Connection::Stdio(upstream) => drop(upstream),
        // Likewise: the last handle closes the event stream.
        Connection::Sse(upstream) => drop(upstream),
    }
}
