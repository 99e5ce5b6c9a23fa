//! Several upstream streams as one: the chunks of each (whole SSE events, as
//! [`super::super::sse_body::SseBody`] yields them) interleaved as they come.
//! Used for a federated legacy GET stream and a federated
//! `subscriptions/listen`. Ends when every part has ended.

use super::super::body::{BodyError, GatewayBody};
use bytes::Bytes;
use http_body::{Body, Frame};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Interleaves the parts' frames.
pub struct Merged {
    parts: Vec<Option<GatewayBody>>,
    next: usize,
}

impl Merged {
    /// Merges `parts`.
    pub fn new(parts: Vec<GatewayBody>) -> Merged {
        Merged {
            parts: parts.into_iter().map(Some).collect(),
            next: 0,
        }
    }
}

impl Body for Merged {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let n = this.parts.len();
        let mut open = 0;
        // Round robin from where the last frame came, so no part starves.
        for step in 0..n {
            let i = (this.next + step) % n;
            let Some(part) = this.parts.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            open += 1;
            match Pin::new(part).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    this.next = (i + 1) % n;
                    return Poll::Ready(Some(Ok(frame)));
                }
                Poll::Ready(Some(Err(e))) => {
                    tracing::debug!(error = %e, "a merged upstream stream failed");
                    this.parts[i] = None;
                }
                Poll::Ready(None) => this.parts[i] = None,
                Poll::Pending => {}
            }
        }
        if open == 0 || this.parts.iter().all(Option::is_none) {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}
