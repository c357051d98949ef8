"""Shared fixtures: one real index built once per session with the real model."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from indexer.build import build_index
from indexer.settings import Settings
from service.api.app import create_app
from service.searcher import Searcher

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
REPORT = CORPUS / "interpol-2021-fr.txt"


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
