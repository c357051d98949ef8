"""Request hardening and access control, applied before routing and before any model work.

Pure ASGI middleware, outermost first:

- CORS (Starlette's ``CORSMiddleware``), only when ``cors_origins`` is configured, so that
  the errors below carry CORS headers too and browser preflights need no key;
- :class:`InternalErrorGuard`, always: an exception nothing handled (a bug, here or in the
  app) is answered with a JSON 500 and logged with its traceback;
- :class:`RateLimiter`, a token bucket per client IP, off unless ``rate_limit_per_minute``;
- :class:`ApiKeyGuard`, only when ``api_key`` is set (not on ``/admin/``, whose routes
  check their own token in the same ``Authorization`` header);
- :class:`InputGuard`, always: a body's size (declared and as sent) and that it is not
  compressed; a JSON body's UTF-8, syntax, depth, numbers (no ``NaN``, none too large),
  repeated fields and control characters or lone surrogates in its strings (not on the
  paths of the MCP endpoint, which answers an unreadable message with a JSON-RPC error:
  :func:`.mcp_endpoint.checked_mcp_routes` names the paths it checks); and, but on the
  open paths, a query string's UTF-8, repeated parameters and control characters.

The cheap refusals (rate, key) come first so an unauthenticated client never gets its body
buffered. Every refusal is ``{"detail": str}`` JSON, like the app's own errors. Health
probes, the search page and the API docs stay open (:func:`.paths.is_open`); every other
path, including routes added later and ``/mcp``, is protected when a key is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from indexer.settings import Settings
from service.api.middleware.api_key import ApiKeyGuard
from service.api.middleware.documented import DocumentedGuard
from service.api.middleware.input_guard import InputGuard
from service.api.middleware.internal_error import InternalErrorGuard
from service.api.middleware.rate_limit import RateLimiter


@dataclass(frozen=True)
class Guard:
    """A guard the settings ask for, and its options."""

    kind: type[DocumentedGuard]
    options: dict[str, Any]


def configured_guards(settings: Settings, own_json_paths: frozenset[str]) -> list[Guard]:
    """The guards ``settings`` ask for, innermost first: what :func:`install_security`
    installs and what the API docs (:mod:`service.api.openapi`) describe. The JSON body
    checks skip ``own_json_paths``, whose endpoints judge their bodies themselves."""
    guards = [
        Guard(
            InputGuard,
            {"max_body_bytes": settings.max_body_bytes, "own_json_paths": own_json_paths},
        )
    ]
    if settings.api_key is not None:
        guards.append(Guard(ApiKeyGuard, {"api_key": settings.api_key.get_secret_value()}))
    if settings.rate_limit_per_minute > 0:
        guards.append(
            Guard(
                RateLimiter,
                {"per_minute": settings.rate_limit_per_minute, "burst": settings.rate_limit_burst},
            )
        )
    return guards


def install_security(app: FastAPI, settings: Settings, guards: list[Guard]) -> None:
    """Add the ``guards`` (:func:`configured_guards`) and the middleware the settings ask for
    (see the module docstring for the order)."""
    for guard in guards:
        app.add_middleware(guard.kind, **guard.options)
    app.add_middleware(InternalErrorGuard)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            # Mcp-Protocol-Version: what a browser MCP client sends (/mcp is stateless, so no
            # session id header and no DELETE of a session).
            allow_methods=["GET", "POST"],
            allow_headers=[
                "Content-Type",
                "Authorization",
                "X-API-Key",
                "X-Request-ID",
                "Mcp-Protocol-Version",
            ],
            expose_headers=["Retry-After", "X-Request-ID"],
            max_age=600,
        )
