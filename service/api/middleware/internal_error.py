"""The answer to a bug: a JSON 500 like every other error, its traceback in the log."""

from __future__ import annotations

import logging

from fastapi import status
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

INTERNAL_ERROR = "internal error; the server log has the details"


class InternalErrorGuard:
    """Answers an exception nothing else handled with a ``{"detail": str}`` 500, and logs it.

    Installed inside the request observer and CORS, so that the 500 carries ``X-Request-ID``
    and the CORS headers like any other answer, and the traceback is logged with the request
    id. (Starlette's handler of last resort runs outside every middleware, once the request
    id is gone.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_noting_start)
        except Exception as exc:
            log.exception("unhandled error: %s", type(exc).__name__)
            # An answer already begun cannot be replaced: the server closes the connection.
            if not started:
                answer = JSONResponse(
                    {"detail": INTERNAL_ERROR}, status.HTTP_500_INTERNAL_SERVER_ERROR
                )
                await answer(scope, receive, send)
