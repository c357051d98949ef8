"""Micro-batching and the serving engine's cache."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from service.batching import MicroBatcher
from service.engine import SearchEngine
from service.retrieval.filters import SearchFilters
from service.retrieval.ranking import Mode


class RecordingEncoder:
    """Encodes a query as [len(query)] and records the batch sizes it was called with."""

    def __init__(self, delay: float = 0.01) -> None:
        self.batches: list[int] = []
        self.delay = delay
        self.event = threading.Event()

    def __call__(self, queries: list[str]) -> np.ndarray:
        self.batches.append(len(queries))
        self.event.wait(self.delay)
        return np.array([[float(len(q))] for q in queries])


def test_concurrent_queries_share_encoder_calls():
    encoder = RecordingEncoder()
    batcher = MicroBatcher(encoder, max_batch=8, max_wait_ms=5)

    async def run():
        queries = ["x" * n for n in range(1, 21)]
        vectors = await asyncio.gather(*(batcher.encode(q) for q in queries))
        await batcher.close()
        return queries, vectors

    queries, vectors = asyncio.run(run())
    assert [v[0] for v in vectors] == [float(len(q)) for q in queries]  # each gets its own
    assert sum(encoder.batches) == 20
    assert len(encoder.batches) < 20 and max(encoder.batches) <= 8


def test_lone_query_is_not_held_back():
    encoder = RecordingEncoder(delay=0)
    batcher = MicroBatcher(encoder, max_batch=16, max_wait_ms=1)

    async def run():
        loop = asyncio.get_running_loop()
        started = loop.time()
        await batcher.encode("seul")
        elapsed = loop.time() - started
        await batcher.close()
        return elapsed

    assert asyncio.run(run()) < 0.5
    assert encoder.batches == [1]


def test_encoder_failure_reaches_every_waiting_request():
    def broken(_: list[str]) -> np.ndarray:
        raise RuntimeError("encoder down")

    batcher = MicroBatcher(broken, max_batch=4, max_wait_ms=5)

    async def run():
        results = await asyncio.gather(
            *(batcher.encode(q) for q in ("a", "b", "c")), return_exceptions=True
        )
        await batcher.close()
        return results

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(run()))


def test_engine_caches_repeated_requests_and_matches_searcher(searcher):
    engine = SearchEngine(searcher, cache_size=8)

    async def run():
        first = await engine.search("pêche illégale", 3, SearchFilters(), Mode.HYBRID)
        second = await engine.search("pêche illégale", 3, SearchFilters(), Mode.HYBRID)
        other = await engine.search("pêche illégale", 2, SearchFilters(), Mode.HYBRID)
        await engine.close()
        return first, second, other

    first, second, other = asyncio.run(run())
    assert engine.cache_hits == 1
    assert [h.passage.id for h in first.hits] == [h.passage.id for h in second.hits]
    assert len(other.hits) == 2
    direct = searcher.search("pêche illégale", k=3)
    assert [h.passage.id for h in direct.hits] == [h.passage.id for h in first.hits]


def test_engine_rejects_bad_requests_before_encoding(searcher):
    engine = SearchEngine(searcher)
    from service.searcher import InvalidQueryError

    with pytest.raises(InvalidQueryError):
        asyncio.run(engine.search("   ", 3, SearchFilters(), Mode.HYBRID))
    assert engine.batcher.encoded == 0
