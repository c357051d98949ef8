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


def _encode_all_at_once(batcher: MicroBatcher, count: int) -> tuple[list[str], list[np.ndarray]]:
    """``count`` distinct queries sent together, their vectors, and the batcher closed."""

    async def run() -> tuple[list[str], list[np.ndarray]]:
        queries = ["x" * n for n in range(1, count + 1)]
        vectors = await asyncio.gather(*(batcher.encode([q]) for q in queries))
        await batcher.close()
        return queries, [rows[0] for rows in vectors]

    return asyncio.run(run())


def test_concurrent_queries_share_encoder_calls():
    encoder = RecordingEncoder()
    batcher = MicroBatcher(encoder, max_batch=8, max_wait_ms=5)
    queries, vectors = _encode_all_at_once(batcher, 20)
    assert [v[0] for v in vectors] == [float(len(q)) for q in queries]  # each gets its own
    assert sum(encoder.batches) == 20
    assert len(encoder.batches) < 20 and max(encoder.batches) <= 8


def test_a_requests_texts_share_one_batch():
    """A query and its second text (without the reports' common words) are encoded in one
    call, whatever else waits: queued one by one, they could fall in two batches, and the
    request waited for both calls. Each request gets its own rows, in order."""
    calls: list[list[str]] = []

    def encoder(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        threading.Event().wait(0.01)
        return np.array([[float(len(t))] for t in texts])

    # Batches of 3 texts: pairs queued one text at a time would straddle them.
    batcher = MicroBatcher(encoder, max_batch=3, max_wait_ms=5)
    requests = [["a" * n, "b" * (n + 10)] for n in range(1, 8)]

    async def run():
        rows = await asyncio.gather(*(batcher.encode(texts) for texts in requests))
        await batcher.close()
        return rows

    rows = asyncio.run(run())
    for texts, got in zip(requests, rows, strict=True):
        assert got[:, 0].tolist() == [float(len(t)) for t in texts]
        assert any(call[i : i + 2] == texts for call in calls for i in range(len(call)))
    assert sum(map(len, calls)) == 14 and max(map(len, calls)) <= 4  # a pair may overfill


def test_an_encoder_giving_the_wrong_number_of_vectors_fails_every_request():
    """Split by the requests' counts, one row too few gave a request another's vectors and
    the last none, without a word."""

    def short(texts: list[str]) -> np.ndarray:
        return np.zeros((len(texts) - 1, 2))

    batcher = MicroBatcher(short, max_batch=8, max_wait_ms=20)

    async def run():
        results = await asyncio.gather(
            batcher.encode(["a", "b"]), batcher.encode(["c"]), return_exceptions=True
        )
        await batcher.close()
        return results

    results = asyncio.run(run())
    assert all(isinstance(r, RuntimeError) for r in results), results
    assert "vectors to" in str(results[0])


def test_workers_run_encoder_calls_side_by_side():
    """Two workers: two one-query calls in flight at once, never more."""
    in_flight, peak, lock = 0, 0, threading.Lock()

    def encoder(queries: list[str]) -> np.ndarray:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        threading.Event().wait(0.02)
        with lock:
            in_flight -= 1
        return np.array([[float(len(q))] for q in queries])

    batcher = MicroBatcher(encoder, max_batch=1, max_wait_ms=0, workers=2)
    queries, vectors = _encode_all_at_once(batcher, 10)
    assert [v[0] for v in vectors] == [float(len(q)) for q in queries]
    assert peak == 2


def test_engine_encodes_int8_queries_one_by_one_on_two_workers(searcher, settings):
    engine = SearchEngine.configured(searcher, settings)
    expected = (1, 2) if not searcher.encoder.batches_queries else (16, 1)
    assert (engine.batcher._max_batch, engine.batcher._workers) == expected
    assert searcher.encoder.batches_queries is (settings.query_backend != "onnx-int8")


def test_lone_query_is_not_held_back():
    encoder = RecordingEncoder(delay=0)
    batcher = MicroBatcher(encoder, max_batch=16, max_wait_ms=1)

    async def run():
        loop = asyncio.get_running_loop()
        started = loop.time()
        await batcher.encode(["seul"])
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
            *(batcher.encode([q]) for q in ("a", "b", "c")), return_exceptions=True
        )
        await batcher.close()
        return results

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(run()))


def _engine_counting_queries(
    searcher, cache_size: int = 1024, max_batch: int = 1
) -> tuple[SearchEngine, list[str]]:
    """An engine over ``searcher`` and the list of queries its encoder was given."""
    encoded: list[str] = []

    def encode(queries: list[str]) -> np.ndarray:
        encoded.extend(queries)
        return searcher.encoder.encode_queries(queries)

    batcher = MicroBatcher(encode, max_batch, 1.0, 1)
    return SearchEngine(searcher, cache_size, batcher=batcher), encoded


