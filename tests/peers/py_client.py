#!/usr/bin/env python3
"""A real MCP Python SDK (2.x) client session, summarised as JSON.

portcullis' tests run this against an upstream directly and through the gateway
and require the two summaries to be identical. The summary keeps what a client
sees (tool names, call results, notifications received, resources, prompts) and
drops what legitimately differs between two connections (session ids, event ids,
sealed request state).

Usage: py_client.py URL --mode legacy|auto|2026-07-28 --profile fixture|everything|rmcp
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import mcp_types as types
from mcp import Client


def dump(model: Any) -> Any:
    data = model.model_dump(mode="json", exclude_none=True, by_alias=True)
    return strip_meta(data)


def strip_meta(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_meta(v) for k, v in sorted(value.items()) if k not in ("_meta", "ttlMs", "cacheScope")}
    if isinstance(value, list):
        return [strip_meta(v) for v in value]
    return value


# Tool calls per profile: (tool, arguments). Each profile names tools its server has.
CALLS: dict[str, dict[str, list[tuple[str, dict[str, Any]]]]] = {
    "fixture": {
        "legacy": [
            ("test_simple_text", {}),
            ("test_image_content", {}),
            ("test_embedded_resource", {}),
            ("test_error_handling", {}),
            ("test_tool_with_progress", {}),
            ("test_tool_with_logging", {}),
            ("test_sampling", {"prompt": "Say hello"}),
            ("test_elicitation", {"message": "Your name?"}),
        ],
        "modern": [
            ("test_simple_text", {}),
            ("test_image_content", {}),
            ("test_error_handling", {}),
            ("test_tool_with_progress", {}),
            ("test_input_required_result_elicitation", {}),
            ("test_input_required_result_sampling", {}),
            ("test_input_required_result_multi_round", {}),
        ],
    },
    "everything": {
        "legacy": [("echo", {"message": "hello through the gateway"}), ("get-sum", {"a": 2, "b": 3})],
        "modern": [],
    },
    "rmcp": {
        "legacy": [("echo", {"text": "hello"}), ("sum", {"a": 2, "b": 40})],
        "modern": [("echo", {"text": "hello"}), ("sum", {"a": 2, "b": 40})],
    },
}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--mode", default="auto")
    parser.add_argument("--profile", default="fixture")
    args = parser.parse_args()

    counters = {"progress": 0, "logs": 0, "sampling": 0, "elicitation": 0}

    async def on_sampling(_ctx: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        counters["sampling"] += 1
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="Paris"),
            model="portcullis-test-model",
            stop_reason="endTurn",
        )

    async def on_elicitation(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        counters["elicitation"] += 1
        # Answer every requested property with a fixed value of its type.
        schema = getattr(params, "requested_schema", None) or {}
        fixed = {"name": "Ada", "color": "teal", "username": "ada", "email": "ada@example.com"}
        content: dict[str, Any] = {}
        for key, prop in (schema.get("properties") or {}).items():
            kind = prop.get("type") if isinstance(prop, dict) else None
            content[key] = {"boolean": True, "integer": 7, "number": 7}.get(kind or "", fixed.get(key, "x"))
        return types.ElicitResult(action="accept", content=content or fixed)

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        counters["logs"] += 1

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        counters["progress"] += 1

    summary: dict[str, Any] = {}
    async with Client(
        args.url,
        mode=args.mode,
        sampling_callback=on_sampling,
        elicitation_callback=on_elicitation,
        logging_callback=on_log,
        log_level="debug" if args.mode != "legacy" else None,
        read_timeout_seconds=30,
        cache=None,
    ) as client:
        modern = client.protocol_version >= "2026-07-28"
        summary["protocol"] = client.protocol_version
        summary["server"] = client.server_info.name if client.server_info else None
        if not modern and args.profile == "fixture":
            await client.set_logging_level("debug")
        tools = await client.list_tools()
        summary["tools"] = sorted(t.name for t in tools.tools)
        calls = {}
        for name, arguments in CALLS[args.profile]["modern" if modern else "legacy"]:
            result = await client.call_tool(name, arguments, progress_callback=on_progress)
            calls[name] = dump(result)
        summary["calls"] = calls
        if args.profile != "rmcp":
            resources = await client.list_resources()
            uris = sorted(str(r.uri) for r in resources.resources)
            summary["resources"] = uris[:5]
            first = "test://static-text" if args.profile == "fixture" else uris[0]
            summary["read"] = dump(await client.read_resource(first))
            prompts = await client.list_prompts()
            names = sorted(p.name for p in prompts.prompts)
            summary["prompts"] = names
            prompt = "test_simple_prompt" if args.profile == "fixture" else "simple-prompt"
            if prompt in names:
                summary["prompt"] = dump(await client.get_prompt(prompt))
        summary["callbacks"] = counters
    json.dump(summary, sys.stdout, sort_keys=True, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    asyncio.run(main())
