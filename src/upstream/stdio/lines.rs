//! Newline-delimited reading with a bound: a line never grows a buffer beyond
//! `max` bytes, whatever the process writes. An over-long line is consumed to its
//! end and reported as truncated (its first `max` bytes kept, for logging), so the
//! next line starts clean.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// A line as read: its first `max` bytes (without `\n`, or `\r\n`), and whether
/// there was more.
#[derive(Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// The kept bytes.
    pub bytes: &'a [u8],
    /// The line was longer than the bound.
    pub truncated: bool,
    /// Its full length in bytes.
    pub len: usize,
}

/// Reads bounded lines, reusing one buffer.
#[derive(Debug)]
pub struct LineReader {
    buf: Vec<u8>,
    max: usize,
    truncated: bool,
    len: usize,
}

impl LineReader {
    /// A reader keeping at most `max` bytes of a line.
    pub fn new(max: usize) -> LineReader {
        LineReader {
            buf: Vec::new(),
            max,
            truncated: false,
            len: 0,
        }
    }

    /// The next line, `None` at end of input. A last line without `\n` counts.
    pub async fn next<R: AsyncBufRead + Unpin>(
        &mut self,
        reader: &mut R,
    ) -> std::io::Result<Option<Line<'_>>> {
        self.buf.clear();
        self.truncated = false;
        self.len = 0;
        loop {
            let available = reader.fill_buf().await?;
            if available.is_empty() {
                if self.len == 0 {
                    return Ok(None);
                }
                break;
            }
            let (chunk, consumed, done) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            self.len += chunk.len();
            let room = self.max - self.buf.len();
            if chunk.len() > room {
                self.truncated = true;
            }
            self.buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            reader.consume(consumed);
            if done {
                break;
            }
        }
        if !self.truncated && self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(Line {
            bytes: &self.buf,
            truncated: self.truncated,
            len: self.len,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    async fn all(input: &[u8], max: usize, chunk: usize) -> Vec<(String, bool, usize)> {
        let mut reader = BufReader::with_capacity(chunk, input);
        let mut lines = LineReader::new(max);
        let mut out = Vec::new();
        while let Some(line) = lines.next(&mut reader).await.unwrap() {
            out.push((
                String::from_utf8_lossy(line.bytes).into_owned(),
                line.truncated,
                line.len,
            ));
        }
        out
    }

    #[tokio::test]
    async fn lines_split_on_newlines_whatever_the_chunking() {
        for chunk in [1, 3, 64] {
            let out = all(b"ab\r\n\ncd\nlast", 10, chunk).await;
            let expected = vec![
                ("ab".into(), false, 3),
                ("".into(), false, 0),
                ("cd".into(), false, 2),
                ("last".into(), false, 4),
            ];
            assert_eq!(out, expected, "chunk {chunk}");
        }
    }

    #[tokio::test]
    async fn an_over_long_line_is_truncated_and_the_next_line_starts_clean() {
        let mut input = vec![b'x'; 10_000];
        input.extend_from_slice(b"\nok\n");
        for chunk in [7, 4096] {
            let out = all(&input, 16, chunk).await;
            assert_eq!(out[0], ("x".repeat(16), true, 10_000));
            assert_eq!(out[1], ("ok".into(), false, 2));
            assert_eq!(out.len(), 2);
        }
    }
}
