"""Typed dependencies of the routes.

They are ``async`` because they only read app state: FastAPI runs a plain ``def`` dependency
in its thread pool, and two such hops per search cost more than the lookups themselves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from indexer.settings import Settings
from service.api.state import ServiceState
from service.engine import SearchEngine


async def get_state(request: Request) -> ServiceState:
    """The app's service state."""
    state: ServiceState = request.app.state.service
    return state


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(state: Annotated[ServiceState, Depends(get_state)]) -> SearchEngine:
    """The loaded search engine, or 503 while loading or after a failed load."""
    if state.engine is None:
        reason = state.error or "the model and index are still loading; retry in a few seconds"
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=reason)
    return state.engine


EngineDep = Annotated[SearchEngine, Depends(get_engine)]
StateDep = Annotated[ServiceState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
