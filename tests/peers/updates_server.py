#!/usr/bin/env python3
"""An MCP server (Python SDK) that tells its clients when its resources change,
for authorization's tests (tests/authz_updates.rs): a caller who may not read a
resource must not hear that it exists and changed.

    python tests/peers/updates_server.py PORT

Serves Streamable HTTP at http://127.0.0.1:PORT/mcp until killed, in both eras.
Resources `notes://public` and `notes://secret`. Tool `touch(uri)` reports the
resource at `uri` changed: to every `subscriptions/listen` stream that asked for
it (2026-07-28), and, to a session-era client, on its session with
`send_resource_updated`, whether or not it subscribed: `resources/subscribe` is
accepted and not tracked (the SDK leaves tracking subscriptions to the server).
"""

import sys
import warnings

import uvicorn
from mcp import types
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning

warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

server = MCPServer("updates")


async def subscribe(ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
    """Accepted and not tracked: `touch` tells the session either way."""
    return types.EmptyResult()


server._lowlevel_server.add_request_handler("resources/subscribe", types.SubscribeRequestParams, subscribe)


@server.resource("notes://public")
def public() -> str:
    """Notes everyone may read."""
    return "Team lunch on Friday."


@server.resource("notes://secret")
def secret() -> str:
    """Notes for the board only."""
    return "Merger code name: BLUEBIRD."


@server.tool()
async def touch(uri: str, ctx: Context) -> str:
    """Reports that the resource at `uri` changed."""
    await ctx.notify_resource_updated(uri)
    if not ctx.request_context.protocol_version.startswith("2026"):
        await ctx.session.send_resource_updated(uri)
    return f"touched {uri}"


if __name__ == "__main__":
    app = server.streamable_http_app(host="127.0.0.1")
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", lifespan="on")
