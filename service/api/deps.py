"""Typed dependencies of the routes.

They are ``async`` because they only read app state: FastAPI runs a plain ``def`` dependency
in its thread pool, and two such hops per search cost more than the lookups themselves.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from indexer.messages import unknown_names
from indexer.settings import Settings
from service.api.errors import UnknownParametersError
from service.state import ServiceState


async def get_state(request: Request) -> ServiceState:
    """The app's service state."""
    state: ServiceState = request.app.state.service
    return state


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def query_parameters(*allowed: str, takes: str = "") -> Any:
    """A dependency refusing query parameters other than ``allowed`` with a 422.

    A parameter the route does not read would otherwise be ignored without a word: a
    misspelt ``neighbors``, or ``POST /search?k=2``, whose options belong in the body.
    ``takes`` says what the route takes instead, for a POST that takes no options at all.
    """

    async def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - set(allowed))
        if not unknown:
            return
        post = not allowed and request.method == "POST"
        said = unknown_names(
            "query parameter",
            unknown,
            f"for {request.method} {request.url.path}",
            allowed,
            takes=takes or ("a POST takes its options in the JSON body" if post else ""),
        )
        raise UnknownParametersError(said, {name: request.query_params[name] for name in unknown})

    return Depends(check)


StateDep = Annotated[ServiceState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
