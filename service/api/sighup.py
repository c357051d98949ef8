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

from service.reload import ReloadRefused
from service.state import ServiceState

log = logging.getLogger(__name__)


@contextlib.contextmanager
def reload_on_sighup(state: ServiceState, root: Path) -> Iterator[None]:
    """While inside, each SIGHUP reloads ``root``'s current version into ``state``.

    Signals are acted on one reload at a time: one that arrives during a reload asks for
    another once it ends (the index may have changed after that reload read it), and any
    number of them meanwhile ask for just that one, since each reload reads what is current.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    asked = asyncio.Event()

    async def reload_when_asked() -> None:
        while True:
            await asked.wait()
            asked.clear()
            await _reload(state, root)

    reloader = loop.create_task(reload_when_asked(), name="sighup-reloader")
    loop.add_signal_handler(signal.SIGHUP, asked.set)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        reloader.cancel()


async def _reload(state: ServiceState, root: Path) -> None:
    """Reload, with the outcome in the log (no client to tell).

    A SIGHUP during the first load, or during a reload someone else asked for over HTTP,
    waits for it to end, then reloads: the signal says that the index changed, possibly
    after that load had read it.
    """
    log.info("SIGHUP: reloading the index from %s", root)
    await asyncio.to_thread(state.wait)
    try:
        await state.reload(root, wait=True)
    except ReloadRefused:
        pass  # the state logged why, and what is still served
    except Exception:
        log.exception("SIGHUP reload failed; the previous index is still served")
