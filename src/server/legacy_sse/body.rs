//! The body of a legacy GET stream: the events queued for it, until the client
//! goes away, the stream is closed (slow reader) or the gateway drains.
//!
//! Dropping the body (the client disconnected, or hyper finished the response)
//! closes the stream and removes it from the registry, so no POST can queue
//! events nobody will read. A comment line is sent every [`KEEP_ALIVE`] when
//! nothing else is: intermediaries keep the stream open, and a client that
//! vanished without closing its connection is found out by the failed write
//! instead of holding one of the `max_streams` slots forever.

use super::streams::{Stream, Streams};
use crate::pipeline::body::BodyError;
use bytes::Bytes;
use http_body::Frame;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// How long a stream may go without a byte before a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The events of one stream, as a response body.
pub struct EventBody {
    streams: Arc<Streams>,
    stream: Arc<Stream>,
    events: mpsc::Receiver<Bytes>,
    drain: Pin<Box<dyn Future<Output = ()> + Send>>,
    keep_alive: Interval,
}

impl EventBody {
    /// The body reading `events` of `stream`; it ends when `drain` completes.
    pub fn new(
        streams: Arc<Streams>,
        stream: Arc<Stream>,
        events: mpsc::Receiver<Bytes>,
        drain: impl Future<Output = ()> + Send + 'static,
    ) -> EventBody {
        let mut keep_alive = tokio::time::interval_at(Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
        keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);
        EventBody {
            streams,
            stream,
            events,
            drain: Box::pin(drain),
            keep_alive,
        }
    }
}

impl http_body::Body for EventBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.stream.is_closed() || this.drain.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        match this.events.poll_recv(cx) {
            Poll::Ready(Some(bytes)) => {
                this.keep_alive.reset();
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.keep_alive.poll_tick(cx) {
                Poll::Ready(_) => Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
                    b": keep-alive\n\n",
                ))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl Drop for EventBody {
    fn drop(&mut self) {
        self.stream.close();
        self.streams.remove(&self.stream.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test(start_paused = true)]
    async fn an_idle_stream_gets_keep_alives_and_a_dropped_one_is_forgotten() {
        let streams = Arc::new(Streams::default());
        let caps = crate::server::legacy_sse::streams::Caps {
            total: 4,
            per_principal: 4,
            queue: 4,
        };
        let (stream, events) = streams.open(None, caps).unwrap();
        assert!(stream.send(Bytes::from_static(b"event: endpoint\ndata: x\n\n")));
        let mut body = EventBody::new(
            Arc::clone(&streams),
            Arc::clone(&stream),
            events,
            std::future::pending(),
        );
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert!(first.starts_with(b"event: endpoint"));
        let idle = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(idle, Bytes::from_static(b": keep-alive\n\n"));
        assert_eq!(streams.len(), 1);
        drop(body);
        assert!(streams.is_empty());
        assert!(stream.is_closed());
    }
}
