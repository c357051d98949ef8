"""HEAD answered wherever GET is (RFC 9110: a general-purpose server must), as GET's status
and headers without its body.

Routes declare GET alone, and FastAPI then answered HEAD with a 405 on /stats, /docs,
/passages/{id} and the rest: link checkers, uptime monitors and caches probe with HEAD.
Inside the request observer, so that logs and metrics see the HEAD that was sent, and
outside compression, so that a HEAD's headers are its GET's.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """Run a HEAD request as a GET and send its response without the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        as_get = {**scope, "method": "GET"}
        try:
            await self.app(as_get, receive, without_body)
        finally:
            # What routing recorded (the route, its endpoint and parameters) is the observer's
            # metric label: a HEAD was counted as "unmatched" without it.
            scope.update({key: value for key, value in as_get.items() if key != "method"})
