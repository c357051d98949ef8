"""The MCP server over stdin/stdout (``report-search mcp``), one process per client.

The SDK's stdio transport drops a line it cannot read (not JSON, or a string with a lone
surrogate such as ``"\\ud800"``, which its parser refuses) with a debug log line, and the
client waits for an answer until it times out; the streamable HTTP transport answers the
same line with a JSON-RPC parse error. Here every unreadable line gets that answer too, with
the request's id when the line has one, so the client's pending call ends at once.
"""

from __future__ import annotations

import json
from functools import partial

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

from indexer.settings import Settings
from service.engine import SearchEngine
from service.mcp_server import build_mcp_server
from service.searcher import Searcher
from service.state import ServiceState


def run_stdio(searcher: Searcher, settings: Settings) -> None:
    """Serve ``searcher`` over stdin/stdout until the client closes the connection."""
    state = ServiceState(partial(SearchEngine.configured, settings=settings))
    state.serve(searcher)
    anyio.run(_serve, build_mcp_server(state), state)


async def _serve(server: MCPServer, state: ServiceState) -> None:
    lowlevel = server._lowlevel_server  # the SDK's run_stdio_async, with the read side wrapped
    try:
        async with stdio_server() as (read_stream, write_stream):
            readable_send, readable = anyio.create_memory_object_stream[SessionMessage | Exception](
                0
            )

            async def answer_unreadable() -> None:
                async with readable_send, read_stream:
                    async for item in read_stream:
                        if isinstance(item, SessionMessage):
                            await readable_send.send(item)
                        else:
                            await write_stream.send(SessionMessage(parse_error(item)))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(answer_unreadable)
                await lowlevel.run(readable, write_stream, lowlevel.create_initialization_options())
    finally:
        if state.engine is not None:
            await state.engine.close()


def parse_error(exc: Exception) -> JSONRPCError:
    """The JSON-RPC answer to a line the transport could not read, as ``/mcp`` answers it: a
    parse error (-32700) for a line that is not JSON to the SDK's parser, an invalid request
    (-32600) for JSON that is no JSON-RPC message; with the request's id whenever Python's
    more lenient parser finds one in the line (it reads lone surrogates)."""
    errors = exc.errors() if isinstance(exc, ValidationError) else []
    # JSON the parser read comes back as an object among the errors' inputs; a line it could
    # not read, as the line.
    message = next((e["input"] for e in errors if isinstance(e.get("input"), dict)), None)
    line = next((e["input"] for e in errors if isinstance(e.get("input"), str)), None)
    if message is None and line is not None:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
    request_id = message.get("id") if isinstance(message, dict) else None
    reason = errors[0]["msg"] if errors else str(exc)
    if any(e.get("type") == "json_invalid" for e in errors) or not errors:
        code, what = PARSE_ERROR, "not JSON this server can read"
    else:
        code, what = INVALID_REQUEST, "not a JSON-RPC message"
    return JSONRPCError(
        jsonrpc="2.0",
        id=request_id if type(request_id) in (int, str) else None,
        error=ErrorData(
            code=code,
            message=f"the message is {what} ({reason}); send one JSON-RPC object per line, "
            "in UTF-8, without lone surrogates such as \\ud800",
        ),
    )
