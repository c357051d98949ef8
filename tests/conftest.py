"""Shared fixtures: one real index built once per session with the real model."""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from indexer.build import build_index
from indexer.passage import Passage
from indexer.settings import Settings
from service.api.app import create_app
from service.context import ELLIPSIS
from service.searcher import Searcher

# The question several interface tests ask: its answer ("Al Raisi") is on one passage.
QUESTION = "Who was elected INTERPOL President?"

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
REPORT = CORPUS / "interpol-2021-fr.txt"


def a_passage(
    text: str,
    passage_id: str,
    page: int = 1,
    section: str = "",
    position: int = 0,
    urls: tuple[str, ...] = (),
) -> Passage:
    """A French passage of document "doc", for tests that need no index."""
    return Passage(
        id=passage_id,
        document="doc",
        page=page,
        section=section,
        text=text,
        lang="fr",
        position=position,
        source_urls=urls,
    )


@pytest.fixture(autouse=True)
def _unfrozen_heap() -> Iterator[None]:
    """A served engine freezes the heap (``service.state._settle_heap``): each test leaves
    the process's heap as the next one expects it, nothing frozen out of collection."""
    yield
    gc.unfreeze()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the real corpus, an index in a temporary folder, the default model."""
    return Settings(corpus_dir=CORPUS, index_dir=tmp_path_factory.mktemp("index") / "index")


@pytest.fixture(scope="session")
def index_dir(settings: Settings) -> Path:
    """The real report indexed once."""
    build_index(settings, settings.corpus_dir, settings.index_dir)
    return settings.index_dir


@pytest.fixture(scope="session")
def searcher(settings: Settings, index_dir: Path) -> Searcher:
    """A searcher over the real index."""
    return Searcher.open(settings, index_dir)


@pytest.fixture(scope="session")
def client(settings: Settings, searcher: Searcher) -> Iterator[TestClient]:
    """The HTTP API over the shared searcher."""
    with TestClient(create_app(settings, searcher)) as test_client:
        yield test_client


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port in a background thread.

    For what only shows over a real socket: browsers, MCP clients, hostile raw requests.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound here, so no other process can take the port meanwhile
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@contextmanager
def serve_process(
    log: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``report-search serve ARGS`` on a free port until it is ready, then stop it.

    Yields the server's URL and its process.

    For what only a real ``serve`` has: signal handlers, worker processes, its log
    configuration. The log (stderr) goes to ``log``, read by the tests once stopped. The
    server is stopped with SIGTERM and must shut down its app cleanly within 30 s.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = Path(sys.executable).with_name("report-search")
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [str(script), "serve", "--port", str(port), *args],
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,  # its own process group: worker processes included
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while not _answers(f"{url}/readyz"):
            assert process.poll() is None, log.read_text("utf-8")
            assert time.monotonic() < deadline, "the server never became ready"
            time.sleep(0.25)
        yield url, process
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down, then re-raises the signal it stopped for: -SIGTERM is clean too.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM), log.read_text("utf-8")
        assert "Application shutdown complete" in log.read_text("utf-8")
    finally:
        if process.poll() is None:  # a failed test: leave no worker behind
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


# What a light code path must not import: loading any of them costs seconds and ~1 GB.
HEAVY_MODULES = ("sentence_transformers", "torch", "transformers")


def run_fresh_python(code: str) -> list[str]:
    """Run ``code`` in a new interpreter from the repository; its output lines, then the
    heavy modules (HEAVY_MODULES) it ended up importing, as a printed sorted list."""
    check = f"\nimport sys\nprint(sorted(set({HEAVY_MODULES!r}) & set(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", code + check],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def is_excerpt(body: str, text: str) -> bool:
    """``body`` is a run of ``text`` cut between words, with "…" where text was left out."""
    inner = body.removeprefix(ELLIPSIS + " ").removesuffix(" " + ELLIPSIS)
    if inner not in text:
        return False
    start = text.index(inner)
    end = start + len(inner)
    starts_well = start == 0 or text[start - 1].isspace()
    ends_well = end == len(text.rstrip()) or text[end].isspace() or text[end - 1] in ".!?»"
    return (
        starts_well
        and ends_well
        and body.startswith(ELLIPSIS) == (start > 0)
        and body.endswith(ELLIPSIS) == (end < len(text.rstrip()))
    )


def mcp_initialize(client: str) -> dict[str, object]:
    """An MCP ``initialize`` request as raw JSON-RPC, for tests that speak it on the wire."""
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": client, "version": "1"},
        },
    }
