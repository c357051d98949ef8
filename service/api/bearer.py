"""Bearer tokens, for the API key and the admin token alike: one reading, one comparison."""

from __future__ import annotations

import hmac

from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from starlette.datastructures import Headers
from starlette.requests import Request


def bearer_token(headers: Headers) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (the scheme in any case);
    None without the header, for another scheme (``Basic …``) or for no token."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def is_secret(given: str | None, secret: str) -> bool:
    """Whether ``given`` is ``secret``, compared in constant time: how long the comparison
    takes says nothing about how much of it matched."""
    return given is not None and hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))


class BearerToken(SecurityBase):
    """A route dependency giving :func:`bearer_token`, declared in the API docs as HTTP
    bearer security (so that their Authorize button sends it)."""

    def __init__(self, description: str, scheme_name: str) -> None:
        self.model = HTTPBearerModel(description=description)
        self.scheme_name = scheme_name

    async def __call__(self, request: Request) -> str | None:
        return bearer_token(request.headers)
