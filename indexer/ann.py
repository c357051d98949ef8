"""Which FAISS index holds the passage vectors, chosen by corpus size.

Exact search (``Flat``) is as fast as any approximate index on small corpora and never
misses, so it is used up to :data:`EXACT_LIMIT` vectors. Above that an inverted file
(``IVF``) with ``nlist ≈ 4·√n`` lists and :data:`NPROBE` probes keeps single-query search
in a few milliseconds at 1M vectors with recall@10 ≈ 0.98 against exact search
(bench/ann_scale/; figures in BENCHMARKS.md). All indexes use inner product on unit
vectors, i.e. cosine similarity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import faiss
import numpy as np

EXACT_LIMIT = 10_000
NPROBE = 16
_TRAINING_PER_LIST = 64


@dataclass(frozen=True)
class AnnSpec:
    """A FAISS factory string and the search-time setting it needs."""

    factory: str
    nprobe: int | None = None


def choose(n_vectors: int) -> AnnSpec:
    """The index type for a corpus of ``n_vectors`` passages."""
    if n_vectors <= EXACT_LIMIT:
        return AnnSpec("Flat")
    return AnnSpec(f"IVF{4 * math.isqrt(n_vectors)},Flat", nprobe=NPROBE)


def build(vectors: np.ndarray, spec: AnnSpec) -> faiss.Index:
    """A filled index of ``spec``'s type over ``vectors``."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.index_factory(vectors.shape[1], spec.factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        lists = faiss.extract_index_ivf(index).nlist
        sample = np.random.default_rng(0).permutation(len(vectors))[: lists * _TRAINING_PER_LIST]
        index.train(vectors[sample])
    index.add(vectors)
    return index


def lists(index: faiss.Index) -> int | None:
    """How many lists an inverted file has (None for an exact index)."""
    try:
        return int(faiss.extract_index_ivf(index).nlist)
    except RuntimeError:  # not an inverted file
        return None


def prepare(index: faiss.Index, spec: AnnSpec) -> None:
    """Set search-time parameters and enable reconstructing vectors by id."""
    if spec.nprobe is not None:
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = spec.nprobe
        ivf.make_direct_map()


def search_params(
    spec: AnnSpec, selector: faiss.IDSelector, probes: int | None = None
) -> faiss.SearchParameters:
    """Parameters restricting a search to ``selector``'s ids, with the probe count (or
    ``probes`` lists: all of them make an inverted file's search exact)."""
    if spec.nprobe is None:
        params = faiss.SearchParameters()
    else:
        params = faiss.SearchParametersIVF()
        params.nprobe = probes or spec.nprobe
    params.sel = selector
    return params
