#!/usr/bin/env python3
"""Conformance fixture: an MCP server for `@modelcontextprotocol/conformance`.

This is the *upstream* peer that portcullis' tests put behind the gateway. The
conformance suite is run against it directly and through the gateway, and the
two verdict sets are compared, so everything here is deterministic: fixed
payloads, no randomness in any tool output, and wall-clock use only where the
contract asks for pacing (the ~50 ms gaps between log/progress notifications).

Built on the MCP Python SDK 2.x (`mcp==2.3.0`, see `requirements.txt`), which
serves both protocol eras on one Streamable HTTP endpoint (`/mcp`):

* the legacy, session-based revisions 2025-03-26 .. 2025-11-25 (`initialize`
  handshake, `Mcp-Session-Id`, server-to-client requests on the POST's SSE
  stream, GET streams, `Last-Event-ID` resumption), and
* the stateless 2026-07-28 revision (every request carries its own `_meta`
  envelope, routed by the `MCP-Protocol-Version` header; no server-to-client
  requests: interaction goes through `InputRequiredResult`, "MRTR").

The tools, resources and prompts implement the contract printed in each
scenario's description in the suite (`conformance list`, and the scenario
sources in its `dist/`). Names, texts and shapes below are the ones the
scenarios look for; comments flag the non-obvious requirements.

Usage:
    python tests/peers/conformance_fixture.py --host 127.0.0.1 --port 0
    python tests/peers/conformance_fixture.py --stdio

With ``--stdio`` the same server speaks newline-delimited JSON-RPC on
stdin/stdout instead (dual-era too: the first request decides the era) and
prints nothing else to stdout.

Once the server accepts connections it prints exactly one line,
``LISTENING http://<host>:<port>/mcp``, to stdout. Everything else (logs) goes
to stderr. It runs until SIGTERM/SIGINT and then exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import signal
import socket
import sys
import warnings
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Final

import uvicorn
from mcp.server.caching import CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer, UserMessage
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.types import (
    INVALID_REQUEST,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    AudioContent,
    CallToolResult,
    ClientCapabilities,
    Completion,
    CompletionArgument,
    CompletionContext,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    EmbeddedResource,
    EmptyResult,
    ImageContent,
    InputRequest,
    InputRequiredResult,
    JSONRPCMessage,
    ListRootsRequest,
    ListRootsResult,
    LoggingLevel,
    MissingRequiredClientCapabilityErrorData,
    PromptReference,
    RequestParams,
    ResourceTemplateReference,
    SamplingCapability,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    TextResourceContents,
    UnsubscribeRequestParams,
)
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

# Logging, sampling, elicitation and roots are deprecated at 2026-07-28 but are
# exactly what the 2025 scenarios exercise; keep the warnings off stderr.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

# --------------------------------------------------------------------------- #
# Fixed payloads
# --------------------------------------------------------------------------- #

#: 1x1 PNG, used by every image content block and the binary resource.
PNG_1X1_BASE64: Final = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
#: Minimal RIFF/WAVE header with two bytes of silence.
WAV_BASE64: Final = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

#: Pacing between log / progress notifications, as the scenarios describe (~50 ms).
NOTIFICATION_GAP_S: Final = 0.05

#: SSE `retry:` hint (ms) sent in priming events; short, so SEP-1699 polling is quick.
SSE_RETRY_INTERVAL_MS: Final = 100

#: The JSON Schema 2020-12 tool (scenario `json-schema-2020-12`). The schema is
#: advertised verbatim: `$schema`, `$defs` (with an `$anchor`), `additionalProperties`,
#: `allOf`/`anyOf` and `if`/`then`/`else` must all survive the listing.
JSON_SCHEMA_2020_12_TOOL: Final = "json_schema_2020_12_tool"
JSON_SCHEMA_2020_12: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}

_LOG_LEVEL_ORDER: Final[tuple[LoggingLevel, ...]] = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)

# --------------------------------------------------------------------------- #
# Event store (SSE resumability, SEP-1699)
# --------------------------------------------------------------------------- #


class InMemoryEventStore(EventStore):
    """Bounded in-memory event store with sequential (deterministic) event ids.

    Lets a client that lost a POST/GET SSE stream resume it with `Last-Event-ID`
    (scenario `server-sse-polling`). Priming events (message `None`) are stored
    as cursors but never replayed.
    """

    def __init__(self, max_events: int = 10_000) -> None:
        self._events: deque[tuple[int, StreamId, JSONRPCMessage | None]] = deque(maxlen=max_events)
        self._next_id = 1

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        event_id = self._next_id
        self._next_id += 1
        self._events.append((event_id, stream_id, message))
        return str(event_id)

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        try:
            after = int(last_event_id)
        except ValueError:
            return None
        stream_id = next((sid for eid, sid, _ in self._events if eid == after), None)
        if stream_id is None:
            return None
        # Snapshot first: replay awaits, and new events may be appended meanwhile.
        for eid, sid, message in list(self._events):
            if eid > after and sid == stream_id and message is not None:
                await send_callback(EventMessage(message, str(eid)))
        return stream_id


# --------------------------------------------------------------------------- #
# Server state (process-wide, deterministic)
# --------------------------------------------------------------------------- #

#: `logging/setLevel` per legacy session (keyed by `Mcp-Session-Id`). The SDK
#: leaves filtering on handshake versions to the application.
_session_log_levels: dict[str, LoggingLevel] = {}
#: URIs subscribed through the legacy `resources/subscribe`.
_resource_subscriptions: set[str] = set()


def _session_id(ctx: Context) -> str | None:
    headers = ctx.headers
    return headers.get("mcp-session-id") if headers is not None else None


async def _log(ctx: Context, level: LoggingLevel, message: str) -> None:
    """Send `notifications/message`, honouring the session's `logging/setLevel`.

    On 2026-07-28 the SDK itself drops the entry unless this request opted in
    with `_meta["io.modelcontextprotocol/logLevel"]` (scenario `server-stateless`).
    """
    sid = _session_id(ctx)
    threshold = _session_log_levels.get(sid, "debug") if sid is not None else "debug"
    if _LOG_LEVEL_ORDER.index(level) < _LOG_LEVEL_ORDER.index(threshold):
        return
    await ctx.log(level, message, logger_name="conformance-fixture")


def _is_modern(ctx: Context) -> bool:
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


def _require_modern(ctx: Context) -> None:
    """Reject MRTR diagnostics on handshake-era connections, where InputRequiredResult does not exist."""
    if not _is_modern(ctx):
        raise MCPError(code=INVALID_REQUEST, message="This diagnostic needs protocol 2026-07-28 (InputRequiredResult)")


def _require_legacy(ctx: Context, what: str) -> None:
    """Fail the tool (isError result) when called over 2026-07-28, which has no back-channel."""
    if _is_modern(ctx):
        raise ToolError(f"{what} needs a server-to-client request (protocol <= 2025-11-25)")


# --------------------------------------------------------------------------- #
# Building and reading input requests (server-to-client requests on the legacy
# wire, InputRequiredResult entries on 2026-07-28)
# --------------------------------------------------------------------------- #

_CONFIRM_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"confirmed": {"type": "boolean", "description": "Confirm?"}},
}
_NAME_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
}


def _elicit(message: str, schema: Mapping[str, Any]) -> InputRequest:
    return ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=dict(schema)))


def _sample(text: str, max_tokens: int) -> InputRequest:
    return CreateMessageRequest(
        params=CreateMessageRequestParams(
            messages=[SamplingMessage(role="user", content=TextContent(type="text", text=text))],
            max_tokens=max_tokens,
        )
    )


def _list_roots() -> InputRequest:
    return ListRootsRequest(params=RequestParams())


def _accepted(responses: Mapping[str, Any] | None, key: str, field: str) -> Any | None:
    """The value of `field` in an accepted elicitation answer under `key`, else None."""
    answer = (responses or {}).get(key)
    if isinstance(answer, ElicitResult) and answer.action == "accept" and answer.content:
        return answer.content.get(field)
    return None


def _sampled_text(responses: Mapping[str, Any] | None, key: str) -> str | None:
    answer = (responses or {}).get(key)
    if isinstance(answer, CreateMessageResult) and isinstance(answer.content, TextContent):
        return answer.content.text
    return None


def _roots(responses: Mapping[str, Any] | None, key: str) -> list[str] | None:
    answer = (responses or {}).get(key)
    if isinstance(answer, ListRootsResult):
        return [str(root.uri) for root in answer.roots]
    return None


def _canonical(value: Any) -> str:
    """Compact, key-sorted JSON: deterministic text for echoed client data."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# --------------------------------------------------------------------------- #
