"""Helpers shared by the load runs (benches/load.py and its modes): starting
processes, driving `oha`, reading a process's CPU, memory and descriptors from
/proc, and the 1 KiB `tools/call` every run sends."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Cargo's target folder: CARGO_TARGET_DIR when set (as benches/load.sh builds).
RELEASE = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "release"
# The gateway under test: PORTCULLIS_BIN names another build (say, one with
# other features) to compare against.
GATEWAY = Path(os.environ.get("PORTCULLIS_BIN") or RELEASE / "portcullis")
TICK = os.sysconf("SC_CLK_TCK")
TEXT = "x" * 1024

# Benign English prose, the kind of text a tool returns: what the scanner reads
# in the scan-overhead mode (10 KiB of it).
PROSE_PARAGRAPH = (
    "The quarterly report covers revenue, hiring and the migration of the billing "
    "service to the new cluster. Revenue grew by four percent against the same quarter "
    "last year, driven mostly by renewals in the education segment. Two engineers joined "
    "the platform team in May; one position remains open. The billing migration finished "
    "on the twelfth, two days later than planned, because the invoice archive needed a "
    "schema change that the old exporter did not support. Customer tickets about late "
    "invoices fell from thirty-one to nine after the change. Next quarter the team plans "
    "to retire the legacy reporting database and to move nightly jobs to the scheduler. "
)


def prose(size: int) -> str:
    """`size` bytes of benign prose (the paragraph above, repeated and cut)."""
    return (PROSE_PARAGRAPH * (size // len(PROSE_PARAGRAPH) + 1))[:size]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(cmd: list[str], **kw) -> tuple[subprocess.Popen, str]:
    """Starts a bench peer that prints `LISTENING <addr>` once ready."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, **kw)
    line = proc.stdout.readline().strip()
    if not line.startswith("LISTENING "):
        raise SystemExit(f"{cmd[0]} did not start: {line!r}")
    return proc, line.split()[1]


def wait_port(port: int) -> None:
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages: the machine is shared."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def call(tool: str = "echo", token: str | None = None, text: str = TEXT,
         repeat: int | None = None) -> tuple[str, list[str]]:
    """A stateless 2026-07-28 `tools/call` with a `text` argument (1 KiB unless
    given; the bench upstream answers it `repeat` times over): body, headers."""
    arguments = {"text": text} if repeat is None else {"text": text, "repeat": repeat}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": tool, "arguments": arguments,
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {},
                  "io.modelcontextprotocol/clientInfo": {"name": "oha", "version": "1"}}}})
    headers = ["Content-Type: application/json", "Accept: application/json, text/event-stream",
               "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call", f"Mcp-Name: {tool}"]
    if token:
        headers.append(f"Authorization: Bearer {token}")
    return body, headers


def oha_cmd(url: str, body: str, headers: list[str], args, rate: int | None, duration: str | int,
            connections: int | None = None) -> list[str]:
    """An `oha` command: open loop at `rate` (latency corrected), closed loop without."""
    if isinstance(duration, int):
        duration = f"{duration}s"
    cmd = [args.oha, "--no-tui", "--output-format", "json", "-z", duration,
           "-c", str(connections or args.connections), "-m", "POST", "-d", body]
    for h in headers:
        cmd += ["-H", h]
    if rate:
        cmd += ["-q", str(rate), "--latency-correction"]
    return cmd + [url]


def oha(url: str, body: str, headers: list[str], args, rate: int | None, duration: str | int,
        connections: int | None = None) -> dict:
    """Runs `oha` to the end and returns its JSON report."""
    cmd = oha_cmd(url, body, headers, args, rate, duration, connections)
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def summarise(result: dict) -> tuple[float, float, float, int, int]:
    """requests/s, p50 ms, p99 ms, 200 answers, failures."""
    m = measure(result)
    return m["rps"], m["p50"], m["p99"], m["ok"], m["bad"]


def measure(result: dict) -> dict:
    """The figures of one oha run: rps, p50/p99/p99.9 (ms), ok, bad, errors."""
    summary = result["summary"]
    pct = result["latencyPercentiles"]
    codes = result.get("statusCodeDistribution", {})
    ok = sum(v for k, v in codes.items() if k == "200")
    # Requests still in flight when the run's deadline passes are cut off by oha
    # itself; they are not failures of the path under test.
    errors = {k: v for k, v in result.get("errorDistribution", {}).items() if "deadline" not in k}
    if errors:
        print(f"errors: {errors}", file=sys.stderr)
    statuses = {k: v for k, v in codes.items() if k != "200"}
    bad = sum(statuses.values()) + sum(errors.values())
    ms = lambda k: (pct.get(k) or 0.0) * 1000  # noqa: E731
    return {"rps": summary["requestsPerSec"], "p50": ms("p50"), "p99": ms("p99"), "p999": ms("p99.9"),
            "ok": ok, "bad": bad, "errors": {**errors, **{f"HTTP {k}": v for k, v in statuses.items()}}}
