"""One corpus size: build each index, measure each search setting, one row per setting."""

from __future__ import annotations

import argparse
import math
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import psutil

from bench.ann_scale.indexes import build_flat, build_hnsw, build_ivf_family, search_settings
from bench.ann_scale.measure import Built, best_latency, recall_at, release_memory
from bench.ann_scale.progress import log
from bench.ann_scale.synthetic import SyntheticCorpus, data_profile


@dataclass
class Plan:
    """What to run at one corpus size."""

    sweep: str
    families: tuple[str, ...]
    threads: tuple[int, ...]
    n_queries: int
    service_k: int = 0
    repeats: int = 1


@dataclass
class Row:
    """One (corpus size, index, search setting) measurement."""

    sweep: str
    n: int
    family: str
    index: str
    setting: str
    build_params: dict[str, Any]
    search_params: dict[str, int]
    build_seconds: float
    index_bytes: int
    rss_delta_bytes: int
    recall_at_10: float
    latency_ms: dict[str, dict[str, float]]
    service_k: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.index if self.setting == "exact" else f"{self.index} {self.setting}"

    @property
    def series(self) -> str:
        """The label shared across corpus sizes (IVF's nlist grows with N by design)."""
        if self.family in ("ivf", "ivfpq"):
            nlist = f"nlist={self.build_params['nlist']}"
            return f"{self.index.replace(nlist, 'nlist=4√N')} {self.setting}"
        return self.label

    def p50(self, threads: int = 1) -> float:
        return self.latency_ms[str(threads)]["p50"]


def run_size(
    corpus: SyntheticCorpus, n: int, plan: Plan, args: argparse.Namespace
) -> tuple[list[Row], dict[str, float]]:
    """Build every index of ``plan`` on the first ``n`` vectors and measure each setting."""
    x = corpus.vectors[:n]
    queries, sources = corpus.queries(n, plan.n_queries)
    k_truth = min(n, max(args.k, plan.service_k))
    log(f"{plan.sweep} n={n:,}: {len(queries)} queries, load {os.getloadavg()[0]:.1f}")
    faiss.omp_set_num_threads(args.build_threads)
    flat = build_flat(x)
    truth = flat.index.search(queries, k_truth)
    profile = (
        data_profile(x, flat.index, queries, sources, truth, sample=200)
        if plan.sweep == "main"
        else {}
    )
    rows: list[Row] = []

    def measure(built: Built) -> None:
        for setting, search_params, params in search_settings(
            built, args.ef_search, args.nprobe, args.nprobe_pq
        ):
            faiss.omp_set_num_threads(args.build_threads)
            _, found = built.index.search(queries, args.k, params=params)
            timing = {
                "index": built.index,
                "queries": queries,
                "params": params,
                "budget_s": args.latency_budget,
            }
            latency = {
                str(t): best_latency(plan.repeats, k=args.k, threads=t, **timing)
                for t in plan.threads
            }
            service: dict[str, Any] = {}
            if plan.service_k and plan.service_k <= n:
                faiss.omp_set_num_threads(args.build_threads)
                _, found_k = built.index.search(queries, plan.service_k, params=params)
                service = {
                    "k": plan.service_k,
                    "recall": recall_at(found_k, truth[1], plan.service_k),
                    "latency_ms_1_thread": best_latency(
                        plan.repeats, k=plan.service_k, threads=1, **timing
                    ),
                }
            row = Row(
                plan.sweep,
                n,
                built.family,
                built.name,
                setting,
                built.params,
                search_params,
                round(built.build_seconds, 3),
                built.index_bytes,
                built.rss_delta_bytes,
                recall_at(found, truth[1], args.k),
                latency,
                service,
            )
            rows.append(row)
            log(
                f"    {row.label}: recall@{args.k} {row.recall_at_10:.3f}, "
                + ", ".join(f"{t}T p50 {v['p50']:.3f} ms" for t, v in latency.items())
            )

    measure(flat)
    del flat
    release_memory()
    if "hnsw" in plan.families:
        faiss.omp_set_num_threads(args.build_threads)
        efc = args.ef_construction if n <= args.large_n else args.ef_construction_large
        hnsw = build_hnsw(x, args.hnsw_m, efc)
        measure(hnsw)
        del hnsw
        release_memory()
    if "ivf" in plan.families or "ivfpq" in plan.families:
        faiss.omp_set_num_threads(args.build_threads)
        nlist = max(16, round(4 * math.sqrt(n)))
        for built in build_ivf_family(
            x, nlist, args.ivf_train_per_list, args.pq_m, "ivfpq" in plan.families, args.seed
        ):
            measure(built)
            del built
        release_memory()
    return rows, profile


def machine_description() -> dict[str, Any]:
    """What the numbers were measured on; latency means little without it."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_bytes": psutil.virtual_memory().total,
        "faiss_version": faiss.__version__,
        "faiss_compile_options": faiss.get_compile_options(),
        "numpy_version": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "omp_env": {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "OPENBLAS"))},
    }
