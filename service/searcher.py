"""The search core: a query in, ranked sourced passages out. No web dependency.

The HTTP API, the CLI and the tests all go through :class:`Searcher`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from indexer.artifact import ArtifactError, LoadedIndex, load_index
from indexer.embedding.encoder import Encoder
from indexer.embedding.model import resolve_model
from indexer.language import detect_language
from indexer.passage import Passage
from indexer.settings import Settings

MAX_QUERY_CHARS = 1000
MAX_K = 50


class InvalidQueryError(ValueError):
    """The request cannot be searched as given; the message says why."""


class ModelMismatchError(ArtifactError):
    """The index was built with another model than the one configured."""


@dataclass(frozen=True)
class SearchHit:
    """One ranked passage."""

    rank: int
    score: float
    passage: Passage


@dataclass(frozen=True)
class SearchResult:
    """The answer to one query."""

    query: str
    query_lang: str
    took_ms: float
    hits: list[SearchHit] = field(default_factory=list)


class Searcher:
    """Searches one loaded index with the encoder it was built with."""

    def __init__(self, index: LoadedIndex, encoder: Encoder) -> None:
        if index.manifest.model != encoder.identity or index.manifest.dimension != (
            encoder.dimension
        ):
            raise ModelMismatchError(
                f"the index was built with model {index.manifest.model.name!r} "
                f"({index.manifest.model.source}, checksum {index.manifest.model.checksum}, "
                f"prompts {index.manifest.model.query_prompt!r}/"
                f"{index.manifest.model.passage_prompt!r}) but the service is configured with "
                f"{encoder.identity.name!r} ({encoder.identity.source}, checksum "
                f"{encoder.identity.checksum}); rebuild it with `report-index build --force` or "
                "set REPORT_MODEL to the index's model"
            )
        self.index = index
        self.encoder = encoder
        self._default_lang = _majority_language(index.passages)

    @classmethod
    def open(cls, settings: Settings, index_dir: Path | None = None) -> Searcher:
        """Load the configured model and the index (default: ``settings.index_dir``)."""
        index = load_index(index_dir or settings.index_dir)
        encoder = Encoder(resolve_model(settings), batch_size=settings.batch_size)
        return cls(index, encoder)

    def search(self, query: str, k: int = 5, lang: str | None = None) -> SearchResult:
        """Top ``k`` passages for ``query``; ``lang`` keeps only passages in that language."""
        started = time.perf_counter()
        query = validate_query(query)
        if not 1 <= k <= MAX_K:
            raise InvalidQueryError(f"k must be between 1 and {MAX_K}, got {k}")
        vector = self.encoder.encode_queries([query])
        allowed = self._filter(lang)
        fetch = self.index.vectors.ntotal if allowed is not None else k
        scores, ids = self.index.vectors.search(vector, min(fetch, self.index.vectors.ntotal))
        hits: list[SearchHit] = []
        for score, i in zip(scores[0], ids[0], strict=True):
            if i < 0 or (allowed is not None and i not in allowed):
                continue
            hits.append(SearchHit(len(hits) + 1, float(score), self.index.passages[i]))
            if len(hits) == k:
                break
        return SearchResult(
            query=query,
            query_lang=detect_language(query, fallback=self._default_lang),
            took_ms=(time.perf_counter() - started) * 1000,
            hits=hits,
        )

    def _filter(self, lang: str | None) -> set[int] | None:
        if lang is None:
            return None
        return {i for i, p in enumerate(self.index.passages) if p.lang == lang.lower()}


def validate_query(query: str) -> str:
    """The query stripped, or InvalidQueryError when it is blank or too long."""
    stripped = query.strip()
    if not stripped:
        raise InvalidQueryError("the query is empty: type a question or keywords")
    if len(stripped) > MAX_QUERY_CHARS:
        raise InvalidQueryError(
            f"the query is {len(stripped)} characters long; the limit is {MAX_QUERY_CHARS}"
        )
    return stripped


def _majority_language(passages: tuple[Passage, ...]) -> str:
    languages = [p.lang for p in passages]
    return max(set(languages), key=languages.count) if languages else "und"
