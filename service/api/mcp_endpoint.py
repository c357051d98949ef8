"""The streamable HTTP MCP endpoint at ``/mcp``, with unreadable messages answered as stdio
answers them.

The SDK's HTTP transport answers a body it cannot read with ``"id": null`` and its parser's
words ("Parse error: unexpected end of hex escape…" for a lone surrogate such as ``\\ud800``,
a pydantic report for JSON that is no JSON-RPC message), so the client cannot tell which call
failed nor why. Such a body is read here first with the SDK's own message model and gets
:func:`.mcp_errors.parse_error`'s 400 instead: the request's id when the body has one, and a
sentence about what to send. Only a request the SDK would read at all is checked (a POST that
accepts JSON and is sent as JSON, from an allowed Host and Origin), so that the SDK's own
refusals (406, 415, and the DNS-rebinding guard's 421 and 403) stay its own and come first.
"""

from __future__ import annotations

import codecs
from typing import NamedTuple

from fastapi import status
from fastapi.responses import JSONResponse
from mcp.server.streamable_http import CONTENT_TYPE_JSON, check_accept_headers
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp_types import JSONRPCError, JSONRPCNotification, jsonrpc_message_adapter
from pydantic import ValidationError
from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.middleware.input_guard import replayed
from service.mcp_errors import id_error, parse_error


class CheckedRoutes(NamedTuple):
    """The SDK's routes, some behind :class:`ReadableMessages`, and the paths of those,
    whose bodies are theirs to judge (:class:`.InputGuard`'s ``own_json_paths``)."""

    routes: list[BaseRoute]
    paths: frozenset[str]


def checked_mcp_routes(
    routes: list[BaseRoute], security: TransportSecuritySettings | None
) -> CheckedRoutes:
    """The SDK's streamable HTTP routes with each endpoint behind :class:`ReadableMessages`,
    which checks Host and Origin with ``security``, the settings the SDK's transport checks
    them with. Raises ``ValueError`` when there is no endpoint to wrap (an SDK that builds
    its routes otherwise): the messages would go unchecked, and the body checks that
    :class:`.InputGuard` leaves to these paths would be done by nobody."""
    checked = [
        Route(route.path, ReadableMessages(route.app, security), methods=route.methods)
        if isinstance(route, Route)
        else route
        for route in routes
    ]
    paths = frozenset(route.path for route in routes if isinstance(route, Route))
    if not paths:
        raise ValueError(f"no MCP endpoint among the SDK's routes to check messages of: {routes}")
    return CheckedRoutes(checked, paths)


class ReadableMessages:
    """Answers a POSTed body that is no JSON-RPC message with :func:`unreadable_message`'s
    400, and passes every other request on; a leading byte-order mark is dropped, as every
    other route's JSON parse allows it and the SDK's would not. A request the SDK's
    DNS-rebinding guard refuses gets that refusal before its body is read."""

    def __init__(self, app: ASGIApp, security: TransportSecuritySettings | None) -> None:
        self.app = app
        self.security = TransportSecurityMiddleware(security)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method != "POST" or not _sdk_reads(request):
            await self.app(scope, receive, send)
            return
        # Host and Origin first: a page on another site learns nothing from how its body reads.
        refused = await self.security.validate_request(request, is_post=True)
        if refused is not None:
            await refused(scope, receive, send)
            return
        body = (await request.body()).removeprefix(codecs.BOM_UTF8)
        refusal = unreadable_message(body)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, replayed(body, receive), send)


def _sdk_reads(request: Request) -> bool:
    """Whether the SDK reads this request's body: it accepts JSON answers and is sent as JSON
    (the SDK's checks, in JSON answer mode, which refuse the others unread).

    The Content-Type test repeats the SDK transport's ``_check_content_type``, which is
    private and a method of a per-request transport this endpoint never sees; the public
    ``validate_request`` tests the header more loosely (any ``application/json…`` prefix),
    and a body the SDK would refuse unread with its 415 must not get a parse error here."""
    accepts_json, _ = check_accept_headers(request)
    media_types = request.headers.get("content-type", "").split(";")[0].split(",")
    return accepts_json and any(part.strip() == CONTENT_TYPE_JSON for part in media_types)


def unreadable_message(body: bytes) -> JSONResponse | None:
    """The 400 JSON-RPC error for a body that is no JSON-RPC message to the SDK, or a request
    whose id it would drop (:func:`.id_error`); None for one it reads (the SDK then answers
    it, valid or not, as usual)."""
    try:
        # As text when it is UTF-8, so that parse_error can find the id in it.
        message = jsonrpc_message_adapter.validate_json(_text(body), by_name=False)
    except ValidationError as exc:
        error: JSONRPCError | None = parse_error(exc, "request")
    else:
        # Only what the SDK read as a notification can be a request whose id it dropped:
        # every other message is not parsed a second time.
        error = id_error(body) if isinstance(message, JSONRPCNotification) else None
    if error is None:
        return None
    return JSONResponse(
        error.model_dump(mode="json", by_alias=True, exclude_unset=True),
        status_code=status.HTTP_400_BAD_REQUEST,
    )


def _text(body: bytes) -> str | bytes:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body
