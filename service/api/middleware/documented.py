"""What a guard tells the API docs: the security schemes it checks, the paths it protects
with them and the refusals it can answer a path with, declared beside the check itself so
that the docs cannot drift from it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from fastapi.openapi.models import SecurityScheme
from starlette.types import ASGIApp, Receive, Scope, Send


class DocumentedGuard(ABC):
    """A middleware that says, per path, what it may refuse and whether it asks for
    credentials there (:mod:`service.api.openapi`), and an ASGI middleware that
    ``add_middleware`` builds from the app and its options (:class:`.Guard`)."""

    # Credentials it accepts, any one of them (OpenAPI security schemes by name).
    security_schemes: ClassVar[Mapping[str, SecurityScheme]] = {}

    @abstractmethod
    def __init__(self, app: ASGIApp, /, **options: Any) -> None:
        """Wrap ``app`` with the guard's options."""

    @abstractmethod
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then hand it to the app or refuse it."""

    @staticmethod
    @abstractmethod
    def refusals(path: str, takes_body: bool) -> dict[int, str]:
        """The status codes (with what each means) this guard can answer ``path`` with;
        ``takes_body`` when the operation reads a request body."""

    @staticmethod
    def protects(path: str) -> bool:
        """Whether ``path`` needs one of :attr:`security_schemes`' credentials; a guard that
        checks none protects no path."""
        return False
