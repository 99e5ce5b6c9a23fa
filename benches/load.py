#!/usr/bin/env python3
"""Load run: direct vs. a minimal pass-through proxy (the floor) vs. the gateway.

Sends `tools/call` requests with a 1 KiB argument from `oha` (open loop, fixed
rate, latency corrected for coordinated omission) to the bench upstream
directly, through `floor-proxy` and through `portcullis`, in alternating
rounds within one run, and prints requests/s, p50/p99 latency, the latency each
hop adds over direct, and CPU time per request of each hop (and of the upstream),
read from /proc before and after each run. Then a closed-loop run per path for
maximum throughput. The machine is shared and noisy: compare ratios within one
run, not absolute figures across runs.

Usage: benches/load.sh [--rate 1000] [--duration 10] [--rounds 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(cmd: list[str], **kw) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, **kw)
    line = proc.stdout.readline().strip()
    if not line.startswith("LISTENING "):
        raise SystemExit(f"{cmd[0]} did not start: {line!r}")
    return proc, line.split()[1]


def wait_port(port: int) -> None:
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def oha(url: str, body: str, headers: list[str], args, rate: int | None, duration: int) -> dict:
    cmd = [args.oha, "--no-tui", "--output-format", "json", "-z", f"{duration}s", "-c", str(args.connections),
           "-m", "POST", "-d", body]
    for h in headers:
        cmd += ["-H", h]
    if rate:
        cmd += ["-q", str(rate), "--latency-correction"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def summarise(result: dict) -> tuple[float, float, float, int, int]:
    summary = result["summary"]
    pct = result["latencyPercentiles"]
    codes = result.get("statusCodeDistribution", {})
    ok = sum(v for k, v in codes.items() if k == "200")
    # Requests still in flight when the run's deadline passes are cut off by oha
    # itself; they are not failures of the path under test.
    errors = {k: v for k, v in result.get("errorDistribution", {}).items() if "deadline" not in k}
    if errors:
        print(f"errors: {errors}", file=sys.stderr)
    bad = sum(v for k, v in codes.items() if k != "200") + sum(errors.values())
    return summary["requestsPerSec"], pct["p50"] * 1000, pct["p99"] * 1000, ok, bad


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=int, default=1000)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--oha", default=shutil.which("oha") or str(ROOT.parent / "tools/bin/oha"))
    p.add_argument("--upstream", choices=["bench", "rmcp"], default="bench",
                   help="bench: the hand-rolled echo server; rmcp: the same tool on the official Rust SDK")
    args = p.parse_args()
    if not Path(args.oha).exists():
        raise SystemExit("oha not found: cargo install oha --locked (or pass --oha PATH)")

    tmp = Path(tempfile.mkdtemp(prefix="portcullis-load-"))
    procs: list[subprocess.Popen] = []
    try:
        example = "bench-upstream" if args.upstream == "bench" else "bench-rmcp-upstream"
        up, up_addr = spawn([str(RELEASE / "examples" / example), "127.0.0.1:0"])
        procs.append(up)
        floor, floor_addr = spawn([str(RELEASE / "examples" / "floor-proxy"), "127.0.0.1:0", f"http://{up_addr}/mcp"])
        procs.append(floor)
        gw_port = free_port()
        config = tmp / "portcullis.yaml"
        config.write_text(
            f"listen:\n  address: 127.0.0.1:{gw_port}\nupstream:\n  url: http://{up_addr}/mcp\nauthentication:\n  mode: none\n"
            "logging:\n  format: json\n  level: info\nreload:\n  poll_interval: 0s\n"
            f"audit:\n  file:\n    directory: {tmp / 'audit-single'}\n"
        )
        log = open(tmp / "gateway.log", "w")
        gw = subprocess.Popen([str(RELEASE / "portcullis"), "serve", "--config", str(config)], stderr=log)
        procs.append(gw)
        wait_port(gw_port)

        # The federated case: three upstreams behind one gateway; calls go to
        # the first one's prefixed tool (issue 3: within 10% of one upstream).
        others = []
        for _ in range(2):
            other, other_addr = spawn([str(RELEASE / "examples" / example), "127.0.0.1:0"])
            procs.append(other)
            others.append(other_addr)
        fed_port = free_port()
        fed_config = tmp / "federated.yaml"
        fed_config.write_text(
            f"listen:\n  address: 127.0.0.1:{fed_port}\nupstreams:\n  a:\n    url: http://{up_addr}/mcp\n"
            f"  b:\n    url: http://{others[0]}/mcp\n  c:\n    url: http://{others[1]}/mcp\n"
            "authentication:\n  mode: none\nlogging:\n  format: json\n  level: info\nreload:\n  poll_interval: 0s\n"
            f"audit:\n  file:\n    directory: {tmp / 'audit-federated'}\n"
        )
        fed_log = open(tmp / "federated.log", "w")
        fed = subprocess.Popen([str(RELEASE / "portcullis"), "serve", "--config", str(fed_config)], stderr=fed_log)
        procs.append(fed)
        wait_port(fed_port)

        text = "x" * 1024

        def call(tool: str) -> tuple[str, list[str]]:
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": tool, "arguments": {"text": text},
                "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                          "io.modelcontextprotocol/clientCapabilities": {},
                          "io.modelcontextprotocol/clientInfo": {"name": "oha", "version": "1"}}}})
            headers = ["Content-Type: application/json", "Accept: application/json, text/event-stream",
                       "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call", f"Mcp-Name: {tool}"]
            return body, headers

        plain, prefixed = call("echo"), call("a__echo")
        paths = {
            "direct": (f"http://{up_addr}/mcp", up.pid, plain),
            "floor proxy": (f"http://{floor_addr}/mcp", floor.pid, plain),
            "portcullis": (f"http://127.0.0.1:{gw_port}/mcp", gw.pid, plain),
            "portcullis, 3 upstreams": (f"http://127.0.0.1:{fed_port}/mcp", fed.pid, prefixed),
        }
        for url, _, (body, headers) in paths.values():  # warm up connection pools
            oha(url, body, headers, args, args.rate, 2)

        samples: dict[str, list[tuple]] = {k: [] for k in paths}
        for r in range(args.rounds):
            order = list(paths) if r % 2 == 0 else list(reversed(paths))
            for name in order:
                url, pid, (body, headers) = paths[name]
                before_hop, before_up = cpu_seconds(pid), cpu_seconds(up.pid)
                rps, p50, p99, ok, bad = summarise(oha(url, body, headers, args, args.rate, args.duration))
                hop_cpu = (cpu_seconds(pid) - before_hop) / max(ok + bad, 1) * 1e6
                up_cpu = (cpu_seconds(up.pid) - before_up) / max(ok + bad, 1) * 1e6
                samples[name].append((rps, p50, p99, hop_cpu, up_cpu, ok, bad))
                print(f"round {r + 1} {name:12s} {rps:8.0f} req/s  p50 {p50:.3f} ms  p99 {p99:.3f} ms  "
                      f"cpu/req {hop_cpu:6.1f} us  errors {bad}", file=sys.stderr)

        med = {k: [statistics.median(x[i] for x in v) for i in range(5)] for k, v in samples.items()}
        errors = {k: sum(x[6] for x in v) for k, v in samples.items()}
        max_rps = {}
        for name, (url, _, (body, headers)) in paths.items():
            max_rps[name] = summarise(oha(url, body, headers, args, None, max(3, args.duration // 2)))[0]

        direct = med["direct"]
        print(f"\n### Load run: {args.rate} req/s open loop, {args.duration} s x {args.rounds} rounds, "
              f"{args.connections} connections, 1 KiB tools/call, upstream `{example}` (medians)\n")
        print("| path | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | hop CPU us/req | upstream CPU us/req | max req/s (closed loop) | errors |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for name, m in med.items():
            added50 = "" if name == "direct" else f"{m[1] - direct[1]:+.3f}"
            added99 = "" if name == "direct" else f"{m[2] - direct[2]:+.3f}"
            hop = "" if name == "direct" else f"{m[3]:.1f}"
            print(f"| {name} | {m[0]:.0f} | {m[1]:.3f} | {m[2]:.3f} | {added50} | {added99} | {hop} | {m[4]:.1f} | {max_rps[name]:.0f} | {errors[name]} |")
        floor_added = med["floor proxy"][1] - direct[1]
        gw_added = med["portcullis"][1] - direct[1]
        ratio = gw_added / floor_added if floor_added > 0 else float("nan")
        print(f"\nGateway added p50 / floor added p50: {ratio:.2f}x (target <= 1.5x)")
        fed_added = med["portcullis, 3 upstreams"][1] - direct[1]
        fed_ratio = fed_added / gw_added if gw_added > 0 else float("nan")
        print(f"Added p50, 3 upstreams / 1 upstream: {fed_ratio:.2f}x (target <= 1.10x)")
        print(f"Gateway CPU per request / upstream CPU per request: "
              f"{med['portcullis'][3] / med['portcullis'][4]:.2f} (target < 1)")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
