use super::*;

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

fn with_length(extra: &str) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: a\r\n{extra}Content-Length: {}\r\n\r\n{PING}",
        PING.len()
    )
}

fn chunked(extra: &str) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: a\r\n{extra}Transfer-Encoding: chunked\r\n\r\n\
         {:x};ext=1\r\n{PING}\r\n0\r\nTrailer-A: x\r\n\r\n",
        PING.len()
    )
}

/// Feeds `wire` in pieces of `step` bytes; the records and the final state.
fn follow(wire: &[u8], step: usize) -> (Vec<bool>, State) {
    let mut framing = Framing::default();
    let mut heads = Vec::new();
    for piece in wire.chunks(step) {
        framing.feed(piece, |both| heads.push(both));
    }
    (heads, framing.state)
}

#[test]
fn pipelined_requests_are_followed_in_any_read_sizes() {
    let wire = [
        "\r\n".to_owned(),
        with_length(""),
        "GET /mcp HTTP/1.1\r\nHost: a\r\n\r\n".to_owned(),
        chunked(""),
        "DELETE /mcp HTTP/1.0\r\nHost: a\r\nContent-Length: 0\r\n\r\n".to_owned(),
        with_length("X-Body-Lookalike: Transfer-Encoding: chunked\r\n"),
    ]
    .concat();
    for step in 1..=wire.len() {
        assert_eq!(
            follow(wire.as_bytes(), step),
            (vec![false; 5], State::RequestLine),
            "read size {step}"
        );
    }
}

#[test]
fn a_head_with_both_lengths_is_recorded_in_either_order_and_case() {
    for both in [
        chunked("Content-Length: 4\r\n"),
        "POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\ncontent-LENGTH: 4\r\n\r\n0\r\n\r\n"
            .to_owned(),
        "POST /mcp HTTP/1.1\r\ncontent-length:4\ntransfer-encoding:\tgzip, Chunked\n\n0\n\n"
            .to_owned(),
    ] {
        let wire = with_length("") + &both + &with_length("");
        for step in [1, 3, 7, wire.len()] {
            assert_eq!(
                follow(wire.as_bytes(), step),
                (vec![false, true, false], State::RequestLine),
                "{both:?} in reads of {step}"
            );
        }
    }
}

#[test]
fn what_hyper_refuses_or_switches_protocol_stops_the_watch() {
    for (wire, heads) in [
        ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", vec![]),
        ("POST /mcp HTTP/1.1\r\nContent-Length: x\r\n\r\n", vec![]),
        (
            "POST /mcp HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            vec![],
        ),
        ("POST /mcp HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", vec![]),
        (
            "POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            vec![false],
        ),
        (
            "POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            vec![false],
        ),
        (
            "POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
            vec![false],
        ),
        (
            "GET /mcp HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            vec![false],
        ),
        ("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", vec![false]),
    ] {
        let (got, state) = follow(wire.as_bytes(), wire.len());
        assert_eq!((got, state), (heads, State::Off), "{wire:?}");
        // Nothing after it is followed, however it looks.
        let mut framing = Framing {
            state,
            ..Framing::default()
        };
        let mut more = Vec::new();
        framing.feed(chunked("Content-Length: 4\r\n").as_bytes(), |b| {
            more.push(b)
        });
        assert!(more.is_empty());
    }
}

#[test]
fn an_endless_line_stops_the_watch_without_holding_it() {
    let mut framing = Framing::default();
    framing.feed(b"POST /mcp HTTP/1.1\r\nX: ", |_| {});
    let filler = vec![b'a'; 8192];
    for _ in 0..(MAX_LINE / filler.len() + 1) {
        framing.feed(&filler, |_| {});
    }
    assert_eq!(framing.state, State::Off);
    assert_eq!(framing.line.capacity(), 0);
}

#[test]
fn chunk_sizes_are_read_as_hyper_reads_them() {
    assert_eq!(chunk_size(b"1A"), Some(26));
    assert_eq!(chunk_size(b"0"), Some(0));
    assert_eq!(chunk_size(b"5 ; name=value"), Some(5));
    assert_eq!(chunk_size(b"5\t"), Some(5));
    assert_eq!(chunk_size(b""), None);
    assert_eq!(chunk_size(b" 5"), None);
    assert_eq!(chunk_size(b"5x"), None);
    assert_eq!(chunk_size(b"fffffffffffffffff"), None);
}
