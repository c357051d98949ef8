"""``/mcp`` bodies the MCP SDK cannot read, answered as the stdio server answers them.

The SDK's HTTP transport answers such a body with ``"id": null`` and its parser's words
("Parse error: unexpected end of hex escape…" for a lone surrogate such as ``\\ud800``, a
pydantic report for JSON that is no JSON-RPC message), so the client cannot tell which call
failed nor why. Read here first with the SDK's own parser, such a body gets
:func:`.mcp_server.parse_error`'s answer instead, as over stdio: the request's id when the
body has one, and a sentence about what to send.
"""

from __future__ import annotations

from fastapi import status
from fastapi.responses import JSONResponse
from mcp_types import jsonrpc_message_adapter
from pydantic import ValidationError

from service.mcp_server import parse_error


def unreadable_mcp_message(body: bytes) -> JSONResponse | None:
    """The 400 JSON-RPC error for a body that is no JSON-RPC message to the SDK; None for one
    it reads (the SDK then answers it, valid or not, as usual)."""
    try:
        # As text when it is UTF-8, so that parse_error can find the id in it.
        jsonrpc_message_adapter.validate_json(_text(body), by_name=False)
    except ValidationError as exc:
        error = parse_error(exc, "request")
        return JSONResponse(
            error.model_dump(mode="json", by_alias=True, exclude_unset=True),
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    return None


def _text(body: bytes) -> str | bytes:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body
