#!/usr/bin/env python3
"""One tool call (or a tools/list) with the MCP Python SDK, printed as JSON.

Usage: py_call.py URL TOOL [ARGUMENTS_JSON] [--mode legacy|2026-07-28|auto] [--sample TEXT]
       py_call.py URL --list [--mode ...]
       py_call.py URL --complete PROMPT ARGUMENT VALUE [--mode ...]
With --sample, the client takes sampling requests and its "model" answers TEXT.
Prints the CallToolResult (or the tool names, or the completion) as JSON, or {"error": {...}} when
the server answers with a JSON-RPC error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from mcp import Client, types
from mcp.shared.exceptions import MCPError


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("tool", nargs="?")
    p.add_argument("arguments", nargs="?", default="{}")
    p.add_argument("--mode", default="auto")
    p.add_argument("--list", action="store_true")
    p.add_argument("--complete", nargs=3, metavar=("PROMPT", "ARGUMENT", "VALUE"))
    p.add_argument("--bearer")
    p.add_argument("--sample")
    a = p.parse_args()
    extra = {}
    if a.sample is not None:

        async def sample(context, params):
            return types.CreateMessageResult(
                role="assistant",
                content=types.TextContent(type="text", text=a.sample),
                model="scripted",
                stop_reason="endTurn",
            )

        extra["sampling_callback"] = sample
    out: object
    async with Client(a.url, mode=a.mode, read_timeout_seconds=30, cache=None, **extra) as client:
        try:
            if a.list:
                out = sorted(t.name for t in (await client.list_tools()).tools)
            elif a.complete:
                prompt, name, value = a.complete
                ref = types.PromptReference(type="ref/prompt", name=prompt)
                result = await client.complete(ref, {"name": name, "value": value})
                out = result.completion.model_dump(mode="json", exclude_none=True, by_alias=True)
            else:
                result = await client.call_tool(a.tool, json.loads(a.arguments))
                out = result.model_dump(mode="json", exclude_none=True, by_alias=True)
        except MCPError as e:
            out = {"error": {"code": e.error.code, "message": e.error.message}}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    asyncio.run(main())
