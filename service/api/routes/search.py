"""Search endpoints: the same search by query string or JSON body."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from service.api.deps import SearcherDep
from service.api.schemas import LANG_PATTERN, ErrorResponse, SearchRequest, SearchResponse
from service.searcher import MAX_K, MAX_QUERY_CHARS

router = APIRouter(tags=["search"])
_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}


@router.get("/search", response_model=SearchResponse, responses=_ERRORS)
async def search_get(
    searcher: SearcherDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="The query.")],
    k: Annotated[int, Query(ge=1, le=MAX_K, description="Number of passages.")] = 5,
    lang: Annotated[
        str | None, Query(pattern=LANG_PATTERN, description="Passage language.")
    ] = None,
) -> SearchResponse:
    """Ranked passages for ``q``, each with section, page, language and source URLs."""
    result = await run_in_threadpool(searcher.search, q, k, lang)
    return SearchResponse.from_result(result)


@router.post("/search", response_model=SearchResponse, responses=_ERRORS)
async def search_post(searcher: SearcherDep, body: SearchRequest) -> SearchResponse:
    """Same as ``GET /search`` with a JSON body."""
    result = await run_in_threadpool(searcher.search, body.query, body.k, body.lang)
    return SearchResponse.from_result(result)