# The JSON Schema 2020-12 tool (its inputSchema replaces the generated one)
# --------------------------------------------------------------------------- #


def json_schema_2020_12_tool(
    name: str | None = None,
    address: dict[str, Any] | None = None,
    contactMethod: str | None = None,  # noqa: N803 - wire name from the scenario
    phone: str | None = None,
    email: str | None = None,
) -> str:
    """Tool with JSON Schema 2020-12 features"""
    contact = phone if contactMethod == "phone" else email
    return f"json-schema-2020-12 ok: name={name}, contact={contact}"


def _json_schema_tool() -> Tool:
    tool = Tool.from_function(json_schema_2020_12_tool, name=JSON_SCHEMA_2020_12_TOOL)
    # Advertise the hand-written 2020-12 schema verbatim instead of the one
    # pydantic derives from the signature; arguments are still validated
    # against the (all-optional) signature.
    tool.parameters = dict(JSON_SCHEMA_2020_12)
    return tool


mcp = MCPServer(
    name="portcullis-conformance-fixture",
    version="1.0.0",
    instructions="Conformance fixture for the portcullis MCP gateway tests.",
    log_level="WARNING",
    # Constructor tools are listed first; every other tool is registered with
    # @mcp.tool() below and listed in definition order.
    tools=[_json_schema_tool()],
    # SEP-2549 (scenario `caching`): every cacheable 2026-07-28 result carries
    # `ttlMs` + `cacheScope`. Fixed values, so responses stay byte-stable.
    cache_hints={
        "tools/list": CacheHint(ttl_ms=60_000, scope="public"),
        "prompts/list": CacheHint(ttl_ms=60_000, scope="public"),
        "resources/list": CacheHint(ttl_ms=60_000, scope="public"),
        "resources/templates/list": CacheHint(ttl_ms=60_000, scope="public"),
        "resources/read": CacheHint(ttl_ms=0, scope="private"),
    },
)


