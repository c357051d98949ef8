"""Where each query's first relevant passage ranks, and the scores of a group of queries.

A passage is relevant when its text contains one of the query's answers (in
:func:`~service.evaluation.queries.matching_form`). Groups are every query and each query
language, since a cross-lingual weakness hides in an average.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from indexer.passage import Passage
from service.evaluation.queries import OVERALL, EvalQuery, matching_form
from service.searcher import SearchHit

# Results a query is judged on: the shared README defines R@1, R@5 and MRR@10 at k = 10.
RESULTS_PER_QUERY = 10


@dataclass(frozen=True)
class Metrics:
    """Scores for a group of queries."""

    queries: int
    recall_at_1: float
    recall_at_5: float
    mrr_at_10: float
    url_at_hit: float | None
    url_queries: int
    # Share of found queries whose first relevant hit's highlight holds an answer; None when
    # the retriever gives no highlights.
    highlight_at_hit: float | None = None
    # 1-based rank of each query's first relevant passage (None: not in the results), by
    # query id: what runs and modes are compared on.
    ranks: dict[str, int | None] = field(default_factory=dict)


def contains_answer(text: str, answers: list[str]) -> bool:
    """True when ``text`` holds one of ``answers`` (compared in :func:`matching_form`)."""
    folded = matching_form(text)
    return any(matching_form(answer) in folded for answer in answers)


def first_relevant(passages: Sequence[Passage], answers: list[str]) -> int | None:
    """0-based rank of the first passage containing an answer, or None."""
    for rank, passage in enumerate(passages):
        if contains_answer(passage.text, answers):
            return rank
    return None


@dataclass(frozen=True)
class _Outcome:
    query: EvalQuery
    rank: int | None
    url_hit: bool | None
    highlight_hit: bool | None


def evaluate(
    queries: list[EvalQuery],
    retrieve: Callable[[str], Sequence[Passage | SearchHit]],
) -> dict[str, Metrics]:
    """Metrics overall (key :data:`OVERALL`) and per language, ``retrieve`` giving the top
    :data:`RESULTS_PER_QUERY` (search hits, whose highlights are then scored too, or bare
    passages)."""
    # Per-query ranks are kept by id. load_queries checks this with line numbers, but queries
    # also come built by hand (bench/txtai_peer.py, tests) or pooled from several files.
    ids = [q.id for q in queries]
    if len(set(ids)) != len(ids):
        raise ValueError("two queries have the same id")
    outcomes: list[_Outcome] = []
    for query in queries:
        results = list(retrieve(query.query))[:RESULTS_PER_QUERY]
        passages: list[Passage] = [r.passage if isinstance(r, SearchHit) else r for r in results]
        rank = first_relevant(passages, query.answers)
        url_hit = None
        if query.url is not None:
            url_hit = rank is not None and any(query.url in u for u in passages[rank].source_urls)
        highlight_hit = None
        if rank is not None and isinstance(hit := results[rank], SearchHit):
            highlight_hit = contains_answer(hit.highlight.text, query.answers)
        outcomes.append(_Outcome(query, rank, url_hit, highlight_hit))
    groups = {OVERALL: outcomes}
    for language in sorted({q.lang for q in queries}):
        groups[language] = [o for o in outcomes if o.query.lang == language]
    return {name: _metrics(group) for name, group in groups.items()}


def _metrics(outcomes: list[_Outcome]) -> Metrics:
    n = len(outcomes)
    ranks = [o.rank for o in outcomes]
    by_id = {o.query.id: None if o.rank is None else o.rank + 1 for o in outcomes}
    url_hits = [o.url_hit for o in outcomes if o.url_hit is not None]
    highlight_hits = [o.highlight_hit for o in outcomes if o.highlight_hit is not None]
    return Metrics(
        queries=n,
        recall_at_1=sum(r is not None and r < 1 for r in ranks) / n,
        recall_at_5=sum(r is not None and r < 5 for r in ranks) / n,
        mrr_at_10=sum(reciprocal_rank(rank) for rank in by_id.values()) / n,
        url_at_hit=sum(url_hits) / len(url_hits) if url_hits else None,
        url_queries=len(url_hits),
        highlight_at_hit=sum(highlight_hits) / len(highlight_hits) if highlight_hits else None,
        ranks=by_id,
    )


def reciprocal_rank(rank: int | None) -> float:
    """A query's share of MRR: 1/rank, 0 when not found."""
    return 0.0 if rank is None else 1 / rank
