"""The searcher the app serves, loaded in the background so the process answers at once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from service.searcher import Searcher

log = logging.getLogger(__name__)


class ServiceState:
    """Holds the searcher once it is loaded, or the reason it could not be."""

    def __init__(self, searcher: Searcher | None = None) -> None:
        self.searcher = searcher
        self.error: str | None = None
        self._thread: threading.Thread | None = None

    def load_in_background(self, loader: Callable[[], Searcher]) -> None:
        """Run ``loader`` in a thread; ``/readyz`` turns 200 when it finishes."""

        def run() -> None:
            try:
                self.searcher = loader()
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
