"""The load modes of benches/load.py that run the gateway with every security
stage on (see benches/fullstage.py): a rate sweep against a direct baseline,
audit on vs. off, and a long soak. Each prints a Markdown summary on stdout
and its progress on stderr, with the machine's load average (it is shared).
"""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import fullstage
from loadkit import RELEASE, TEXT, call, cpu_seconds, loadavg, measure, oha, oha_cmd, open_fds, prose, rss_kib, spawn

# A sweep point passes with p99 under this and no failure at all.
P99_LIMIT_MS = 10.0
# ... and when the load generator reached this share of the asked rate.
RATE_SHARE = 0.95


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def upstream(procs: list) -> str:
    up, addr = spawn([str(RELEASE / "examples" / "bench-upstream"), "127.0.0.1:0"])
    procs.append(up)
    return addr


def run_point(url: str, body: str, headers: list[str], args, rate: int, duration: int,
              pid: int | None = None, gw: fullstage.Gateway | None = None) -> dict:
    """One open-loop run; with `gw`, refusals the gateway counted are failures
    too (they travel as HTTP 200), and its CPU per request is measured."""
    before = fullstage.counts(gw) if gw else {}
    cpu = cpu_seconds(pid) if pid else 0.0
    load = loadavg()
    m = measure(oha(url, body, headers, args, rate, duration))
    if gw:
        refused = fullstage.refused(before, fullstage.counts(gw))
        m["bad"] += refused
        if refused:
            m["errors"]["refused by the gateway"] = refused
    m["cpu_us"] = (cpu_seconds(pid) - cpu) / max(m["ok"] + m["bad"], 1) * 1e6 if pid else 0.0
    m["load"] = load
    return m


def passes(m: dict, rate: int) -> bool:
    return m["p99"] < P99_LIMIT_MS and m["bad"] == 0 and m["rps"] >= RATE_SHARE * rate


