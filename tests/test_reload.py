"""Zero-downtime index reload: POST /admin/reload and SIGHUP swap in the index root's current
version while requests keep being answered, and refuse a version that cannot be served."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import os
import shutil
import signal
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import SecretStr

import service.state
from indexer import versions
from indexer.artifact import PASSAGES_FILE, IndexVectors, load_index, write_index
from indexer.settings import Settings
from service.api.app import create_app
from service.engine import SearchEngine
from service.searcher import Searcher
from service.state import ServiceState
from tests.conftest import live_server, serve_process

TOKEN = "reload-token-for-tests"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
QUERIES = ["Qui préside INTERPOL ?", "pêche illégale", "HAECHI", "cybercriminalité", "Notices"]


@pytest.fixture
def root(index_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the session's index root, to publish versions into."""
    copy = tmp_path / "root"
    shutil.copytree(index_dir, copy, symlinks=True)
    return copy


def publish(root: Path, **manifest_changes: object) -> str:
    """Publish the current version again as a new version (manifest changed as given)."""
    index = load_index(root)
    vectors = IndexVectors(
        passages=index.vectors.reconstruct_n(0, index.vectors.ntotal),
        sentences=index.sentences,
        hubness=index.hubness,
    )
    manifest = dataclasses.replace(index.manifest, **manifest_changes)
    return write_index(root, manifest, list(index.passages), vectors, keep=10)


def app_over(root: Path, settings: Settings, searcher: Searcher, **changes: object) -> FastAPI:
    """The app over ``root``'s current version, with the session's encoder (no model load)."""
    configured = settings.model_copy(
        update={"index_dir": root, "admin_token": SecretStr(TOKEN), **changes}
    )
    return create_app(configured, Searcher(load_index(root), searcher.encoder))


def reloads(outcome: str) -> float:
    return REGISTRY.get_sample_value("report_search_reloads_total", {"outcome": outcome}) or 0.0


def test_reload_under_load_answers_every_request(root, settings, searcher):
    app = app_over(root, settings, searcher)
    first = load_index(root).version
    # Status, whether a reload was running at the end, the version that answered.
    answers: list[tuple[int, bool, str | None]] = []
    reloading = threading.Event()
    stop = threading.Event()

    def fire(worker: int, url: str) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            n = 0
            while not stop.is_set():
                n += 1  # k changes too, so that the result cache does not answer them all
                params = {"q": QUERIES[(worker + n) % len(QUERIES)], "k": 1 + n % 50}
                response = http.get("/search", params=params)
                version = response.json().get("index_version")
                answers.append((response.status_code, reloading.is_set(), version))

    with live_server(app) as url, ThreadPoolExecutor(6) as pool:
        firing = [pool.submit(fire, worker, url) for worker in range(6)]
        time.sleep(0.5)
        second = publish(root)
        reloading.set()
        answer = httpx.post(f"{url}/admin/reload", headers=ADMIN, timeout=60)
        reloading.clear()
        time.sleep(0.5)
        stop.set()
        for future in firing:
            future.result()
        stats = httpx.get(f"{url}/stats").json()
        ready = httpx.get(f"{url}/readyz").json()

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "previous_version": first,
        "version": second,
        "passages": len(searcher.index.passages),
    }
    assert second != first
    assert stats["index_version"] == ready["index_version"] == second
    assert len(answers) > 50 and any(during for _, during, _ in answers)
    assert {status for status, _, _ in answers} == {200}
    # Each answer says which version ranked it: the old one's, then the new one's.
    versions = [version for _, _, version in answers]
    assert set(versions) <= {first, second} and versions[-1] == second
    served = app.state.service.engine.searcher
    assert served.index.version == second
    assert served.encoder is searcher.encoder  # the model was not loaded again


def _truncated_version(root: Path) -> None:
    publish(root)
    path = root / "current" / PASSAGES_FILE
    path.write_bytes(path.read_bytes()[:-10])  # the last passage's JSON is cut short


def _other_model_version(root: Path) -> None:
    model = load_index(root).manifest.model
    publish(root, model=dataclasses.replace(model, checksum="0" * 64))