# --------------------------------------------------------------------------- #
# Tools: content types (both eras)
# --------------------------------------------------------------------------- #


@mcp.tool()
def test_simple_text() -> str:
    """Tests simple text content response"""
    return "This is a simple text response for testing."


@mcp.tool()
def test_image_content() -> list[ImageContent]:
    """Tests image content response"""
    return [ImageContent(type="image", data=PNG_1X1_BASE64, mime_type="image/png")]


@mcp.tool()
def test_audio_content() -> list[AudioContent]:
    """Tests audio content response"""
    return [AudioContent(type="audio", data=WAV_BASE64, mime_type="audio/wav")]


@mcp.tool()
def test_embedded_resource() -> list[EmbeddedResource]:
    """Tests embedded resource content response"""
    return [
        EmbeddedResource(
            type="resource",
            resource=TextResourceContents(
                uri="test://embedded-resource",
                mime_type="text/plain",
                text="This is an embedded resource content.",
            ),
        )
    ]


@mcp.tool()
def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
    """Tests response with multiple content types (text, image, resource)"""
    return [
        TextContent(type="text", text="Multiple content types test:"),
        ImageContent(type="image", data=PNG_1X1_BASE64, mime_type="image/png"),
        EmbeddedResource(
            type="resource",
            resource=TextResourceContents(
                uri="test://mixed-content-resource",
                mime_type="application/json",
                text='{"test":"data","value":123}',
            ),
        ),
    ]


@mcp.tool()
def test_error_handling() -> CallToolResult:
    """Tests error response handling"""
    # A tool *execution* error: a result with isError, not a JSON-RPC error.
    return CallToolResult(
        is_error=True,
        content=[TextContent(type="text", text="This tool intentionally returns an error for testing")],
    )


# --------------------------------------------------------------------------- #
# Tools: notifications (logging, progress)
# --------------------------------------------------------------------------- #


@mcp.tool()
async def test_tool_with_logging(ctx: Context) -> str:
    """Tests tool that emits log messages during execution"""
    await _log(ctx, "info", "Tool execution started")
    await asyncio.sleep(NOTIFICATION_GAP_S)
    await _log(ctx, "info", "Tool processing data")
    await asyncio.sleep(NOTIFICATION_GAP_S)
    await _log(ctx, "info", "Tool execution completed")
    return "Tool with logging executed successfully"


