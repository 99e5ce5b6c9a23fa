#!/usr/bin/env python3
"""Which resource updates an MCP Python SDK client hears, printed as JSON.

Usage: py_updates.py URL --mode legacy|2026-07-28 --touch URI [URI ...] [--listen URI ...]

At 2026-07-28 the client opens a `subscriptions/listen` stream for the
`--listen` URIs; in the session era it subscribes to them with
`resources/subscribe`. Then it calls the server's `touch` tool on each `--touch`
URI in order (after listing the tools) and collects `notifications/resources/updated` until the last
touched URI's update arrives (at most 15 s). Prints
{"heard": [uri, ...], "subscribed": {uri: "ok" | error}}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
    a = p.parse_args()
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
            for uri in a.touch:
                await client.call_tool("touch", {"uri": uri})
            with anyio.move_on_after(15):
                await last.wait()
        else:
            # The listen stream's events reach the message handler too.
            async with client.listen(resource_subscriptions=a.listen):
                for uri in a.touch:
                    await client.call_tool("touch", {"uri": uri})
                with anyio.move_on_after(15):
                    await last.wait()
    json.dump({"heard": heard, "subscribed": subscribed}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    asyncio.run(main())
