"""Index type choice and filtered search on an approximate index."""

from __future__ import annotations

import faiss
import numpy as np

from indexer import ann


def _unit(rows: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_exact_for_small_corpora_ivf_above():
    assert ann.choose(83) == ann.AnnSpec("Flat")
    assert ann.choose(ann.EXACT_LIMIT) == ann.AnnSpec("Flat")
    big = ann.choose(1_000_000)
    assert big.factory == "IVF4000,Flat" and big.nprobe == ann.NPROBE


def _clustered(rows: int, dim: int = 16) -> np.ndarray:
    """Points around a few hundred centres, like text embeddings (uniform noise is not)."""
    rng = np.random.default_rng(2)
    centres = _unit(300, dim, seed=3)
    points = centres[rng.integers(0, 300, rows)] + 0.15 * rng.normal(size=(rows, dim))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_index_finds_exact_neighbours_and_honours_selectors():
    vectors = _clustered(30_000)
    spec = ann.choose(len(vectors))
    index = ann.build(vectors, spec)
    ann.prepare(index, spec)
    queries = vectors[:50] + 0.05 * _unit(50, seed=1)
    _, found = index.search(queries, 10)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)])
    assert recall >= 0.9
    allowed = np.arange(0, 30_000, 7, dtype=np.int64)
    selector = faiss.IDSelectorBatch(allowed)
    _, ids = index.search(queries[:1], 10, params=ann.search_params(spec, selector))
    assert (ids[0] >= 0).sum() == 10 and set(ids[0]) <= set(allowed.tolist())
    assert np.allclose(index.reconstruct_batch(np.array([3, 5])), vectors[[3, 5]], atol=1e-6)
