//! How each HTTP/1.x request was framed on the wire, read beside hyper.
//!
//! A request carrying both `Content-Length` and `Transfer-Encoding` must be
//! refused with 400 and its connection closed: a front proxy that framed it by
//! its length and reuses its connection would disagree with the gateway about
//! where the next request starts (request smuggling). hyper 1.x reads such a
//! request as chunked and closes the connection after the answer, but it drops
//! `Content-Length` before the service sees the request and has no hook to
//! refuse it, so the gateway could only serve it.
//!
//! [`Watched`] wraps a connection's transport and follows the bytes hyper reads:
//! request line, header lines, then the body by its framing (a length, or
//! chunks and trailers), one request after another. For each request head it
//! records whether it named both lengths; the service takes those records in
//! order, one per HTTP/1.x request, and `pipeline::admit` refuses a request
//! whose record says so. The watcher never changes a byte. Whenever it meets
//! something it does not follow exactly as hyper does (HTTP/2, an upgrade, a
//! malformed head or chunk, an oversized line) it stops watching that
//! connection for good: hyper refuses malformed messages itself, and a request
//! without a record is served as before.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The requests heads one connection has received, oldest first: `true` where
/// a head named both lengths.
#[derive(Debug, Default)]
pub struct Heads(Mutex<VecDeque<bool>>);

impl Heads {
    /// The record of the next request hyper hands to the service, if the
    /// watcher followed it.
    pub fn next(&self) -> Option<bool> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }

    fn push(&self, both: bool) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(both);
    }
}

/// A transport whose incoming bytes are followed by a [`Framing`] reader.
#[derive(Debug)]
pub struct Watched<I> {
    inner: I,
    framing: Framing,
    heads: Arc<Heads>,
}

