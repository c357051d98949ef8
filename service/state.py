"""The search engine the app serves: loaded in the background so the process answers at once,
and replaced without downtime when the index is reloaded."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from indexer.versions import ServedVersion
from service import metrics
from service.engine import SearchEngine
from service.reload import ReloadBusy, ReloadRefused, load_replacement
from service.searcher import Searcher

log = logging.getLogger(__name__)

_RELOAD_POLL_S = 0.05  # how often a waiting reload looks whether the running one has ended


class NotReadyError(RuntimeError):
    """No engine to search with yet; the message says why (loading, or the load failed)."""

    def __init__(self, message: str, loading: bool) -> None:
        super().__init__(message)
        # Still loading: a retry in a few seconds may succeed. A failed load needs an operator.
        self.loading = loading


@dataclass(frozen=True)
class Reloaded:
    """What a reload swapped: the version served before and the one served now."""

    previous_version: str
    version: str
    passages: int


class ServiceState:
    """Holds the search engine once it is loaded, or the reason it could not be.

    Requests read :attr:`engine` once and keep that engine to the end, so a reload only
    has to replace the attribute: requests already running finish on the old engine (it
    shares the encoder's batcher with the new one, so nothing is closed under them), new
    ones get the new engine.
    """

    def __init__(self, make_engine: Callable[[Searcher], SearchEngine]) -> None:
        self.engine: SearchEngine | None = None
        self.error: str | None = None
        self._make_engine = make_engine
        self._loader: Callable[[], Searcher] | None = None
        self._thread: threading.Thread | None = None
        # Held for a whole reload; a second one over HTTP is refused rather than queued, one
        # for a signal waits its turn (``reload(wait=True)``; README).
        self._reloading = threading.Lock()
        # The version served, held so that builds do not delete it (README, "Versions").
        self._lease: ServedVersion | None = None

    def require_engine(self) -> SearchEngine:
        """The engine serving now; raises NotReadyError while loading or after a failed load."""
        engine = self.engine
        if engine is None:
            reason = self.error or "the model and index are still loading; retry in a few seconds"
            raise NotReadyError(f"service not ready: {reason}", loading=self.error is None)
        return engine

    def serve(self, searcher: Searcher) -> None:
        """Start serving ``searcher``."""
        self._swap(searcher, lambda: self._make_engine(searcher))

    def _swap(self, searcher: Searcher, make: Callable[[], SearchEngine]) -> None:
        """Serve the engine ``make`` gives for ``searcher``, holding the version it reads as
        served (:class:`.ServedVersion`) from before the engine is made, and letting go of
        the one before once it is: a running service's version outlives the builds between
        its reloads, which pruned it (and the way back to it) once three of them had run.
        If ``make`` fails, what was served and held stays so."""
        folder = searcher.index.folder
        lease = ServedVersion(folder) if folder is not None else None
        try:
            self.engine = make()
        except BaseException:
            if lease is not None:
                lease.release()
            raise
        if self._lease is not None:
            self._lease.release()
        self._lease = lease
        metrics.record_served(searcher)

    def load_in_background(self, loader: Callable[[], Searcher]) -> None:
        """Run ``loader`` in a thread; ``/readyz`` turns 200 when it finishes.

        If it fails, a reload runs ``loader`` again (see :meth:`reload`).
        """
        self._loader = loader

        def run() -> None:
            try:
                self.serve(loader())
                _settle_heap()
                log.info("index and model loaded")
            except Exception as exc:  # reported through /readyz rather than crashing the app
                self.error = str(exc)
                log.error("cannot load the index: %s", exc)

        self._thread = threading.Thread(target=run, name="searcher-loader", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Block until a background load has finished (tests and the CLI use it)."""
        if self._thread is not None:
            self._thread.join(timeout)

    async def reload(self, root: Path, wait: bool = False) -> Reloaded:
        """Load the current version of ``root`` in a thread, check it, then swap it in.

        After a failed first load nothing is served: the first load is run again instead, so
        that once the cause is fixed (an index rebuilt, a model folder restored) the service
        recovers without a restart; ``/healthz`` stays 200 meanwhile, so nothing else would.
        Raises ReloadBusy while another reload runs (unless ``wait``: a signal has no client
        to retry, so it waits its turn) or the first load runs, ReloadRefused when the
        version cannot be served; either way what was served keeps serving.
        """
        while not self._reloading.acquire(blocking=False):
            if not wait:
                metrics.RELOADS.labels("busy").inc()
                raise ReloadBusy("a reload is already running; retry when it has finished")
            await asyncio.sleep(_RELOAD_POLL_S)
        try:
            served = self.engine
            if served is None:
                searcher = await self._load_again()
                self.serve(searcher)
                previous = "none"
            else:
                try:
                    searcher = await asyncio.to_thread(load_replacement, served.searcher, root)
                except ReloadRefused as exc:
                    metrics.RELOADS.labels("refused").inc()
                    log.warning("index reload refused, still serving %s: %s", _version(served), exc)
                    raise
                self._swap(searcher, partial(served.serving, searcher))
                previous = _version(served)
        finally:
            self._reloading.release()
        del served  # the engine replaced: its reference cycles go in the collection below
        _settle_heap()
        metrics.RELOADS.labels("success").inc()
        reloaded = Reloaded(previous, searcher.index.version, len(searcher.index.passages))
        log.info("index reloaded: %s -> %s", reloaded.previous_version, reloaded.version)
        return reloaded

    async def _load_again(self) -> Searcher:
        """The first load, run again after it failed."""
        if self._loader is None or self.error is None:
            metrics.RELOADS.labels("busy").inc()
            raise ReloadBusy("the model and index are still loading; retry when /readyz is 200")
        try:
            searcher = await asyncio.to_thread(self._loader)
        except Exception as exc:  # the same failures the first load reports through /readyz
            self.error = str(exc)
            metrics.RELOADS.labels("refused").inc()
            log.warning("the index still cannot be served: %s", exc)
            raise ReloadRefused(f"the index still cannot be served: {exc}") from exc
        self.error = None
        return searcher


def _settle_heap() -> None:
    """Collect once, then exempt what is alive (the index, the model, the libraries) from
    the cyclic garbage collector: done by a process that loads its own engine, the server.

    Under load, the requests' short-lived objects set off full collections, each of which
    walked every long-lived object too (~180,000 in the server: 75-85 ms at rest, a stall
    of ~140 ms under load that every request in flight waited through, the slowest 1 % at
    concurrency 16 in BENCHMARKS.md). Frozen objects are still freed when no longer
    referenced; an engine that something still held when a reload froze the heap (a request
    still running on it, or the thread that loaded its replacement, which lets go of its
    arguments a moment later) keeps only its reference cycles, until the next reload
    unfreezes and collects them. The collection itself holds every request up once, at
    each load and reload (75-85 ms here).
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _version(engine: SearchEngine) -> str:
    return engine.searcher.index.version
