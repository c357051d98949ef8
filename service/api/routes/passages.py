"""``GET /passages/{id}``: fetch a cited passage again, optionally with its neighbours."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BeforeValidator

from service.api.deps import StateDep, query_parameters
from service.api.schemas import error_responses, url_digits
from service.passages import MAX_NEIGHBOURS, PassageNotFoundError
from service.responses import PassageResponse

router = APIRouter(tags=["assistants"])


@router.get(
    "/passages/{passage_id}",
    response_model=PassageResponse,
    responses=error_responses(
        404,
        503,
        described={
            422: "neighbours is not a whole number in bounds, or another parameter is sent."
        },
    ),
    dependencies=[query_parameters("neighbours")],
)
def get_passage(
    state: StateDep,
    passage_id: str,
    # Query first: after a validator, FastAPI wrote its bounds into the OpenAPI schema as
    # "ge" and "le", which are not JSON Schema, so clients saw no bounds.
    neighbours: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_NEIGHBOURS,
            description="Also return this many passages before and after, same document.",
        ),
        BeforeValidator(url_digits),
    ] = 0,
) -> PassageResponse:
    """One passage by id; with ``neighbours`` the text around it, to widen a context."""
    store = state.require_engine().passages  # after validation: a bad request gets its 422
    try:
        return PassageResponse.around(*store.around(passage_id, neighbours))
    except PassageNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
