//! Connection caps, global and per client address. A connection over either cap
//! is closed as soon as it is accepted, before any byte is read: under a flood the
//! cheapest answer is no answer. The caps are read from the current configuration
//! at each accept, so a reload changes them for new connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Counts of open connections.
#[derive(Debug, Default)]
pub struct ConnectionLimits {
    total: AtomicUsize,
    per_client: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; releases its slot when dropped.
#[derive(Debug)]
pub struct Slot {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl ConnectionLimits {
    /// Admits a connection from `ip` if both caps allow it.
    pub fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        max_total: usize,
        max_per_client: usize,
    ) -> Option<Slot> {
        let mut per_client = self.per_client.lock().ok()?;
        let count = per_client.entry(ip).or_insert(0);
        if *count >= max_per_client || self.total.load(Ordering::Relaxed) >= max_total {
            if *count == 0 {
                per_client.remove(&ip);
            }
            return None;
        }
        *count += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            limits: Arc::clone(self),
            ip,
        })
    }

    /// Open connections.
    pub fn open(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.limits.total.fetch_sub(1, Ordering::Relaxed);
        if let Ok(mut per_client) = self.limits.per_client.lock()
            && let Some(count) = per_client.get_mut(&self.ip)
        {
            *count -= 1;
            if *count == 0 {
                per_client.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_apply_globally_and_per_client_and_slots_are_released() {
        let limits = Arc::new(ConnectionLimits::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = limits.admit(a, 3, 2).unwrap();
        let _s2 = limits.admit(a, 3, 2).unwrap();
        assert!(limits.admit(a, 3, 2).is_none(), "per-client cap");
        let _s3 = limits.admit(b, 3, 2).unwrap();
        assert!(limits.admit(b, 3, 2).is_none(), "global cap");
        drop(s1);
        let _s4 = limits.admit(b, 3, 2).unwrap();
        assert_eq!(limits.open(), 3);
    }
}
