"""The reports' common words (their subject, "INTERPOL") and queries read without them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from service.retrieval.common_words import MIN_PASSAGES, common_words, without_common_words
from service.retrieval.keyword import words_of
from service.retrieval.ranking import Mode
from service.searcher import Searcher


def test_common_words_are_in_most_passages_and_no_stop_words():
    passages = [words_of(f"INTERPOL a saisi des armes au port {n}") for n in range(12)]
    passages += [words_of("Le Secrétaire Général a parlé.")] * 8
    # "a" is in all 20, "interpol" in 12 of 20, "armes" likewise: a stop word is never common.
    one_report = ["r"] * len(passages)
    assert common_words(passages, one_report) == {"interpol", "saisi", "armes", "port"}
    few = MIN_PASSAGES - 1
    assert common_words(passages[:few], one_report[:few]) == frozenset()  # too few to tell
    # Common in one report but not in another, a word tells them apart: it is not common.
    other = [words_of(f"Der Zoll hat Waffen im Hafen {n} beschlagnahmt") for n in range(6)]
    other[0] = words_of("INTERPOL hat Waffen im Hafen beschlagnahmt")
    assert common_words(passages + other, one_report + ["de"] * 6) == frozenset()
    other = [words_of(f"INTERPOL: Waffen im Hafen {n}") for n in range(6)]
    assert common_words(passages + other, one_report + ["de"] * 6) == {"interpol"}


@pytest.mark.parametrize(
    ("query", "rest"),
    [
        ("Vatikan INTERPOL Mitglied?", "Vatikan Mitglied?"),
        # An elided article or a possessive's "s" stays: the model reads past them.
        ("INTERPOL's income from dues?", "'s income from dues?"),
        ("Combien d’agents d'INTERPOL ?", "Combien d’agents d' ?"),
        ("interpol budget", "budget"),
        ("budget 2021", None),  # nothing common in it
        ("drug  trafficking", None),  # nor here: spaces are not worth a second text
        ("INTERPOL ?", None),  # nothing else to search for
        ("the INTERPOL", None),  # stop words alone
        ("Qu'est-ce qu'INTERPOL ?", None),
        ("INTERPOL 2021", "2021"),
    ],
)
def test_a_query_without_its_common_words(query, rest):
    assert without_common_words(query, frozenset({"interpol"})) == rest


def test_no_common_words_leave_every_query_as_it_is():
    assert without_common_words("INTERPOL", frozenset()) is None


def test_a_query_naming_the_reports_subject_is_ranked_by_it_read_without_it_too(searcher):
    """The member list answers the Vatican question; read with "INTERPOL", the question
    was closer to the passages about membership in general (EVALUATION.md)."""
    query = "Vatikan INTERPOL Mitglied?"
    request = searcher.prepare(query, 10, None, Mode.HYBRID)
    assert request.texts == (query, "Vatikan Mitglied?")
    assert searcher.prepare(query, 10, None, Mode.KEYWORD).texts == (query,)  # no vector used
    assert searcher.prepare("pêche illégale", 10, None, Mode.HYBRID).texts == ("pêche illégale",)

    def rank_of_member_list(s: Searcher) -> int | None:
        hits = s.search(query, k=10).hits
        return next((h.rank for h in hits if "Vatican" in h.passage.text), None)

    alone = dataclasses.replace(searcher.weights, without_common_words=0.0)
    unread = Searcher(searcher.index, searcher.encoder, alone)
    assert rank_of_member_list(searcher) == 1
    assert (rank_of_member_list(unread) or 11) > 3


def test_the_candidate_pool_holds_the_passages_near_each_query_text(searcher):
    """Only the candidates are scored: from the query's nearest passages alone, a passage
    near the query without its common words was never looked at in a large index. Weighed
    heavily here, the second text decides, and a pool of four finds what the whole index
    does."""
    query = "Vatikan INTERPOL Mitglied?"
    heavy = dataclasses.replace(searcher.weights, without_common_words=100.0)
    whole = Searcher(searcher.index, searcher.encoder, heavy)
    small = Searcher(searcher.index, searcher.encoder, dataclasses.replace(heavy, candidates=1))
    best = whole.search(query, k=1, mode=Mode.DENSE).hits[0].passage
    first_text_nearest = searcher.encoder.encode_queries([query])[0] @ (
        searcher.index.vectors.reconstruct_n(0, searcher.index.vectors.ntotal).T
    )
    assert searcher.index.passages.index(best) not in first_text_nearest.argsort()[-4:]
    assert small.search(query, k=1, mode=Mode.DENSE).hits[0].passage == best


def test_rank_wants_a_vector_for_each_text(searcher):
    request = searcher.prepare("Vatikan INTERPOL Mitglied?", 3, None, Mode.HYBRID)
    one = searcher.encoder.encode_queries([request.texts[0]])
    with pytest.raises(ValueError, match="2 query vectors expected, not 1"):
        searcher.rank(request, one)


def test_the_highlight_is_around_the_sentence_closest_to_both_texts(searcher, monkeypatch):
    """Passages are ranked by both texts' cosines: the highlight, which shows why a passage
    matched, is drawn around the sentence closest to their blend, not to the query alone."""
    query = "How many registered users does INTERPOL's e-learning platform have?"
    request = searcher.prepare(query, 5, None, Mode.HYBRID)
    vectors = searcher.encoder.encode_queries(list(request.texts))
    share = searcher.weights.without_common_words
    both = (vectors[0] + share * vectors[1]) / (1 + share)
    drawn: dict[int, int] = {}  # passage id -> the sentence row its highlight is drawn around
    highlight = searcher._highlighter.highlight

    def recording(passage, passage_id, sentence_row, vector):
        drawn[passage_id] = sentence_row
        return highlight(passage, passage_id, sentence_row, vector)

    monkeypatch.setattr(searcher._highlighter, "highlight", recording)
    searcher.rank(request, vectors)
    sentences = searcher.index.sentences
    moved = 0
    for passage_id, row in drawn.items():
        first = int(sentences.offsets[passage_id])
        rows = sentences.vectors[first : int(sentences.offsets[passage_id + 1])]
        assert row == first + int(np.argmax(rows @ both))
        moved += int(np.argmax(rows @ both) != np.argmax(rows @ vectors[0]))
    assert len(drawn) == 5 and moved  # the blend chose another sentence than the query alone
