"""The evaluation metrics on a retriever whose ranks are known, so every figure is checkable."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from indexer.passage import Passage
from service.evaluation import (
    EvalFileError,
    EvalQuery,
    compare,
    evaluate,
    load_queries,
    mrr_interval,
)
from service.retrieval.highlight import Highlight
from service.searcher import SearchHit


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
    assert overall.ranks == {"a": 1, "b": 3, "c": None}
    assert metrics["fr"].ranks == {"c": None}


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


def _ranked(ranks: dict[str, int]) -> Callable[[str], list[Passage]]:
    """A retriever putting the answer at ``ranks[query]`` (0-based; 11 is out of the top 10)."""

    def retrieve(query: str) -> list[Passage]:
        ranked = FILLER[:]
        ranked.insert(ranks[query], ANSWER)
        return ranked

    return retrieve


def test_compare_counts_queries_each_way_and_brackets_the_gain():
    # Twelve queries: the first mode finds four of them a place higher, loses two.
    queries = [
        EvalQuery(id=f"q{n}", lang="fr", query=f"q{n}", answers=["68,9 %"]) for n in range(12)
    ]
    first_ranks = {f"q{n}": 0 for n in range(12)} | {"q10": 11, "q11": 3}
    second_ranks = {f"q{n}": 1 if n < 4 else 0 for n in range(12)}
    first = evaluate(queries, _ranked(first_ranks))["all"]
    second = evaluate(queries, _ranked(second_ranks))["all"]
    c = compare(first, second)
    assert (c.queries, c.better, c.worse) == (12, 4, 2)
    assert c.mrr_gain == pytest.approx((4 * 0.5 - 1 - 0.75) / 12)
    assert c.low is not None and c.high is not None
    assert -1 <= c.low < c.mrr_gain < c.high <= 0.5
    assert compare(first, second) == c  # seeded: the same ranks, the same interval
    same = compare(first, first)
    assert (same.mrr_gain, same.low, same.high, same.better, same.worse) == (0, 0, 0, 0, 0)
    interval = mrr_interval(first)
    assert interval is not None and interval[0] < first.mrr_at_10 < interval[1] <= 1
    # All alike: the interval is the point, holding it.
    alike = evaluate(queries, _ranked({f"q{n}": 9 for n in range(12)}))["all"]
    low, high = mrr_interval(alike) or (2.0, 2.0)
    assert low <= alike.mrr_at_10 <= high and high - low < 1e-12


def test_too_few_queries_get_no_interval():
    few = evaluate(QUERIES, _passages)["all"]
    assert compare(few, few).low is None and mrr_interval(few) is None


def test_evaluating_two_queries_with_one_id_is_refused():
    with pytest.raises(ValueError, match="same id"):
        evaluate([QUERIES[0], QUERIES[0]], _passages)


def test_compare_refuses_evaluations_of_different_queries():
    both = evaluate(QUERIES, _passages)
    with pytest.raises(ValueError, match="not over the same queries"):
        compare(both["en"], both["fr"])


def test_a_query_file_repeating_an_id_is_refused_with_both_lines(tmp_path):
    path = tmp_path / "q.jsonl"
    line = '{"id": "%s", "lang": "fr", "query": "Qui ?", "answers": ["a"]}'
    path.write_text("\n".join([line % "x", line % "y", "", line % "x"]), "utf-8")
    with pytest.raises(EvalFileError, match=r"q.jsonl:4: id 'x' is already the id of line 1"):
        load_queries(path)


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"answers": [""]}, "answers: answer 1 is blank, and every passage would contain it"),
        ({"answers": ["a", " \n "]}, "answers: answer 2 is blank"),
        ({"answers": ["a"], "url": ""}, "url: the url is blank, and every source URL would"),
        ({"answers": ["a"], "url": "  "}, "url: the url is blank"),
    ],
    ids=["empty-answer", "whitespace-answer", "empty-url", "whitespace-url"],
)
def test_a_blank_answer_or_url_is_refused_with_its_line(tmp_path, fields, said):
    # Blank, it is contained in every passage (every source URL): the query would always hit.
    good = {"id": "a", "lang": "en", "query": "Who?", "answers": ["a"]}
    bad = {"id": "z", "lang": "en", "query": "zebra migration in the Serengeti"} | fields
    path = tmp_path / "q.jsonl"
    path.write_text(f"{json.dumps(good)}\n{json.dumps(bad)}\n", "utf-8")
    with pytest.raises(EvalFileError, match=rf"q.jsonl:2: {said}"):
        load_queries(path)


@pytest.mark.parametrize("lang", ["all", "ALL"])
def test_a_query_in_the_language_all_is_refused(tmp_path, lang):
    # Its group would replace the overall group of the results, named "all" too.
    path = tmp_path / "q.jsonl"
    query = {"id": "a", "lang": lang, "query": "Qui ?", "answers": ["a"]}
    path.write_text(json.dumps(query), "utf-8")
    with pytest.raises(EvalFileError, match=rf"q.jsonl:1: lang: '{lang}' names the group of every"):
        load_queries(path)
