"""The app's own errors as readable answers: ``{"detail": str}`` JSON with a 4xx or 503.

Validation errors say in one sentence per problem what to fix (and keep pydantic's list for
programs); a query the search core refuses is a 422; a service still loading, or without an
index, is a 503. An exception nothing handles is answered by the middleware's
:class:`.InternalErrorGuard`, which sits inside CORS and the request observer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, get_args

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

from indexer.messages import ECHOED_CHARS, describe_errors, echoed, unknown_names
from service.request_fields import fields_in_order
from service.retrieval.query import InvalidQueryError
from service.state import NotReadyError

# What a 503 during loading tells clients to wait: the model and index load in seconds.
RETRY_AFTER_NOT_READY_S = 5
# The methods a 405's Allow header may list, in the order it lists them.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class UnknownParametersError(Exception):
    """Query parameters a route does not read (``detail`` says which, and what it takes)."""

    def __init__(self, detail: str, sent: Mapping[str, str]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.sent = sent


def install_error_handlers(app: FastAPI) -> None:
    """Answer validation errors, refused queries and a service not ready (see above)."""
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(UnknownParametersError, _unknown_parameters)  # type: ignore[arg-type]
    app.add_exception_handler(InvalidQueryError, _invalid_query)  # type: ignore[arg-type]
    app.add_exception_handler(NotReadyError, _not_ready)  # type: ignore[arg-type]
    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, _method_not_allowed)  # type: ignore[arg-type]


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """One readable sentence per problem, plus the structured list for programs."""
    errors = exc.errors()
    # No "json_invalid" (a body that is not JSON): InputGuard has already parsed every body
    # that FastAPI reads as JSON (same content types), under stricter rules, and refused it.
    whole_body = [e for e in errors if tuple(e.get("loc", ())) == ("body",)]
    if any(e.get("type") == "missing" for e in whole_body):
        return _error(
            status.HTTP_400_BAD_REQUEST,
            'the request body is empty; send a JSON object such as {"query": "…"}',
        )
    # FastAPI hands a body it does not parse as JSON over as raw bytes.
    if any(isinstance(e.get("input"), bytes) for e in whole_body):
        return _error(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "the request body must be JSON, sent with the header Content-Type: application/json",
        )
    unknown = [e for e in errors if e.get("type") == "extra_forbidden" and len(e["loc"]) == 2]
    # An unknown field is named with what the request takes, as MCP and the query-string
    # check word it; pydantic's "Extra inputs are not permitted" says neither.
    named = _unknown_fields(request, unknown) if unknown else None
    others = [e for e in errors if named is None or e not in unknown]
    problems = [named] if named else []
    if others:
        problems.append(describe_errors(others, skip=1, whole="request"))
    detail = "; ".join(problems)
    # The advice says how to do what an unknown field was sent for; to a body of the wrong
    # shape (``[]``) it would answer a question nobody asked.
    if unknown and (advice := _advice(request)):
        detail = f"{detail}. {advice}"
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": detail, "errors": [_field_error(e) for e in errors]},
    )


def _unknown_fields(request: Request, errors: list[Any]) -> str | None:
    """ "unknown field 'top_k' in the JSON body of POST /search; it takes 'query', 'k', …" for
    ``extra_forbidden`` errors of one place (the body or the query string); None when the
    route's model of that place cannot be found."""
    where = errors[0]["loc"][0]
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or any(e["loc"][0] != where for e in errors):
        return None
    if where == "body" and route.body_field is not None:
        models = _body_models(route)
        kind, place = "field", "in the JSON body of"
    elif where == "query":
        models = _models(*(q.field_info.annotation for q in route.dependant.query_params))
        kind, place = "query parameter", "for"
    else:
        return None
    if not models:
        return None
    taken = [name for model in models for name in fields_in_order(model)]
    where = f"{place} {request.method} {request.url.path}"
    return unknown_names(kind, [e["loc"][1] for e in errors], where, taken)


