#!/usr/bin/env python3
"""A stdio MCP server on the official Python SDK that reports the trace context
it received, for portcullis' trace tests.

Its one tool, `trace_context`, returns (as JSON text) the `traceparent` and
`tracestate` of the request's `params._meta`, or null for each that is absent:
what an upstream instrumented per the MCP `_meta` trace-context convention
would use as its parent.

    python tests/peers/stdio_traced.py
"""

import json

from mcp.server.mcpserver import Context, MCPServer

mcp = MCPServer("stdio-traced")


@mcp.tool()
def trace_context(ctx: Context) -> str:
    """The `_meta.traceparent` and `_meta.tracestate` this call carried."""
    meta = ctx.request_context.meta or {}
    return json.dumps({"traceparent": meta.get("traceparent"), "tracestate": meta.get("tracestate")})


if __name__ == "__main__":
    mcp.run("stdio")
