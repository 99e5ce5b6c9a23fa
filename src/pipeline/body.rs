//! Bodies in both directions: the response body type the gateway serves, and the
//! bounded, timed read of a request body.

use super::respond::Rejection;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, Limited};
use std::time::Duration;

/// An error inside a response body stream; hyper resets the stream on it.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// Every response body the gateway produces.
pub type GatewayBody = UnsyncBoxBody<Bytes, BodyError>;

/// A complete body from bytes.
pub fn full(bytes: Bytes) -> GatewayBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> GatewayBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A request body the pipeline can read: what hyper received, or a body the
/// gateway built itself (the legacy HTTP+SSE adapter's internal requests).
pub trait RequestBody:
    http_body::Body<Data = Bytes, Error: Into<BodyError>> + Send + 'static
{
}

impl<B> RequestBody for B where
    B: http_body::Body<Data = Bytes, Error: Into<BodyError>> + Send + 'static
{
}

/// Reads a whole body, refusing more than `max` bytes or taking longer than `within`.
pub async fn read_bounded<B>(body: B, max: usize, within: Duration) -> Result<Bytes, Rejection>
where
    B: RequestBody,
{
    // A declared Content-Length over the bound is refused before waiting for it.
    if usize::try_from(http_body::Body::size_hint(&body).lower()).unwrap_or(usize::MAX) > max {
        return Err(Rejection::BodyTooLarge(max));
    }
    let limited = Limited::new(body, max);
    match tokio::time::timeout(within, limited.collect()).await {
        Err(_) => Err(Rejection::BodyTimeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            Err(Rejection::BodyTooLarge(max))
        }
        Ok(Err(e)) => Err(Rejection::BodyUnreadable(e.to_string())),
    }
}
