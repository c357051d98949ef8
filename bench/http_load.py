"""Over-HTTP benchmark: single-client latency and closed-loop throughput by concurrency.

Starts `report-search serve` as a subprocess on a free loopback port, waits for /readyz,
then runs closed-loop aiohttp clients (each sends its next request when the previous one
answers) with distinct queries. Also measures, in this process and before the server starts,
a plain `SentenceTransformer(model_path).encode_query([q])` on the same queries: the
reference the service's median request is compared with.

    python -m bench.http_load --index index --requests 400
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx

from bench.common import (
    RESULTS,
    distinct_queries,
    machine,
    percentiles,
    process_memory_mib,
    save_result,
)
from indexer.versions import resolve

CONCURRENCY = (1, 4, 16, 64)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(
    index: Path, port: int, env: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """A `report-search serve` subprocess, ready, stopped on exit: its base URL and pid.

    Its log goes to a temporary file: a pipe nobody reads fills up after ~64 KiB of access
    lines and then blocks the server in the middle of a request.
    """
    command = [str(Path(sys.executable).parent / "report-search"), "serve", "--index", str(index)]
    command += ["--port", str(port)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"server exited: {log.read().decode()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                time.sleep(0.5)
            else:
                raise RuntimeError("server not ready after 180 s")
            yield base, process.pid
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            if process.poll() is None:
                process.kill()


def client_session(base: str, concurrency: int, timeout: float = 30) -> aiohttp.ClientSession:
    """The load generator's HTTP client: ``concurrency`` keep-alive connections to ``base``.

    aiohttp rather than httpx: the load generator shares the 2 cores with the server, and at
    concurrency 16 httpx spent 3.7-4.0 ms of CPU per request against 0.45 ms for aiohttp
    (2,000 cached searches each, alternated), a sixth of the machine's budget per request.
    """
    return aiohttp.ClientSession(
        base,
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=timeout),
    )


async def closed_loop(base: str, queries: list[str], concurrency: int) -> dict[str, object]:
    """Send every query once with ``concurrency`` clients; latency, throughput, errors."""
    pending = iter(queries)
    latencies: list[float] = []
    errors = 0
    async with client_session(base, concurrency) as client:

        async def worker() -> None:
            nonlocal errors
            for query in pending:
                started = time.perf_counter()
                try:
                    async with client.get("/search", params={"q": query, "k": 5}) as response:
                        await response.read()
                        ok = response.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors,
        "throughput_rps": len(latencies) / elapsed,
        "latency_ms": percentiles(latencies),
    }


def reference_encode_ms(model_path: str, queries: list[str]) -> dict[str, float]:
    """Plain sentence-transformers `encode_query([q])`, one query at a time."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu")
    for query in queries[:5]:
        model.encode_query([query])
    samples = []
    for query in queries:
        started = time.perf_counter()
        model.encode_query([query])
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def model_path_of(index: Path) -> str:
    """The folder the service will report as ``model.path`` for this index's settings."""
    from indexer.embedding.model import resolve_model
    from indexer.settings import Settings

    return resolve_model(Settings(index_dir=index)).location


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--requests", type=int, default=400, help="Requests per level.")
    parser.add_argument("--out", type=Path, default=RESULTS / "http.json")
    args = parser.parse_args()
    levels = len(CONCURRENCY) + 1
    queries = distinct_queries(resolve(args.index) / "passages.jsonl", args.requests * levels + 200)
    # The reference is measured before and after the server runs: this machine's speed drifts
    # (shared host), and the ratio uses the faster of the two, which is the harder bar.
    reference_before = reference_encode_ms(model_path_of(args.index), queries[-200:])
    port = free_port()
    with running_server(args.index, port) as (base, pid):
        stats = httpx.get(f"{base}/stats").json()
        model_path = stats["model"]["path"]
        single = asyncio.run(closed_loop(base, queries[: args.requests], 1))
        runs = []
        for level, concurrency in enumerate(CONCURRENCY, start=1):
            chunk = queries[level * args.requests : (level + 1) * args.requests]
            runs.append(asyncio.run(closed_loop(base, chunk, concurrency)))
        rss = process_memory_mib(pid, "VmHWM")
    # The reference runs while no server runs, so neither slows the other.
    reference_after = reference_encode_ms(model_path, queries[-200:])
    reference = min(reference_before, reference_after, key=lambda stats: stats["p50"])
    result = {
        "machine": machine(),
        "model_path": model_path,
        "single_client": single,
        "closed_loop": runs,
        "reference_encode_query_ms": reference,
        "reference_encode_query_ms_before_and_after": [reference_before, reference_after],
        "ratio_median_http_to_encode_query": single["latency_ms"]["p50"] / reference["p50"],  # type: ignore[index]
        "server_peak_rss_mib": rss,
    }
    save_result(args.out, result)


if __name__ == "__main__":
    main()
