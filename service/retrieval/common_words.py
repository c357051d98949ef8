"""The words an index's reports use everywhere, and a query read without them.

A word in most passages (stop words aside) is the reports' own subject: the publisher's name
in this corpus ("INTERPOL", in 69 % of the passages). It tells no passage from another, yet
the model weighs it like any other word of a question: "Vatikan INTERPOL Mitglied?" found
the passages about INTERPOL's membership in general before the member list, and questions
naming INTERPOL drifted to the foreword and the back cover, which are about everything
INTERPOL does. BM25 gives such a word almost no weight (its IDF); for dense evidence the
query is encoded a second time without it, and ranking reads both (``RankingWeights.
without_common_words``). Over 318 evaluation queries hybrid R@5 / MRR@10 went from 0.987 /
0.927 to 0.994 / 0.931, and on the three sets never tuned on from 0.989 / 0.922 to 0.994 /
0.927, each set as good or better (EVALUATION.md).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from service.retrieval.keyword import is_small_word, words_of

# "Most passages": more than this share of them. 0.3 to 0.6 scored alike here.
COMMON_SHARE = 0.5
# In a handful of passages, most content words are in most of them: none counts as common.
# Checked over the index, not per report: a small report beside a large one still takes part
# in the intersection below, where it can only leave fewer words common, never more.
MIN_PASSAGES = 10
_WORD = re.compile(r"\w+")
_SPACES = re.compile(r"\s{2,}")


def common_words(passages: Sequence[Sequence[str]], documents: Sequence[str]) -> frozenset[str]:
    """The words (as :func:`.words_of` reads them; no stop word) in more than
    :data:`COMMON_SHARE` of the passages of every report: ``passages`` each read by
    :func:`.words_of`, ``documents`` the report of each.

    Of every report, not of the index: beside a German customs report, "INTERPOL" tells the
    French report's passages from the German one's. Counted as common there (in 59 % of the
    index's passages), it cost the 74 German questions about the French report MRR@10 0.756
    -> 0.735, as they drifted to the German report; the other questions gained about as
    much (all 318: 0.887 against 0.889).
    """
    if len(passages) < MIN_PASSAGES:
        return frozenset()
    by_report: dict[str, list[Sequence[str]]] = {}
    for words, document in zip(passages, documents, strict=True):
        by_report.setdefault(document, []).append(words)
    common: set[str] | None = None
    for report in by_report.values():
        counts = Counter(word for words in report for word in set(words))
        most = COMMON_SHARE * len(report)
        found = {w for w, n in counts.items() if n > most and not is_small_word(w)}
        common = found if common is None else common & found
    return frozenset(common or ())


def without_common_words(query: str, common: frozenset[str]) -> str | None:
    """``query`` without its words in ``common``, as typed otherwise; None when it has
    none of them, or nothing else but stop words to search for."""
    if not common:
        return None
    removed = False

    def kept(word: re.Match[str]) -> str:
        nonlocal removed
        read = words_of(word.group())
        if read and all(w in common for w in read):
            removed = True
            return ""
        return word.group()

    rest = _WORD.sub(kept, query)
    # Stop words alone ("What is INTERPOL?" -> "What is ?") say nothing to search for.
    if not removed or all(is_small_word(w) for w in words_of(rest)):
        return None
    return _SPACES.sub(" ", rest).strip()
