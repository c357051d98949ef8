"""How sure a score is: paired bootstrap intervals over the queries.

Query sets here hold 30-60 queries, where one query moving a rank moves MRR@10 by up to 0.03:
an interval, and a count of the queries each mode ranks better, tell a gain from noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.evaluation.metrics import Metrics, reciprocal_rank

# Below this many queries a bootstrap interval says little but that there are too few.
MIN_INTERVAL_QUERIES = 10


@dataclass(frozen=True)
class Comparison:
    """One mode against another on the same queries."""

    queries: int
    mrr_gain: float  # MRR@10 of the first minus the second's
    # 95 % paired bootstrap interval of ``mrr_gain`` (resampling the queries, not the ranks);
    # None under MIN_INTERVAL_QUERIES queries.
    low: float | None
    high: float | None
    better: int  # queries the first ranks higher
    worse: int


def compare(first: Metrics, second: Metrics) -> Comparison:
    """``first`` against ``second`` query by query (both evaluated on the same queries)."""
    if first.ranks.keys() != second.ranks.keys():
        raise ValueError("the two evaluations are not over the same queries")
    gains = np.array(
        [reciprocal_rank(first.ranks[q]) - reciprocal_rank(second.ranks[q]) for q in first.ranks]
    )
    gain = float(gains.mean())
    interval = _interval(gains, gain)
    return Comparison(
        queries=len(gains),
        mrr_gain=gain,
        low=None if interval is None else interval[0],
        high=None if interval is None else interval[1],
        better=int((gains > 0).sum()),
        worse=int((gains < 0).sum()),
    )


def mrr_interval(metrics: Metrics) -> tuple[float, float] | None:
    """95 % bootstrap interval of ``metrics.mrr_at_10`` (None under MIN_INTERVAL_QUERIES
    queries): a set of 60 queries measures it to about ±0.05."""
    values = np.array([reciprocal_rank(rank) for rank in metrics.ranks.values()])
    return _interval(values, metrics.mrr_at_10)


def _interval(
    values: np.ndarray, mean: float, resamples: int = 10_000
) -> tuple[float, float] | None:
    """95 % bootstrap interval of ``mean``, the mean of ``values`` (one per query), or None
    when there are too few. Seeded, so that the same ranks always give the same interval; it
    always holds ``mean`` (resampled means of equal values can differ in the last bit)."""
    if len(values) < MIN_INTERVAL_QUERIES:
        return None
    samples = np.random.default_rng(0).integers(0, len(values), size=(resamples, len(values)))
    low, high = np.percentile(values[samples].mean(axis=1), [2.5, 97.5])
    return min(float(low), mean), max(float(high), mean)
