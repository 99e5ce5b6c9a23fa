"""An MCP Python SDK (2.x) client that authenticates the way the MCP spec says:
it sends a request without a token, follows the 401's `resource_metadata` to the
gateway's RFC 9728 document, discovers the authorization server, obtains a token
with the client-credentials grant (RFC 8707 `resource` = the gateway's URL) and
retries. Prints a JSON summary.

Usage: python py_oauth_client.py MCP_URL ISSUER CLIENT_ID CLIENT_SECRET
"""

import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client


class MemoryStorage:
    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


async def main(url, issuer, client_id, client_secret):
    storage = MemoryStorage()
    provider = ClientCredentialsOAuthProvider(
        server_url=url,
        storage=storage,
        client_id=client_id,
        client_secret=client_secret,
        scope="mcp:tools",
        issuer=issuer,
    )
    async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            tools = await client.list_tools()
            result = await client.call_tool("test_simple_text", {})
    print(
        json.dumps(
            {
                "tools": sorted(t.name for t in tools.tools),
                "call": [c.text for c in result.content if getattr(c, "text", None)],
                "token_type": storage.tokens.token_type if storage.tokens else None,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
