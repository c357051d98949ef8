"""Which language a query is in, for weighting keyword evidence by query and passage language.

Detection (langdetect) chooses among the likely query languages (``REPORT_QUERY_LANGUAGES``):
192 of 198 evaluation queries come out right among all 55 languages, all 198 with these five
(German read as Afrikaans, English as Italian, French as Catalan otherwise). Short queries
defeat it: "HAECHI" and "I-SOP 2021" are too short to judge, "human trafficking", "Kokain
Hamburg" or "passeport volé" come out undetermined, and it is sure that "trafic de drogue",
"combien de vaccins" and "caviar and coral seizures" are Spanish. So, in this order:

1. A query of fewer than eight words is asked of word frequencies (wordfreq's lists of each
   language's common words): each language scores the sum of its frequencies (Zipf scale)
   of the query's words, and one that leads by a common word's worth (3) is the answer.
2. A query of fewer than five words whose every word, small words included, occurs in the
   passages of one language only is most likely in that language (names and figures
   included): "Was ist I-SOP?" is not taken as French, since "was" and "ist" are not the
   report's words. It comes after the frequencies, since a report quotes other languages
   ("Anti-Money Laundering"): "money laundering" and "policía" came out French before them.
3. langdetect.
4. When it is unsure, the language whose passages hold more than half of the query's terms
   (and more than any other's); otherwise "und" rather than a guess.

Over the 378 evaluation queries 1 comes out in the wrong language (3 without step 1); over
23 short probes from a user test ("pesca ilegal", "Menschenhandel"), 3 (19 without it).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import wordfreq

from indexer.language import UNDETERMINED, detect_language, supported_languages
from indexer.text import words
from service.retrieval.keyword import is_small_word, terms_of, words_of

# Below this many words, a query whose words only one language's passages use is in that
# language.
SHORT_QUERY_WORDS = 5
# Below this many words, word frequencies are asked before langdetect.
_FREQUENCY_QUERY_WORDS = 8
# How far ahead (Zipf units: a word 1,000 times more frequent) a language must be.
_FREQUENCY_LEAD = 3.0
# wordfreq's smallest lists: the words more frequent than one in a million, 3 MB a language.
_WORDLIST = "small"
# wordfreq's codes where langdetect's differ ("zh-cn" and the like lose their region).
_WORDFREQ_CODES = {"no": "nb", "tl": "fil", "hr": "sh"}


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
        # Each language detection chooses among, by the code langdetect gives, with the code
        # of its wordfreq list. If one has no list that can be read here, the vote could only
        # pick a neighbour of it (Danish for Norwegian): then langdetect alone decides.
        listed = set(wordfreq.available_languages(_WORDLIST))
        lists = {
            code: _WORDFREQ_CODES.get(code, code.split("-")[0])
            for code in (detection or supported_languages())
        }
        usable = all(base in listed and _can_look_up(base) for base in lists.values())
        self._listed = lists if usable else {}

    def of(self, query: str) -> str:
        """The language code of ``query``, or :data:`UNDETERMINED`."""
        found = words_of(query)
        terms = terms_of(found)
        typed = words(query)
        count = len(typed)
        if count < _FREQUENCY_QUERY_WORDS and (frequent := self._by_word_frequency(typed)):
            return frequent
        if terms and count < SHORT_QUERY_WORDS:
            using = [lang for lang, v in self._vocabularies.items() if v.uses_all(found)]
            if len(using) == 1:
                return using[0]
        detected = detect_language(query, UNDETERMINED, self._detection)
        if detected != UNDETERMINED or not terms:
            return detected
        return self._language_of_most(terms) or UNDETERMINED

    def _by_word_frequency(self, typed: Sequence[str]) -> str | None:
        """The language whose common words the query's ``typed`` words are, when one clearly
        leads."""
        lettered = [w for w in typed if any(c.isalpha() for c in w)]
        if not lettered or len(self._listed) < 2:
            return None
        scores = sorted(
            (
                (sum(wordfreq.zipf_frequency(w, base, wordlist=_WORDLIST) for w in lettered), code)
                for code, base in self._listed.items()
            ),
            reverse=True,
        )
        (best, code), (second, _) = scores[0], scores[1]
        return code if best - second >= _FREQUENCY_LEAD else None

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


@functools.cache
def _can_look_up(language: str) -> bool:
    """Whether wordfreq can look words up in ``language`` here (its list read once): Chinese,
    Japanese and Korean need tokenizers (jieba, MeCab) that are not installed."""
    try:
        wordfreq.zipf_frequency("a", language, wordlist=_WORDLIST)
    except (ImportError, KeyError, ValueError):
        return False
    return True
