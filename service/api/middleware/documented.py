"""What a guard tells the API docs: the security schemes it checks and the refusals it can
answer a path with, declared beside the check itself so that the docs cannot drift from it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from fastapi.openapi.models import SecurityScheme
from starlette.types import ASGIApp, Receive, Scope, Send


class DocumentedGuard:
    """A middleware that says, per path, what it may refuse (:mod:`service.api.openapi`)."""

    def __init__(self, app: ASGIApp, /, **options: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError

    # Credentials it accepts, any one of them (OpenAPI security schemes by name).
    security_schemes: ClassVar[Mapping[str, SecurityScheme]] = {}

    @staticmethod
    def refusals(path: str, takes_body: bool) -> dict[int, str]:
        """The status codes (with what each means) this guard can answer ``path`` with;
        ``takes_body`` when the operation reads a request body."""
        raise NotImplementedError