def test_engine_caches_repeated_requests_and_matches_searcher(searcher):
    engine, encoded = _engine_counting_queries(searcher, cache_size=8)

    async def run():
        first = await engine.search("pêche illégale", 3, SearchFilters(), Mode.HYBRID)
        second = await engine.search("pêche illégale", 3, SearchFilters(), Mode.HYBRID)
        other = await engine.search("pêche illégale", 2, SearchFilters(), Mode.HYBRID)
        await engine.close()
        return first, second, other

    first, second, other = asyncio.run(run())
    assert len(encoded) == 2  # the repeated request came from the cache
    assert [h.passage.id for h in first.hits] == [h.passage.id for h in second.hits]
    assert len(other.hits) == 2
    direct = searcher.search("pêche illégale", k=3)
    assert [h.passage.id for h in direct.hits] == [h.passage.id for h in first.hits]


def test_engine_rejects_bad_requests_before_encoding(searcher):
    engine, encoded = _engine_counting_queries(searcher)
    from service.retrieval.query import InvalidQueryError

    with pytest.raises(InvalidQueryError):
        asyncio.run(engine.search("   ", 3, SearchFilters(), Mode.HYBRID))
    assert encoded == []


@pytest.mark.parametrize("max_batch", [1, 8])
def test_engine_with_cache_off_still_answers(searcher, max_batch):
    engine, encoded = _engine_counting_queries(searcher, cache_size=0, max_batch=max_batch)

    async def run():
        first = await engine.search("Qui préside INTERPOL ?", 3, SearchFilters(), Mode.HYBRID)
        again = await engine.search("Qui préside INTERPOL ?", 3, SearchFilters(), Mode.HYBRID)
        await engine.close()
        return first, again

    first, again = asyncio.run(run())
    assert [h.passage.id for h in first.hits] == [h.passage.id for h in again.hits]
    # Each time the query, and the query without the report's common word (common_words).
    assert encoded == ["Qui préside INTERPOL ?", "Qui préside ?"] * 2
    direct = engine.searcher.search("Qui préside INTERPOL ?", k=3)
    assert [h.passage.id for h in direct.hits] == [h.passage.id for h in first.hits]


@pytest.mark.parametrize("max_batch", [1, 8])
def test_start_hook_runs_in_the_encoder_thread_before_the_call(max_batch):
    """Batches of one query or of several call each query's hook first, in the encoder
    thread, so work started by it cannot take the GIL before the encoder has the query."""
    events: list[tuple[str, str]] = []

    def encoder(queries: list[str]) -> np.ndarray:
        events.extend(("encode", q) for q in queries)
        return np.array([[float(len(q))] for q in queries])

    def hook(query: str):
        return lambda: events.append(("hook " + threading.current_thread().name, query))

    batcher = MicroBatcher(encoder, max_batch=max_batch, max_wait_ms=5)

    async def run():
        await asyncio.gather(*(batcher.encode([q], hook(q)) for q in ("a", "bb", "ccc")))
        await batcher.close()

    asyncio.run(run())
    for query in ("a", "bb", "ccc"):
        hooked = [i for i, (kind, q) in enumerate(events) if q == query and kind != "encode"]
        encoded = events.index(("encode", query))
        assert len(hooked) == 1 and hooked[0] < encoded
        assert events[hooked[0]][0].startswith("hook encoder")


@pytest.mark.parametrize("max_batch", [1, 8])
def test_engine_reads_the_query_while_the_encoder_runs(searcher, max_batch):
    """On both paths (a whole search in the encoder thread, or a batch) the query's words are
    read only once an encoder thread has the query, and before the vector is back: the read
    overlaps the model instead of delaying it."""
    has_query, encoded = threading.Event(), threading.Event()
    seen: list[tuple[bool, bool]] = []
    given: list[str] = []

    class RecordingBatcher(MicroBatcher):
        """Marks the moment an encoder thread takes the query (its job or start hook runs)."""

        async def encode(self, texts, on_start=None) -> np.ndarray:
            def taken() -> None:
                has_query.set()
                if on_start is not None:
                    on_start()

            return await super().encode(texts, taken)

        async def run(self, job):
            def taken(encode):
                has_query.set()
                return job(encode)

            return await super().run(taken)

    def encoder(queries: list[str]) -> np.ndarray:
        threading.Event().wait(0.2)
        given.extend(queries)
        encoded.set()
        return searcher.encoder.encode_queries(queries)

    read = searcher.read

    def recording_read(request):
        seen.append((has_query.is_set(), encoded.is_set()))
        return read(request)

    engine = SearchEngine(searcher, batcher=RecordingBatcher(encoder, max_batch=max_batch))
    searcher.read = recording_read
    try:
        result = asyncio.run(engine.search("pêche illégale", 3, SearchFilters(), Mode.HYBRID))
    finally:
        del searcher.read
        asyncio.run(engine.close())
    assert seen == [(True, False)]
    assert given == ["pêche illégale"]  # encoded once
    direct = searcher.search("pêche illégale", k=3)
    assert [h.passage.id for h in result.hits] == [h.passage.id for h in direct.hits]


