"""The OpenAPI document says what the middleware enforces, path by path.

The API key, the rate limit, the body size limit and the body checks are middleware
(:mod:`service.api.middleware`), which decides by path, so routes do not declare them. Left
at that, the document listed neither the key's security schemes (the docs' Authorize button
could not send a key: Try-it-out got 401s) nor the 401 of ``/stats``, whose router also
holds the open probes. Here the built document is completed by the same path rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, status

from indexer.settings import Settings
from service.api.middleware.api_key import needs_api_key
from service.api.middleware.paths import is_open

API_KEY_SCHEMES = {
    "APIKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The API key (REPORT_API_KEY), as the X-API-Key header.",
    },
    "APIKeyBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The API key (REPORT_API_KEY), as Authorization: Bearer.",
    },
}
# Every error answer's model, which the routes' own error responses put in the document.
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}


def describe_guards(app: FastAPI, settings: Settings) -> None:
    """Have ``app``'s OpenAPI document list, on each path the middleware guards, the key's
    security schemes (either one) and the refusals that can answer it."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:  # built once, then FastAPI serves it as it is
            _complete(build(), settings)
        return build()

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(schema: dict[str, Any], settings: Settings) -> None:
    key = settings.api_key is not None
    if key:
        schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(
            API_KEY_SCHEMES
        )
    for path, operations in schema["paths"].items():
        if is_open(path):
            continue
        for operation in operations.values():
            refusals = {
                status.HTTP_413_CONTENT_TOO_LARGE: "The request body is over the size limit."
            }
            if "requestBody" in operation:
                refusals[status.HTTP_415_UNSUPPORTED_MEDIA_TYPE] = (
                    "The body is not sent as Content-Type: application/json, or is compressed."
                )
            if key and needs_api_key(path):
                operation["security"] = [{name: []} for name in API_KEY_SCHEMES]
                refusals[status.HTTP_401_UNAUTHORIZED] = "The API key is missing or wrong."
            if settings.rate_limit_per_minute > 0:
                refusals[status.HTTP_429_TOO_MANY_REQUESTS] = "Too many requests; see Retry-After."
            for code, description in refusals.items():
                operation["responses"].setdefault(
                    str(code), {"description": description, "content": _ERROR}
                )
