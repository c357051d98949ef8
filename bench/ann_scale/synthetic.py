"""The synthetic corpus: clustered, anisotropic unit vectors shaped like e5 embeddings."""

from __future__ import annotations

import math
from dataclasses import dataclass

import faiss
import numpy as np

DIM = 384


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
