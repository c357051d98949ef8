"""SIGHUP reloads the index, as ``POST /admin/reload`` does: the usual signal for "re-read
your data" under a process manager (``systemctl reload``, ``kill -HUP``).

The handler is installed on the event loop by the app's lifespan, which runs in the main
thread under ``report-search serve`` (one uvicorn process, or each worker process). Apps run
in another thread (tests, embedding) have no signal handlers and skip it. Under
``serve --workers N`` the SIGHUP sent to the main process is uvicorn's: it replaces the
workers one by one (README, "Running several replicas").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from service.reload import ReloadBusy, ReloadRefused
from service.state import ServiceState

log = logging.getLogger(__name__)


@contextlib.contextmanager
def reload_on_sighup(state: ServiceState, root: Path) -> Iterator[None]:
    """While inside, each SIGHUP reloads ``root``'s current version into ``state``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task[None]] = set()

    def on_sighup() -> None:
        task = loop.create_task(_reload(state, root), name="sighup-reload")
        running.add(task)
        task.add_done_callback(running.discard)

    loop.add_signal_handler(signal.SIGHUP, on_sighup)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        for task in running:
            task.cancel()


async def _reload(state: ServiceState, root: Path) -> None:
    """Reload, with the outcome in the log (no client to tell).

    A SIGHUP during the first load waits for it to end, then reloads: the signal says that
    the index changed, possibly after the load had read it.
    """
    log.info("SIGHUP: reloading the index from %s", root)
    await asyncio.to_thread(state.wait)
    try:
        await state.reload(root)
    except ReloadBusy as exc:
        log.warning("SIGHUP ignored: %s", exc)
    except ReloadRefused:
        pass  # the state logged why, and what is still served
    except Exception:
        log.exception("SIGHUP reload failed; the previous index is still served")
