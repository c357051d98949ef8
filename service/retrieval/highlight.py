"""Why a passage matched: the sentences of it a result shows first.

A passage is ~160 words; a reader (or a chat assistant quoting it) should see at once the
part that answers the query. The part is drawn around the passage's sentence closest to the
query, the one ranking already found (:meth:`SentenceVectors.closest`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indexer.artifact import SentenceVectors
from indexer.passage import Passage
from indexer.passage_vectors import SENTENCE_MAX_WORDS, SENTENCE_MIN_WORDS
from indexer.text import sentence_spans, word_count

# Most words a highlight shows: two sentence pieces of at most SENTENCE_MAX_WORDS.
_HIGHLIGHT_WORDS = 2 * SENTENCE_MAX_WORDS


@dataclass(frozen=True)
class Highlight:
    """The passage's sentence that best matches the query with the closer of its neighbours;
    offsets index its text. ``best`` is that sentence's own span, which a cut that cannot
    keep both must keep (None: the whole highlight is what matched)."""

    text: str
    start: int
    end: int
    best: tuple[int, int] | None = None


class Highlighter:
    """Draws highlights from one index's sentence vectors."""

    def __init__(self, vectors: SentenceVectors) -> None:
        self._vectors = vectors
        # Where each highlighted passage's sentences start and end, by passage id (filled as
        # needed).
        self._sentences: dict[int, _Sentences] = {}

    def highlight(
        self, passage: Passage, passage_id: int, sentence_row: int, vector: np.ndarray
    ) -> Highlight:
        """The sentence at ``sentence_row`` and the closer to the query of the sentences next
        to it in the passage (:func:`_highlight_rows`; the whole body for a passage without
        sentences: its opening heading is not what matched).

        Why two: the sentence that matches a question's wording often leads up to the
        answer, or follows it. Over the 318 evaluation queries, the first relevant passage's
        highlight holds the answer for 65-80 % of the queries of each set with one sentence,
        85-95 % with two; highlights in the top 5 grow from 26 to 50 words on average (80 at
        most, as sentences are cut at 40). EVALUATION.md has the figures.
        """
        if sentence_row < 0:
            return Highlight(passage.body, passage.body_start, len(passage.text))
        vectors, spans = self._vectors.of(passage_id)
        at = sentence_row - int(self._vectors.offsets[passage_id])  # within the passage
        sentences = self._sentences.get(passage_id)
        if sentences is None:  # read once per passage: 46 µs, about ten highlights a request
            sentences = _Sentences.of(passage)
            self._sentences[passage_id] = sentences
        chosen = spans[_highlight_rows(passage, spans, at, vectors @ vector, sentences.ends)]
        start, stop = int(chosen[:, 0].min()), int(chosen[:, 1].max())
        start = _past_headings(passage, start, stop)
        start, stop = sentences.completed(passage.text, start, stop)
        best = (max(int(chosen[0, 0]), start), int(chosen[0, 1]))
        return Highlight(passage.text[start:stop], start, stop, best if best[1] > start else None)


@dataclass(frozen=True)
class _Sentences:
    """Where a passage's sentences start and end (offsets into its text), as written: not
    cut at 40 words nor joined when short, as they are for their vectors."""

    starts: tuple[int, ...]
    ends: frozenset[int]

    @classmethod
    def of(cls, passage: Passage) -> _Sentences:
        spans = sentence_spans(passage.body)
        return cls(
            tuple(passage.body_start + start for start, _ in spans),
            frozenset(passage.body_start + end for _, end in spans),
        )

    def completed(self, text: str, start: int, stop: int) -> tuple[int, int]:
        """``start:stop`` widened to whole sentences at either end where the result still
        fits in a highlight's words: the rows chosen can leave a sentence cut (its other
        piece would not have fitted beside headings that are not shown)."""
        if stop not in self.ends:
            end = min((e for e in self.ends if e > stop), default=stop)
            if word_count(text[start:end]) <= _HIGHLIGHT_WORDS:
                stop = end
        if start not in self.starts:
            begin = max((s for s in self.starts if s < start), default=start)
            if word_count(text[begin:stop]) <= _HIGHLIGHT_WORDS:
                start = begin
        return start, stop


def _highlight_rows(
    passage: Passage, spans: np.ndarray, at: int, closeness: np.ndarray, ends: frozenset[int]
) -> list[int]:
    """Which of the passage's sentence ``spans`` a highlight around ``at`` shows, ``at``
    first; ``closeness`` is each one's cosine to the query, ``ends`` where the passage's
    sentences end.

    Sentences over 40 words are cut into pieces for their vectors, but shown, a piece starts
    or ends mid-sentence ("…pour démanteler une bande se livrant à la diffusion de
    rançongiciels" without "et arrêter sept personnes"): 19 % of the top-5 highlights over
    the 318 evaluation queries. So a highlight shows whole sentences where they fit in 80
    words: ``at``'s whole sentence when ``at`` is a piece of one (else ``at`` and its closer
    piece), or ``at`` and the whole of the closer neighbouring sentence (else the piece next
    to ``at``). Cut highlights: 6.9 % (with :meth:`_Sentences.completed`); the first
    relevant passage's highlight holds the answer for 276 of 314 found queries against 277.
    """

    def sentence(row: int) -> list[int]:
        first = last = row
        while first > 0 and int(spans[first - 1][1]) not in ends:
            first -= 1
        while last < len(spans) - 1 and int(spans[last][1]) not in ends:
            last += 1
        return list(range(first, last + 1))

    def fits(rows: list[int]) -> bool:
        text = passage.text
        return sum(word_count(text[spans[r][0] : spans[r][1]]) for r in rows) <= _HIGHLIGHT_WORDS

    def closer(rows: list[int]) -> int:
        return max(rows, key=lambda r: float(closeness[r]))

    own = sentence(at)
    if len(own) > 1:
        if fits(own):
            return [at, *(r for r in own if r != at)]
        return [at, closer([r for r in (at - 1, at + 1) if r in own])]
    neighbours = [r for r in (at - 1, at + 1) if 0 <= r < len(spans)]
    if not neighbours:
        return [at]
    near = closer(neighbours)
    whole = sentence(near)
    return [at, *(whole if fits([at, *whole]) else [near])]


def _past_headings(passage: Passage, start: int, stop: int) -> int:
    """``start`` moved past the headings that open the highlight ``start:stop`` when
    running text follows them.

    A heading line is too short to be a sentence, so it is part of the one after it: that
    is how a query matches it (and measured, the headings in that sentence's vector rank
    better: 0.919 against 0.926 without), but shown, "SOUTIEN SPÉCIALISÉ À LA SUITE D'UNE
    IMPORTANTE SAISIE…" over the article says less than its first sentence. Over labels
    (an infographic's "POLLUTION EN MER / (pétrole, eaux usées…)", a list of donors in
    capitals) they are the answer and stay: over the evaluation queries, trimming those
    too took the answer out of three highlights.
    """
    text, cut = passage.text, start
    # A heading's lines as printed ("PROTECTING VULNERABLE" / "COMMUNITIES" / "3"): a title
    # of the passage's sections, or a line without a lower-case letter.
    while (end := text.find("\n", cut, stop)) >= 0 and (
        text[cut:end] in passage.sections or not any(c.islower() for c in text[cut:end])
    ):
        cut = end + 1
    line_end = text.find("\n", cut, stop)
    under = text[cut : stop if line_end < 0 else line_end]
    return cut if word_count(under) >= SENTENCE_MIN_WORDS else start
