"""Liveness, readiness and what is being served."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import StateDep, query_parameters
from service.api.schemas import (
    ModelInfo,
    ReadyResponse,
    StatsResponse,
    error_responses,
)
from service.responses import DocumentInfo

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (says nothing about the index)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyResponse, responses=error_responses(503))
def readyz(state: StateDep) -> ReadyResponse:
    """200 with the served index version once the model and index are loaded; 503 with the
    reason before that."""
    engine = state.require_engine()  # NotReadyError: a 503 with the reason
    return ReadyResponse(status="ready", index_version=engine.version)


@router.get(
    "/stats",
    response_model=StatsResponse,
    responses=error_responses(503),
    dependencies=[query_parameters()],
)
def stats(state: StateDep) -> StatsResponse:
    """Passages, documents, index version and build time, and the model being served."""
    searcher = state.require_engine().searcher
    manifest = searcher.index.manifest
    encoder = searcher.encoder
    return StatsResponse(
        passages=manifest.passage_count,
        documents=[DocumentInfo.from_entry(d) for d in manifest.documents],
        index_built_at=manifest.built_at,
        index_format_version=manifest.format_version,
        index_version=searcher.index.version,
        model=ModelInfo(
            name=encoder.identity.name,
            path=str(encoder.path) if encoder.path else None,
            source=encoder.identity.source,
            dimension=encoder.dimension,
        ),
        query_languages=sorted(searcher.detection_languages),
        passage_languages=sorted(searcher.passage_languages),
    )
