"""The searcher the app serves, loaded in the background so the process answers at once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from service.engine import SearchEngine
from service.searcher import Searcher

log = logging.getLogger(__name__)


class ServiceState:
    """Holds the search engine once it is loaded, or the reason it could not be."""

    def __init__(self, make_engine: Callable[[Searcher], SearchEngine]) -> None:
        self.engine: SearchEngine | None = None
        self.error: str | None = None
        self._make_engine = make_engine
        self._thread: threading.Thread | None = None

    def serve(self, searcher: Searcher) -> None:
        """Start serving ``searcher``."""
        self.engine = self._make_engine(searcher)

    def load_in_background(self, loader: Callable[[], Searcher]) -> None:
        """Run ``loader`` in a thread; ``/readyz`` turns 200 when it finishes."""

        def run() -> None:
            try:
                self.serve(loader())
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
