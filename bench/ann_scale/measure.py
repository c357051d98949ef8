"""What an index costs to build, how fast it answers one query, and how well."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np
import psutil

from bench.ann_scale.progress import log
from bench.common import percentiles


def release_memory() -> None:
    """Collect garbage and return freed heap to the OS so the next RSS baseline is honest."""
    gc.collect()
    # Without glibc RSS deltas may undercount memory the allocator reuses.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _rss() -> int:
    return int(psutil.Process().memory_info().rss)


@dataclass
class Built:
    """An index with what it cost to build it."""

    family: str
    name: str
    index: Any
    build_seconds: float
    index_bytes: int
    rss_delta_bytes: int
    params: dict[str, Any]


def build_measured(
    family: str,
    name: str,
    params: dict[str, Any],
    make: Callable[[], Any],
    extra_seconds: float = 0.0,
) -> Built:
    """Time ``make`` and measure its memory: serialized size plus RSS growth while building.

    ``extra_seconds`` adds build work shared with another index (the IVF coarse quantizer).
    """
    release_memory()
    rss_before = _rss()
    start = time.perf_counter()
    index = make()
    seconds = time.perf_counter() - start + extra_seconds
    rss_delta = _rss() - rss_before
    index_bytes = int(faiss.serialize_index(index).nbytes)
    release_memory()
    log(
        f"  built {name}: {seconds:.1f}s, {index_bytes / 2**20:.0f} MiB serialized, "
        f"RSS +{rss_delta / 2**20:.0f} MiB"
    )
    return Built(family, name, index, seconds, index_bytes, rss_delta, params)


def measure_latency(
    index: Any,
    queries: np.ndarray,
    k: int,
    threads: int,
    params: Any | None,
    budget_s: float,
    warmup: int = 20,
    min_samples: int = 30,
) -> dict[str, float]:
    """Single-query latency percentiles, one ``search`` call per query as the service does.

    Stops early once ``budget_s`` is spent (exact search at 1M is ~0.1 s a query); the sample
    count is recorded. ``cpu_per_wall`` near the thread count means the cores were ours;
    much lower means other processes competed and the numbers are pessimistic.
    """
    faiss.omp_set_num_threads(threads)
    for i in range(min(warmup, len(queries))):
        index.search(queries[i : i + 1], k, params=params)
    samples: list[int] = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(len(queries)):
        q = queries[i : i + 1]
        t0 = time.perf_counter_ns()
        index.search(q, k, params=params)
        samples.append(time.perf_counter_ns() - t0)
        if len(samples) >= min_samples and time.perf_counter() - wall0 > budget_s:
            break
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        **percentiles([ns / 1e6 for ns in samples]),
        "cpu_per_wall": round(cpu / wall, 3),
    }


def best_latency(repeats: int, **kwargs: Any) -> dict[str, Any]:
    """The least disturbed of ``repeats`` latency runs (lowest p50).

    On a shared machine other processes only ever add time, so the fastest run is the best
    estimate of the index's own cost; every run's p50 is kept to show the spread.
    """
    runs = [measure_latency(**kwargs) for _ in range(repeats)]
    best = min(runs, key=lambda run: run["p50"])
    return {**best, "p50_runs": [run["p50"] for run in runs]} if repeats > 1 else best


def recall_at(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Mean fraction of the exact top-k that the index also returned in its top-k."""
    hits = [
        len(np.intersect1d(f[:k], t[:k], assume_unique=True))
        for f, t in zip(found, truth, strict=True)
    ]
    return float(np.mean(hits) / k)