@mcp.tool()
async def test_logging_tool(ctx: Context) -> str:
    """Emits log messages at several levels (2026-07-28: only if the request opted in via _meta logLevel)"""
    # Scenario `server-stateless` (sep-2575-server-no-log-without-loglevel): a
    # request without `_meta[.../logLevel]` must see no notifications/message.
    await _log(ctx, "debug", "debug entry from test_logging_tool")
    await _log(ctx, "info", "info entry from test_logging_tool")
    await _log(ctx, "warning", "warning entry from test_logging_tool")
    return "Logging tool executed"


@mcp.tool()
async def test_tool_with_progress(ctx: Context) -> str:
    """Tests tool that reports progress notifications"""
    # report_progress is a no-op when the request carried no progressToken.
    for step in (0, 50, 100):
        if step:
            await asyncio.sleep(NOTIFICATION_GAP_S)
        await ctx.report_progress(progress=step, total=100, message=f"Completed step {step} of 100")
    meta = ctx.request_context.meta or {}
    return f"Progress test completed (progressToken={meta.get('progress_token')})"


# --------------------------------------------------------------------------- #
# Tools: server-to-client requests (legacy era only)
# --------------------------------------------------------------------------- #


@mcp.tool()
async def test_sampling(prompt: str, ctx: Context) -> str:
    """Tests server-initiated sampling (LLM completion request)"""
    _require_legacy(ctx, "sampling")
    result = await ctx.session.create_message(
        messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
        max_tokens=100,
        related_request_id=ctx.request_context.request_id,
    )
    content = result.content
    text = content.text if isinstance(content, TextContent) else f"<{content.type} content>"
    return f"LLM response: {text}"


@mcp.tool()
async def test_elicitation(message: str, ctx: Context) -> str:
    """Tests server-initiated elicitation (user input request)"""
    _require_legacy(ctx, "elicitation")
    result = await ctx.session.elicit_form(
        message=message,
        requested_schema={
            "type": "object",
            "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"},
            },
            "required": ["username", "email"],
        },
        related_request_id=ctx.request_context.request_id,
    )
    return f"User response: action={result.action}, content={_canonical(result.content)}"


@mcp.tool()
async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
    """Tests elicitation with default values for all primitive types (SEP-1034)"""
    _require_legacy(ctx, "elicitation")
    # Hand-written schema: the scenario checks exact types and `default`s.
    result = await ctx.session.elicit_form(
        message="Please review and update the form fields with defaults",
        requested_schema={
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "User name", "default": "John Doe"},
                "age": {"type": "integer", "description": "User age", "default": 30},
                "score": {"type": "number", "description": "User score", "default": 95.5},
                "status": {
                    "type": "string",
                    "description": "User status",
                    "enum": ["active", "inactive", "pending"],
                    "default": "active",
                },
                "verified": {"type": "boolean", "description": "Verification status", "default": True},
            },
            "required": [],
        },
        related_request_id=ctx.request_context.request_id,
    )
    return f"Elicitation completed: action={result.action}, content={_canonical(result.content)}"


@mcp.tool()
async def test_elicitation_sep1330_enums(ctx: Context) -> str:
    """Tests elicitation with enum schema variations per SEP-1330"""
    _require_legacy(ctx, "elicitation")
    # All five SEP-1330 enum shapes; titled variants must not also carry `enum`.
    result = await ctx.session.elicit_form(
        message="Please select values using different enum schema types",
        requested_schema={
            "type": "object",
            "properties": {
                "untitledSingle": {
                    "type": "string",
                    "description": "Untitled single-select enum",
                    "enum": ["option1", "option2", "option3"],
                },
                "titledSingle": {
                    "type": "string",
                    "description": "Titled single-select enum",
                    "oneOf": [
                        {"const": "value1", "title": "First Option"},
                        {"const": "value2", "title": "Second Option"},
                        {"const": "value3", "title": "Third Option"},
                    ],
                },
                "legacyEnum": {
                    "type": "string",
                    "description": "Legacy titled enum (enumNames, deprecated)",
                    "enum": ["opt1", "opt2", "opt3"],
                    "enumNames": ["Option One", "Option Two", "Option Three"],
                },
                "untitledMulti": {
                    "type": "array",
                    "description": "Untitled multi-select enum",
                    "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
                },
                "titledMulti": {
                    "type": "array",
                    "description": "Titled multi-select enum",
                    "items": {
                        "anyOf": [
                            {"const": "value1", "title": "First Choice"},
                            {"const": "value2", "title": "Second Choice"},
                            {"const": "value3", "title": "Third Choice"},
                        ]
                    },
                },
            },
            "required": [],
        },
        related_request_id=ctx.request_context.request_id,
    )
    return f"Elicitation completed: action={result.action}, content={_canonical(result.content)}"