def test_one_query_path_reads_while_the_model_computes(searcher):
    """The read and the encoder call run at the same time: each waits to see the other
    started (one after the other, the first would wait in vain)."""
    encoder_started, read_started = threading.Event(), threading.Event()
    saw: dict[str, bool] = {}

    def encoder(queries: list[str]) -> np.ndarray:
        encoder_started.set()
        saw["encoder saw the read"] = read_started.wait(5)
        return searcher.encoder.encode_queries(queries)

    read = searcher.read

    def recording_read(request):
        read_started.set()
        saw["read saw the encoder"] = encoder_started.wait(5)
        return read(request)

    engine = SearchEngine(searcher, batcher=MicroBatcher(encoder, max_batch=1, workers=2))
    searcher.read = recording_read
    try:
        asyncio.run(engine.search("pêche illégale", 3, SearchFilters(), Mode.HYBRID))
    finally:
        del searcher.read
        asyncio.run(engine.close())
    assert saw == {"encoder saw the read": True, "read saw the encoder": True}


def test_a_reloaded_engine_shares_the_encoder_and_reader_threads(searcher):
    engine = SearchEngine(searcher, batcher=MicroBatcher(RecordingEncoder(), 1, 0, workers=2))
    reloaded = engine.serving(searcher)
    assert reloaded.batcher is engine.batcher and reloaded._readers is engine._readers
    assert engine._readers._max_workers == 2  # one reader per encoder thread
    asyncio.run(engine.close())


def test_one_query_encoder_runs_the_whole_search_in_its_thread(searcher):
    """With an encoder called one query at a time, encoding and ranking run in the encoder
    thread that takes the query (one hop from the event loop), the read beside it."""
    threads: dict[str, str] = {}

    def encoder(queries: list[str]) -> np.ndarray:
        threads["encode"] = threading.current_thread().name
        return searcher.encoder.encode_queries(queries)

    read, rank = searcher.read, searcher.rank

    def recording_read(request):
        threads["read"] = threading.current_thread().name
        return read(request)

    def recording_rank(*args):
        threads["rank"] = threading.current_thread().name
        return rank(*args)

    engine = SearchEngine(searcher, batcher=MicroBatcher(encoder, max_batch=1, workers=2))
    searcher.read, searcher.rank = recording_read, recording_rank
    try:
        asyncio.run(engine.search("pêche illégale", 3, SearchFilters(), Mode.HYBRID))
    finally:
        del searcher.read, searcher.rank
        asyncio.run(engine.close())
    assert threads["encode"].startswith("encoder")
    assert threads["rank"] == threads["encode"]
    assert threads["read"].startswith("reader")


@pytest.mark.parametrize("max_batch", [1, 8])
def test_engine_encoder_failure_leaves_no_read_waiting(searcher, max_batch):
    def broken(_: list[str]) -> np.ndarray:
        raise RuntimeError("encoder down")

    engine = SearchEngine(searcher, batcher=MicroBatcher(broken, max_batch=max_batch))

    async def run():
        with pytest.raises(RuntimeError, match="encoder down"):
            await engine.search("pêche illégale", 3, SearchFilters(), Mode.HYBRID)
        await asyncio.sleep(0)  # let the cancelled read finish cancelling
        others = asyncio.all_tasks() - {asyncio.current_task()}
        left = [t for t in others if t.get_name() != "micro-batcher"]  # the batcher's own
        await engine.close()
        return left

    assert asyncio.run(run()) == []


def test_engine_batches_a_query_and_its_second_text_in_one_call(searcher):
    """Through the batcher, a query naming the reports' common word is ranked from both its
    texts, encoded in one call, as the searcher alone ranks it."""
    calls: list[list[str]] = []

    def encoder(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return searcher.encoder.encode_queries(texts)

    engine = SearchEngine(searcher, batcher=MicroBatcher(encoder, max_batch=8))
    query = "Vatikan INTERPOL Mitglied?"
    texts = searcher.prepare(query).texts
    assert len(texts) == 2

    async def run():
        result = await engine.search(query, 5, SearchFilters(), Mode.HYBRID)
        await engine.close()
        return result

    result = asyncio.run(run())
    assert calls == [list(texts)]
    alone = searcher.search(query, k=5)
    assert [h.passage.id for h in result.hits] == [h.passage.id for h in alone.hits]
