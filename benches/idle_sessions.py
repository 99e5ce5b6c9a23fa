"""Idle sessions: what N open, idle MCP sessions cost the gateway.

Each session is what a 2025-06-18 client leaves behind when it has connected
and is waiting for its user: `initialize`, then `notifications/initialized`
carrying the `Mcp-Session-Id` the gateway returned, both over one HTTP/1.1
keep-alive connection that the client then keeps open and idle. That holds
both the session and a connection (the costlier and common case: clients keep
their connection; the generated config raises `header_read_timeout`, which
otherwise closes an idle keep-alive connection after 10 s, and the connection
caps). The gateway's RSS and descriptors are read before, with every session
open, and after the connections close (what the sessions alone leave behind;
allocator memory is not always handed back, so that figure is an upper bound;
three more waves of N sessions, opened and closed, tell reuse from a leak).
While all sessions are open, fresh stateless calls are timed and the first and
last session are used once more (`tools/list` with their session id).
"""

from __future__ import annotations

import json
import resource
import socket
import statistics
import sys
import time
import urllib.request
from pathlib import Path

import fullstage
from load_modes import log, upstream
from loadkit import call, loadavg, open_fds, rss_kib

LEGACY = "2025-06-18"


class Session:
    """One keep-alive HTTP/1.1 connection speaking the session era."""

    def __init__(self, host: str, port: int, token: str):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.reader = self.sock.makefile("rb")
        self.host = f"{host}:{port}"
        self.token = token
        self.session_id: str | None = None

    def exchange(self, message: dict, path: str = "/mcp") -> tuple[int, dict, bytes]:
        body = json.dumps(message).encode()
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}", "Content-Type: application/json",
                "Accept: application/json, text/event-stream", f"Authorization: Bearer {self.token}",
                f"Content-Length: {len(body)}"]
        if self.session_id:
            head += [f"Mcp-Session-Id: {self.session_id}", f"MCP-Protocol-Version: {LEGACY}"]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        return read_response(self.reader)

    def open(self) -> None:
        status, headers, body = self.exchange({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "idle", "version": "1"}}})
        self.session_id = headers.get("mcp-session-id")
        if status != 200 or not self.session_id:
            raise SystemExit(f"initialize: {status} {headers} {body[:300]!r}")
        status, _, body = self.exchange({"jsonrpc": "2.0", "method": "notifications/initialized"})
        if status != 202:
            raise SystemExit(f"notifications/initialized: {status} {body[:300]!r}")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def read_response(reader) -> tuple[int, dict, bytes]:
    """Status, lower-cased headers and body of one response (length or chunked)."""
    status = int(reader.readline().split()[1])
    headers = {}
    while (line := reader.readline().strip()):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, headers, reader.read(int(headers["content-length"]))
    body = b""
    if headers.get("transfer-encoding") == "chunked":
        while (size := int(reader.readline().strip(), 16)):
            body += reader.read(size)
            reader.readline()
        reader.readline()
    return status, headers, body


def fresh_call_ms(gw: fullstage.Gateway, count: int = 50) -> list[float]:
    """Latency of stateless calls, each on a new connection, while sessions idle."""
    body, headers = call(token=gw.token)
    times = []
    for _ in range(count):
        req = urllib.request.Request(gw.url, body.encode(), dict(h.split(": ", 1) for h in headers))
        started = time.perf_counter()
        with urllib.request.urlopen(req, timeout=10) as r:
            answer = json.loads(r.read())
        times.append((time.perf_counter() - started) * 1000)
        if "result" not in answer:
            raise SystemExit(f"fresh call refused: {answer}")
    return times


def open_sessions(n: int, host: str, port: int, gw: fullstage.Gateway) -> list[Session]:
    sessions = []
    for i in range(n):
        s = Session(host, port, gw.token)
        s.open()
        sessions.append(s)
        if (i + 1) % 1000 == 0:
            log(f"{i + 1} sessions open, rss {rss_kib(gw.pid)} KiB, fds {open_fds(gw.pid)}")
    return sessions


def idle_sessions(args, tmp: Path, procs: list) -> None:
    n = args.idle_sessions
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < n + 1000:
        raise SystemExit(f"open-file limit {hard} is below {n + 1000}: raise it (ulimit -Hn)")
    # The driver's limit, inherited by the gateway it starts.
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    up_addr = upstream(procs)
    cap = n + 1000
    gw = fullstage.start(tmp / "idle", f"http://{up_addr}/mcp", limits={
        "max_connections": cap, "max_connections_per_client": cap, "header_read_timeout": "30m"})
    procs.append(gw.proc)
    host, port = "127.0.0.1", int(gw.url.rsplit(":", 1)[1].split("/")[0])
    baseline_ms = fresh_call_ms(gw)
    time.sleep(1)
    before = (rss_kib(gw.pid), open_fds(gw.pid))
    log(f"before: rss {before[0]} KiB, fds {before[1]}, load {loadavg()}")
    started = time.monotonic()
    sessions = open_sessions(n, host, port, gw)
    opened_in = time.monotonic() - started
    time.sleep(5)
    held = (rss_kib(gw.pid), open_fds(gw.pid))
    load_held = loadavg()
    loaded_ms = fresh_call_ms(gw)
    for s in (sessions[0], sessions[-1]):
        status, _, body = s.exchange({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        if status != 200 or b"echo" not in body:
            raise SystemExit(f"an idle session no longer works: {status} {body[:300]!r}")
    for s in sessions:
        s.close()
    time.sleep(5)
    closed = (rss_kib(gw.pid), open_fds(gw.pid))
    # More waves tell a leak (RSS grows by the same step each wave) from
    # memory the allocator keeps for reuse after the first wave (RSS levels off).
    waves = []
    for _ in range(3):
        for s in open_sessions(n, host, port, gw):
            s.close()
        time.sleep(5)
        waves.append((rss_kib(gw.pid), open_fds(gw.pid)))
    print(f"\n### Idle sessions: {n} sessions ({LEGACY} initialize + notifications/initialized, "
          "each keeping its keep-alive connection open), every stage on\n")
    print("| | gateway RSS KiB | gateway open fds |")
    print("|---|---|---|")
    print(f"| before | {before[0]} | {before[1]} |")
    print(f"| {n} sessions open and idle | {held[0]} | {held[1]} |")
    print(f"| after their connections closed | {closed[0]} | {closed[1]} |")
    for i, (rss, fds) in enumerate(waves, 2):
        print(f"| after wave {i} of {n} sessions, opened and closed | {rss} | {fds} |")
    print(f"\nPer idle session with its connection: {(held[0] - before[0]) / n:.1f} KiB, "
          f"{(held[1] - before[1]) / n:.2f} fds; left after the connections closed: "
          f"{(closed[0] - before[0]) / n:.1f} KiB per session (upper bound)")
    print(f"Opening the {n} sessions took {opened_in:.1f} s ({n / opened_in:.0f} sessions/s, one client, sequential)")
    print(f"A fresh stateless call on a new connection, {len(baseline_ms)} calls: median "
          f"{statistics.median(baseline_ms):.2f} ms (max {max(baseline_ms):.2f}) before, "
          f"{statistics.median(loaded_ms):.2f} ms (max {max(loaded_ms):.2f}) with {n} sessions idle")
    print(f"Load average with the sessions open: {load_held}; at the end: {loadavg()}")
    sys.stdout.flush()
