"""French-aware BM25 keyword retrieval (bm25s + Snowball stemming).

The first report is French, so the analyser is French-aware: elisions split (l', d', qu'…),
typographic apostrophes handled, accents stripped before stemming (users often type without
them), stop words of the four query languages dropped. Words are stemmed with Snowball's
stemmer for their report's language (French here; an English report's, English), a query in
the stems of every report language the index holds (:class:`KeywordIndex`).
Numbers written with thin or non-breaking spaces ("135 000") become one token, so they
match however the user types the thousands separator.

A query word the corpus does not contain is replaced by the corpus word closest to it when
the two are nearly the same string: cognates across the query languages ("project" →
"projet", "ilegal" → "illégal", "Vatikan" → "Vatican") and typos.
Over 198 evaluation queries this raised hybrid R@5 from 0.970 to 0.985 and MRR@10 from 0.891
to 0.909, with the dev set unchanged (EVALUATION.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache, lru_cache

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_FRENCH, STOPWORDS_GERMAN, STOPWORDS_SPANISH
from rapidfuzz import fuzz, process

from indexer.text import (
    canonical,
    normalise_spaces,
    straight_apostrophes,
    strip_accents,
    without_joiners,
)

# Applied to case-folded text: without IGNORECASE, 2.6 times faster.
_ELISION = re.compile(r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu)'(?=\w)")
# "135 000", "135,000", "1.000.000": digit groups of three joined into one number.
_GROUPED_NUMBER = re.compile(r"\b\d{1,3}(?:[ ,.]\d{3})+\b")
# "68,9 %", "68.9%", "7,9 millions": a decimal comma or point (one or two decimals, so not a
# thousands group) keeps the number whole, the same token whichever separator is typed.
_DECIMAL = re.compile(r"\b(\d+)[,.](\d{1,2})\b")
_TOKEN = re.compile(r"\w+")
# "19ème", "19e", "19ième", "1er", "2nde", "19th": an ordinal is its number in every query
# language ("INTERPOL's 19th database" finds "19ème base de données"; German writes "19.").
# Not "5a": an article or annex number, not an ordinal.
_ORDINAL = re.compile(r"^(\d+)(?:st|nd|rd|th|e|er|re|eme|ere|ieme|nde)$")
_STOPWORDS = frozenset(
    strip_accents(w.casefold())
    for w in (*STOPWORDS_FRENCH, *STOPWORDS_EN, *STOPWORDS_SPANISH, *STOPWORDS_GERMAN)
)
# Snowball's stemmers by the language codes documents are tagged with (langdetect's).
_SNOWBALL = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "es": "spanish", "et": "estonian", "fa": "persian",
    "fi": "finnish", "fr": "french", "hi": "hindi", "hu": "hungarian", "id": "indonesian",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "nl": "dutch", "no": "norwegian",
    "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sv": "swedish",
    "ta": "tamil", "tr": "turkish",
}  # fmt: skip
# rapidfuzz ratio (0-100) an unknown query word needs with a corpus word to stand for it.
# 80 lets in "level" -> "revel" and "medieval" -> "medical"; 85 and 80 score alike otherwise.
COGNATE_SIMILARITY = 85
# Shorter words are too often one letter away from an unrelated word.
_MIN_COGNATE_CHARS = 5


def terms_of(words: Sequence[str], language: str = "fr") -> list[str]:
    """The index terms among ``words`` (as :func:`words_of` reads them): stop words dropped,
    the others stemmed by ``language``'s stemmer (kept whole in a language Snowball lacks)."""
    kept = [w for w in words if w not in _STOPWORDS]
    stemmer = _stemmer(language)
    return stemmer.stemWords(kept) if stemmer else kept


@cache
def _stemmer(language: str) -> Stemmer.Stemmer | None:
    name = _SNOWBALL.get(language)
    return Stemmer.Stemmer(name) if name else None


def is_small_word(word: str) -> bool:
    """A stop word of one of the query languages (as :func:`words_of` reads it)."""
    return word in _STOPWORDS


