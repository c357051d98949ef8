"""Redirects to this server's own pages say where to go by path, not by an absolute URL.

The router's trailing-slash redirect ("/search/" -> "/search") builds an absolute URL from
the request's ``Host`` header, which the client chooses: ``Host: evil.example`` got
``Location: http://evil.example/search``, which a cache in front of the service could hand
to others. A relative ``Location`` (RFC 9110) reaches the same page from wherever the
client came, behind any proxy, and names no host at all.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _host(scope: Scope) -> str:
    """The ``Host`` header the request was sent with."""
    return Headers(scope=scope).get("host", "")


class RelativeRedirects:
    """Rewrite an absolute ``Location`` on this request's own host to its path and query."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def relative(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # Read only for a redirect: not a header lookup on every request.
                target = urlsplit(headers.get("location", ""))
                if target.scheme in ("http", "https") and target.netloc == _host(scope):
                    headers["location"] = target.path + (f"?{target.query}" if target.query else "")
            await send(message)

        await self.app(scope, receive, relative)
