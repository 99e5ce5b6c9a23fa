#!/usr/bin/env python3
"""Which resource updates an MCP Python SDK client hears, printed as JSON.

Usage: py_updates.py URL --mode legacy|2026-07-28 --touch URI [URI ...] [--listen URI ...]
                     [--ready FILE --go FILE]

At 2026-07-28 the client opens a `subscriptions/listen` stream for the
`--listen` URIs; in the session era it subscribes to them with
`resources/subscribe`. Then it calls the server's `touch` tool on each `--touch`
URI in order (after listing the tools) and collects `notifications/resources/updated` until the last
touched URI's update arrives (at most 15 s). Prints
{"heard": [uri, ...], "subscribed": {uri: "ok" | error}}. With --ready and --go, once
subscribed it creates the file READY and waits (at most 30 s) for the file GO
before touching anything: a test changes the gateway's policies meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import warnings

import anyio
from mcp import Client, types
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

warnings.filterwarnings("ignore", category=MCPDeprecationWarning)


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--mode", default="auto")
    p.add_argument("--touch", nargs="+", required=True)
    p.add_argument("--listen", nargs="*", default=[])
    p.add_argument("--ready")
    p.add_argument("--go")
    a = p.parse_args()

    async def hold() -> None:
        if not a.ready:
            return
        open(a.ready, "w").close()
        with anyio.move_on_after(30):
            while not os.path.exists(a.go):
                await anyio.sleep(0.05)
    heard: list[str] = []
    last = anyio.Event()

    def hear(uri: str) -> None:
        heard.append(uri)
        if uri == a.touch[-1]:
            last.set()

    async def on_message(message) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            hear(str(message.params.uri))

    subscribed: dict[str, str] = {}
    async with Client(a.url, mode=a.mode, read_timeout_seconds=30, cache=None, message_handler=on_message) as client:
        # A gateway may refuse a call to a tool its client never listed.
        await client.list_tools()
        if a.mode == "legacy":
            for uri in a.listen:
                try:
                    await client.subscribe_resource(uri)
                    subscribed[uri] = "ok"
                except MCPError as e:
                    subscribed[uri] = f"{e.error.code} {e.error.message}"
            await hold()
            for uri in a.touch:
                await client.call_tool("touch", {"uri": uri})
            with anyio.move_on_after(15):
                await last.wait()
        else:
            # The listen stream's events reach the message handler too.
            async with client.listen(resource_subscriptions=a.listen):
                await hold()
                for uri in a.touch:
                    await client.call_tool("touch", {"uri": uri})
                with anyio.move_on_after(15):
                    await last.wait()
    json.dump({"heard": heard, "subscribed": subscribed}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    asyncio.run(main())
