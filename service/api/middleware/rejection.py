"""How every guard refuses a request: ``{"detail": str}`` JSON, like the app's own errors."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send


class RequestRejected(Exception):
    """A request refused before it reaches the app; becomes a ``{"detail": str}`` answer."""

    def __init__(
        self, status_code: int, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers


async def reject(scope: Scope, receive: Receive, send: Send, error: RequestRejected) -> None:
    """Answer with ``error`` instead of passing the request on."""
    response = JSONResponse(
        status_code=error.status_code, content={"detail": error.detail}, headers=error.headers
    )
    await response(scope, receive, send)
