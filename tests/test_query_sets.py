"""Our own evaluation query sets stay honest, and the default ranking earns its place on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.evaluation import EvalQuery, evaluate, load_queries, matching_form
from service.retrieval.filters import SearchFilters
from service.retrieval.ranking import Mode
from tests.conftest import REPORT

DATA = Path(__file__).resolve().parent / "data"
OWN_SETS = [
    "queries_extra.jsonl",
    "queries_blind.jsonl",
    "queries_final.jsonl",
    "queries_fresh.jsonl",
    "queries_holdout.jsonl",
    "queries_sealed.jsonl",
    "queries_sealed2.jsonl",
]


@pytest.mark.parametrize("name", OWN_SETS)
def test_every_answer_and_url_is_in_the_report(name):
    """A query whose answer is not in the report could never be answered: it would only
    lower the scores, whatever the ranking does."""
    text = REPORT.read_text("utf-8")
    report = matching_form(text)
    queries = load_queries(DATA / name)
    assert {q.lang for q in queries} == {"fr", "en", "es", "de"}
    assert len({q.id for q in queries}) == len(queries)
    for query in queries:
        assert any(matching_form(answer) in report for answer in query.answers), query.id
        assert query.url is None or query.url in text, query.id


def test_hybrid_is_at_least_as_good_as_either_retriever_on_our_query_sets(searcher):
    queries = [q for name in OWN_SETS for q in load_queries(DATA / name)]
    results = {
        mode: evaluate(
            queries,
            lambda text, mode=mode: [
                hit.passage for hit in searcher.search(text, 10, SearchFilters(), mode).hits
            ],
        )["all"]
        for mode in Mode
    }
    hybrid = results[Mode.HYBRID]
    assert hybrid.recall_at_5 >= 0.95
    for single in (Mode.DENSE, Mode.KEYWORD):
        assert hybrid.mrr_at_10 >= results[single].mrr_at_10
        assert hybrid.recall_at_5 >= results[single].recall_at_5


def test_highlights_are_scored_when_the_retriever_gives_hits(searcher):
    found = EvalQuery(id="h", lang="fr", query="Qui a été élu Président ?", answers=["Al Raisi"])
    hits = evaluate([found], lambda q: searcher.search(q, k=10).hits)["all"]
    assert hits.highlight_at_hit == 1.0
    # An answer in the passage but outside its highlight: found, not highlighted.
    top = searcher.search(found.query, k=1).hits[0]
    before, after = top.passage.text[: top.highlight.start], top.passage.text[top.highlight.end :]
    outside = max(before, after, key=len).strip()[-12:]
    assert outside and outside not in top.highlight.text
    elsewhere = found.model_copy(update={"id": "x", "answers": [outside]})
    missed = evaluate([elsewhere], lambda q: searcher.search(q, k=1).hits)["all"]
    assert missed.recall_at_1 == 1.0 and missed.highlight_at_hit == 0.0
    passages = evaluate([found], lambda q: [h.passage for h in searcher.search(q, k=10).hits])
    assert passages["all"].highlight_at_hit is None