def sweep(args, tmp: Path, procs: list) -> None:
    """Fixed rates, increasing: direct to the upstream and through the
    full-stage gateway, alternating which goes first. Stops after the gateway
    misses at two rates in a row."""
    up_addr = upstream(procs)
    gw = fullstage.start(tmp / "sweep", f"http://{up_addr}/mcp")
    procs.append(gw.proc)
    # The upstream's CPU is what the direct path costs; the gateway's own for the other.
    paths = {"direct": (f"http://{up_addr}/mcp", *call(), procs[0].pid, None),
             "gateway": (gw.url, *call(token=gw.token), gw.pid, gw)}
    for url, body, headers, _, _ in paths.values():  # warm up pools and the token cache
        oha(url, body, headers, args, args.rates[0], 2)
    rows: list[tuple[int, str, dict]] = []
    misses = 0
    for i, rate in enumerate(args.rates):
        order = list(paths) if i % 2 == 0 else list(reversed(paths))
        for name in order:
            url, body, headers, pid, g = paths[name]
            m = run_point(url, body, headers, args, rate, args.duration, pid, g)
            rows.append((rate, name, m))
            log(f"{rate:6d} req/s {name:8s} achieved {m['rps']:8.0f}  p50 {m['p50']:.3f}  p99 {m['p99']:.3f}  "
                f"p99.9 {m['p999']:.3f} ms  cpu/req {m['cpu_us']:.0f} us  errors {m['bad']} {m['errors'] or ''}  "
                f"load {m['load']}")
        through = next(m for r, n, m in rows if r == rate and n == "gateway")
        misses = 0 if passes(through, rate) else misses + 1
        if misses >= 2:
            break
    fullstage.probe(gw)

    print(f"\n### Sweep: open loop, {args.duration} s per point, {args.connections} connections, "
          "1 KiB 2026-07-28 tools/call, upstream `bench-upstream`\n")
    print("| rate req/s | path | achieved req/s | p50 ms | p99 ms | p99.9 ms | CPU µs/req | errors | load avg (1/5/15) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for rate, name, m in rows:
        print(f"| {rate} | {name} | {m['rps']:.0f} | {m['p50']:.3f} | {m['p99']:.3f} | {m['p999']:.3f} | "
              f"{m['cpu_us']:.0f} | {m['bad']} | {m['load']} |")
    for name in paths:
        ok = [rate for rate, n, m in rows if n == name and passes(m, rate)]
        best = max(ok) if ok else None
        print(f"\nHighest rate with p99 < {P99_LIMIT_MS:g} ms, no error and >= {RATE_SHARE:.0%} of the rate "
              f"reached, {name}: {best if best else 'none'} req/s")
    print("\n(CPU µs/req: the gateway's own for `gateway`, the upstream's for `direct`.)")


def alternate(args, gws: dict, text: str = TEXT, repeat: int | None = None) -> dict[str, list[dict]]:
    """Alternating open-loop rounds at `args.rate` through each gateway of
    `gws` (first one first in odd rounds, last one first in even ones)."""
    for g in gws.values():
        oha(g.url, *call(token=g.token, text=text, repeat=repeat), args, args.rate, 2)
    samples: dict[str, list[dict]] = {k: [] for k in gws}
    for r in range(args.rounds):
        order = list(gws) if r % 2 == 0 else list(reversed(gws))
        for name in order:
            g = gws[name]
            m = run_point(g.url, *call(token=g.token, text=text, repeat=repeat), args, args.rate, args.duration, g.pid, g)
            samples[name].append(m)
            log(f"round {r + 1} {name:9s} {m['rps']:6.0f} req/s  p50 {m['p50']:.3f}  p99 {m['p99']:.3f} ms  "
                f"cpu/req {m['cpu_us']:6.1f} us  errors {m['bad']}  load {m['load']}")
    return samples


def report_on_off(samples: dict[str, list[dict]], title: str, what: str, added: str) -> None:
    """Prints a Markdown summary of two gateways' alternating rounds (the
    first named is "on", the second "off"): medians per gateway, the per-round
    differences, and their median, `added` naming what it is and its target."""
    (on_name, on), (off_name, off) = samples.items()
    d50 = [(a["p50"] - b["p50"]) * 1000 for a, b in zip(on, off)]
    dcpu = [a["cpu_us"] - b["cpu_us"] for a, b in zip(on, off)]
    med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
    print(f"\n### {title}\n")
    print("| gateway | p50 ms | p99 ms | gateway CPU µs/req | errors |")
    print("|---|---|---|---|---|")
    for name, xs in samples.items():
        print(f"| {name} | {med(xs, 'p50'):.3f} | {med(xs, 'p99'):.3f} | {med(xs, 'cpu_us'):.1f} | "
              f"{sum(x['bad'] for x in xs)} |")
    print(f"\nPer round, {on_name} minus {off_name.split()[-1]}: p50 {', '.join(f'{d:+.0f}' for d in d50)} µs; "
          f"CPU {', '.join(f'{d:+.1f}' for d in dcpu)} µs/req")
    print(f"Median added by {what}: p50 {statistics.median(d50):+.0f} µs, "
          f"gateway CPU {statistics.median(dcpu):+.1f} µs/req ({added})")
    print(f"Load average at the rounds: {', '.join(x['load'] for xs in samples.values() for x in xs)}")


def scan_overhead(args, tmp: Path, procs: list) -> None:
    """Two full-stage gateways, identical but for the injection scan, in
    alternating rounds at one rate, each call carrying `args.scan_argument`
    bytes of prose (1 KiB by default) that the upstream repeats into a 10 KiB
    result: what scanning the argument and the result adds per request
    (issue 6: under 50 µs for a 10 KiB result; a small argument isolates it)."""
    up_addr = upstream(procs)
    gws = {"scan on": fullstage.start(tmp / "scan-on", f"http://{up_addr}/mcp"),
           "scan off": fullstage.start(tmp / "scan-off", f"http://{up_addr}/mcp", scan=False)}
    procs.extend(g.proc for g in gws.values())
    size = args.scan_argument
    repeat = (10 << 10) // size
    samples = alternate(args, gws, prose(size), repeat=repeat)
    report_on_off(samples,
                  f"Scan on vs. off: every other stage on, {size} B of prose in, {size * repeat} B out, "
                  f"{args.rate} req/s open loop, {args.duration} s x {args.rounds} alternating rounds (medians)",
                  f"scanning a {size} B argument and a {size * repeat} B result",
                  "issue 6 target: under 50 µs for the result")


def flows_overhead(args, tmp: Path, procs: list) -> None:
    """Two full-stage gateways whose calls each record a flow label, one
    keeping labels in the process and one sharing them through a local
    `redis-server` (`authorization.flows.redis`), in alternating rounds at one
    rate: what reading and recording the session's labels in Redis adds."""
    up_addr = upstream(procs)
    port = fullstage.free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL)
    procs.append(redis)
    fullstage.wait_port(port)
    gws = {"flows in redis": fullstage.start(tmp / "flows-redis", f"http://{up_addr}/mcp",
                                             flows=f"redis://127.0.0.1:{port}/0"),
           "flows in process": fullstage.start(tmp / "flows-local", f"http://{up_addr}/mcp", flows="local")}
    procs.extend(g.proc for g in gws.values())
    samples = alternate(args, gws)
    report_on_off(samples,
                  f"Flow labels in Redis vs. in the process: every stage on, each call labelled, {args.rate} req/s "
                  f"open loop, {args.duration} s x {args.rounds} alternating rounds (medians)",
                  "sharing flow labels", "two Redis round trips per call: read, then record")


