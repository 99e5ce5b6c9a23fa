//! Long-lived upstream connections: stdio processes (and, with the HTTP+SSE
//! transport, its event streams). A replica holds one per upstream and
//! multiplexes every client over it. They outlive configuration snapshots: a
//! reload starts the new ones, stops the removed ones and restarts only those
//! whose settings changed.

use super::stdio::StdioUpstream;
use crate::config::{Federation, Transport};
use crate::protocol::ParseLimits;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A long-lived connection to one upstream.
#[derive(Debug, Clone)]
pub enum Connection {
    /// A stdio process.
    Stdio(Arc<StdioUpstream>),
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
    pub fn reconcile(
        &self,
        federation: &Federation,
        parse: ParseLimits,
    ) -> Vec<(String, Arc<StdioUpstream>)> {
        let mut started = Vec::new();
        let Ok(mut entries) = self.entries.lock() else {
            return started;
        };
        let mut keep: Vec<String> = Vec::new();
        for spec in &federation.upstreams {
            let Transport::Stdio(settings) = &spec.transport else {
                continue;
            };
            // Settings print without secret values; a changed secret file is
            // noticed through the watched files and restarts on the next change.
            let fingerprint = format!("{settings:?}");
            keep.push(spec.name.clone());
            if entries
                .get(&spec.name)
                .is_some_and(|e| e.fingerprint == fingerprint)
            {
                continue;
            }
            let upstream = Arc::new(StdioUpstream::start(&spec.name, settings.clone(), parse));
            tracing::info!(upstream = %spec.name, "starting a stdio upstream");
            started.push((spec.name.clone(), Arc::clone(&upstream)));
            if let Some(old) = entries.insert(
                spec.name.clone(),
                Entry {
                    fingerprint,
                    connection: Connection::Stdio(upstream),
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
            }
        }
    }
}

fn stop(connection: Connection) {
    match connection {
        // Dropping the last handle stops the process (stdin closed, SIGTERM,
        // SIGKILL after its bound); requests still holding it finish first.
        Connection::Stdio(upstream) => drop(upstream),
    }
}
