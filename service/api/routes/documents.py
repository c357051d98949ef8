"""``GET /documents/{id}``: a document's outline, to browse it and to choose filters.

A search answers a question; a reader who wants to know what a report covers, or a chat
assistant choosing a ``section`` or page range to search within, needs the list of its
sections, with their pages and passages, which no search returns.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from indexer.messages import quoted
from service.api.deps import StateDep, query_parameters
from service.api.schemas import error_responses
from service.documents import outline
from service.responses import DocumentOutline

router = APIRouter(tags=["documents"])


@router.get(
    "/documents/{document_id}",
    response_model=DocumentOutline,
    responses=error_responses(
        404, 503, described={422: "A query parameter is sent: it takes none."}
    ),
    dependencies=[query_parameters()],
)
def document_outline(state: StateDep, document_id: str) -> DocumentOutline:
    """The document's facts, its number of pages and its sections in reading order, each
    with the pages it spans and its passages' ids."""
    engine = state.require_engine()
    entry = engine.document(document_id)
    if entry is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no document has the id {quoted(document_id)}; GET /stats lists them",
        )
    return DocumentOutline.of(entry, outline(engine.passages.in_document(entry.id)))
