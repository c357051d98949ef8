"""``POST /context``: search results as one numbered, budgeted block for a chat prompt."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import StateDep, query_parameters
from service.api.schemas import EMPTY_BODY, ContextRequest, error_responses
from service.responses import ContextResponse

router = APIRouter(tags=["assistants"])


@router.post(
    "/context",
    response_model=ContextResponse,
    responses=error_responses(
        503,
        described={
            400: EMPTY_BODY,
            422: "A field the schema refuses, or a query the search cannot run.",
        },
    ),
    dependencies=[query_parameters()],
)
async def context(state: StateDep, body: ContextRequest) -> ContextResponse:
    """The ``k`` best passages as ``[n] SECTION (p. N)`` blocks of at most ``max_chars``
    characters in all, with a citation (passage, page, source URLs) for each ``[n]``."""
    engine = state.require_engine()  # after validation: a bad request gets its 422 first
    result, grounded = await engine.context(
        body.query, body.k, body.filters(), body.mode, body.max_chars
    )
    return ContextResponse.from_context(grounded, result, body.max_chars)
