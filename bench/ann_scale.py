"""How do FAISS index types scale from 10k to 1M passages on this machine?

The service stores 384-d, L2-normalised e5 vectors in an exact ``IndexFlatIP``. Exact search
costs one pass over every vector per query, so latency grows linearly with the corpus; graph
(HNSW) and inverted-file (IVF) indexes trade a little recall for sub-linear search. This
benchmark measures that trade on corpora of increasing size so that the switch from exact to
approximate search can be made on numbers rather than folklore:

* build time, memory (serialized bytes and process RSS growth),
* single-query latency p50/p95/p99 at k=10 with 1 and 2 FAISS threads (the service answers
  one query at a time, so batch throughput would flatter every index),
* recall@10 against exact search.

Why synthetic data, and why this shape: uniform random vectors on the 384-d sphere have no
neighbourhood structure, so every query is equidistant from everything and ANN results say
nothing about text. Real e5 embeddings are strongly anisotropic (pairwise cosines around
0.75-0.85 because all vectors share a dominant direction), clustered by topic at several
scales, and locally low-dimensional (local intrinsic dimension ~20). The generator
reproduces those properties with a fixed seed; queries are corpus points pushed *along their
cluster's manifold* further than the cluster's own spread, so that, as with real queries, the
query is not a near-duplicate of one passage and its top-10 is a genuine neighbourhood.
``data_profile`` in the JSON output records the statistics so the claim can be checked, and
if a real index exists (``--real-index``) its statistics are recorded beside them.

Run (23 minutes measured on 2 cores shared with other jobs)::

    .venv/bin/python bench/ann_scale.py --sizes 10000 100000 1000000 --queries 1000 \
        --out bench/results
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import itertools
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import psutil
from faiss.contrib.ivf_tools import add_preassigned

from bench.common import percentiles

DIM = 384
PROJECT_ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------
# Synthetic corpus
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticSpec:
    """Parameters of the embedding generator (defaults calibrated against e5-small vectors).

    Vectors are ``normalise(anisotropy * m + topic + centre + local noise)``: ``m`` is a
    shared direction (e5 vectors all have cosine ~0.8 with each other), topics and centres
    give two scales of clustering, and local noise follows a power-law spectrum whose axes
    are permuted per cluster, so each cluster is flat in its own few directions (low local
    intrinsic dimension) without the whole corpus collapsing onto one subspace.
    """

    dim: int = DIM
    n_topics: int = 64
    n_centres: int = 4000
    anisotropy: float = 1.0
    topic_scale: float = 0.30
    centre_scale: float = 0.25
    spread: float = 0.30
    spread_jitter: float = 0.35
    spectrum_decay: float = 1.0
    cluster_size_sigma: float = 1.0
    query_noise: float = 1.6
    query_off_manifold: float = 0.5
    seed: int = 20240611


class SyntheticCorpus:
    """A fixed-seed clustered corpus; every benchmark size is a prefix of the same draw.

    Points are drawn i.i.d. and in random order, so the first ``n`` of them are a random
    sample of the same distribution: sizes are comparable, and 1M vectors are generated once.
    """

    def __init__(self, spec: SyntheticSpec, n_max: int) -> None:
        self.spec = spec
        rng = np.random.default_rng(spec.seed)
        d = spec.dim
        basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
        self.basis = basis.astype(np.float32)
        variance = np.arange(1, d + 1, dtype=np.float64) ** -spec.spectrum_decay
        self.scale = np.sqrt(variance / variance.sum()).astype(np.float32)
        shared = rng.standard_normal(d).astype(np.float32)
        shared /= np.linalg.norm(shared)
        topics = self._shaped(rng, self.scale, spec.n_topics) * spec.topic_scale
        topic_of_centre = rng.choice(
            spec.n_topics,
            spec.n_centres,
            p=_lognormal_weights(rng, spec.n_topics, spec.cluster_size_sigma),
        )
        centre_noise = self._shaped(rng, self.scale, spec.n_centres) * spec.centre_scale
        self.centres = spec.anisotropy * shared + topics[topic_of_centre] + centre_noise
        self.spreads = (
            spec.spread * rng.lognormal(0.0, spec.spread_jitter, spec.n_centres)
        ).astype(np.float32)
        self.axes = np.stack([rng.permutation(d) for _ in range(spec.n_centres)])
        self.labels = rng.choice(
            spec.n_centres,
            n_max,
            p=_lognormal_weights(rng, spec.n_centres, spec.cluster_size_sigma),
        )
        self.vectors = np.empty((n_max, d), dtype=np.float32)
        for start in range(0, n_max, 65536):
            labels = self.labels[start : start + 65536]
            local = self._local_noise(rng, labels, 1.0)
            self.vectors[start : start + len(labels)] = self.centres[labels] + local
        _normalise(self.vectors)

    def _shaped(self, rng: np.random.Generator, scale: np.ndarray, n: int) -> np.ndarray:
        """Gaussian rows with per-axis standard deviation ``scale``, rotated by the basis."""
        z = rng.standard_normal((n, self.spec.dim), dtype=np.float32) * scale
        return z @ self.basis.T

    def _local_noise(
        self, rng: np.random.Generator, labels: np.ndarray, factor: float
    ) -> np.ndarray:
        """Noise along each point's cluster manifold, scaled by that cluster's spread."""
        scale = self.scale[self.axes[labels]] * (self.spreads[labels, None] * factor)
        z = rng.standard_normal((len(labels), self.spec.dim), dtype=np.float32) * scale
        return z @ self.basis.T

    def queries(self, n_corpus: int, n_queries: int) -> tuple[np.ndarray, np.ndarray]:
        """Queries near corpus points, and the id of the point each one was derived from.

        Noise along the cluster manifold is larger than the cluster's spread (as a question
        is further from its answer than two passages on one topic are from each other), plus
        a smaller isotropic part, because a query also differs in ways passages never do.
        """
        spec = self.spec
        rng = np.random.default_rng([spec.seed, n_corpus])
        sources = rng.choice(n_corpus, size=min(n_queries, n_corpus), replace=False)
        labels = self.labels[sources]
        along = self._local_noise(rng, labels, spec.query_noise)
        across = rng.standard_normal(along.shape, dtype=np.float32)
        across *= self.spreads[labels, None] * spec.query_off_manifold / math.sqrt(spec.dim)
        q = self.vectors[sources] + along + across
        _normalise(q)
        return np.ascontiguousarray(q), sources


def _lognormal_weights(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Heavy-tailed probabilities: real corpora have a few huge topics and many small ones."""
    w = rng.lognormal(0.0, sigma, n)
    return w / w.sum()


