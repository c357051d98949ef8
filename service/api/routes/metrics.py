"""``GET /metrics``: the service's Prometheus metrics (service/metrics.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["observability"])


@router.get("/metrics", response_class=PlainTextResponse)
def metrics() -> Response:
    """Requests, latencies, encoder and ranking time, the served index version, reloads,
    in the Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
