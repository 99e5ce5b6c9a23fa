#!/usr/bin/env python3
"""A legacy HTTP+SSE (2024-11-05) session with the MCP Python SDK's sse_client.

Usage: py_legacy_sse.py SSE_URL [--bearer TOKEN] [--call NAME ARGUMENTS_JSON]...
Initializes, lists the tools, makes each call, and prints one JSON object:
{"protocol": ..., "tools": [...], "calls": [result or {"error": {...}}, ...]}.
If the GET is refused, prints {"status": <HTTP status>}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import httpx2
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.shared.exceptions import MCPError


async def session(a: argparse.Namespace) -> dict:
    headers = {"Authorization": f"Bearer {a.bearer}"} if a.bearer else None
    async with sse_client(a.url, headers=headers, timeout=10) as (read, write):
        async with ClientSession(read, write, read_timeout_seconds=20) as client:
            init = await client.initialize()
            tools = sorted(t.name for t in (await client.list_tools()).tools)
            calls = []
            for name, arguments in a.call or []:
                try:
                    result = await client.call_tool(name, json.loads(arguments))
                    calls.append(result.model_dump(mode="json", exclude_none=True, by_alias=True))
                except MCPError as e:
                    calls.append({"error": {"code": e.error.code, "message": e.error.message}})
            return {"protocol": init.protocol_version, "tools": tools, "calls": calls}


def status_of(error: BaseException) -> int | None:
    if isinstance(error, httpx2.HTTPStatusError):
        return error.response.status_code
    for inner in getattr(error, "exceptions", ()):
        status = status_of(inner)
        if status is not None:
            return status
    return None


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--bearer")
    p.add_argument("--call", nargs=2, action="append", metavar=("NAME", "ARGUMENTS"))
    a = p.parse_args()
    try:
        out = await session(a)
    except BaseException as e:  # noqa: BLE001 - the status is the answer
        status = status_of(e)
        if status is None:
            raise
        out = {"status": status}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    asyncio.run(main())