def _normalise(x: np.ndarray) -> None:
    """L2-normalise rows in place, as the indexer does before adding to FAISS."""
    x /= np.linalg.norm(x, axis=1, keepdims=True)


def data_profile(
    vectors: np.ndarray,
    exact: faiss.Index | None = None,
    queries: np.ndarray | None = None,
    sources: np.ndarray | None = None,
    truth: tuple[np.ndarray, np.ndarray] | None = None,
    sample: int = 500,
) -> dict[str, float]:
    """Statistics that decide how hard ANN is, to compare synthetic and real embeddings.

    Pairwise cosine (anisotropy), neighbour cosines (cluster tightness), the MLE local
    intrinsic dimension from 20 nearest neighbours, and for queries their cosine to the
    point they came from and to their exact top-1/top-10.
    """
    rng = np.random.default_rng(7)
    n = len(vectors)
    pick = rng.choice(n, size=min(n, 2000), replace=False)
    sims = vectors[pick] @ vectors[pick].T
    upper = sims[np.triu_indices(len(pick), 1)]
    if exact is None:
        exact = faiss.IndexFlatIP(vectors.shape[1])
        exact.add(vectors)
    probe = vectors[pick[:sample]]
    k = min(21, n)
    dist, _ = exact.search(probe, k)
    out = {
        "n": float(n),
        "pairwise_cos_mean": float(upper.mean()),
        "pairwise_cos_std": float(upper.std()),
        "nn1_cos_mean": float(dist[:, 1].mean()),
    }
    if k >= 11:
        out["nn10_cos_mean"] = float(dist[:, 10].mean())
    if k >= 4:
        euclid = np.sqrt(np.maximum(2.0 - 2.0 * dist[:, 1:], 1e-12))
        ratios = np.log(euclid[:, :-1] / euclid[:, -1:])
        lid = -1.0 / np.minimum(ratios.mean(axis=1), -1e-9)
        out["local_intrinsic_dim_median"] = float(np.median(lid))
    if queries is not None and sources is not None and truth is not None:
        t_dist, t_ids = truth
        out["query_to_source_cos_mean"] = float(np.sum(queries * vectors[sources], 1).mean())
        out["query_top1_cos_mean"] = float(t_dist[:, 0].mean())
        out["query_top10_cos_mean"] = float(t_dist[:, min(9, t_dist.shape[1] - 1)].mean())
        out["query_source_is_top1"] = float(np.mean(t_ids[:, 0] == sources))
        out["query_source_in_top10"] = float(np.mean((t_ids[:, :10] == sources[:, None]).any(1)))
    return {key: round(value, 4) for key, value in out.items()}


