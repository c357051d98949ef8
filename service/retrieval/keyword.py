"""French-aware BM25 keyword retrieval (bm25s + Snowball stemming).

The report is French, so the analyser is French: elisions split (l', d', qu'…), typographic
apostrophes handled, words stemmed with Snowball's French stemmer and then stripped of
accents (users often type without them), stop words of the four query languages dropped.
Numbers written with thin or non-breaking spaces ("135 000") become one token, so they
match however the user types the thousands separator.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_FRENCH, STOPWORDS_GERMAN, STOPWORDS_SPANISH

from indexer.text import collapse_whitespace, strip_accents

_APOSTROPHES = dict.fromkeys(map(ord, "’‘ʼ`´"), "'")
_ELISION = re.compile(r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu)'(?=\w)", re.IGNORECASE)
# "135 000", "135,000", "1.000.000": digit groups of three joined into one number.
_GROUPED_NUMBER = re.compile(r"\b\d{1,3}(?:[ ,.]\d{3})+\b")
_TOKEN = re.compile(r"\w+")
_STOPWORDS = frozenset(
    strip_accents(w.casefold())
    for w in (*STOPWORDS_FRENCH, *STOPWORDS_EN, *STOPWORDS_SPANISH, *STOPWORDS_GERMAN)
)
_STEMMER = Stemmer.Stemmer("french")


def analyse(text: str) -> list[str]:
    """Index/query terms of ``text``."""
    text = collapse_whitespace(text.translate(_APOSTROPHES)).casefold()
    text = _ELISION.sub("", text)
    text = _GROUPED_NUMBER.sub(lambda m: re.sub(r"[ ,.]", "", m.group()), text)
    tokens = [t for t in _TOKEN.findall(text) if strip_accents(t) not in _STOPWORDS]
    return [strip_accents(stem) for stem in _STEMMER.stemWords(tokens)]


class KeywordIndex:
    """BM25 over passage texts (with their section titles)."""

    def __init__(self, documents: Sequence[str]) -> None:
        self._size = len(documents)
        self._bm25 = bm25s.BM25()
        tokenised = [analyse(d) for d in documents]
        self._vocabulary = frozenset(t for terms in tokenised for t in terms)
        # bm25s needs at least one token per document to build its vocabulary.
        self._bm25.index([terms or ["\x00"] for terms in tokenised], show_progress=False)

    def knows(self, term: str) -> bool:
        """True when an analysed ``term`` occurs in some document."""
        return term in self._vocabulary

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (zeros when no term matches)."""
        terms = analyse(query)
        if not terms:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(terms), dtype=np.float32)
