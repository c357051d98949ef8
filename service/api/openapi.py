"""The OpenAPI document says what the middleware enforces, path by path.

The API key, the rate limit, the body size limit and the body checks are middleware
(:mod:`service.api.middleware`), which decides by path, so routes do not declare them. The
docs' Authorize button needs the key's security schemes to send it from Try it out, and a
client reading the document needs each path's refusals, such as the 401 of ``/stats``, whose
router also holds the open probes. So the built document is completed from the guards that
are installed: each declares its schemes and, per path, its refusals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from service.api.middleware import Guard
from service.api.middleware.documented import DocumentedGuard

# Every error answer's model, which the routes' own error responses put in the document.
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}


def describe_guards(app: FastAPI, guards: list[Guard]) -> None:
    """Have ``app``'s OpenAPI document list, on each path the middleware guards, the
    security schemes a guard accepts (any one of them) and the refusals that can answer it."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _completed(build(), [guard.kind for guard in guards])
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _completed(schema: dict[str, Any], guards: list[type[DocumentedGuard]]) -> dict[str, Any]:
    for guard in guards:
        schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(
            {
                name: scheme.model_dump(mode="json", by_alias=True, exclude_none=True)
                for name, scheme in guard.security_schemes.items()
            }
        )
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            for guard in guards:
                if guard.protects(path):
                    operation["security"] = [{name: []} for name in guard.security_schemes]
                for code, description in guard.refusals(path, "requestBody" in operation).items():
                    _add_refusal(operation["responses"], str(code), description)
    return schema


def _add_refusal(responses: dict[str, Any], code: str, description: str) -> None:
    """Document a guard's refusal; where the route answers the same status itself (an empty
    body's 400, a field's 422), both meanings are listed, the route's first."""
    if code not in responses:
        responses[code] = {"description": description, "content": _ERROR}
    else:
        responses[code]["description"] = f"{responses[code]['description']} {description}"
