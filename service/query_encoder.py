"""Which encoder turns queries into vectors at serving time.

Passages are always embedded by sentence-transformers (the reference). Queries are short
and latency-bound, so by default they go through the same model exported to ONNX and
quantised to int8: ~10 ms instead of ~40 on this 2-core machine, at mean cosine ≥ 0.99
to the reference vectors and no measurable loss in retrieval (EVALUATION.md,
BENCHMARKS.md). Models without a local folder (hub names) keep the reference encoder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from indexer.embedding.encoder import Encoder
from indexer.embedding.model import ModelIdentity, ResolvedModel
from indexer.embedding.onnx_encoder import OnnxQueryEncoder
from indexer.embedding.onnx_layout import OnnxExportError
from indexer.settings import QueryBackend

log = logging.getLogger(__name__)


class QueryEncoder(Protocol):
    """What the searcher needs from an encoder."""

    identity: ModelIdentity
    dimension: int
    path: Path | None
    # Whether several queries in one call cost less than one call each (see SearchEngine).
    batches_queries: bool

    def encode_queries(self, queries: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per query."""
        ...


def load_query_encoder(
    model: ResolvedModel, backend: QueryBackend, batch_size: int = 16
) -> QueryEncoder:
    """The encoder for ``backend``; falls back to the reference one if ONNX is impossible."""
    if backend is not QueryBackend.TORCH:
        try:
            return OnnxQueryEncoder(model, quantized=backend is QueryBackend.ONNX_INT8)
        except OnnxExportError as exc:
            log.warning("ONNX query encoder unavailable (%s); using sentence-transformers", exc)
    return Encoder(model, batch_size=batch_size)