@mcp.tool()
async def test_reconnection(ctx: Context) -> str:
    """Tests SSE polling by closing the stream mid-call (SEP-1699)"""
    # Scenario `server-sse-polling`: the POST stream is closed after the priming
    # event (and one log entry); the client resumes with GET + Last-Event-ID and
    # must then receive the rest, including this result, replayed from the event
    # store. No-op when the transport has no event store (JSON / stateless mode).
    await _log(ctx, "info", "Before disconnect")
    await ctx.close_sse_stream()
    await asyncio.sleep(0.2)  # let the client notice the close and reconnect
    await _log(ctx, "info", "After reconnect")
    return "Reconnection test completed"


# --------------------------------------------------------------------------- #
# Tools: 2026-07-28 diagnostics (scenario `server-stateless`)
# --------------------------------------------------------------------------- #


@mcp.tool()
def test_missing_capability(ctx: Context) -> str:
    """Requires the client's sampling capability; rejects with -32021 when it was not declared"""
    caps = ctx.client_capabilities
    if caps is None or caps.sampling is None:
        # SEP-2575: data.requiredCapabilities is a ClientCapabilities object
        # ({"sampling": {}}), not a list; HTTP 400 on the 2026 wire.
        data = MissingRequiredClientCapabilityErrorData(
            required_capabilities=ClientCapabilities(sampling=SamplingCapability())
        )
        raise MCPError(
            code=MISSING_REQUIRED_CLIENT_CAPABILITY,
            message="This tool requires the client's sampling capability",
            data=data.model_dump(by_alias=True, mode="json", exclude_none=True),
        )
    return "Client declared the sampling capability"


@mcp.tool()
async def test_streaming_elicitation(ctx: Context) -> str | InputRequiredResult:
    """Logs, then asks for confirmation (2026-07-28: as an InputRequiredResult, never a server request)"""
    # Scenario `server-stateless` (no-independent-requests-on-stream): on the
    # 2026 wire the response stream may carry notifications and the final
    # result only, so the question is an inputRequest, not elicitation/create.
    await _log(ctx, "info", "Streaming elicitation started")
    if not _is_modern(ctx):
        result = await ctx.session.elicit_form(
            message="Please confirm to continue",
            requested_schema=_CONFIRM_SCHEMA,
            related_request_id=ctx.request_context.request_id,
        )
        return f"Streaming elicitation: action={result.action}"
    answer = (ctx.input_responses or {}).get("confirm")
    if isinstance(answer, ElicitResult):
        return f"Streaming elicitation: action={answer.action}"
    return InputRequiredResult(input_requests={"confirm": _elicit("Please confirm to continue", _CONFIRM_SCHEMA)})


@mcp.tool()
async def test_trigger_tool_change(ctx: Context) -> str:
    """Publishes a tools list-changed event (subscriptions/listen, and the legacy GET stream)"""
    # The tool set itself stays fixed so `tools/list` remains deterministic.
    await ctx.notify_tools_changed()
    if not _is_modern(ctx):
        await ctx.session.send_tool_list_changed()
    return "tools/list_changed published"


@mcp.tool()
async def test_trigger_prompt_change(ctx: Context) -> str:
    """Publishes a prompts list-changed event (subscriptions/listen, and the legacy GET stream)"""
    await ctx.notify_prompts_changed()
    if not _is_modern(ctx):
        await ctx.session.send_prompt_list_changed()
    return "prompts/list_changed published"


# --------------------------------------------------------------------------- #
# Tools: custom headers (scenario `http-custom-header-server-validation`)
# --------------------------------------------------------------------------- #


@mcp.tool()
def test_custom_header_param(
    region: Annotated[
        str,
        Field(description="Mirrored into the Mcp-Param-Region header", json_schema_extra={"x-mcp-header": "Region"}),
    ],
) -> str:
    """Echoes a string parameter that 2026-07-28 clients mirror into the Mcp-Param-Region header (SEP-2243)"""
    # The SDK checks, before dispatch, that `Mcp-Param-Region` is present and
    # (after optional =?base64?...?= decoding) equals arguments.region: 400/-32020 otherwise.
    return f"region={region}"


