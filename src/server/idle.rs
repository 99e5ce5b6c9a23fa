//! Idle connections. hyper closes an HTTP/1.1 connection idle between requests
//! at its header-read timeout, but has no idle timeout for HTTP/2: a client that
//! answers keep-alive PINGs could hold a connection (and its slot under the
//! connection caps) forever with no stream open. Each connection therefore
//! counts its requests in progress, a request lasting until its response body
//! is finished or dropped, and is asked to close once it has had none for the
//! idle bound.

use crate::pipeline::body::{BodyError, GatewayBody};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;

/// The requests in progress on one connection.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    active: AtomicUsize,
    /// When the last request ended, in milliseconds since `started`.
    quiet_since_ms: AtomicU64,
}

impl Activity {
    /// A connection that has just opened (idle from now).
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            started: Instant::now(),
            active: AtomicUsize::new(0),
            quiet_since_ms: AtomicU64::new(0),
        })
    }

    /// Marks a request in progress until the returned guard drops.
    pub fn begin(self: &Arc<Self>) -> InProgress {
        self.active.fetch_add(1, Ordering::SeqCst);
        InProgress(Arc::clone(self))
    }

    /// How long the connection has had no request in progress (`None`: busy).
    fn quiet_for(&self) -> Option<Duration> {
        if self.active.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let since = Duration::from_millis(self.quiet_since_ms.load(Ordering::SeqCst));
        Some(self.started.elapsed().saturating_sub(since))
    }

    /// Completes once the connection has been idle for `bound`.
    pub async fn idle_for(&self, bound: Duration) {
        loop {
            let wait = match self.quiet_for() {
                Some(quiet) if quiet >= bound => return,
                Some(quiet) => bound - quiet,
                None => bound,
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// One request in progress.
#[derive(Debug)]
pub struct InProgress(Arc<Activity>);

impl Drop for InProgress {
    fn drop(&mut self) {
        let now = u64::try_from(self.0.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.quiet_since_ms.store(now, Ordering::SeqCst);
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request in progress until it is finished
/// (or dropped, when the client goes away).
pub fn tracked(body: GatewayBody, request: InProgress) -> GatewayBody {
    Tracked {
        inner: body,
        _request: request,
    }
    .boxed_unsync()
}

struct Tracked {
    inner: GatewayBody,
    _request: InProgress,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_idle_only_after_its_last_response_body_ends() {
        let activity = Activity::new();
        let request = activity.begin();
        let body = tracked(
            crate::pipeline::body::full(Bytes::from_static(b"x")),
            request,
        );
        let bound = Duration::from_secs(10);
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(
            activity.quiet_for().is_none(),
            "busy while the body is held"
        );
        let waiting = tokio::spawn({
            let activity = Arc::clone(&activity);
            async move { activity.idle_for(bound).await }
        });
        drop(body);
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert!(!waiting.is_finished(), "not idle before the bound");
        tokio::time::sleep(Duration::from_secs(2)).await;
        tokio::task::yield_now().await;
        assert!(waiting.is_finished(), "idle after the bound");
    }
}
