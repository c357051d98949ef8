"""Shared fixtures: one real index built once per session with the real model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
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