# --------------------------------------------------------------------------- #
# Tools: multi-round-trip requests, MRTR (2026-07-28, SEP-2322)
# --------------------------------------------------------------------------- #
#
# Round 1 returns an InputRequiredResult; the client retries the same call with
# `inputResponses` (keyed like `inputRequests`) and the echoed `requestState`.
# `requestState` is sealed and verified by the SDK's RequestStateBoundary
# (AES-GCM, per-process key): handlers only ever see plaintext they minted, and
# a tampered echo is rejected with -32602 before the tool runs.


@mcp.tool()
def test_input_required_result_elicitation(ctx: Context) -> str | InputRequiredResult:
    """MRTR: asks for the user's name via an elicitation input request (key "user_name")"""
    _require_modern(ctx)
    name = _accepted(ctx.input_responses, "user_name", "name")
    if isinstance(name, str):
        return f"Hello, {name}!"
    # Round 1, and also a retry whose answers miss "user_name" (scenario
    # `input-required-result-missing-input-response`): (re-)ask, never error.
    return InputRequiredResult(input_requests={"user_name": _elicit("What is your name?", _NAME_SCHEMA)})


@mcp.tool()
def test_input_required_result_sampling(ctx: Context) -> str | InputRequiredResult:
    """MRTR: asks the client's LLM a question via a sampling input request"""
    _require_modern(ctx)
    text = _sampled_text(ctx.input_responses, "capital_question")
    if text is not None:
        return f"Sampling response: {text}"
    return InputRequiredResult(input_requests={"capital_question": _sample("What is the capital of France?", 100)})


@mcp.tool()
def test_input_required_result_list_roots(ctx: Context) -> str | InputRequiredResult:
    """MRTR: asks for the client's roots via a roots/list input request"""
    _require_modern(ctx)
    roots = _roots(ctx.input_responses, "client_roots")
    if roots is not None:
        return f"Client roots: {', '.join(roots) or '(none)'}"
    return InputRequiredResult(input_requests={"client_roots": _list_roots()})


_REQUEST_STATE_R1: Final = "request-state:awaiting-confirm"


@mcp.tool()
def test_input_required_result_request_state(ctx: Context) -> str | InputRequiredResult:
    """MRTR: round-trips requestState; the final text contains "state-ok" once it was validated"""
    _require_modern(ctx)
    ok = _accepted(ctx.input_responses, "confirm", "ok")
    if ok is not None and ctx.request_state == _REQUEST_STATE_R1:
        return f"state-ok: confirmed={ok}"
    return InputRequiredResult(
        input_requests={
            "confirm": _elicit(
                "Please confirm",
                {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]},
            )
        },
        request_state=_REQUEST_STATE_R1,
    )


@mcp.tool()
def test_input_required_result_multiple_inputs(ctx: Context) -> str | InputRequiredResult:
    """MRTR: one round with elicitation + sampling + roots/list input requests and requestState"""
    _require_modern(ctx)
    responses = ctx.input_responses
    name = _accepted(responses, "user_name", "name")
    greeting = _sampled_text(responses, "greeting")
    roots = _roots(responses, "client_roots")
    if ctx.request_state == "multiple-inputs:r1" and name is not None and greeting is not None and roots is not None:
        return f"name={name}; greeting={greeting}; roots={','.join(roots)}"
    return InputRequiredResult(
        input_requests={
            "user_name": _elicit("What is your name?", _NAME_SCHEMA),
            "greeting": _sample("Generate a greeting", 50),
            "client_roots": _list_roots(),
        },
        request_state="multiple-inputs:r1",
    )


@mcp.tool()
def test_input_required_result_multi_round(ctx: Context) -> str | InputRequiredResult:
    """MRTR: three rounds (name, then colour), with requestState evolving between rounds"""
    _require_modern(ctx)
    state = ctx.request_state
    responses = ctx.input_responses
    if state is not None and state.startswith("multi-round:r2:"):
        color = _accepted(responses, "step2", "color")
        name = state.removeprefix("multi-round:r2:")
        if isinstance(color, str):
            return f"{name} likes {color}"
        return _multi_round_step2(name)
    if state == "multi-round:r1":
        name = _accepted(responses, "step1", "name")
        if isinstance(name, str):
            return _multi_round_step2(name)
    return InputRequiredResult(
        input_requests={"step1": _elicit("Step 1: What is your name?", _NAME_SCHEMA)},
        request_state="multi-round:r1",
    )


