//! The legacy HTTP+SSE streams open on this replica: who opened each, the
//! sealed session the pipeline gave it, and the queue its events wait in.
//!
//! Invariants: at most `max_streams` entries, and at most
//! `max_streams_per_principal` of one authenticated principal (so that one
//! token cannot take every slot); a queue holds at most
//! `max_queued_messages` events, and a stream whose reader falls further behind
//! is closed (its reader sees the end of the stream) instead of growing; a
//! stream leaves the registry as soon as its GET response is dropped. Nothing
//! here is shared between replicas: a load balancer must send a client's POSTs
//! to the replica holding its GET.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

/// Every open legacy stream, by its id (the `sessionId` of the POST endpoint).
#[derive(Debug, Default)]
pub struct Streams {
    open: Mutex<HashMap<String, Arc<Stream>>>,
}

/// One client's GET stream.
#[derive(Debug)]
pub struct Stream {
    /// The random id the client names in `?sessionId=`.
    pub id: String,
    /// Who opened it ([`crate::pipeline::session::binding`] of the principal).
    binding: Option<String>,
    /// The sealed `Mcp-Session-Id` the pipeline minted at `initialize`.
    session: Mutex<Option<String>>,
    /// Where events go; `None` once the stream is closed.
    sender: Mutex<Option<mpsc::Sender<Bytes>>>,
    closed: AtomicBool,
}

/// How many streams may be open, and how long their queues are.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Streams on this replica.
    pub total: usize,
    /// Streams of one authenticated principal. Streams opened without
    /// authentication share no principal and are bounded by `total` only.
    pub per_principal: usize,
    /// Events waiting for one reader.
    pub queue: usize,
}

/// Why a stream could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// `max_streams` streams are open already.
    #[error("too many legacy SSE streams are open")]
    Full,
    /// The principal holds `max_streams_per_principal` streams already.
    #[error("the principal holds too many legacy SSE streams")]
    PrincipalFull,
    /// The system gave no randomness for the stream id.
    #[error("no randomness for a stream id")]
    Random,
}

impl Streams {
    /// Opens a stream for the principal bound as `binding`; the receiver is
    /// what the GET response reads from.
    pub fn open(
        &self,
        binding: Option<String>,
        caps: Caps,
    ) -> Result<(Arc<Stream>, mpsc::Receiver<Bytes>), OpenError> {
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| OpenError::Random)?;
        let (sender, receiver) = mpsc::channel(caps.queue.max(1));
        let stream = Arc::new(Stream {
            id: hex::encode(bytes),
            binding,
            session: Mutex::new(None),
            sender: Mutex::new(Some(sender)),
            closed: AtomicBool::new(false),
        });
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        // The principal's own cap first: whoever holds many is told so (429),
        // whatever the replica's state.
        if stream.binding.is_some() {
            let held = open
                .values()
                .filter(|s| s.binding == stream.binding)
                .count();
            if held >= caps.per_principal {
                return Err(OpenError::PrincipalFull);
            }
        }
        if open.len() >= caps.total {
            return Err(OpenError::Full);
        }
        open.insert(stream.id.clone(), Arc::clone(&stream));
        Ok((stream, receiver))
    }

    /// The open stream `id`, if the principal bound as `binding` opened it.
    /// A stream of someone else reads exactly like one that does not exist.
    pub fn find(&self, id: &str, binding: &Option<String>) -> Option<Arc<Stream>> {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(id)
            .filter(|s| !s.is_closed() && s.binding == *binding)
            .cloned()
    }

    /// Forgets stream `id`.
    pub fn remove(&self, id: &str) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.remove(id);
    }

    /// How many streams are open.
    pub fn len(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no stream is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Stream {
    /// Queues one SSE event. A full queue closes the stream (the reader is too
    /// slow); returns whether the event was queued.
    pub fn send(&self, event: Bytes) -> bool {
        let guard = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(sender) = guard.as_ref() else {
            return false;
        };
        let sent = sender.try_send(event);
        drop(guard);
        match sent {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(stream = %self.id, "legacy SSE reader too slow: stream closed");
                self.close();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Ends the stream: its reader sees the end at once, later sends fail.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        // Dropping the last sender wakes the reader.
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Whether the stream was closed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Whether nothing can reach the client any more: closed here, or its
    /// GET response dropped (the client left).
    pub fn is_gone(&self) -> bool {
        self.is_closed()
            || self
                .sender
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .is_none_or(mpsc::Sender::is_closed)
    }

    /// The sealed session id the pipeline gave this stream's client, if any.
    pub fn session(&self) -> Option<String> {
        self.session
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Keeps the session id the pipeline minted (at `initialize`).
    pub fn set_session(&self, session: String) {
        *self.session.lock().unwrap_or_else(PoisonError::into_inner) = Some(session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(total: usize, per_principal: usize) -> Caps {
        Caps {
            total,
            per_principal,
            queue: 2,
        }
    }

    #[test]
    fn streams_are_bounded_bound_to_their_principal_and_close_on_overflow() {
        let streams = Streams::default();
        let alice = Some("alice".to_owned());
        let (stream, mut events) = streams.open(alice.clone(), caps(1, 5)).unwrap();
        assert!(matches!(
            streams.open(Some("bob".into()), caps(1, 5)),
            Err(OpenError::Full)
        ));
        assert!(streams.find(&stream.id, &alice).is_some());
        assert!(streams.find(&stream.id, &Some("bob".into())).is_none());
        assert!(streams.find(&stream.id, &None).is_none());
        assert!(stream.send(Bytes::from_static(b"1")));
        assert!(stream.send(Bytes::from_static(b"2")));
        assert!(
            !stream.send(Bytes::from_static(b"3")),
            "a full queue closes"
        );
        assert!(stream.is_closed());
        assert!(streams.find(&stream.id, &alice).is_none());
        assert_eq!(events.try_recv().ok(), Some(Bytes::from_static(b"1")));
        streams.remove(&stream.id);
        assert!(streams.is_empty());
    }

    #[test]
    fn one_principal_holds_at_most_its_cap_and_others_still_open() {
        let streams = Streams::default();
        let alice = Some("alice".to_owned());
        let first = streams.open(alice.clone(), caps(10, 2)).unwrap();
        let _second = streams.open(alice.clone(), caps(10, 2)).unwrap();
        assert!(matches!(
            streams.open(alice.clone(), caps(10, 2)),
            Err(OpenError::PrincipalFull)
        ));
        // Over both caps, the principal's own is the answer.
        assert!(matches!(
            streams.open(alice.clone(), caps(2, 2)),
            Err(OpenError::PrincipalFull)
        ));
        assert!(streams.open(Some("bob".into()), caps(10, 2)).is_ok());
        // Without authentication there is no principal to count against.
        for _ in 0..3 {
            assert!(streams.open(None, caps(10, 2)).is_ok());
        }
        streams.remove(&first.0.id);
        assert!(streams.open(alice, caps(10, 2)).is_ok(), "a slot freed");
    }
}
