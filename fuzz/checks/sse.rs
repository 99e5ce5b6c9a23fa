//! SSE decoding (`protocol::sse::Decoder`), fed in arbitrary chunks.
//!
//! Input: one byte picks the event bound, one byte seeds the chunk sizes, the
//! rest is the stream. Beyond "no panic": the events and the error do not
//! depend on how the stream was cut; each event's bytes are exactly the next
//! bytes of the stream and fit the bound; what is buffered while waiting for
//! more never exceeds the bound (memory stays bounded); and each event's data,
//! parsed as a JSON-RPC message (as the gateway does), never panics.
//!
//! Shared by the libFuzzer target (`fuzz/fuzz_targets/sse.rs`) and the CI
//! smoke test (`tests/fuzz_smoke.rs`), which runs it on the committed seeds
//! and on deterministic mutations of them.

use portcullis::protocol::ParseLimits;
use portcullis::protocol::jsonrpc;
use portcullis::protocol::sse::{Decoder, Event, SseError};

/// Runs every check on one input; panics when an invariant fails.
pub fn check(data: &[u8]) {
    let [bound, seed, stream @ ..] = data else {
        return;
    };
    let max_event = 8 + usize::from(*bound) * 4;
    let whole = decode(stream, max_event, &mut |_| stream.len());
    let mut state = u32::from(*seed) | 1;
    let chunked = decode(stream, max_event, &mut |left| {
        // xorshift: chunk sizes 1..=16, reproducible from the seed.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state as usize % 16 + 1).min(left)
    });
    assert_eq!(whole.0, chunked.0, "events depend on chunking");
    assert_eq!(whole.1, chunked.1, "the error depends on chunking");
    let limits = ParseLimits::default();
    for event in &whole.0 {
        let _ = jsonrpc::parse_message(event.data.as_bytes(), &limits);
    }
}

/// Decodes `stream` pushed in chunks of `next_len(remaining)` bytes.
fn decode(
    stream: &[u8],
    max_event: usize,
    next_len: &mut dyn FnMut(usize) -> usize,
) -> (Vec<Event>, Option<SseError>) {
    let mut decoder = Decoder::new(max_event);
    let mut events: Vec<Event> = Vec::new();
    let mut consumed = 0;
    let mut offset = 0;
    while offset < stream.len() {
        let len = next_len(stream.len() - offset).max(1);
        decoder.push(&stream[offset..offset + len]);
        offset += len;
        loop {
            match decoder.next_event() {
                Ok(Some(event)) => {
                    let raw = event.raw.as_ref();
                    assert!(raw.len() <= max_event, "an event beyond the bound");
                    assert_eq!(raw, &stream[consumed..consumed + raw.len()], "event bytes");
                    assert!(raw.ends_with(b"\n") || raw.ends_with(b"\r"));
                    consumed += raw.len();
                    events.push(event);
                }
                Ok(None) => {
                    assert!(decoder.pending_len() <= max_event, "unbounded buffering");
                    assert_eq!(consumed + decoder.pending_len(), offset, "bytes lost");
                    break;
                }
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, None)
}