def _multi_round_step2(name: str) -> InputRequiredResult:
    return InputRequiredResult(
        input_requests={
            "step2": _elicit(
                "Step 2: What is your favorite color?",
                {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]},
            )
        },
        request_state=f"multi-round:r2:{name}",
    )


@mcp.tool()
def test_input_required_result_tampered_state(ctx: Context) -> str | InputRequiredResult:
    """MRTR: requestState is integrity-protected; a modified echo is rejected before this runs"""
    _require_modern(ctx)
    if ctx.request_state == "tamper-check:r1" and _accepted(ctx.input_responses, "confirm", "ok") is not None:
        return "state verified"
    return InputRequiredResult(
        input_requests={
            "confirm": _elicit(
                "Please confirm",
                {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]},
            )
        },
        request_state="tamper-check:r1",
    )


@mcp.tool()
def test_input_required_result_capabilities(ctx: Context) -> str | InputRequiredResult:
    """MRTR: only asks for input kinds the client declared in _meta clientCapabilities"""
    _require_modern(ctx)
    if ctx.input_responses:
        return f"Received {len(ctx.input_responses)} input response(s)"
    caps = ctx.client_capabilities or ClientCapabilities()
    requests: dict[str, InputRequest] = {}
    if caps.elicitation is not None:
        requests["user_name"] = _elicit("What is your name?", _NAME_SCHEMA)
    if caps.sampling is not None:
        requests["greeting"] = _sample("Generate a greeting", 50)
    if caps.roots is not None:
        requests["client_roots"] = _list_roots()
    if not requests:
        return "No input capabilities declared; nothing to ask"
    return InputRequiredResult(input_requests=requests)


# --------------------------------------------------------------------------- #
# Resources
# --------------------------------------------------------------------------- #


@mcp.resource("test://static-text", name="static-text", mime_type="text/plain")
def static_text_resource() -> str:
    """A static text resource for testing"""
    return "This is the content of the static text resource."


@mcp.resource("test://static-binary", name="static-binary", mime_type="image/png")
def static_binary_resource() -> bytes:
    """A static binary resource (1x1 PNG) for testing"""
    return base64.b64decode(PNG_1X1_BASE64)


@mcp.resource("test://watched-resource", name="watched-resource", mime_type="text/plain")
def watched_resource() -> str:
    """A resource that can be subscribed to for updates"""
    return "Watched resource content"


@mcp.resource("test://template/{id}/data", name="template-data", mime_type="application/json")
def template_resource(id: str) -> str:  # noqa: A002 - template variable name from the scenario
    """A resource template with parameter substitution"""
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"}, separators=(",", ":"))


# Unknown URIs: the SDK answers -32602 with data.uri (SEP-2164), never empty contents.


async def _handle_subscribe(ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams) -> EmptyResult:
    _resource_subscriptions.add(str(params.uri))
    return EmptyResult()


async def _handle_unsubscribe(ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams) -> EmptyResult:
    _resource_subscriptions.discard(str(params.uri))
    return EmptyResult()


# --------------------------------------------------------------------------- #
# Prompts
# --------------------------------------------------------------------------- #


@mcp.prompt()
def test_simple_prompt() -> list[UserMessage]:
    """A simple prompt without arguments"""
    return [UserMessage(content=TextContent(type="text", text="This is a simple prompt for testing."))]


