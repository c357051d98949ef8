"""The serving layer over :class:`Searcher`: batching, caching, and work off the event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import threading
import time

import numpy as np
from cachetools import LRUCache

from indexer.settings import Settings
from service import metrics
from service.batching import MicroBatcher, StartHook
from service.passages import PassageStore
from service.retrieval.filters import SearchFilters
from service.retrieval.ranking import Mode
from service.searcher import QueryEvidence, Searcher, SearchResult


class SearchEngine:
    """What the HTTP API calls: one searcher shared by all requests.

    Validation runs first (no model work for a bad request), repeated requests come from
    an LRU cache, query encoding goes through the batcher (batched or two calls in flight,
    as the encoder prefers) while the query's words are read in the thread pool, and ranking
    runs there once the vector is back.
    An engine never changes index: a reload builds another one with :meth:`serving`.
    """

    def __init__(
        self,
        searcher: Searcher,
        cache_size: int = 1024,
        max_batch: int = 16,
        max_wait_ms: float = 1.0,
        encoder_workers: int = 1,
        batcher: MicroBatcher | None = None,
    ) -> None:
        self.searcher = searcher
        self.batcher = batcher or MicroBatcher(
            searcher.encoder.encode_queries, max_batch, max_wait_ms, encoder_workers
        )
        self._cache: LRUCache[tuple[object, ...], SearchResult] = LRUCache(maxsize=cache_size)
        self._lock = threading.Lock()
        self.cache_hits = 0

    @classmethod
    def configured(cls, searcher: Searcher, settings: Settings) -> SearchEngine:
        """The engine ``settings`` describe, batching the way the encoder gains from.

        An encoder that runs queries one by one (ONNX int8) gains nothing from a batch but
        uses both cores with two calls in flight: at concurrency 16, 54 requests/s with one
        batching worker against 73 with two single-query workers (BENCHMARKS.md).
        """
        if searcher.encoder.batches_queries:
            max_batch, workers = settings.batch_max_size, 1
        else:
            max_batch, workers = 1, settings.encoder_workers
        return cls(
            searcher,
            cache_size=settings.cache_size,
            max_batch=max_batch,
            max_wait_ms=settings.batch_max_wait_ms,
            encoder_workers=workers,
        )

    @functools.cached_property
    def passages(self) -> PassageStore:
        """The index's passages by id and by document, built on first use."""
        return PassageStore(self.searcher.index.passages)

    def serving(self, searcher: Searcher) -> SearchEngine:
        """An engine over another index searched with this engine's encoder (a reload).

        It shares this engine's batcher, so the encoder's threads are not restarted and
        requests still running on this engine finish normally: nothing of this engine needs
        closing, it is garbage once they are done. The result cache starts empty, since
        cached results belong to the old index.
        """
        if searcher.encoder is not self.searcher.encoder:
            raise ValueError("a reloaded index must be searched with the encoder being served")
        return SearchEngine(searcher, cache_size=int(self._cache.maxsize), batcher=self.batcher)

    async def search(self, query: str, k: int, filters: SearchFilters, mode: Mode) -> SearchResult:
        """Same contract as :meth:`Searcher.search`."""
        request = self.searcher.prepare(query, k, filters, mode)
        key = request.cache_key()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            self.cache_hits += 1
            took = (time.perf_counter() - request.started) * 1000
            return dataclasses.replace(cached, took_ms=took)
        # Reading the query (language detection, keyword scores) is pure Python and the
        # encoder releases the GIL: the read runs while the model computes, started once the
        # encoder thread has the query (MicroBatcher.encode says why). asyncio's executor
        # rather than anyio's thread pool: same threads, less bookkeeping per hop.
        loop = asyncio.get_running_loop()
        encoding = asyncio.Event()

        async def read() -> QueryEvidence:
            await encoding.wait()
            return await loop.run_in_executor(None, self.searcher.read, request)

        def encoder_has_query() -> None:  # called in the encoder thread
            loop.call_soon_threadsafe(encoding.set)

        reading = asyncio.ensure_future(read())
        try:
            vector = await self._encode(request.model_text, encoder_has_query)
            text = await reading
        finally:
            reading.cancel()  # when encoding failed: the read would wait for ever
        with metrics.RANK_SECONDS.time():
            result = await loop.run_in_executor(None, self.searcher.rank, request, vector, text)
        if self._cache.maxsize:  # a cache of size 0 (caching off) refuses every entry
            with self._lock:
                self._cache[key] = result
        return result

    async def close(self) -> None:
        """Release the encoder threads (shared with the engines :meth:`serving` made)."""
        await self.batcher.close()

    async def _encode(self, query: str, on_start: StartHook) -> np.ndarray:
        started = time.perf_counter()
        vector = await self.batcher.encode(query, on_start)
        metrics.ENCODE_SECONDS.observe(time.perf_counter() - started)
        return vector