# ---------------------------------------------------------------------------------------------
# Measurement helpers
# ---------------------------------------------------------------------------------------------


def _release_memory() -> None:
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
    _release_memory()
    rss_before = _rss()
    start = time.perf_counter()
    index = make()
    seconds = time.perf_counter() - start + extra_seconds
    rss_delta = _rss() - rss_before
    index_bytes = int(faiss.serialize_index(index).nbytes)
    _release_memory()
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


# ---------------------------------------------------------------------------------------------
# Index builders
# ---------------------------------------------------------------------------------------------


def build_flat(x: np.ndarray) -> Built:
    """Exact search, today's index: the baseline and the source of ground truth."""

    def make() -> Any:
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(x)
        return index

    return build_measured("flat", "Flat", {}, make)


def build_hnsw(x: np.ndarray, m: int, ef_construction: int) -> Built:
    """HNSW graph over the raw vectors (inner product, since vectors are normalised)."""

    def make() -> Any:
        index = faiss.IndexHNSWFlat(x.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.add(x)
        return index

    return build_measured(
        "hnsw", f"HNSW{m} efC={ef_construction}", {"M": m, "efConstruction": ef_construction}, make
    )


def build_ivf_family(
    x: np.ndarray, nlist: int, train_per_list: int, pq_m: int, with_pq: bool, seed: int
) -> list[Built]:
    """IVF-Flat and (optionally) IVF-PQ sharing one coarse quantizer and one assignment.

    Training k-means and assigning 1M vectors to ~4000 lists dominate IVF build time; doing
    it once and charging it to both indexes keeps the benchmark inside its time budget
    without flattering either build time.
    """
    d = x.shape[1]
    start = time.perf_counter()
    cp = faiss.ClusteringParameters()
    cp.niter = 10
    cp.seed = seed
    cp.spherical = True  # centroids on the sphere, as inner-product search expects
    cp.max_points_per_centroid = train_per_list
    quantizer = faiss.IndexFlatIP(d)
    faiss.Clustering(d, nlist, cp).train(x, quantizer)
    _, assign = quantizer.search(x, 1)
    assign = assign.ravel()
    shared = time.perf_counter() - start
    log(f"  IVF coarse quantizer nlist={nlist}: {shared:.1f}s (train + assign)")

    def make_flat() -> Any:
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        add_preassigned(index, x, assign)
        return index

    built = [build_measured("ivf", f"IVFFlat nlist={nlist}", {"nlist": nlist}, make_flat, shared)]
    if with_pq:

        def make_pq() -> Any:
            index = faiss.IndexIVFPQ(quantizer, d, nlist, pq_m, 8, faiss.METRIC_INNER_PRODUCT)
            index.train(x[: min(len(x), 65536)])  # quantizer is trained: this trains PQ only
            add_preassigned(index, x, assign)
            return index

        built.append(
            build_measured(
                "ivfpq",
                f"IVFPQ{pq_m}x8 nlist={nlist}",
                {"nlist": nlist, "pq_m": pq_m, "pq_nbits": 8},
                make_pq,
                shared,
            )
        )
    return built


def search_settings(
    built: Built, ef_search: Sequence[int], nprobe: Sequence[int], nprobe_pq: Sequence[int]
) -> list[tuple[str, dict[str, int], Any]]:
    """The query-time knobs swept for each index: (label, params, SearchParameters)."""
    if built.family == "hnsw":
        return [
            (f"efS={ef}", {"efSearch": ef}, faiss.SearchParametersHNSW(efSearch=ef))
            for ef in ef_search
        ]
    if built.family in ("ivf", "ivfpq"):
        probes = nprobe if built.family == "ivf" else nprobe_pq
        nlist = built.params["nlist"]
        return [
            (f"nprobe={p}", {"nprobe": p}, faiss.SearchParametersIVF(nprobe=p))
            for p in probes
            if p <= nlist
        ]
    return [("exact", {}, None)]


# ---------------------------------------------------------------------------------------------
# Benchmark driver
# ---------------------------------------------------------------------------------------------


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


def log(message: str) -> None:
    """Progress on stderr with elapsed time, so a long run can be watched and timed."""
    print(f"[{time.perf_counter() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


_T0 = time.perf_counter()


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
    _release_memory()
    if "hnsw" in plan.families:
        faiss.omp_set_num_threads(args.build_threads)
        efc = args.ef_construction if n <= args.large_n else args.ef_construction_large
        hnsw = build_hnsw(x, args.hnsw_m, efc)
        measure(hnsw)
        del hnsw
        _release_memory()
    if "ivf" in plan.families or "ivfpq" in plan.families:
        faiss.omp_set_num_threads(args.build_threads)
        nlist = max(16, round(4 * math.sqrt(n)))
        for built in build_ivf_family(
            x, nlist, args.ivf_train_per_list, args.pq_m, "ivfpq" in plan.families, args.seed
        ):
            measure(built)
            del built
        _release_memory()
    return rows, profile


# ---------------------------------------------------------------------------------------------
# Summaries, plots and the report table
# ---------------------------------------------------------------------------------------------


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


def _interpolated_crossing(points: list[tuple[int, float]]) -> float | None:
    """Corpus size where log(flat/hnsw latency) crosses zero, interpolated in log-log space.

    ``points`` are (n, log ratio), sorted by n; ratio <= 0 means exact is as fast or faster.
    Returns None when exact never wins (threshold below the smallest size measured) and
    ``inf`` when it always wins.
    """
    if not points or points[0][1] > 0:
        return None
    for (n0, r0), (n1, r1) in itertools.pairwise(points):
        if r0 <= 0 < r1:
            t = r0 / (r0 - r1)
            return float(math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0))))
    return math.inf


