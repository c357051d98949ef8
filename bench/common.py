"""Shared helpers for the benchmarks: machine description, percentiles, query sets."""

from __future__ import annotations

import json
import os
import platform
import random
import re
from pathlib import Path

import numpy as np

from indexer.artifact import read_passages
from indexer.jsonl import jsonl_lines

ROOT = Path(__file__).resolve().parents[1]
# The CPU extensions the int8 encoder's speed depends on: machines of the same kind have come
# with and without AVX-512 VNNI, and the query encoder is twice as fast with it.
_VECTOR_FLAGS = {
    "avx2": "AVX2",
    "avx512f": "AVX-512",
    "avx512_vnni": "AVX-512 VNNI",
    "avx_vnni": "AVX-VNNI",
    "amx_int8": "AMX-INT8",
}
RESULTS = ROOT / "bench" / "results"
EVAL_FILES = (
    ROOT.parent / "shared" / "eval" / "dev.jsonl",
    ROOT / "tests/data/queries_extra.jsonl",
)


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
    cpu, flags = "unknown", set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        text = cpuinfo.read_text()
        match = re.search(r"model name\s*:\s*(.+)", text)
        cpu = match.group(1).strip() if match else cpu
        match = re.search(r"^flags\s*:\s*(.+)$", text, re.MULTILINE)
        flags = set(match.group(1).split()) if match else flags
    memory = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        match = re.search(r"MemTotal:\s*(\d+) kB", meminfo.read_text())
        memory = int(match.group(1)) // 1024 if match else 0
    return {
        "cpu": cpu,
        "vector_extensions": [name for flag, name in _VECTOR_FLAGS.items() if flag in flags],
        "cores": os.cpu_count(),
        "memory_mib": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def process_memory_mib(pid: int, field: str) -> float:
    """A memory line of ``/proc/<pid>/status`` in MiB: ``VmRSS`` (now) or ``VmHWM`` (peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99 and mean of a list of milliseconds."""
    values = np.asarray(samples_ms, dtype=np.float64)
    return {
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
        "p99": float(np.percentile(values, 99)),
        "mean": float(values.mean()),
        "n": len(values),
    }


def eval_queries() -> list[dict[str, object]]:
    """The dev and extra query lines that exist on this machine."""
    lines: list[dict[str, object]] = []
    for path in EVAL_FILES:
        if path.exists():
            text = path.read_text("utf-8")
            lines.extend(json.loads(x) for x in jsonl_lines(text) if x.strip())
    return lines


def distinct_queries(passages_file: Path, count: int, seed: int = 0) -> list[str]:
    """``count`` different realistic queries: the eval queries, then 6–14-word windows
    of the report's own sentences, so that no result cache can hide the encoder's cost."""
    rng = random.Random(seed)
    queries = [str(q["query"]) for q in eval_queries()]
    texts = [p.text for p in read_passages(passages_file.parent)]
    words = [w for text in texts for w in text.split()]
    seen = set(queries)
    while len(queries) < count:
        start = rng.randrange(0, max(1, len(words) - 15))
        candidate = " ".join(words[start : start + rng.randint(6, 14)])
        if candidate not in seen:
            seen.add(candidate)
            queries.append(candidate)
    return queries[:count]


def save_result(path: Path, result: dict[str, object]) -> None:
    """Write a benchmark's result where `bench.report` reads it, and show it."""
    text = json.dumps(result, indent=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    print(text)
