#!/usr/bin/env python3
"""A deliberately misbehaving MCP server over stdio, for portcullis' stdio tests.

Standard library only (fast to start, no SDK in the way). It speaks just enough
legacy MCP to be initialised and called: `initialize`, `notifications/initialized`,
`ping`, `tools/list`, and `tools/call` of `echo` (returns its `text` argument) and
`env` (returns the value of the variable named by `name`, or null; the working
directory for `__cwd__`). Everything else
gets -32601, including `server/discover` (a legacy-only server).

Misbehaviour, each optional:
  --crash-after N     exit(3) on the (N+1)th tools/call, without answering it
  --hang-after N      stop answering anything after N tools/call answers
  --once FILE         crash/hang only if FILE does not exist (and create it), so
                      the restarted process behaves
  --garbage           before every answer, write lines that are not JSON-RPC
                      messages (text, JSON that is not JSON-RPC, an array, a line
                      of 100000 bytes, invalid UTF-8, a response to an unknown id)
  --ignore-term       ignore SIGTERM, and keep running after stdin closes
  --grandchild        start `sleep 300` in the background; print its pid to
                      stderr as "GRANDCHILD <pid>"
  --stderr N          write N lines to stderr at start-up

Every start prints "STARTED <pid>" to stderr.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time


def write(obj_or_bytes):
    out = sys.stdout.buffer
    if isinstance(obj_or_bytes, bytes):
        out.write(obj_or_bytes + b"\n")
    else:
        out.write(json.dumps(obj_or_bytes).encode() + b"\n")
    out.flush()


GARBAGE = [
    b"this is not json",
    b'{"hello": "world"}',
    b"[1, 2, 3]",
    b"x" * 100_000,
    b'{"jsonrpc":"2.0","id":1,"result":"\xff\xfe"}',
    b'{"jsonrpc":"2.0","id":987654321,"result":{}}',
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}',
    b"",
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--crash-after", type=int)
    parser.add_argument("--hang-after", type=int)
    parser.add_argument("--once")
    parser.add_argument("--garbage", action="store_true")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--grandchild", action="store_true")
    parser.add_argument("--stderr", type=int, default=0)
    args = parser.parse_args()

    print(f"STARTED {os.getpid()}", file=sys.stderr, flush=True)
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.grandchild:
        child = subprocess.Popen(["sleep", "300"])
        print(f"GRANDCHILD {child.pid}", file=sys.stderr, flush=True)
    for i in range(args.stderr):
        print(f"stderr line {i}", file=sys.stderr, flush=True)

    misbehave = True
    if args.once:
        misbehave = not os.path.exists(args.once)
        if misbehave:
            open(args.once, "w").close()

    calls = 0
    hanging = False
    for line in sys.stdin.buffer:
        message = json.loads(line)
        method = message.get("method")
        if "id" not in message or method is None:
            continue  # notifications and responses
        if hanging:
            continue
        if method == "tools/call":
            if misbehave and args.crash_after is not None and calls >= args.crash_after:
                sys.exit(3)
            if misbehave and args.hang_after is not None and calls >= args.hang_after:
                hanging = True
                continue
            calls += 1
        if args.garbage:
            for g in GARBAGE:
                write(g)
        write(answer(message))

    if args.ignore_term:
        while True:
            time.sleep(1)


def answer(message):
    method, params = message["method"], message.get("params") or {}
    reply = {"jsonrpc": "2.0", "id": message["id"]}
    if method == "initialize":
        reply["result"] = {
            "protocolVersion": params.get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "stdio-hostile", "version": "1.0.0"},
        }
    elif method == "ping":
        reply["result"] = {}
    elif method == "tools/list":
        reply["result"] = {"tools": [{"name": "echo", "inputSchema": {"type": "object"}},
                                     {"name": "env", "inputSchema": {"type": "object"}}]}
    elif method == "tools/call" and params.get("name") == "echo":
        text = (params.get("arguments") or {}).get("text", "")
        reply["result"] = {"content": [{"type": "text", "text": text}]}
    elif method == "tools/call" and params.get("name") == "env":
        name = (params.get("arguments") or {}).get("name", "")
        value = os.getcwd() if name == "__cwd__" else os.environ.get(name)
        reply["result"] = {"content": [{"type": "text", "text": json.dumps(value)}]}
    else:
        reply["error"] = {"code": -32601, "message": f"Method not found: {method}"}
    return reply


if __name__ == "__main__":
    main()