def words_of(text: str) -> list[str]:
    """The words of ``text``, stop words kept, not stemmed (:func:`terms_of` makes them terms).

    Line breaks are kept until numbers are joined: in a stat block each line holds its own
    figure, and "585\n1 003\n892" is three numbers, not 1003892. Accents go (before
    stemming), so that "donnees" typed without them finds "données": the French stemmer
    cuts accented and plain spellings differently ("criminalit" against "criminal").
    """
    text = normalise_spaces(straight_apostrophes(without_joiners(canonical(text)))).casefold()
    text = _ELISION.sub("", text)
    text = _GROUPED_NUMBER.sub(lambda m: re.sub(r"[ ,.]", "", m.group()), text)
    text = _DECIMAL.sub(r"\1_\2", text)
    return [_plain(t) for t in _TOKEN.findall(text)]


@lru_cache(maxsize=1 << 18)
def _plain(token: str) -> str:
    """A token without accents, an ordinal as its number. Cached: words repeat, and a large
    corpus is read at every load (2 million words took 17 s uncached for 80,000 passages)."""
    return _ORDINAL.sub(r"\1", strip_accents(token))


class KeywordIndex:
    """BM25 over passage texts (with their section titles), each stemmed in its report's
    language; a query in the stems of every report language the index holds.

    The French stemmer cut English words its own way ("injuries" -> injur, "injury" ->
    injury; "containers" -> container, "container" -> contain), so in an English report a
    query found other passages depending on the form typed. A passage's language is its
    report's, not its own detected one: a stat block detected as Italian in a French report
    must stem as the French questions about it do.
    """

    def __init__(
        self, documents: Sequence[Sequence[str]], languages: Sequence[str] | None = None
    ) -> None:
        """``documents`` read by :func:`words_of`, which the searcher does once for this
        index and for query-language detection (a second pass over a large corpus at load);
        ``languages``: each one's report language (default French)."""
        languages = languages or ["fr"] * len(documents)
        self._languages = sorted(set(languages))
        self._size = len(documents)
        self._bm25 = bm25s.BM25()
        tokenised = [terms_of(w, lang) for w, lang in zip(documents, languages, strict=True)]
        self._vocabulary = frozenset(t for terms in tokenised for t in terms)
        self._words = sorted(self._vocabulary)
        # Query words repeat across requests; each lookup scans the whole vocabulary
        # (~0.2 ms for this report's ~1,700 words, growing linearly with the vocabulary).
        self._cognate = lru_cache(maxsize=65536)(self._closest_word)
        # bm25s needs at least one token per document to build its vocabulary.
        self._bm25.index([terms or ["\x00"] for terms in tokenised], show_progress=False)

    def query_terms(self, query: str) -> list[str]:
        """Analysed terms of ``query``, unknown ones replaced by their corpus cognate if any.

        In an index of several report languages each word is stemmed in each of them; a
        word's distinct terms count once each, cognates replaced first, so that no form of
        a word weighs more than another ("injuries": injuri and injur, the latter replaced
        by injuri, is one term as "injury" is). Only the query's own language's stems lost
        the cognates English questions shared with a French report ("organized",
        "projects"): keyword mode's MRR@10 on them 0.645 -> 0.562.
        """
        words = words_of(query)
        stems = zip(*(terms_of(words, language) for language in self._languages), strict=True)
        return [term for word in stems for term in dict.fromkeys(map(self._known, word))]

    def _known(self, term: str) -> str:
        if term in self._vocabulary or len(term) < _MIN_COGNATE_CHARS or _is_number(term):
            return term
        return self._cognate(term)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (zeros when no term matches)."""
        terms = self.query_terms(query)
        if not terms:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(terms), dtype=np.float32)

    def _closest_word(self, term: str) -> str:
        match = process.extractOne(
            term, self._words, scorer=fuzz.ratio, score_cutoff=COGNATE_SIMILARITY
        )
        return str(match[0]) if match else term


def _is_number(term: str) -> bool:
    """A figure ("216", or "68_9" for 68,9): never replaced by a nearly equal corpus number."""
    return term.replace("_", "").isdigit()