@pytest.mark.parametrize(
    ("publish_bad_version", "reason"),
    [(_truncated_version, "is damaged"), (_other_model_version, "was built with model")],
    ids=["truncated-passages", "other-model"],
)
def test_a_version_that_cannot_be_served_is_refused(
    root, settings, searcher, publish_bad_version, reason
):
    app = app_over(root, settings, searcher)
    first = load_index(root).version
    publish_bad_version(root)
    refused_before = reloads("refused")
    with TestClient(app) as client:
        answer = client.post("/admin/reload", headers=ADMIN)
        assert answer.status_code == 422
        assert reason in answer.json()["detail"]
        assert client.get("/stats").json()["index_version"] == first
        search = client.get("/search", params={"q": QUERIES[0]})
        assert search.status_code == 200 and search.json()["results"]
    assert reloads("refused") == refused_before + 1


def test_admin_endpoint_is_off_without_a_token_and_needs_the_right_one(root, settings, searcher):
    with TestClient(app_over(root, settings, searcher, admin_token=None)) as client:
        off = client.post("/admin/reload", headers=ADMIN)
    assert off.status_code == 403
    assert off.json()["detail"] == "admin endpoints are disabled: set REPORT_ADMIN_TOKEN"

    # With an API key too: admin routes take their own token, the API still takes the key.
    app = app_over(root, settings, searcher, api_key=SecretStr("api-key"))
    with TestClient(app) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            refused = client.post("/admin/reload", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "admin token" in refused.json()["detail"]
        assert client.post("/admin/reload", headers=ADMIN).status_code == 200
        assert client.get("/search", params={"q": "x"}, headers=ADMIN).status_code == 401


def test_a_second_reload_while_one_runs_gets_409(root, settings, searcher, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    load = service.state.load_replacement

    def slow_load(served: Searcher, at: Path) -> Searcher:
        entered.set()
        release.wait(60)
        return load(served, at)

    monkeypatch.setattr(service.state, "load_replacement", slow_load)
    busy_before = reloads("busy")
    with live_server(app_over(root, settings, searcher)) as url, ThreadPoolExecutor(1) as pool:
        first = pool.submit(httpx.post, f"{url}/admin/reload", headers=ADMIN, timeout=60)
        assert entered.wait(30)
        second = httpx.post(f"{url}/admin/reload", headers=ADMIN, timeout=60)
        release.set()
        assert first.result().status_code == 200
    assert second.status_code == 409
    assert second.json()["detail"].startswith("a reload is already running")
    assert reloads("busy") == busy_before + 1


def test_after_a_failed_first_load_a_reload_serves_the_fixed_index(root, settings, tmp_path):
    """/healthz stays 200 when the first load fails, so no orchestrator restarts the
    process: the reload is what recovers it once the index is there."""
    missing = tmp_path / "not-built-yet"
    configured = settings.model_copy(update={"index_dir": missing, "admin_token": SecretStr(TOKEN)})
    app = create_app(configured)
    succeeded_before = reloads("success")
    with TestClient(app) as client:
        app.state.service.wait(300)
        assert client.get("/readyz").status_code == 503
        still = client.post("/admin/reload", headers=ADMIN)
        assert still.status_code == 422
        assert still.json()["detail"].startswith("the index still cannot be served: no index at")
        shutil.copytree(root, missing, symlinks=True)
        fixed = client.post("/admin/reload", headers=ADMIN)
        assert fixed.status_code == 200, fixed.text
        assert fixed.json()["previous_version"] == "none"
        assert fixed.json()["version"] == load_index(root).version
        assert client.get("/readyz").status_code == 200
        assert client.get("/search", params={"q": QUERIES[0]}).json()["results"]
    assert reloads("success") == succeeded_before + 1


def test_a_loaded_engine_is_left_out_of_garbage_collection(root, settings, searcher):
    """A full collection walked every long-lived object, a stall of ~140 ms under load that
    every request in flight waited through (service/state.py, ``_settle_heap``)."""
    state = ServiceState(partial(SearchEngine.configured, settings=settings))
    loaded = Searcher(load_index(root), searcher.encoder)
    state.load_in_background(lambda: loaded)
    state.wait(60)
    tracked = {id(o) for o in gc.get_objects()}  # frozen objects are not listed
    assert state.engine is not None and state.engine.searcher is loaded
    assert id(loaded.index.passages) not in tracked
    assert gc.get_freeze_count() > 10_000


def test_a_reload_frees_the_engine_it_replaced(root, settings, searcher):
    """Frozen objects are still freed when their count of references falls to zero, but
    not their reference cycles (a searcher has some): an engine something still held when
    a reload froze the heap (a request still running on it, or the thread that loaded its
    replacement, which lets go of it a moment after the reload goes on) is collected by the
    next reload, which unfreezes the heap first (``service.state._settle_heap``)."""
    state = ServiceState(partial(SearchEngine.configured, settings=settings))
    # The loader keeps no reference to what it loaded (a lambda's closure would).
    state.load_in_background([Searcher(load_index(root), searcher.encoder)].pop)
    state.wait(60)
    assert state.engine is not None
    # A searcher's keyword index is in a cycle with its cache of cognates.
    replaced = weakref.ref(state.engine.searcher._keyword)
    for _ in range(2):
        publish(root)
        asyncio.run(state.reload(root))
    assert state.engine is not None and state.engine.searcher._keyword is not replaced()
    gc.collect()
    assert replaced() is None


def test_a_sighup_while_a_worker_loads_reloads_once_it_has_loaded(
    root, settings, searcher, monkeypatch
):
    """A worker (wait_until_loaded) gets a SIGHUP while it loads: the index changed after
    the load read it. The signal must neither end the process nor be lost."""
    import asyncio

    import service.api.app

    loading, finish = threading.Event(), threading.Event()

    def slow_open(_: Settings) -> Searcher:
        loaded = Searcher(load_index(root), searcher.encoder)  # the version current now
        loading.set()
        assert finish.wait(60)
        return loaded

    def publish_and_signal() -> str:
        assert loading.wait(60)
        version = publish(root)
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(0.5)  # the signal arrives while the load still runs
        finish.set()
        return version

    monkeypatch.setattr(service.api.app, "_open_warm", slow_open)
    app = create_app(settings.model_copy(update={"index_dir": root}), wait_until_loaded=True)
    first = load_index(root).version
    unhandled: list[int] = []
    # Without the app's handler in place, this one gets the signal instead of ending pytest.
    previous = signal.signal(signal.SIGHUP, lambda number, _: unhandled.append(number))

    async def served_version() -> str:
        async with app.router.lifespan_context(app):
            state = app.state.service
            deadline = time.monotonic() + 20
            while state.engine.searcher.index.version == first and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            return state.engine.searcher.index.version

    try:
        with ThreadPoolExecutor(1) as pool:
            second = pool.submit(publish_and_signal)
            served = asyncio.run(served_version())
            assert served == second.result() != first
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert unhandled == []


@pytest.mark.parametrize("running", ["sighup", "http"])
def test_a_sighup_during_a_reload_is_acted_on_once_it_ends(
    running, root, settings, searcher, monkeypatch
):
    """A build publishes while a reload (from a signal, or over HTTP) is reading the
    version before: its SIGHUP has no client to retry, so it must wait, not be dropped."""
    import asyncio

    entered, release = threading.Event(), threading.Event()
    load = service.state.load_replacement

    def slow_load(served: Searcher, at: Path) -> Searcher:
        loaded = load(served, at)  # the version current now
        entered.set()
        assert release.wait(60)
        return loaded

    monkeypatch.setattr(service.state, "load_replacement", slow_load)
    app = app_over(root, settings, searcher)
    unhandled: list[int] = []
    previous = signal.signal(signal.SIGHUP, lambda number, _: unhandled.append(number))

    async def served_versions() -> tuple[str, str]:
        async with app.router.lifespan_context(app):
            state = app.state.service
            publish(root)
            if running == "sighup":
                os.kill(os.getpid(), signal.SIGHUP)
            else:
                first = asyncio.create_task(state.reload(root))
            assert await asyncio.to_thread(entered.wait, 30)
            latest = publish(root)  # after the running reload read the version before it
            os.kill(os.getpid(), signal.SIGHUP)
            os.kill(os.getpid(), signal.SIGHUP)  # more signals meanwhile ask for one reload
            await asyncio.sleep(0.5)
            release.set()
            if running == "http":
                await first
            deadline = time.monotonic() + 20
            while state.engine.searcher.index.version != latest and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            return state.engine.searcher.index.version, latest

    reloaded = reloads("success")
    try:
        served, latest = asyncio.run(served_versions())
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert served == latest
    assert reloads("success") == reloaded + 2
    assert unhandled == []


def test_sighup_reloads_a_served_index_and_logs_json(root, tmp_path):
    log = tmp_path / "serve.log"
    env = {"REPORT_LOG_FORMAT": "json", "REPORT_ADMIN_TOKEN": ""}
    with serve_process(log, "--index", str(root), env=env) as (url, process):
        first = httpx.get(f"{url}/readyz").json()["index_version"]
        assert httpx.post(f"{url}/admin/reload", headers=ADMIN).status_code == 403
        second = publish(root)
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while httpx.get(f"{url}/readyz").json()["index_version"] != second:
            assert time.monotonic() < deadline, "SIGHUP did not reload the index"
            time.sleep(0.2)
        secret = httpx.get(
            f"{url}/search", params={"q": "zanzibarsecret"}, headers={"X-Request-ID": "trace-42"}
        )
        assert secret.status_code == 200 and secret.headers["x-request-id"] == "trace-42"
    assert first != second
    lines = [json.loads(line) for line in log.read_text("utf-8").splitlines()]  # all JSON
    assert all({"timestamp", "level", "logger", "message", "request_id"} <= set(r) for r in lines)
    assert any(r["message"] == f"index reloaded: {first} -> {second}" for r in lines)
    access = [r for r in lines if r["logger"] == "service.access" and r["route"] == "/search"]
    assert access[-1]["request_id"] == "trace-42"
    assert access[-1]["status"] == 200 and access[-1]["method"] == "GET"
    assert access[-1]["latency_ms"] > 0
    assert "zanzibarsecret" not in log.read_text("utf-8")


def test_builds_keep_the_version_a_service_serves_until_it_reloads(root, settings, searcher):
    """From an operator's review: three builds between two reloads deleted the version the
    service still served, and the way back to it (README, "Versions")."""
    state = ServiceState(partial(SearchEngine.configured, settings=settings))
    state.load_in_background([Searcher(load_index(root), searcher.encoder)].pop)
    state.wait(60)
    assert state.engine is not None
    first = state.engine.searcher.index.folder
    assert first is not None and versions.is_served(first)
    for _ in range(4):  # more than REPORT_KEEP_VERSIONS' 3 newest and the previous current
        version = load_index(root)
        vectors = IndexVectors(
            passages=version.vectors.reconstruct_n(0, version.vectors.ntotal),
            sentences=version.sentences,
            hubness=version.hubness,
        )
        write_index(root, version.manifest, list(version.passages), vectors, keep=1)
    assert first.is_dir()
    asyncio.run(state.reload(root))
    assert not versions.is_served(first)
    assert versions.is_served(state.engine.searcher.index.folder)


def test_an_engine_that_cannot_be_made_leaves_no_version_held(root, settings, searcher):
    """The lease was taken before the engine was made: a failure left a version held that
    nothing served, which pruning then kept for ever."""

    def broken(_: Searcher) -> SearchEngine:
        raise RuntimeError("no engine")

    state = ServiceState(broken)
    loaded = Searcher(load_index(root), searcher.encoder)
    with pytest.raises(RuntimeError, match="no engine"):
        state.serve(loaded)
    assert loaded.index.folder is not None and not versions.is_served(loaded.index.folder)