def _body_models(route: APIRoute) -> list[type[BaseModel]]:
    """The models of ``route``'s JSON body (one, or none for a body that may be left out)."""
    if route.body_field is None:
        return []
    annotation = route.body_field.field_info.annotation
    return _models(annotation, *get_args(annotation))


def _models(*annotations: object) -> list[type[BaseModel]]:
    """The pydantic models among ``annotations``."""
    return [a for a in annotations if isinstance(a, type) and issubclass(a, BaseModel)]


def _advice(request: Request) -> str:
    """What a body model says to do instead of sending it fields it does not take
    (``refusal_advice``), if anything."""
    route = request.scope.get("route")
    models = _body_models(route) if isinstance(route, APIRoute) else []
    return next((a for m in models if (a := getattr(m, "refusal_advice", ""))), "")


def _field_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """One of pydantic's errors for programs: where, what and the value sent, a long one cut
    as messages cut it (a 5,000-character query came back whole), without the per-error
    link to pydantic's documentation. A missing field has no value: pydantic's ``input``
    there is the whole body, left out."""
    field: dict[str, Any] = {
        "loc": list(error.get("loc", ())),
        "msg": error.get("msg", ""),
        "type": error.get("type", ""),
    }
    if field["type"] != "missing":
        value = jsonable_encoder(error.get("input"))
        if not isinstance(value, str):
            text = json.dumps(value, ensure_ascii=False)
            value = text if len(text) > ECHOED_CHARS else value  # a long list or object: as text
        field["input"] = echoed(value) if isinstance(value, str) else value
    return field


async def _unknown_parameters(_: Request, exc: UnknownParametersError) -> JSONResponse:
    """Listed as a route with a model of its parameters lists them (``extra_forbidden``
    errors), so that every refused parameter comes with ``errors``, whichever the route."""
    errors = [
        {"loc": ("query", name), "msg": _EXTRA, "type": "extra_forbidden", "input": value}
        for name, value in exc.sent.items()
    ]
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": exc.detail, "errors": [_field_error(e) for e in errors]},
    )


# pydantic's message for a field its model does not have.
_EXTRA = "Extra inputs are not permitted"


async def _invalid_query(request: Request, exc: InvalidQueryError) -> JSONResponse:
    """A request the search core refuses. When one field is at fault (a ``lang`` no passage
    is in, a ``document`` not in the index) it is listed as a schema refusal lists it, so
    that a program tells which value to change without parsing the sentence."""
    response = _error(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))
    if exc.field is None:
        return response
    if request.method == "GET":
        where, sent = "query", request.query_params.get(exc.field)
    else:  # a JSON object: the body model read it
        where, sent = "body", (await request.json()).get(exc.field)
    error = {"loc": (where, exc.field), "msg": exc.reason, "type": "value_error", "input": sent}
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": str(exc), "errors": [_field_error(error)]},
    )


async def _not_ready(_: Request, exc: NotReadyError) -> JSONResponse:
    # Clients and proxies that honour Retry-After wait rather than retry at once.
    response = _error(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc))
    if exc.loading:
        response.headers["Retry-After"] = str(RETRY_AFTER_NOT_READY_S)
    return response


async def _method_not_allowed(request: Request, exc: HTTPException) -> Response:
    """A 405 whose ``Allow`` lists every method of the path. The router would answer with
    the methods of the first route whose path matched, and a path here has one route per
    method (``/search``: GET and POST), so the routes are asked one method at a time."""
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]
    if "GET" in allowed and "HEAD" not in allowed:  # HEAD with GET (:class:`.HeadAsGet`)
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    # A route that took the method and refused it itself (static files) said what it takes.
    if not allowed or request.method in allowed:
        return await http_exception_handler(request, exc)
    methods = ", ".join(allowed)
    response = _error(
        status.HTTP_405_METHOD_NOT_ALLOWED,
        f"{request.url.path} takes {methods}, not {request.method}",
    )
    response.headers["Allow"] = methods
    return response


def _error(status_code: int, detail: str) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"detail": detail})
