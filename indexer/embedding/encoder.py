"""The sentence-transformers encoder, with the query/passage prompts applied consistently."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from indexer.embedding.model import ModelIdentity, ModelLoadError, ResolvedModel


class Encoder:
    """Embeds queries and passages as L2-normalised float32 vectors.

    Prompts come from the model identity rather than the model's own config, so any
    sentence-transformers model works and the manifest records exactly what was used.
    """

    batches_queries = True  # torch spreads a batch over the cores: 16 queries ~2x one

    def __init__(self, model: ResolvedModel, batch_size: int = 16) -> None:
        if model.local_path is not None:
            # A local folder must never trigger a hub lookup (air-gapped machines hang on it).
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # A per-tensor "Loading weights" bar on every start is noise in a CLI or a log.
        transformers_logging.disable_progress_bar()

        try:
            self._model = SentenceTransformer(model.location, device="cpu")
        except Exception as exc:  # the library raises many types for a bad folder or name
            raise ModelLoadError(
                f"cannot load embedding model {model.location!r}: {exc}. Set REPORT_MODEL to a "
                "sentence-transformers model name or folder, or leave it empty for the default."
            ) from exc
        self.identity: ModelIdentity = model.identity
        self.location = model.location
        self.path: Path | None = model.local_path
        self.batch_size = batch_size
        dimension = self._model.get_embedding_dimension()
        if not dimension:
            raise ModelLoadError(f"model {model.location!r} does not report an embedding size")
        self.dimension: int = int(dimension)

    def encode_queries(self, queries: list[str]) -> np.ndarray:
        """Vectors for search queries (with the query prompt)."""
        return self.encode(queries, self.identity.query_prompt)

    def encode_prompted(
        self, items: list[tuple[str, str]], show_progress: bool = False
    ) -> np.ndarray:
        """Vectors for (prompt, text) pairs, in input order: one model call per prompt.

        A build embeds passages with the passage prompt and their sentences with the query
        prompt too, as stand-ins for queries (``indexer.passage_vectors.hubness``).
        """
        vectors = np.zeros((len(items), self.dimension), dtype=np.float32)
        rows: dict[str, list[int]] = {}
        for row, (prompt, _) in enumerate(items):
            rows.setdefault(prompt, []).append(row)
        for prompt, chosen in rows.items():
            vectors[chosen] = self.encode([items[i][1] for i in chosen], prompt, show_progress)
        return vectors

    def encode(self, texts: list[str], prompt: str, show_progress: bool = False) -> np.ndarray:
        """Vectors for ``texts`` with ``prompt`` prepended (one of the identity's prompts)."""
        vectors = self._model.encode(
            texts,
            prompt=prompt,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
