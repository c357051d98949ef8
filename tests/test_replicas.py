"""Several identical workers on one port (``report-search serve --workers 2``) answer alike,
and each reloads its index in place on SIGHUP."""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import serve_process

QUERIES = ["Qui préside INTERPOL ?", "illegal fishing", "HAECHI", "armes à feu", "Notices rouges"]
REQUESTS = 120


def log_lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text("utf-8").splitlines()]


def wait_for_lines(log: Path, message: str, count: int) -> list[dict[str, Any]]:
    """The lines whose message starts with ``message``, once there are ``count`` of them."""
    deadline = time.monotonic() + 120
    while True:
        found = [line for line in log_lines(log) if line["message"].startswith(message)]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"fewer than {count} log lines {message!r}"
        time.sleep(0.25)


def search(url: str, n: int) -> tuple[str, int, list[tuple[str, float]]]:
    query = QUERIES[n % len(QUERIES)]
    # A new connection each time, so that both workers get to accept some.
    answer = httpx.get(f"{url}/search", params={"q": query, "k": 5}, timeout=60)
    hits = answer.json()["results"] if answer.status_code == 200 else []
    return query, answer.status_code, [(hit["passage_id"], hit["score"]) for hit in hits]


def test_two_workers_on_one_port_answer_every_request_alike(index_dir, tmp_path):
    log = tmp_path / "serve.log"
    with serve_process(log, "--index", str(index_dir), "--workers", "2") as (url, _):
        # A worker counts as started once its model and index are loaded.
        started = wait_for_lines(log, "Application startup complete", 2)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda n: search(url, n), range(REQUESTS)))
        for worker in {line["process"] for line in started}:
            os.kill(worker, signal.SIGHUP)
        wait_for_lines(log, "index reloaded", 2)

    assert [status for _, status, _ in answers] == [200] * REQUESTS
    by_query: dict[str, set[tuple[tuple[str, float], ...]]] = {}
    for query, _, hits in answers:
        by_query.setdefault(query, set()).add(tuple(hits))
    assert all(len(results) == 1 and next(iter(results)) for results in by_query.values())
    lines = log_lines(log)  # every line JSON, from the main process and both workers

    def processes(message: str) -> list[int]:
        return [line["process"] for line in lines if line["message"].startswith(message)]

    searched_by = set(processes("GET /search"))
    assert len(searched_by) == 2  # both workers answered some of the searches
    assert sorted(processes("index reloaded")) == sorted(searched_by)
    assert len(processes("Finished server process")) == 2