@mcp.prompt()
def test_prompt_with_arguments(
    arg1: Annotated[str, Field(description="First test argument")],
    arg2: Annotated[str, Field(description="Second test argument")],
) -> list[UserMessage]:
    """A prompt with required arguments"""
    return [UserMessage(content=TextContent(type="text", text=f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"))]


@mcp.prompt()
def test_prompt_with_embedded_resource(
    resourceUri: Annotated[str, Field(description="URI of the resource to embed")],  # noqa: N803
) -> list[UserMessage]:
    """A prompt that includes an embedded resource"""
    return [
        UserMessage(
            content=EmbeddedResource(
                type="resource",
                resource=TextResourceContents(
                    uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."
                ),
            )
        ),
        UserMessage(content=TextContent(type="text", text="Please process the embedded resource above.")),
    ]


@mcp.prompt()
def test_prompt_with_image() -> list[UserMessage]:
    """A prompt that includes image content"""
    return [
        UserMessage(content=ImageContent(type="image", data=PNG_1X1_BASE64, mime_type="image/png")),
        UserMessage(content=TextContent(type="text", text="Please analyze the image above.")),
    ]


@mcp.prompt()
def test_input_required_result_prompt(ctx: Context) -> list[UserMessage] | InputRequiredResult:
    """MRTR on prompts/get: asks for context via elicitation, then renders the prompt"""
    _require_modern(ctx)
    context = _accepted(ctx.input_responses, "user_context", "context")
    if isinstance(context, str):
        return [UserMessage(content=TextContent(type="text", text=f"Prompt rendered with context: {context}"))]
    return InputRequiredResult(
        input_requests={
            "user_context": _elicit(
                "What context should the prompt use?",
                {"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]},
            )
        }
    )


# --------------------------------------------------------------------------- #
# Completion and logging/setLevel
# --------------------------------------------------------------------------- #

#: Deterministic completion candidates per argument name.
_COMPLETIONS: Final[dict[str, tuple[str, ...]]] = {
    "arg1": ("paris", "park", "party", "test-value-1"),
    "arg2": ("test-value-2", "world"),
    "id": ("1", "123", "42"),
}


@mcp.completion()
async def _complete(
    ref: PromptReference | ResourceTemplateReference,
    argument: CompletionArgument,
    context: CompletionContext | None,
) -> Completion:
    values = [v for v in _COMPLETIONS.get(argument.name, ()) if v.startswith(argument.value)]
    return Completion(values=values, total=len(values), has_more=False)


async def _handle_set_level(ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams) -> EmptyResult:
    sid = ctx.request.headers.get("mcp-session-id") if ctx.request is not None else None
    if sid is not None:
        _session_log_levels[sid] = params.level
    return EmptyResult()


# Legacy-era methods MCPServer has no decorator for. The low-level registry
# derives the `logging` capability and `resources.subscribe` from them; on
# 2026-07-28 the SDK answers them 404/-32601 (removed methods).
_lowlevel = mcp._lowlevel_server  # private: mcp 2.3.0 has no public hook for these three
_lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, _handle_set_level)
_lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, _handle_subscribe)
_lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, _handle_unsubscribe)


# --------------------------------------------------------------------------- #
# Entry point
# --------------------------------------------------------------------------- #


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class _QuietExitServer(uvicorn.Server):
    """uvicorn server whose SIGTERM/SIGINT shutdown lets the process exit 0.

    Stock `uvicorn.Server.serve` installs its own signal handlers and re-raises
    the captured signal after the graceful shutdown, so the process would die
    with 143/130. Here the event loop routes the signals to `handle_exit`
    (which sse-starlette hooks to end open SSE streams promptly) instead.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)


async def _serve(args: argparse.Namespace) -> None:
    app = mcp.streamable_http_app(
        streamable_http_path="/mcp",
        json_response=args.json_response,
        stateless_http=args.stateless,
        event_store=InMemoryEventStore(),
        retry_interval=SSE_RETRY_INTERVAL_MS,
        # DNS-rebinding protection exactly as the SDK derives it for a loopback
        # host: Host must be 127.0.0.1:*, localhost:* or [::1]:* (else 421),
        # Origin, when present, http://<same>:* (else 403).
        host=args.host,
    )
    sock = _bind(args.host, args.port)
    config = uvicorn.Config(
        app,
        log_config=None,  # keep uvicorn on the stderr logging configured in main()
        log_level=args.log_level.lower(),
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = _QuietExitServer(config)
    serve_task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serve_task.done():
            await serve_task  # startup failed: surface the error
            raise SystemExit(1)
        await asyncio.sleep(0.01)
    host, port = sock.getsockname()[:2]
    url_host = f"[{host}]" if ":" in host else host
    print(f"LISTENING http://{url_host}:{port}/mcp", flush=True)
    await serve_task  # returns after a graceful shutdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default 0)")
    parser.add_argument(
        "--json-response", action="store_true", help="legacy era: answer POSTs with JSON instead of SSE"
    )
    parser.add_argument(
        "--stateless", action="store_true", help="legacy era: no Mcp-Session-Id, fresh transport per request"
    )
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--stdio", action="store_true", help="serve over stdin/stdout instead of HTTP")
    args = parser.parse_args(argv)

    logging.basicConfig(
        stream=sys.stderr, level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.stdio:
        mcp.run("stdio")
        return 0
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