def audit_overhead(args, tmp: Path, procs: list) -> None:
    """Two full-stage gateways, identical but for the audit trail, in
    alternating rounds at one rate: what auditing adds per request."""
    up_addr = upstream(procs)
    gws = {"audit on": fullstage.start(tmp / "audit-on", f"http://{up_addr}/mcp", audit=args.audit_fsync),
           "audit off": fullstage.start(tmp / "audit-off", f"http://{up_addr}/mcp", audit=None)}
    procs.extend(g.proc for g in gws.values())
    samples = alternate(args, gws)
    report_on_off(samples,
                  f"Audit on (fsync {args.audit_fsync}) vs. off: every other stage on, {args.rate} req/s open loop, "
                  f"{args.duration} s x {args.rounds} alternating rounds (medians)",
                  "auditing", "issue 7 target: under 20 µs")


def soak(args, tmp: Path, procs: list) -> None:
    """One long open-loop run through the full-stage gateway, sampling its RSS
    and open descriptors every `args.sample` seconds into a CSV."""
    up_addr = upstream(procs)
    up_pid = procs[0].pid
    gw = fullstage.start(tmp / "soak", f"http://{up_addr}/mcp")
    procs.append(gw.proc)
    before = fullstage.counts(gw)
    cmd = oha_cmd(gw.url, *call(token=gw.token), args, args.rate, f"{args.soak}m")
    started = time.monotonic()
    runner = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(runner)
    rows = []
    with open(args.csv, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["elapsed_s", "gateway_rss_kib", "gateway_fds", "gateway_cpu_s", "upstream_rss_kib",
                      "audit_bytes", "load_1m"])
        while True:
            audit = sum(p.stat().st_size for p in (gw.folder / "audit").glob("*") if p.is_file())
            row = [round(time.monotonic() - started), rss_kib(gw.pid), open_fds(gw.pid),
                   round(cpu_seconds(gw.pid), 2), rss_kib(up_pid), audit, loadavg().split()[0]]
            rows.append(row)
            out.writerow(row)
            f.flush()
            log(f"{row[0]:5d} s  rss {row[1]} KiB  fds {row[2]}  cpu {row[3]} s  audit {audit >> 20} MiB  "
                f"load {loadavg()}")
            if runner.poll() is not None:
                break
            try:
                runner.wait(timeout=args.sample)
            except subprocess.TimeoutExpired:
                pass
    stdout, stderr = runner.communicate()
    if runner.returncode != 0:
        raise SystemExit(f"oha failed: {stderr[:500]}")
    m = measure(json.loads(stdout))
    refused = fullstage.refused(before, fullstage.counts(gw))
    fullstage.probe(gw)
    verdict = verify_trail(gw)
    warm = next((r for r in rows if r[0] >= 60), rows[0])
    end = rows[-1]
    growth = lambda i: (end[i] - warm[i]) / warm[i] * 100  # noqa: E731
    print(f"\n### Soak: {args.soak} min at {args.rate} req/s open loop, {args.connections} connections, "
          f"every stage on, samples every {args.sample} s in `{args.csv}`\n")
    print("| | start | after 1 min | end | max | growth after warm-up |")
    print("|---|---|---|---|---|---|")
    print(f"| gateway RSS KiB | {rows[0][1]} | {warm[1]} | {end[1]} | {max(r[1] for r in rows)} | {growth(1):+.1f}% |")
    print(f"| gateway open fds | {rows[0][2]} | {warm[2]} | {end[2]} | {max(r[2] for r in rows)} | {growth(2):+.1f}% |")
    total = m["ok"] + m["bad"]
    print(f"\nRequests: {total} ({m['rps']:.0f} req/s achieved), errors: {m['bad']} {m['errors'] or ''}, "
          f"refused by the gateway: {refused}; p50 {m['p50']:.3f} ms, p99 {m['p99']:.3f} ms, "
          f"p99.9 {m['p999']:.3f} ms")
    print(f"Gateway CPU over the run: {(end[3] - rows[0][3]) / max(total, 1) * 1e6:.0f} µs/req; "
          f"audit trail written: {end[5] >> 20} MiB; load average at the end: {loadavg()}")
    print(f"`portcullis audit verify` over the whole trail after a graceful stop: {verdict}")
    print("Targets: growth under 10%, zero errors.")


def verify_trail(gw: fullstage.Gateway) -> str:
    """Stops the gateway (which seals a final checkpoint) and verifies its trail."""
    gw.proc.terminate()
    gw.proc.wait(timeout=60)
    files = sorted(str(p) for p in (gw.folder / "audit").glob("*.jsonl"))
    out = subprocess.run([str(RELEASE / "portcullis"), "audit", "verify", *files], capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    return f"exit {out.returncode}, {lines[-1] if lines else out.stderr.strip()[:200]}"
