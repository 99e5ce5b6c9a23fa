//! Incremental Server-Sent Events framing (WHATWG HTML, "event stream" parsing).
//!
//! The decoder cuts a byte stream into events as they complete, so the gateway can
//! inspect and forward each one as soon as its terminating blank line arrives,
//! without buffering the stream. Each event keeps its exact bytes: an event that
//! passes inspection is forwarded unchanged. One event may not grow beyond a bound;
//! past it the decoder fails, and the caller ends the stream (fail closed) rather
//! than hold an unbounded amount of memory or forward what it could not inspect.
//!
//! Lines end with CRLF, LF or CR. A CR at the very end of the buffered bytes might
//! be the first half of a CRLF, so it is only treated as a line end once the next
//! byte has arrived.

use bytes::{Bytes, BytesMut};

/// One complete event: its exact bytes and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The bytes of the event, including the blank line that ended it.
    pub raw: Bytes,
    /// The `data` lines joined with `\n`; empty for comment-only or priming events.
    pub data: String,
    /// The `event` field, if any.
    pub event: Option<String>,
    /// The `id` field, if any.
    pub id: Option<String>,
    /// The `retry` field, if it is a valid integer.
    pub retry: Option<u64>,
}

/// Why a stream cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// One event grew beyond the configured bound.
    #[error("an SSE event exceeds {0} bytes")]
    EventTooLarge(usize),
    /// A line is not UTF-8.
    #[error("an SSE event is not valid UTF-8")]
    InvalidUtf8,
}

/// The incremental decoder.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    /// Where the next unscanned line starts within `buf`.
    scan: usize,
    max_event: usize,
}

impl Decoder {
    /// A decoder that refuses events larger than `max_event` bytes.
    pub fn new(max_event: usize) -> Decoder {
        Decoder {
            buf: BytesMut::new(),
            scan: 0,
            max_event,
        }
    }

    /// Adds bytes from the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Returns the next complete event, `Ok(None)` when more bytes are needed, or
    /// an error when the pending event is too large or not UTF-8.
    pub fn next_event(&mut self) -> Result<Option<Event>, SseError> {
        loop {
            let rest = &self.buf[self.scan..];
            let Some(pos) = memchr::memchr2(b'\n', b'\r', rest) else {
                return self.check_bound();
            };
            let line_end = self.scan + pos;
            let after = if self.buf[line_end] == b'\r' {
                match self.buf.get(line_end + 1) {
                    Some(b'\n') => line_end + 2,
                    Some(_) => line_end + 1,
                    // A lone CR at the end might start a CRLF: wait for more.
                    None => return self.check_bound(),
                }
            } else {
                line_end + 1
            };
            let empty_line = line_end == self.scan;
            self.scan = after;
            if empty_line {
                let raw = self.buf.split_to(after).freeze();
                self.scan = 0;
                if raw.len() > self.max_event {
                    return Err(SseError::EventTooLarge(self.max_event));
                }
                return parse_fields(raw).map(Some);
            }
        }
    }

    /// Bytes received after the last complete event: an unterminated event that
    /// the SSE rules say must be discarded when the stream ends.
    pub fn pending_len(&self) -> usize {
        self.buf.len()
    }

    fn check_bound(&self) -> Result<Option<Event>, SseError> {
        if self.buf.len() > self.max_event {
            Err(SseError::EventTooLarge(self.max_event))
        } else {
            Ok(None)
        }
    }
}

fn parse_fields(raw: Bytes) -> Result<Event, SseError> {
    let text = std::str::from_utf8(&raw).map_err(|_| SseError::InvalidUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut event = Event {
        raw: raw.clone(),
        data: String::new(),
        event: None,
        id: None,
        retry: None,
    };
    let mut has_data = false;
    for line in text.split(['\n', '\r']).filter(|l| !l.is_empty()) {
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if has_data {
                    event.data.push('\n');
                }
                event.data.push_str(value);
                has_data = true;
            }
            "event" => event.event = Some(value.to_owned()),
            "id" if !value.contains('\0') => event.id = Some(value.to_owned()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                event.retry = value.parse().ok();
            }
            _ => {}
        }
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(d: &mut Decoder) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(e) = d.next_event().unwrap() {
            out.push(e);
        }
        out
    }

    #[test]
    fn events_are_cut_at_blank_lines_with_exact_bytes() {
        let mut d = Decoder::new(1024);
        d.push(b"id: 1\nevent: message\ndata: {\"a\":1}\n\n: keep-alive\n\ndata: x\ndata: y\n\n");
        let ev = all(&mut d);
        assert_eq!(ev.len(), 3);
        assert_eq!(
            ev[0].raw.as_ref(),
            b"id: 1\nevent: message\ndata: {\"a\":1}\n\n"
        );
        assert_eq!(ev[0].data, "{\"a\":1}");
        assert_eq!(ev[0].id.as_deref(), Some("1"));
        assert_eq!(ev[0].event.as_deref(), Some("message"));
        assert_eq!(ev[1].data, "");
        assert_eq!(ev[2].data, "x\ny");
        assert_eq!(d.pending_len(), 0);
    }

    #[test]
    fn events_split_across_chunks_at_every_byte_decode_the_same() {
        let stream = b"retry: 100\r\nid: 7\r\ndata: a\r\n\r\ndata:b\r\rdata: c\n\n";
        for cut in 0..stream.len() {
            let mut d = Decoder::new(1024);
            d.push(&stream[..cut]);
            let mut ev = all(&mut d);
            d.push(&stream[cut..]);
            ev.extend(all(&mut d));
            let data: Vec<_> = ev.iter().map(|e| e.data.as_str()).collect();
            assert_eq!(data, ["a", "b", "c"], "cut at {cut}");
            assert_eq!(ev[0].retry, Some(100));
            let joined: Vec<u8> = ev.iter().flat_map(|e| e.raw.to_vec()).collect();
            assert_eq!(joined, stream.to_vec(), "raw bytes preserved, cut at {cut}");
        }
    }

    #[test]
    fn an_oversized_event_fails_closed_even_before_it_ends() {
        let mut d = Decoder::new(16);
        d.push(b"data: 0123456789abcdef");
        assert_eq!(d.next_event(), Err(SseError::EventTooLarge(16)));
        let mut d = Decoder::new(16);
        d.push(b"data: 0123456789abcdef\n\n");
        assert_eq!(d.next_event(), Err(SseError::EventTooLarge(16)));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut d = Decoder::new(64);
        d.push(b"data: \xff\n\n");
        assert_eq!(d.next_event(), Err(SseError::InvalidUtf8));
    }

    #[test]
    fn an_unterminated_event_stays_pending() {
        let mut d = Decoder::new(64);
        d.push(b"data: partial\n");
        assert_eq!(d.next_event(), Ok(None));
        assert_eq!(d.pending_len(), 14);
    }
}
