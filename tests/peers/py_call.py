#!/usr/bin/env python3
"""One tool call (or a tools/list) with the MCP Python SDK, printed as JSON.

Usage: py_call.py URL TOOL [ARGUMENTS_JSON] [--mode legacy|2026-07-28|auto]
       py_call.py URL --list [--mode ...]
Prints the CallToolResult (or the tool names) as JSON, or {"error": {...}} when
the server answers with a JSON-RPC error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from mcp import Client
from mcp.shared.exceptions import MCPError


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("tool", nargs="?")
    p.add_argument("arguments", nargs="?", default="{}")
    p.add_argument("--mode", default="auto")
    p.add_argument("--list", action="store_true")
    p.add_argument("--bearer")
    a = p.parse_args()
    out: object
    async with Client(a.url, mode=a.mode, read_timeout_seconds=30, cache=None) as client:
        try:
            if a.list:
                out = sorted(t.name for t in (await client.list_tools()).tools)
            else:
                result = await client.call_tool(a.tool, json.loads(a.arguments))
                out = result.model_dump(mode="json", exclude_none=True, by_alias=True)
        except MCPError as e:
            out = {"error": {"code": e.error.code, "message": e.error.message}}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    asyncio.run(main())