def _describe_crossing(points: list[tuple[int, float]]) -> float | str:
    """JSON-safe crossing: a size, or a sentence when exact never or always wins."""
    crossing = _interpolated_crossing(points)
    if crossing is None:
        return "below the smallest size measured (HNSW faster everywhere)"
    if math.isinf(crossing):
        return "above the largest size measured (exact as fast everywhere)"
    return round(crossing)


def summarise(
    rows: list[Row], target_recall: float, target_p50_ms: float, k: int
) -> dict[str, Any]:
    """Answer the product questions from the rows: target config, exact/HNSW threshold."""
    main = [r for r in rows if r.sweep == "main"]
    largest = max(r.n for r in main)
    at_largest = [r for r in main if r.n == largest]
    meeting = sorted(
        (r for r in at_largest if r.recall_at_10 >= target_recall and r.p50(1) <= target_p50_ms),
        key=lambda r: r.p50(1),
    )
    hnsw_ok = sorted(
        (r for r in at_largest if r.family == "hnsw" and r.recall_at_10 >= target_recall),
        key=lambda r: r.search_params["efSearch"],
    )
    hnsw_all = sorted(
        (r for r in at_largest if r.family == "hnsw"), key=lambda r: r.search_params["efSearch"]
    )
    # Without a setting that reaches the target, the most accurate one is the fair stand-in.
    recommended = hnsw_ok[0] if hnsw_ok else (hnsw_all[-1] if hnsw_all else None)
    recommended_ef = recommended.search_params["efSearch"] if recommended else None

    def brief(r: Row) -> dict[str, Any]:
        return {
            "n": r.n,
            "config": r.label,
            f"recall_at_{k}": round(r.recall_at_10, 4),
            "p50_ms_1_thread": round(r.p50(1), 3),
            "p95_ms_1_thread": round(r.latency_ms["1"]["p95"], 3),
            "p99_ms_1_thread": round(r.latency_ms["1"]["p99"], 3),
            "build_seconds": r.build_seconds,
            "index_mib": round(r.index_bytes / 2**20, 1),
            "service_k": r.service_k,
        }

    sizes = sorted({r.n for r in rows})
    vs_fixed: list[tuple[int, float]] = []
    vs_cheapest: list[tuple[int, float]] = []
    vs_fixed_service: list[tuple[int, float]] = []
    per_size = []
    for n in sizes:
        flat = [r for r in rows if r.n == n and r.family == "flat"]
        hnsw = [r for r in rows if r.n == n and r.family == "hnsw"]
        if not flat or not hnsw:
            continue
        fixed = [r for r in hnsw if r.search_params["efSearch"] == recommended_ef]
        good = [r for r in hnsw if r.recall_at_10 >= target_recall]
        cheapest = min(good, key=lambda r: r.p50(1)) if good else None
        entry = {"n": n, "flat_p50_ms": round(flat[0].p50(1), 4)}
        if fixed:
            entry["hnsw_recommended_p50_ms"] = round(fixed[0].p50(1), 4)
            vs_fixed.append((n, math.log(flat[0].p50(1) / fixed[0].p50(1))))
        if fixed and flat[0].service_k and fixed[0].service_k:
            flat_k = flat[0].service_k["latency_ms_1_thread"]["p50"]
            hnsw_k = fixed[0].service_k["latency_ms_1_thread"]["p50"]
            entry[f"flat_p50_ms_k{flat[0].service_k['k']}"] = round(flat_k, 4)
            entry[f"hnsw_recommended_p50_ms_k{flat[0].service_k['k']}"] = round(hnsw_k, 4)
            vs_fixed_service.append((n, math.log(flat_k / hnsw_k)))
        if cheapest:
            entry["hnsw_cheapest_meeting_recall"] = cheapest.label
            entry["hnsw_cheapest_p50_ms"] = round(cheapest.p50(1), 4)
            vs_cheapest.append((n, math.log(flat[0].p50(1) / cheapest.p50(1))))
        per_size.append(entry)
    return {
        "target": {"recall_at_10": target_recall, "p50_ms": target_p50_ms, "n": largest},
        "meets_target_at_largest": [brief(r) for r in meeting],
        "best_meeting_target": brief(meeting[0]) if meeting else None,
        "hnsw_recommended_ef_search": recommended_ef,
        "hnsw_meets_recall_target_at_largest": bool(hnsw_ok),
        "hnsw_recommended": brief(recommended) if recommended else None,
        "exact_vs_hnsw_per_size": per_size,
        "exact_as_fast_below_n_vs_recommended_hnsw": _describe_crossing(vs_fixed),
        "exact_as_fast_below_n_vs_cheapest_hnsw": _describe_crossing(vs_cheapest),
        "exact_as_fast_below_n_vs_recommended_hnsw_at_service_k": _describe_crossing(
            vs_fixed_service
        ),
    }


