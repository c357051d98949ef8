"""Retrieval metrics over a query file (format and definitions: shared eval README).

A passage is relevant when its text contains one of the query's answers, compared with
case, typographic apostrophes and whitespace folded. Metrics are reported overall and per
query language, since a cross-lingual weakness hides in an average.

Beside the shared README's metrics, ``hl@hit`` says how often the highlight of the first
relevant passage holds the answer itself: whether a reader sees at a glance why it matched.

Query sets here hold 30-60 queries, where one query moving a rank moves MRR@10 by up to 0.03,
so two modes are also compared query by query (:func:`compare`): how many queries each ranks
better, and a paired bootstrap interval for the MRR@10 difference, to tell a gain from noise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field, ValidationError, field_validator

from indexer.messages import describe_errors
from indexer.passage import Passage
from service.retrieval.query import InvalidQueryError, validate_query
from service.searcher import SearchHit

# The group of every query, beside one per language: no query's ``lang`` may take its name.
OVERALL = "all"
# Results a query is judged on: the shared README defines R@1, R@5 and MRR@10 at k = 10.
RESULTS_PER_QUERY = 10


class EvalQuery(BaseModel):
    """One line of a query file."""

    id: str
    lang: str
    query: str
    # A query without answers could never be found: a mistake in the file, not a miss.
    answers: list[str] = Field(min_length=1)
    url: str | None = None

    @field_validator("query")
    @classmethod
    def _searchable(cls, query: str) -> str:
        """Refused here, with its line, rather than by the search halfway through the run."""
        try:
            return validate_query(query)
        except InvalidQueryError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("lang")
    @classmethod
    def _not_overall(cls, lang: str) -> str:
        """Its group would replace the overall one, of the same name (in any case, it would
        read as that one)."""
        if lang.casefold() == OVERALL:
            raise ValueError(f"{lang!r} names the group of every query: give the query's language")
        return lang

    @field_validator("answers")
    @classmethod
    def _not_blank(cls, answers: list[str]) -> list[str]:
        """A blank answer is contained in every passage: the query would always score a hit."""
        for number, answer in enumerate(answers, start=1):
            if not matching_form(answer):
                raise ValueError(f"answer {number} is blank, and every passage would contain it")
        return answers

    @field_validator("url")
    @classmethod
    def _url_not_blank(cls, url: str | None) -> str | None:
        """A blank url is contained in every source URL: url@hit would count every hit."""
        if url is not None and not matching_form(url):
            raise ValueError(
                "the url is blank, and every source URL would contain it; give part of the "
                "source URL, or null"
            )
        return url


class EvalFileError(ValueError):
    """The query file cannot be read; the message names the line."""


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


def load_queries(path: Path) -> list[EvalQuery]:
    """Queries of a JSONL file."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise EvalFileError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise EvalFileError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    queries = []
    lines_of: dict[str, int] = {}  # a query's results are told apart by its id
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            query = EvalQuery.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{path}:{number}: not valid JSON ({exc})") from exc
        except ValidationError as exc:
            raise EvalFileError(f"{path}:{number}: {describe_errors(exc.errors())}") from exc
        if query.id in lines_of:
            raise EvalFileError(
                f"{path}:{number}: id {query.id!r} is already the id of line {lines_of[query.id]}"
            )
        lines_of[query.id] = number
        queries.append(query)
    if not queries:
        raise EvalFileError(f"{path} holds no queries")
    return queries


def matching_form(text: str) -> str:
    """``text`` as answers are matched against it: case, ’ and whitespace runs folded."""
    return " ".join(text.replace("’", "'").casefold().split())


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
        mrr_at_10=sum(_reciprocal(rank) for rank in by_id.values()) / n,
        url_at_hit=sum(url_hits) / len(url_hits) if url_hits else None,
        url_queries=len(url_hits),
        highlight_at_hit=sum(highlight_hits) / len(highlight_hits) if highlight_hits else None,
        ranks=by_id,
    )


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
        [_reciprocal(first.ranks[q]) - _reciprocal(second.ranks[q]) for q in first.ranks]
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
    values = np.array([_reciprocal(rank) for rank in metrics.ranks.values()])
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


def _reciprocal(rank: int | None) -> float:
    """A query's share of MRR: 1/rank, 0 when not found."""
    return 0.0 if rank is None else 1 / rank


def format_table(results: dict[str, dict[str, Metrics]]) -> str:
    """A Markdown table comparing modes: one row per (group, mode)."""
    rows = [
        "| group | mode | queries | R@1 | R@5 | MRR@10 | url@hit | hl@hit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups = next(iter(results.values())).keys()
    for group in groups:
        for mode, by_group in results.items():
            m = by_group[group]
            url = f"{m.url_at_hit:.3f} ({m.url_queries})" if m.url_at_hit is not None else "–"
            highlight = f"{m.highlight_at_hit:.3f}" if m.highlight_at_hit is not None else "–"
            rows.append(
                f"| {group} | {mode} | {m.queries} | {m.recall_at_1:.3f} | "
                f"{m.recall_at_5:.3f} | {m.mrr_at_10:.3f} | {url} | {highlight} |"
            )
    return "\n".join(rows)


def format_comparisons(comparisons: dict[str, dict[str, Comparison]], mode: str) -> str:
    """A Markdown table of ``mode`` against each other mode, one row per (group, other)."""
    rows = [
        f"| group | {mode} against | queries | MRR@10 gain | 95 % interval | better / worse |",
        "|---|---|---|---|---|---|",
    ]
    groups = next(iter(comparisons.values())).keys()
    for group in groups:
        for other, by_group in comparisons.items():
            c = by_group[group]
            interval = "too few" if c.low is None else f"{c.low:+.3f} to {c.high:+.3f}"
            rows.append(
                f"| {group} | {other} | {c.queries} | {c.mrr_gain:+.3f} | {interval} | "
                f"{c.better} / {c.worse} |"
            )
    return "\n".join(rows)
