"""Load and soak test of the HTTP service (on demand only; never part of `make test`).

1. **Load**: 10,000 requests (search by GET and POST, and /context) from 32 concurrent
   closed-loop clients; the bar is zero errors (any non-200 or transport error).
2. **Soak**: the same clients for 5 minutes with more distinct queries than the result cache
   holds, sampling the server's resident memory every 10 s; the bar is zero errors and RSS
   growth (last sample against the first, taken after a warm-up) under 5 %.

It starts `report-search serve` itself on a free loopback port, so it measures the real
process. It takes the machine's CPU for minutes: do not run it while others benchmark.

    python -m bench.load_soak --index index                  # both phases
    python -m bench.load_soak --index index --soak-seconds 0  # load only

Writes ``bench/results/load_soak.json`` and exits 1 when a bar is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import RESULTS, distinct_queries, machine, percentiles, process_memory_mib
from bench.http_load import client_session, free_port, running_server
from indexer.versions import resolve

SAMPLE_EVERY_S = 10.0
WARM_UP_REQUESTS = 500


@dataclass
class Tally:
    """What the clients saw."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def summary(self, seconds: float) -> dict[str, object]:
        done = len(self.latencies_ms) + sum(self.errors.values())
        return {
            "requests": done,
            "errors": sum(self.errors.values()),
            "error_kinds": self.errors,
            "seconds": round(seconds, 1),
            "requests_per_s": round(done / seconds, 1) if seconds else None,
            "latency_ms": percentiles(self.latencies_ms) if self.latencies_ms else None,
        }


async def _request(client: aiohttp.ClientSession, n: int, query: str) -> int:
    """Request ``n`` of the mix, read whole: a third each GET /search, POST /search and
    POST /context. Returns the status."""
    k = 1 + n % 10
    if n % 3 == 0:
        request = client.get("/search", params={"q": query, "k": k})
    elif n % 3 == 1:
        request = client.post("/search", json={"query": query, "k": k})
    else:
        request = client.post("/context", json={"query": query, "k": k, "max_chars": 2000})
    async with request as response:
        await response.read()
        return response.status


async def run_clients(
    base: str,
    queries: list[str],
    concurrency: int,
    *,
    count: int | None,
    until: float | None,
    first: int = 0,
) -> Tally:
    """Closed-loop clients: each sends its next request when the last one is answered.

    Stops after ``count`` requests, or at monotonic time ``until``. Request numbers (which
    pick the query, ``k`` and endpoint) start at ``first``: a run after the warm-up starts
    where it ended, or its first requests would repeat the warm-up's and hit the cache.
    """
    tally = Tally()
    numbers = itertools.count(first)
    async with client_session(base, concurrency, timeout=60) as client:

        async def worker() -> None:
            while True:
                n = next(numbers)
                if (count is not None and n - first >= count) or (
                    until is not None and time.monotonic() >= until
                ):
                    return
                started = time.perf_counter()
                try:
                    status = await _request(client, n, queries[n % len(queries)])
                except (aiohttp.ClientError, TimeoutError) as exc:
                    tally.error(type(exc).__name__)
                    continue
                if status != 200:
                    tally.error(f"HTTP {status}")
                    continue
                tally.latencies_ms.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


async def soak(
    base: str, pid: int, queries: list[str], concurrency: int, seconds: float
) -> dict[str, Any]:
    """Run the clients for ``seconds`` while sampling the server's RSS."""
    await run_clients(base, queries, concurrency, count=WARM_UP_REQUESTS, until=None)
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    clients = asyncio.create_task(
        run_clients(
            base, queries, concurrency, count=None, until=started + seconds, first=WARM_UP_REQUESTS
        )
    )

    def sample() -> tuple[float, float]:
        """(seconds into the soak, current RSS in MiB): growth, not the peak, is the bar."""
        return round(time.monotonic() - started, 1), round(process_memory_mib(pid, "VmRSS"), 1)

    while not clients.done():
        samples.append(sample())
        await asyncio.wait({clients}, timeout=SAMPLE_EVERY_S)
    samples.append(sample())
    tally = clients.result()
    return {
        **tally.summary(time.monotonic() - started),
        "rss_mib_samples": samples,
        "rss_growth_mib": round(samples[-1][1] - samples[0][1], 1),
        "rss_growth_percent": round(100 * (samples[-1][1] - samples[0][1]) / samples[0][1], 2),
        "rss_max_mib": max(rss for _, rss in samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--soak-seconds", type=float, default=300.0, help="0 skips the soak.")
    parser.add_argument("--max-growth-percent", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "load_soak.json")
    args = parser.parse_args()

    # More distinct queries than the default result cache (1,024), so the soak keeps
    # encoding and the cache keeps evicting: a leak in either would show as growth.
    queries = distinct_queries(resolve(args.index) / "passages.jsonl", 4000)
    with running_server(args.index, free_port()) as (base, pid):
        started = time.monotonic()
        load = asyncio.run(
            run_clients(base, queries, args.concurrency, count=args.requests, until=None)
        ).summary(time.monotonic() - started)
        print(f"load: {json.dumps(load)}", flush=True)
        soaked = (
            asyncio.run(soak(base, pid, queries, args.concurrency, args.soak_seconds))
            if args.soak_seconds > 0
            else None
        )
        if soaked is not None:
            print(f"soak: {json.dumps(soaked)}", flush=True)

    failures = []
    if load["errors"]:
        failures.append(f"load: {load['errors']} errors")
    if soaked is not None and soaked["errors"]:
        failures.append(f"soak: {soaked['errors']} errors")
    if soaked is not None and soaked["rss_growth_percent"] >= args.max_growth_percent:
        failures.append(f"soak: RSS grew {soaked['rss_growth_percent']} %")
    result = {
        "machine": machine(),
        "concurrency": args.concurrency,
        "cpu_count": os.cpu_count(),
        "load": load,
        "soak": soaked,
        "passed": not failures,
        "failures": failures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("PASS" if not failures else "FAIL: " + "; ".join(failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
