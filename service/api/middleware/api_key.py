"""The API key check, for every path but the open ones and the admin ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from fastapi import status
from fastapi.openapi.models import APIKey, APIKeyIn, HTTPBearer, SecurityScheme
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.bearer import bearer_token, is_secret
from service.api.middleware.documented import DocumentedGuard
from service.api.middleware.paths import is_open
from service.api.middleware.rejection import RequestRejected, reject

ADMIN_PREFIX = "/admin/"


def needs_api_key(path: str) -> bool:
    """Every path but the open ones and the admin ones, which check a token of their own."""
    return not (is_open(path) or path.startswith(ADMIN_PREFIX))


class ApiKeyGuard(DocumentedGuard):
    """Protected paths need the key as ``X-API-Key`` or ``Authorization: Bearer``.

    A request is let through when either header holds the key, even if the other holds
    something else: a gateway or client library may set one header of its own, and refusing
    the right key beside it would be refusing the caller who has it (a guesser gets two
    tries per request instead of one; the rate limit counts requests). An empty header
    counts as absent, as a client that always sends the header, blank when unset, means no
    key by it. A wrong key is told so, not asked for as if none had been sent.
    """

    security_schemes: ClassVar[Mapping[str, SecurityScheme]] = {
        "APIKeyHeader": APIKey.model_validate(
            {
                "in": APIKeyIn.header,
                "name": "X-API-Key",
                "description": "The API key (REPORT_API_KEY), as the X-API-Key header.",
            }
        ),
        "APIKeyBearer": HTTPBearer(
            description="The API key (REPORT_API_KEY), as Authorization: Bearer."
        ),
    }

    @staticmethod
    def protects(path: str) -> bool:
        """Every path that needs the key."""
        return needs_api_key(path)

    @staticmethod
    def refusals(path: str, takes_body: bool) -> dict[int, str]:
        """A 401 on every path that needs the key."""
        if not needs_api_key(path):
            return {}
        return {status.HTTP_401_UNAUTHORIZED: "The API key is missing or wrong."}

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self._key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not needs_api_key(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = presented_keys(Headers(scope=scope))
        # Every key given is compared (a list, not any()'s short cut), so the time taken does
        # not say which header matched.
        if any([is_secret(key, self._key) for key in given]):
            await self.app(scope, receive, send)
            return
        error = RequestRejected(
            status.HTTP_401_UNAUTHORIZED,
            "the API key is wrong: check the X-API-Key or Authorization: Bearer header sent"
            if given
            else "an API key is required: send it as X-API-Key or Authorization: Bearer",
            headers={"WWW-Authenticate": 'Bearer realm="report-search"'},
        )
        await reject(scope, receive, send, error)


def presented_keys(headers: Headers) -> list[str]:
    """The keys a request presents: its ``X-API-Key`` and its bearer token, each unless
    missing or blank."""
    keys = [headers.get("x-api-key", "").strip(), bearer_token(headers) or ""]
    return [key for key in keys if key]
