"""The serving layer over :class:`Searcher`: batching, caching, and work off the event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from cachetools import LRUCache

from indexer.artifact import DocumentEntry
from indexer.settings import Settings
from service import metrics
from service.batching import EncodeFn, MicroBatcher
from service.context import GroundedContext, build_context, document_titles
from service.documents import find_document
from service.passages import PassageStore
from service.retrieval.filters import SearchFilters
from service.retrieval.ranking import Mode
from service.searcher import PreparedSearch, QueryEvidence, Searcher, SearchResult


class SearchEngine:
    """What the HTTP API calls: one searcher shared by all requests.

    Validation runs first (no model work for a bad request) and repeated requests come from
    an LRU cache. An encoder that batches gets the waiting queries in one call; the query's
    words are read in the thread pool meanwhile, and ranking runs there once the vector is
    back. An encoder that takes one query per call (ONNX int8, two calls in flight) runs
    the whole search in its own thread (:meth:`_search_in_encoder_thread`).
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
        readers: ThreadPoolExecutor | None = None,
    ) -> None:
        self.searcher = searcher
        self.batcher = batcher or MicroBatcher(
            searcher.encoder.encode_queries, max_batch, max_wait_ms, encoder_workers
        )
        # Where an encoder thread has its query's words read while the model computes: one
        # reader per encoder thread (threads start on first use, so batching engines have none).
        self._readers = readers or ThreadPoolExecutor(
            self.batcher.workers, thread_name_prefix="reader"
        )
        self._cache: LRUCache[tuple[object, ...], SearchResult] = LRUCache(maxsize=cache_size)
        self._lock = threading.Lock()

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

    @property
    def documents(self) -> tuple[DocumentEntry, ...]:
        """The documents of the index being served."""
        return self.searcher.index.manifest.documents

    def document(self, document_id: str) -> DocumentEntry | None:
        """The served document with this id, in any case (:func:`find_document`)."""
        return find_document(self.documents, document_id)

    @property
    def passage_languages(self) -> frozenset[str]:
        """The languages the served passages are written in: what the ``lang`` filter takes."""
        return self.searcher.passage_languages

    @property
    def version(self) -> str:
        """The version of the index being served."""
        return self.searcher.index.version

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
        return SearchEngine(
            searcher,
            cache_size=int(self._cache.maxsize),
            batcher=self.batcher,
            readers=self._readers,
        )

    async def search(self, query: str, k: int, filters: SearchFilters, mode: Mode) -> SearchResult:
        """Same contract as :meth:`Searcher.search`."""
        request = self.searcher.prepare(query, k, filters, mode)
        key = request.cache_key()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            took = (time.perf_counter() - request.started) * 1000
            return dataclasses.replace(cached, took_ms=took)
        if self.batcher.gathers:
            result = await self._search_batched(request)
        else:
            job = functools.partial(self._search_in_encoder_thread, request, time.perf_counter())
            result = await self.batcher.run(job)
        if self._cache.maxsize:  # a cache of size 0 (caching off) refuses every entry
            with self._lock:
                self._cache[key] = result
        return result

    async def context(
        self, query: str, k: int, filters: SearchFilters, mode: Mode, max_chars: int
    ) -> tuple[SearchResult, GroundedContext]:
        """The search and its hits quoted within ``max_chars`` (:func:`build_context`): what
        ``POST /context`` and the MCP tool both answer with."""
        result = await self.search(query, k, filters, mode)
        return result, build_context(result.hits, max_chars, document_titles(self.documents))

    async def close(self) -> None:
        """Release the encoder and reader threads (shared with the engines :meth:`serving` made).

        Reads already submitted still run: a search in its encoder thread waits for its read.
        """
        await self.batcher.close()
        self._readers.shutdown(wait=False)

    def _search_in_encoder_thread(
        self, request: PreparedSearch, queued: float, encode: EncodeFn
    ) -> SearchResult:
        """A whole search in the encoder thread that takes its query.

        One hop from the event loop instead of three (encoding, then reading, then ranking
        each went through it): at concurrency 16, p99 83-88 ms against 97-101 ms and 224-230
        requests/s against 206-221, three alternated runs each; a lone request the same
        (BENCHMARKS.md). The words are read by a reader thread while the model computes:
        submitted from here, the read waits for the GIL that this thread holds until the
        model starts, so it cannot delay the model (:meth:`MicroBatcher.encode` says what
        that cost when both started together).
        """
        reading = self._readers.submit(self.searcher.read, request)
        try:
            vectors = encode(list(request.texts))
        except BaseException:
            reading.cancel()  # if not started yet: it would hold up the next search's read
            raise
        metrics.ENCODE_SECONDS.observe(time.perf_counter() - queued)  # since it was queued
        with metrics.RANK_SECONDS.time():
            return self.searcher.rank(request, vectors, reading.result())

    async def _search_batched(self, request: PreparedSearch) -> SearchResult:
        """A search whose query is encoded in a batch with the others waiting.

        A query with a second text (its common words left out) queues both texts, which go
        into one batch together.

        The query's words (language detection, keyword scores: pure Python) are read in the
        thread pool while the model computes, started once the encoder thread has the query
        (:meth:`MicroBatcher.encode` says why); ranking runs there once the vector is back.
        asyncio's executor rather than anyio's thread pool: same threads, less bookkeeping.
        """
        loop = asyncio.get_running_loop()
        encoding = asyncio.Event()

        async def read() -> QueryEvidence:
            await encoding.wait()
            return await loop.run_in_executor(None, self.searcher.read, request)

        def encoder_has_query() -> None:  # called in the encoder thread
            loop.call_soon_threadsafe(encoding.set)

        reading = asyncio.ensure_future(read())
        try:
            started = time.perf_counter()
            vectors = await self.batcher.encode(request.texts, encoder_has_query)
            metrics.ENCODE_SECONDS.observe(time.perf_counter() - started)
            text = await reading
        finally:
            reading.cancel()  # when encoding failed: the read would wait for ever
        with metrics.RANK_SECONDS.time():
            return await loop.run_in_executor(None, self.searcher.rank, request, vectors, text)
