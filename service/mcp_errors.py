"""JSON-RPC errors for MCP messages a transport cannot read, one wording for stdio and HTTP.

The SDK's stdio transport drops such a line and its HTTP transport answers with ``"id": null``
and its parser's words, so the client cannot tell which call failed nor why. Both transports
answer with :func:`parse_error` instead (:mod:`service.mcp_stdio`, :mod:`service.api.mcp_endpoint`).
"""

from __future__ import annotations

import json

from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError


def id_error(text: str | bytes) -> JSONRPCError | None:
    """The JSON-RPC answer to a request whose id is neither a string nor an integer (null,
    1.5, true), which MCP forbids; None for any other message.

    The SDK reads such a request as a notification, which gets no answer: over HTTP a 202
    with no body, and the client waited for an answer that never came. (Over stdio the SDK
    has parsed the line, and dropped the id, before this server sees it.)
    """
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or "method" not in message or "id" not in message:
        return None
    sent = message["id"]
    if type(sent) in (int, str):
        return None
    return JSONRPCError(
        jsonrpc="2.0",
        id=None,
        error=ErrorData(
            code=INVALID_REQUEST,
            message=f"the request's id is {json.dumps(sent)[:40]}: an MCP request's id is a "
            "string or an integer (a message without an id is a notification, never answered)",
        ),
    )


def parse_error(exc: Exception, unit: str) -> JSONRPCError:
    """The JSON-RPC answer to a message (a ``unit``: a stdio line, an HTTP request) that the
    transport could not read, the same over stdio and HTTP: a parse error (-32700) for a
    message that is not JSON to the SDK's parser, an invalid request (-32600) for JSON that
    is no JSON-RPC message; with the request's id whenever Python's more lenient parser finds
    one in the message (it reads lone surrogates), so that the client's pending call ends."""
    errors = exc.errors() if isinstance(exc, ValidationError) else []
    # JSON the parser read comes back as an object among the errors' inputs; a message it
    # could not read, as its text.
    message = next((e["input"] for e in errors if isinstance(e.get("input"), dict)), None)
    text = next((e["input"] for e in errors if isinstance(e.get("input"), str)), None)
    if message is None and text is not None:
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):  # nested deeper than Python's parser goes
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
            message=f"the message is {what} ({reason}); send one JSON-RPC object per {unit}, "
            "in UTF-8, without lone surrogates such as \\ud800",
        ),
    )
