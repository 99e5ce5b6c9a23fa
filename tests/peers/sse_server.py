"""A Python SDK server over the legacy HTTP+SSE transport (MCP 2024-11-05).

Usage: sse_server.py PORT. Serves GET /sse and POST /messages/ on 127.0.0.1:PORT
until killed. Used by tests/sse.rs.
"""

import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("py-sse")


@server.tool()
def add(a: int, b: int) -> str:
    """Adds two integers."""
    return str(a + b)


if __name__ == "__main__":
    import anyio

    anyio.run(lambda: server.run_sse_async(host="127.0.0.1", port=int(sys.argv[1])))
