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

Modes with every security stage on (JWT, Cedar, scan, audit, rate limits,
metrics; benches/fullstage.py), each printing a Markdown summary:

  --sweep [--rates 500,1000,...]   fixed rates, direct and through the gateway;
                                   the highest rate with p99 < 10 ms, no error
  --audit-overhead [--audit-fsync 5ms]
                                   audit on vs. off, alternating rounds at --rate
  --scan-overhead                  scan on vs. off, 1 KiB of prose in, 10 KiB out,
                                   alternating rounds at --rate
  --flows-overhead                 flow labels shared through a local redis-server
                                   vs. kept in the process, alternating rounds at --rate
  --soak MINUTES --rate R [--csv soak.csv]
                                   one long run; RSS and fds every --sample s
  --idle-sessions N                N idle 2025-06-18 sessions: RSS, fds, latency
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import idle_sessions
import load_modes
from loadkit import GATEWAY, RELEASE, ROOT, call, cpu_seconds, free_port, oha, spawn, stop, summarise, wait_port


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=int, default=1000)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--oha", default=shutil.which("oha") or str(ROOT.parent / "tools/bin/oha"))
    p.add_argument("--upstream", choices=["bench", "rmcp"], default="bench",
                   help="bench: the hand-rolled echo server; rmcp: the same tool on the official Rust SDK")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--sweep", action="store_true",
                      help="fixed rates (--rates), direct and through the gateway with every stage on")
    mode.add_argument("--audit-overhead", action="store_true",
                      help="every stage on, audit on vs. off, --rounds alternating rounds at --rate")
    mode.add_argument("--scan-overhead", action="store_true",
                      help="every stage on, scan on vs. off, 1 KiB of prose in and 10 KiB out, --rounds alternating rounds")
    mode.add_argument("--flows-overhead", action="store_true",
                      help="every stage on, each call labelled, flow labels in Redis vs. in the process")
    mode.add_argument("--soak", type=int, metavar="MINUTES",
                      help="one open-loop run at --rate through the every-stage gateway, sampling RSS and fds")
    mode.add_argument("--idle-sessions", type=int, metavar="N",
                      help="open N idle session-era sessions and measure what they cost")
    p.add_argument("--rates", type=lambda v: [int(x) for x in v.split(",")],
                   default=[500, 1000, 2000, 3000, 4000, 6000, 8000], help="--sweep: comma-separated req/s")
    p.add_argument("--scan-argument", type=int, default=1024, metavar="BYTES",
                   help="--scan-overhead: the argument's size; the upstream repeats it into a 10 KiB result")
    p.add_argument("--audit-fsync", default="5ms", help="--audit-overhead: the trail's fsync setting")
    p.add_argument("--sample", type=int, default=10, help="--soak: seconds between samples")
    p.add_argument("--csv", default="soak.csv", help="--soak: where the samples go")
    args = p.parse_args()
    if not Path(args.oha).exists():
        raise SystemExit("oha not found: cargo install oha --locked (or pass --oha PATH)")

    tmp = Path(tempfile.mkdtemp(prefix="portcullis-load-"))
    procs: list[subprocess.Popen] = []
    ok = False
    try:
        if args.sweep:
            load_modes.sweep(args, tmp, procs)
        elif args.audit_overhead:
            load_modes.audit_overhead(args, tmp, procs)
        elif args.scan_overhead:
            load_modes.scan_overhead(args, tmp, procs)
        elif args.flows_overhead:
            load_modes.flows_overhead(args, tmp, procs)
        elif args.soak:
            load_modes.soak(args, tmp, procs)
        elif args.idle_sessions:
            idle_sessions.idle_sessions(args, tmp, procs)
        else:
            compare(args, tmp, procs)
        ok = True
    finally:
        stop(procs)
        # The audit trail of a long run is gigabytes; the gateways' logs stay
        # for a failed run only (a passing run's are tens of MB each).
        for audit in tmp.glob("*/audit"):
            shutil.rmtree(audit, ignore_errors=True)
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"logs kept in {tmp}", file=sys.stderr)


def compare(args, tmp: Path, procs: list[subprocess.Popen]) -> None:
    """The default run: direct, floor proxy, gateway and federated gateway."""
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
    gw = subprocess.Popen([str(GATEWAY), "serve", "--config", str(config)], stderr=log)
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
    fed = subprocess.Popen([str(GATEWAY), "serve", "--config", str(fed_config)], stderr=fed_log)
    procs.append(fed)
    wait_port(fed_port)

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


if __name__ == "__main__":
    main()
