"""The MCP server over stdin/stdout (``report-search mcp``), one process per client.

The SDK's stdio transport drops a line it cannot read (not JSON, or a string with a lone
surrogate such as ``"\\ud800"``, which its parser refuses) with a debug log line, and the
client waits for an answer until it times out. Here every unreadable line gets a JSON-RPC
error, with the request's id when the line has one, so the client's pending call ends at
once: :func:`.mcp_errors.parse_error`, which ``/mcp`` answers the same message with.
"""

from __future__ import annotations

from functools import partial

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage

from indexer.settings import Settings
from service.engine import SearchEngine
from service.mcp_errors import parse_error
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
                            await write_stream.send(SessionMessage(parse_error(item, "line")))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(answer_unreadable)
                await lowlevel.run(readable, write_stream, lowlevel.create_initialization_options())
    finally:
        if state.engine is not None:
            await state.engine.close()
