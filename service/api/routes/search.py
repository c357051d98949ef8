"""Search endpoints: the same search by query string or JSON body."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.deps import StateDep, query_parameters
from service.api.schemas import (
    EMPTY_BODY,
    SearchOptions,
    SearchParams,
    SearchRequest,
    error_responses,
)
from service.responses import SearchResponse
from service.state import ServiceState

router = APIRouter(tags=["search"])
_REFUSED = "A parameter the schema refuses, or a query the search cannot run."


async def _search(state: ServiceState, query: str, options: SearchOptions) -> SearchResponse:
    # The engine is asked for here, not as a dependency: a dependency's 503 while loading
    # would come before FastAPI's 422 for a request that can never succeed.
    engine = state.require_engine()
    result = await engine.search(query, options.k, options.filters(), options.mode)
    return SearchResponse.from_result(result)


@router.get(
    "/search",
    response_model=SearchResponse,
    responses=error_responses(503, described={422: _REFUSED}),
)
async def search_get(state: StateDep, params: Annotated[SearchParams, Query()]) -> SearchResponse:
    """Ranked passages for ``q``, each with section, page, language, source URLs and the
    sentence that matched, with the closer of its neighbours."""
    return await _search(state, params.q, params)


@router.post(
    "/search",
    response_model=SearchResponse,
    responses=error_responses(503, described={400: EMPTY_BODY, 422: _REFUSED}),
    dependencies=[query_parameters()],
)
async def search_post(state: StateDep, body: SearchRequest) -> SearchResponse:
    """Same as ``GET /search`` with a JSON body."""
    return await _search(state, body.query, body)