impl<I> Watched<I> {
    /// Wraps `inner`; the returned [`Heads`] fill as request heads arrive.
    pub fn new(inner: I) -> (Watched<I>, Arc<Heads>) {
        let heads = Arc::new(Heads::default());
        let watched = Watched {
            inner,
            framing: Framing::default(),
            heads: Arc::clone(&heads),
        };
        (watched, heads)
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let heads = &this.heads;
            this.framing
                .feed(&buf.filled()[before..], |both| heads.push(both));
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The longest line followed; longer ones stop the watch (hyper answers 431 to
/// a head past its buffer, and a chunk-size line is a few bytes).
const MAX_LINE: usize = 64 * 1024;

/// Where the reader is in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a request line (empty lines before it are skipped, as httparse does).
    RequestLine,
    /// In a head's header lines.
    Header,
    /// In a body framed by its length: bytes left.
    Fixed(u64),
    /// Before a chunk-size line.
    ChunkSize,
    /// In a chunk's data: bytes left.
    ChunkData(u64),
    /// After a chunk's data, before its line end.
    ChunkEnd,
    /// In the trailer section after the last chunk.
    Trailer,
    /// No longer followed.
    Off,
}

/// What the current head has said so far.
#[derive(Debug, Default, Clone, Copy)]
struct Head {
    length: Option<u64>,
    transfer_encoding: bool,
    /// Whether the latest `Transfer-Encoding` line ends in `chunked` (hyper
    /// decides by the latest line).
    chunked: bool,
    /// An upgrade or CONNECT: the bytes after the head may be another protocol.
    switches: bool,
}

/// An incremental reader of HTTP/1.x request framing.
#[derive(Debug)]
pub struct Framing {
    state: State,
    line: Vec<u8>,
    head: Head,
}

impl Default for Framing {
    fn default() -> Framing {
        Framing {
            state: State::RequestLine,
            line: Vec::new(),
            head: Head::default(),
        }
    }
}

impl Framing {
    /// Follows `bytes`, the next ones read from the client; `on_head` is called
    /// at the end of each request head with whether it named both lengths.
    pub fn feed(&mut self, mut bytes: &[u8], mut on_head: impl FnMut(bool)) {
        while !bytes.is_empty() {
            match self.state {
                State::Off => return,
                State::Fixed(left) | State::ChunkData(left) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
                    bytes = &bytes[take..];
                    let left = left - take as u64;
                    self.state = match (self.state, left) {
                        (State::Fixed(_), 0) => State::RequestLine,
                        (State::Fixed(_), _) => State::Fixed(left),
                        (_, 0) => State::ChunkEnd,
                        _ => State::ChunkData(left),
                    };
                }
                _ => {
                    let (part, complete) = match memchr::memchr(b'\n', bytes) {
                        Some(at) => (&bytes[..at], true),
                        None => (bytes, false),
                    };
                    if self.line.len() + part.len() > MAX_LINE {
                        self.stop();
                        return;
                    }
                    self.line.extend_from_slice(part);
                    bytes = &bytes[(part.len() + usize::from(complete))..];
                    if complete {
                        let mut line = std::mem::take(&mut self.line);
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                        self.on_line(&line, &mut on_head);
                        line.clear();
                        self.line = line;
                    }
                }
            }
        }
    }

    fn stop(&mut self) {
        self.state = State::Off;
        self.line = Vec::new();
    }

    fn on_line(&mut self, line: &[u8], on_head: &mut impl FnMut(bool)) {
        self.state = match self.state {
            State::RequestLine if line.is_empty() => State::RequestLine,
            State::RequestLine => match request_line(line) {
                Some(connect) => {
                    self.head = Head {
                        switches: connect,
                        ..Head::default()
                    };
                    State::Header
                }
                None => State::Off,
            },
            State::Header if line.is_empty() => {
                let head = self.head;
                on_head(head.length.is_some() && head.transfer_encoding);
                match head {
                    Head { switches: true, .. } => State::Off,
                    Head {
                        transfer_encoding: true,
                        chunked: true,
                        ..
                    } => State::ChunkSize,
                    Head {
                        transfer_encoding: true,
                        ..
                    } => State::Off,
                    Head {
                        length: Some(n), ..
                    } if n > 0 => State::Fixed(n),
                    _ => State::RequestLine,
                }
            }
            State::Header => self.header_line(line),
            State::ChunkSize => match chunk_size(line) {
                Some(0) => State::Trailer,
                Some(n) => State::ChunkData(n),
                None => State::Off,
            },
            State::ChunkEnd if line.is_empty() => State::ChunkSize,
            State::Trailer if line.is_empty() => State::RequestLine,
            State::Trailer => State::Trailer,
            State::ChunkEnd | State::Fixed(_) | State::ChunkData(_) | State::Off => State::Off,
        };
        if self.state == State::Off {
            self.stop();
        }
    }

    fn header_line(&mut self, line: &[u8]) -> State {
        // A folded line (leading whitespace) is refused by httparse in requests.
        let Some(colon) = memchr::memchr(b':', line) else {
            return State::Off;
        };
        if matches!(line.first(), Some(b' ' | b'\t') | None) {
            return State::Off;
        }
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"content-length") {
            match parse_decimal(value) {
                Some(n) if self.head.length.is_none_or(|m| m == n) => self.head.length = Some(n),
                // Unparsable or conflicting lengths: hyper answers 400.
                _ => return State::Off,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.head.transfer_encoding = true;
            let last = value.rsplit(|&b| b == b',').next().map(trim);
            self.head.chunked = last.is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            self.head.switches = true;
        }
        State::Header
    }
}

/// `Some(is CONNECT)` for an HTTP/1.0 or HTTP/1.1 request line, `None` for
/// anything else (the HTTP/2 preface included).
fn request_line(line: &[u8]) -> Option<bool> {
    let version = line.rsplit(|&b| b == b' ').next()?;
    if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
        return None;
    }
    Some(line.starts_with(b"CONNECT "))
}

/// The size on a chunk-size line: hex digits, then optional whitespace and
/// extensions (as hyper reads it).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 15 {
        return None;
    }
    let rest = trim(&line[digits..]);
    if !(rest.is_empty() || rest.starts_with(b";")) {
        return None;
    }
    let text = std::str::from_utf8(&line[..digits]).ok()?;
    u64::from_str_radix(text, 16).ok()
}

fn parse_decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

#[cfg(test)]
mod tests;
