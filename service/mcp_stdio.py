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
from mcp_types import PARSE_ERROR, ErrorData, JSONRPCError
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
    """The JSON-RPC answer to a line the transport could not read: a parse error, with the
    id of the request when Python's more lenient parser still finds one in the line."""
    line = None
    if isinstance(exc, ValidationError):
        line = next((e.get("input") for e in exc.errors() if isinstance(e.get("input"), str)), None)
    request_id: int | str | None = None
    if line is not None:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if isinstance(message, dict) and type(message.get("id")) in (int, str):
            request_id = message["id"]
    reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
    return JSONRPCError(
        jsonrpc="2.0",
        id=request_id,
        error=ErrorData(
            code=PARSE_ERROR,
            message=f"the message is not a JSON-RPC message this server can read ({reason}); "
            "send one JSON object per line, in UTF-8, without lone surrogates such as \\ud800",
        ),
    )
