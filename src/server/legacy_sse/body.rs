//! The body of a legacy GET stream: the events queued for it, until the client
//! goes away, the stream is closed (slow reader) or the gateway drains.
//!
//! Dropping the body (the client disconnected, or hyper finished the response)
//! closes the stream and removes it from the registry, so no POST can queue
//! events nobody will read.

use super::streams::{Stream, Streams};
use crate::pipeline::body::BodyError;
use bytes::Bytes;
use http_body::Frame;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// The events of one stream, as a response body.
pub struct EventBody {
    streams: Arc<Streams>,
    stream: Arc<Stream>,
    events: mpsc::Receiver<Bytes>,
    drain: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl EventBody {
    /// The body reading `events` of `stream`; it ends when `drain` completes.
    pub fn new(
        streams: Arc<Streams>,
        stream: Arc<Stream>,
        events: mpsc::Receiver<Bytes>,
        drain: impl Future<Output = ()> + Send + 'static,
    ) -> EventBody {
        EventBody {
            streams,
            stream,
            events,
            drain: Box::pin(drain),
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
        this.events
            .poll_recv(cx)
            .map(|event| event.map(|bytes| Ok(Frame::data(bytes))))
    }
}

impl Drop for EventBody {
    fn drop(&mut self) {
        self.stream.close();
        self.streams.remove(&self.stream.id);
    }
}
