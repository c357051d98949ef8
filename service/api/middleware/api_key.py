"""The API key check, for every path but the open ones and the admin ones."""

from __future__ import annotations

from fastapi import status
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.bearer import bearer_token, is_secret
from service.api.middleware.paths import is_open
from service.api.middleware.rejection import RequestRejected, reject

ADMIN_PREFIX = "/admin/"


def needs_api_key(path: str) -> bool:
    """Every path but the open ones and the admin ones, which check a token of their own."""
    return not (is_open(path) or path.startswith(ADMIN_PREFIX))


class ApiKeyGuard:
    """Protected paths need the key as ``X-API-Key`` or ``Authorization: Bearer``."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self._key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not needs_api_key(scope["path"]) or self._authorised(scope):
            await self.app(scope, receive, send)
            return
        error = RequestRejected(
            status.HTTP_401_UNAUTHORIZED,
            "an API key is required: send it as X-API-Key or Authorization: Bearer",
            headers={"WWW-Authenticate": 'Bearer realm="report-search"'},
        )
        await reject(scope, receive, send, error)

    def _authorised(self, scope: Scope) -> bool:
        headers = Headers(scope=scope)
        given = headers.get("x-api-key")
        return is_secret(bearer_token(headers) if given is None else given, self._key)