def markdown_table(rows: Iterable[Row], k: int) -> str:
    """The main-sweep results as a Markdown table for reports and PR descriptions."""
    head = (
        f"| N | index | setting | build s | index MiB | RSS Δ MiB | recall@{k} "
        "| p50/p95/p99 ms (1 thr) | p50/p95/p99 ms (2 thr) |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        cells = []
        for t in ("1", "2"):
            lat = r.latency_ms.get(t)
            cells.append(f"{lat['p50']:.3f} / {lat['p95']:.3f} / {lat['p99']:.3f}" if lat else "–")
        lines.append(
            f"| {r.n:,} | {r.index} | {r.setting} | {r.build_seconds:.1f} | "
            f"{r.index_bytes / 2**20:.0f} | {r.rss_delta_bytes / 2**20:.0f} | "
            f"{r.recall_at_10:.3f} | {cells[0]} | {cells[1]} |"
        )
    return "\n".join(lines)


_FAMILY_STYLE = {
    "flat": ("black", "-"),
    "hnsw": ("tab:blue", "-"),
    "ivf": ("tab:orange", "--"),
    "ivfpq": ("tab:green", ":"),
}


def plot(rows: list[Row], out: Path, target_recall: float, target_p50_ms: float) -> None:
    """Latency-vs-size (log-log) and recall-vs-latency at the largest size, single thread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    main_sizes = sorted({r.n for r in rows if r.sweep == "main"})
    by_label: dict[str, list[Row]] = {}
    for r in sorted(rows, key=lambda r: r.n):
        by_label.setdefault(r.series, []).append(r)

    fig, ax = plt.subplots(figsize=(11, 7.5))
    for label, series in by_label.items():
        family = series[0].family
        colour, style = _FAMILY_STYLE[family]
        shade = _shade(label, [lab for lab, s in by_label.items() if s[0].family == family])
        recalls = "/".join(f"{r.recall_at_10:.2f}" for r in series if r.n in main_sizes)
        ax.plot(
            [r.n for r in series],
            [r.p50(1) for r in series],
            style,
            marker="o",
            markersize=4,
            color=colour,
            alpha=shade,
            label=f"{label} (R@10 {recalls})",
        )
    ax.axhline(target_p50_ms, color="red", linewidth=0.8, linestyle="--")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="corpus size (vectors)",
        ylabel="p50 single-query latency, 1 thread (ms)",
        title="FAISS p50 latency vs corpus size (k=10; R@10 at "
        + "/".join(f"{n:,}" for n in main_sizes)
        + ")",
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.tight_layout()
    fig.savefig(out / "ann_latency_vs_size.png", dpi=130)
    plt.close(fig)

    largest = main_sizes[-1]
    fig, ax = plt.subplots(figsize=(9, 6.5))
    ax.axhline(target_recall, color="red", linewidth=0.8, linestyle="--")
    ax.axvline(target_p50_ms, color="red", linewidth=0.8, linestyle="--")
    at_largest = [r for r in rows if r.sweep == "main" and r.n == largest]
    for family in _FAMILY_STYLE:
        series = [r for r in at_largest if r.family == family]
        if not series:
            continue
        colour, style = _FAMILY_STYLE[family]
        series.sort(key=lambda r: r.p50(1))
        ax.plot(
            [r.p50(1) for r in series],
            [r.recall_at_10 for r in series],
            style,
            marker="o",
            color=colour,
            label=series[0].index,
        )
        for i, r in enumerate(series):
            ax.annotate(
                r.setting,
                (r.p50(1), r.recall_at_10),
                fontsize=7,
                xytext=(4, -11 if i % 2 else 5),
                textcoords="offset points",
            )
    ax.set(
        xscale="log",
        xlabel="p50 single-query latency, 1 thread (ms)",
        ylabel="recall@10",
        title=f"Recall@10 vs p50 latency at {largest:,} vectors "
        f"(target: ≥{target_recall} within ≤{target_p50_ms} ms)",
    )
    left, _ = ax.get_xlim()
    bottom, top = ax.get_ylim()
    ax.add_patch(
        Rectangle(
            (left, target_recall),
            target_p50_ms - left,
            top - target_recall,
            color="green",
            alpha=0.08,
            label="target region",
        )
    )
    ax.set_ylim(bottom, top)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "ann_recall_vs_latency.png", dpi=130)
    plt.close(fig)


def _shade(label: str, family_labels: list[str]) -> float:
    """Lighter lines for cheaper settings, so a family's sweep reads as a gradient."""
    if len(family_labels) == 1:
        return 1.0
    return 0.35 + 0.65 * family_labels.index(label) / (len(family_labels) - 1)


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def replot(out: Path) -> int:
    """Redraw plots and table from a saved ``ann_scale.json`` without re-measuring."""
    saved = json.loads((out / "ann_scale.json").read_text())
    rows = [Row(**{k: v for k, v in r.items() if k != "label"}) for r in saved["results"]]
    target = saved["summary"]["target"]
    plot(rows, out, target["recall_at_10"], target["p50_ms"])
    table = markdown_table([r for r in rows if r.sweep == "main"], saved["args"]["k"])
    (out / "ann_scale.md").write_text(table + "\n")
    print(table)
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--seed", type=int, default=SyntheticSpec.seed)
    p.add_argument("--hnsw-m", type=int, default=32)
    p.add_argument(
        "--ef-construction",
        type=int,
        default=80,
        help="HNSW efConstruction up to --large-n vectors",
    )
    p.add_argument(
        "--ef-construction-large",
        type=int,
        default=80,
        help="HNSW efConstruction above --large-n (keeps the 1M build affordable)",
    )
    p.add_argument("--large-n", type=int, default=200_000)
    p.add_argument("--ef-search", type=int, nargs="+", default=[16, 32, 64, 128, 256, 512, 1024])
    p.add_argument("--nprobe", type=int, nargs="+", default=[8, 16, 32, 64])
    p.add_argument("--nprobe-pq", type=int, nargs="+", default=[16, 64])
    p.add_argument("--pq-m", type=int, default=48, help="IVF-PQ sub-quantizers (8 dims each)")
    p.add_argument(
        "--families",
        nargs="+",
        choices=["flat", "hnsw", "ivf", "ivfpq"],
        default=["flat", "hnsw", "ivf", "ivfpq"],
        help="index families of the main sweep (Flat is always built: it gives ground truth)",
    )
    p.add_argument(
        "--centres",
        type=int,
        default=SyntheticSpec.n_centres,
        help="cluster centres of the synthetic corpus (data-shape sensitivity)",
    )
    p.add_argument(
        "--ivf-train-per-list", type=int, default=20, help="k-means training points per IVF list"
    )
    p.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, 2],
        help="FAISS thread counts for the single-query latency runs",
    )
    p.add_argument(
        "--build-threads",
        type=int,
        default=2,
        help="FAISS threads for builds, ground truth and recall batches",
    )
    p.add_argument(
        "--latency-budget",
        type=float,
        default=15.0,
        help="seconds per latency run before sampling stops early (min 30 queries)",
    )
    p.add_argument(
        "--service-k",
        type=int,
        default=100,
        help="also time k=service-k at 1 thread (the searcher fetches 100 candidates); 0 disables",
    )
    p.add_argument(
        "--crossover-sizes",
        type=int,
        nargs="*",
        default=[500, 1000, 2000, 5000, 20_000],
        help="extra small sizes with Flat and HNSW only, to locate the size below "
        "which exact search is as fast",
    )
    p.add_argument("--crossover-queries", type=int, default=500)
    p.add_argument(
        "--crossover-repeats",
        type=int,
        default=3,
        help="latency runs per crossover setting, lowest p50 kept (they are cheap, and noise "
        "decides a close race)",
    )
    p.add_argument(
        "--replot", action="store_true", help="only redraw plots/table from --out's JSON"
    )
    p.add_argument("--target-recall", type=float, default=0.95)
    p.add_argument("--target-p50-ms", type=float, default=5.0)
    p.add_argument(
        "--real-index",
        type=Path,
        default=PROJECT_ROOT / "index",
        help="folder with vectors.faiss whose statistics are recorded for comparison, if it exists",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.replot:
        return replot(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    load_start = os.getloadavg()
    spec = SyntheticSpec(seed=args.seed, n_centres=args.centres)
    n_max = max([*args.sizes, *args.crossover_sizes])
    log(f"generating {n_max:,} synthetic {spec.dim}-d vectors")
    corpus = SyntheticCorpus(spec, n_max)
    log("generated")

    families = tuple(args.families)
    rows: list[Row] = []
    profiles: dict[str, dict[str, float]] = {}
    for n in sorted(args.crossover_sizes):
        plan = Plan(
            "crossover",
            ("flat", "hnsw"),
            (1,),
            args.crossover_queries,
            args.service_k,
            args.crossover_repeats,
        )
        rows += run_size(corpus, n, plan, args)[0]
    for n in sorted(args.sizes):
        plan = Plan("main", families, tuple(args.threads), args.queries, args.service_k)
        size_rows, profiles[str(n)] = run_size(corpus, n, plan, args)
        rows += size_rows

    real_file = args.real_index / "vectors.faiss"
    if real_file.exists():
        real = faiss.read_index(str(real_file))
        profiles["real:" + str(real_file)] = data_profile(real.reconstruct_n(0, real.ntotal))

    summary = summarise(rows, args.target_recall, args.target_p50_ms, args.k)
    result = {
        "benchmark": "ann_scale",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "wall_seconds": round(time.time() - started, 1),
        "machine": machine_description(),
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "synthetic_spec": asdict(spec),
        "data_profile": profiles,
        "summary": summary,
        "results": [{**asdict(r), "label": r.label} for r in rows],
    }
    (args.out / "ann_scale.json").write_text(json.dumps(result, indent=2, default=float))
    plot(rows, args.out, args.target_recall, args.target_p50_ms)
    table = markdown_table([r for r in rows if r.sweep == "main"], args.k)
    (args.out / "ann_scale.md").write_text(table + "\n")
    print(table)
    print()
    print(json.dumps(summary, indent=2, default=float))
    log(f"done in {time.time() - started:.0f}s; results in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
