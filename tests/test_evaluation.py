"""The evaluation metrics on a retriever whose ranks are known, so every figure is checkable."""

from __future__ import annotations

import pytest

from indexer.passage import Passage
from service.evaluation import EvalQuery, evaluate
from service.searcher import Highlight, SearchHit


def _passage(n: int, text: str, urls: tuple[str, ...] = ()) -> Passage:
    return Passage(
        id=f"doc-p001-{n:02d}",
        document="doc",
        page=1,
        section="S",
        text=text,
        lang="fr",
        position=n,
        source_urls=urls,
    )


FILLER = [_passage(n, f"Texte sans rapport numéro {n}.") for n in range(20)]
ANSWER = _passage(90, "Al Raisi a été élu. Il a obtenu 68,9 % des voix.", ("https://x.org/elu",))
QUERIES = [
    # The answer first, with the expected URL.
    EvalQuery(id="a", lang="en", query="who", answers=["68,9 %"], url="elu"),
    # Third, with a URL the passage does not list.
    EvalQuery(id="b", lang="en", query="vote", answers=["68,9 %"], url="autre"),
    # Not in the top 10 (twelfth).
    EvalQuery(id="c", lang="fr", query="qui", answers=["68,9 %"]),
]
RANKS = {"who": 0, "vote": 2, "qui": 11}


def _passages(query: str) -> list[Passage]:
    ranked = FILLER[:]
    ranked.insert(RANKS[query], ANSWER)
    return ranked


def test_recall_mrr_and_url_at_hit_on_known_ranks():
    metrics = evaluate(QUERIES, _passages)
    overall = metrics["all"]
    assert overall.queries == 3
    assert overall.recall_at_1 == pytest.approx(1 / 3)
    assert overall.recall_at_5 == pytest.approx(2 / 3)
    assert overall.mrr_at_10 == pytest.approx((1 + 1 / 3) / 3)
    # Of the two queries with a URL, both found, one lists it.
    assert (overall.url_at_hit, overall.url_queries) == (0.5, 2)
    assert overall.highlight_at_hit is None  # bare passages have no highlight
    assert set(metrics) == {"all", "en", "fr"}
    assert metrics["en"].mrr_at_10 == pytest.approx((1 + 1 / 3) / 2)
    assert (metrics["fr"].recall_at_5, metrics["fr"].mrr_at_10) == (0.0, 0.0)
    assert metrics["fr"].url_at_hit is None


def test_highlight_at_hit_counts_the_first_relevant_hits_highlight():
    def hits(query: str) -> list[SearchHit]:
        passages = _passages(query)
        found = [
            SearchHit(i + 1, 1.0, p, Highlight(p.text[:19], 0, 19)) for i, p in enumerate(passages)
        ]
        if query == "vote":  # this one's highlight is the sentence with the answer
            start = ANSWER.text.index("Il a")
            found[2] = SearchHit(
                3, 1.0, ANSWER, Highlight(ANSWER.text[start:], start, len(ANSWER.text))
            )
        return found

    overall = evaluate(QUERIES, hits)["all"]
    assert overall.highlight_at_hit == 0.5  # of the two found queries
