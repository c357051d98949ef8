"""The index families compared, and the query-time settings swept for each."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import faiss
import numpy as np
from faiss.contrib.ivf_tools import add_preassigned

from bench.ann_scale.measure import Built, build_measured
from bench.ann_scale.progress import log


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
