"""Which language a query is in, for weighting keyword evidence by query and passage language.

Detection (langdetect) chooses among the likely query languages (``REPORT_QUERY_LANGUAGES``):
192 of 198 evaluation queries come out right among all 55 languages, all 198 with these five
(German read as Afrikaans, English as Italian, French as Catalan otherwise). Short queries
defeat statistical detection: "HAECHI" and "I-SOP 2021" are too short to judge, and langdetect
reads "trafic de drogue" as Spanish with certainty. So the passages' own words are asked first
and last: a query of fewer than five words whose every word, small words included, occurs in
the passages of one language only is most likely in that language (names and figures
included): "Was ist I-SOP?" is not taken as French, since "was" and "ist" are not the report's
words. When detection is unsure, the query takes the language whose passages hold more than
half of its terms (and more than any other's); otherwise "und" rather than a guess. Over the
257 distinct evaluation queries this changes no answer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from indexer.language import UNDETERMINED, detect_language
from indexer.text import words
from service.retrieval.keyword import is_small_word, terms_of, words_of

# Below this many words, a query whose words only one language's passages use is in that
# language.
SHORT_QUERY_WORDS = 5


class QueryLanguage:
    """Tells a query's language from langdetect and from the words of each language's
    passages."""

    def __init__(
        self,
        documents: Sequence[Sequence[str]],
        languages: Sequence[str],
        detection: Collection[str],
    ) -> None:
        """``documents`` read by :func:`words_of`; ``languages``: each one's language
        (:data:`UNDETERMINED` when unknown); ``detection``: the languages langdetect chooses
        among (empty: all it knows)."""
        # Passages of no known language lend their words to every language.
        self._vocabularies = {
            lang: _Vocabulary.of(
                ws
                for ws, of in zip(documents, languages, strict=True)
                if of in (lang, UNDETERMINED)
            )
            for lang in set(languages) - {UNDETERMINED}
        }
        self._detection = detection

    def of(self, query: str) -> str:
        """The language code of ``query``, or :data:`UNDETERMINED`."""
        found = words_of(query)
        terms = terms_of(found)
        if terms and len(words(query)) < SHORT_QUERY_WORDS:
            using = [lang for lang, v in self._vocabularies.items() if v.uses_all(found)]
            if len(using) == 1:
                return using[0]
        detected = detect_language(query, UNDETERMINED, self._detection)
        if detected != UNDETERMINED or not terms:
            return detected
        return self._language_of_most(terms) or UNDETERMINED

    def _language_of_most(self, terms: Sequence[str]) -> str | None:
        held = sorted(
            ((sum(t in v.terms for t in terms), lang) for lang, v in self._vocabularies.items()),
            reverse=True,
        )
        if not held or held[0][0] * 2 <= len(terms):
            return None
        if len(held) > 1 and held[1][0] == held[0][0]:
            return None
        return held[0][1]


@dataclass(frozen=True)
class _Vocabulary:
    """What some passages say: their analysed terms, and the small words they use ("was" or
    "the", which the report's passages never use, say a query is not in their language)."""

    terms: frozenset[str]
    small_words: frozenset[str]

    @classmethod
    def of(cls, documents: Iterable[Sequence[str]]) -> _Vocabulary:
        """From documents read by :func:`words_of`."""
        seen = {w for ws in documents for w in ws}
        small = {w for w in seen if is_small_word(w)}
        return cls(frozenset(terms_of(sorted(seen - small))), frozenset(small))

    def uses_all(self, words: Sequence[str]) -> bool:
        return all(
            w in self.small_words if is_small_word(w) else set(terms_of([w])) <= self.terms
            for w in words
        )
