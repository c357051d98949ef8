"""The search core: a query in, ranked sourced passages out. No web dependency.

The HTTP API, the CLI, the evaluation and the tests all go through :class:`Searcher`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from indexer import ann
from indexer.artifact import LoadedIndex, load_index
from indexer.embedding.model import resolve_model
from indexer.language import supported_languages
from indexer.messages import quoted
from indexer.passage import Passage
from indexer.passage_vectors import SENTENCE_MAX_WORDS, SENTENCE_MIN_WORDS
from indexer.settings import Settings
from indexer.text import (
    CONTROL_CHARACTERS,
    canonical,
    page_breaks_as_lines,
    sentence_spans,
    word_count,
)
from service.query_encoder import QueryEncoder, load_query_encoder
from service.retrieval.filters import PassageColumns, SearchFilters
from service.retrieval.keyword import KeywordIndex, words_of
from service.retrieval.query_language import QueryLanguage
from service.retrieval.ranking import Mode, RankingWeights, fused_scores

MAX_QUERY_CHARS = 1000
MAX_K = 50
# A query is "in capitals" when at least this share of its letters, and this many, are.
_CAPITALS_SHARE = 0.8
_CAPITALS_MIN_LETTERS = 8
# How many document ids an unknown-document error lists.
_LISTED_DOCUMENTS = 10
# Most words a highlight shows: two sentence pieces of at most SENTENCE_MAX_WORDS.
_HIGHLIGHT_WORDS = 2 * SENTENCE_MAX_WORDS
# A lone surrogate (JSON "\ud800", or a command-line byte that is not UTF-8) is not Unicode
# text: no tokenizer takes it and no JSON answer can carry it.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidQueryError(ValueError):
    """The request cannot be searched as given; the message says why."""


@dataclass(frozen=True)
class Highlight:
    """The passage's sentence that best matches the query with the closer of its neighbours;
    offsets index its text. ``best`` is that sentence's own span, which a cut that cannot
    keep both must keep (None: the whole highlight is what matched)."""

    text: str
    start: int
    end: int
    best: tuple[int, int] | None = None


@dataclass(frozen=True)
class SearchHit:
    """One ranked passage."""

    rank: int
    score: float
    passage: Passage
    highlight: Highlight


@dataclass(frozen=True)
class PreparedSearch:
    """A validated search, ready to be encoded and ranked."""

    query: str
    k: int
    filters: SearchFilters
    mode: Mode
    started: float

    @property
    def model_text(self) -> str:
        """The query as the encoder and language detection read it (:func:`model_text`)."""
        return model_text(self.query)

    def cache_key(self) -> tuple[object, ...]:
        """Identity of the request for result caching (everything but the start time)."""
        return (self.query, self.k, self.filters, self.mode)


@dataclass(frozen=True)
class QueryEvidence:
    """What the query's words alone tell ranking (see :meth:`Searcher.read`)."""

    language: str
    keyword: np.ndarray  # BM25 score of every passage


@dataclass(frozen=True)
class SearchResult:
    """The answer to one query."""

    query: str
    query_lang: str
    mode: Mode
    took_ms: float
    hits: list[SearchHit] = field(default_factory=list)


class Searcher:
    """Searches one loaded index with the encoder it was built with."""

    def __init__(
        self,
        index: LoadedIndex,
        encoder: QueryEncoder,
        weights: RankingWeights | None = None,
        query_languages: Collection[str] = (),
    ) -> None:
        index.manifest.require_model(encoder.identity, encoder.dimension)
        self.index = index
        self.encoder = encoder
        self.weights = weights or RankingWeights()
        passages = index.passages
        self._columns = PassageColumns.of(passages)  # what filters compare
        self.passage_languages = frozenset(self._columns.lang.tolist())
        read = [words_of(f"{p.section}\n{p.body}") for p in passages]
        self._keyword = KeywordIndex(read)
        # As configured, so that a reload onto another report derives its own set from it.
        self.query_languages = frozenset(query_languages)
        # Detection chooses among those and the report's own languages (all when empty).
        self.detection_languages = self.query_languages | (
            self.passage_languages & supported_languages() if query_languages else set()
        )
        self._query_language = QueryLanguage(
            read, self._columns.lang.tolist(), self.detection_languages
        )
        # Where each highlighted passage's sentences start and end, by passage id (filled as
        # needed).
        self._sentences: dict[int, _Sentences] = {}

    @classmethod
    def open(cls, settings: Settings, index_dir: Path | None = None) -> Searcher:
        """Load the configured model and the index (default: ``settings.index_dir``)."""
        index = load_index(index_dir or settings.index_dir)
        encoder = load_query_encoder(
            resolve_model(settings), settings.query_backend, settings.batch_size
        )
        return cls(index, encoder, query_languages=settings.query_languages)

    def warm_up(self) -> None:
        """Run one search so the first request does not pay for one-time loading.

        langdetect reads its language profiles on first use (~0.5 s here) and ONNX Runtime
        sizes its buffers on its first run: a service does both before it says it is ready.
        """
        # Words of running text: a short heading would skip language detection.
        first = self.index.passages[0].text if self.index.passages else "warm-up"
        self.search(" ".join(first.split()[:12]))

    def search(
        self,
        query: str,
        k: int = 5,
        filters: SearchFilters | None = None,
        mode: Mode = Mode.HYBRID,
    ) -> SearchResult:
        """The ``k`` best passages for ``query`` among those ``filters`` allow.

        Filters are applied before ranking, so ``k`` results come back whenever ``k``
        passages match the filters (keyword mode: and share a term with the query).
        """
        request = self.prepare(query, k, filters, mode)
        return self.rank(request, self.encoder.encode_queries([request.model_text])[0])

    def prepare(
        self,
        query: str,
        k: int = 5,
        filters: SearchFilters | None = None,
        mode: Mode = Mode.HYBRID,
    ) -> PreparedSearch:
        """Validate a request before any model work; raises InvalidQueryError."""
        started = time.perf_counter()
        query = validate_query(query)
        if not 1 <= k <= MAX_K:
            raise InvalidQueryError(f"k must be between 1 and {MAX_K}, got {k}")
        filters = filters or SearchFilters()
        problem = filters.problem()
        if problem is not None:
            raise InvalidQueryError(problem)
        documents = self.index.manifest.documents
        wanted = filters.document_key()
        if wanted is not None and all(d.id.casefold() != wanted for d in documents):
            ids = sorted(d.id for d in documents)
            listed = ", ".join(ids[:_LISTED_DOCUMENTS])
            more = len(ids) - _LISTED_DOCUMENTS
            raise InvalidQueryError(
                f"no document {quoted(canonical(filters.document or ''))} in the index; "
                f"it has {listed}" + (f" and {more} more" if more > 0 else "")
            )
        if filters.lang is not None and filters.lang.lower() not in self.passage_languages:
            # Else a chat assistant that passes the user's language ("en") gets nothing back
            # and concludes that the report does not cover the question.
            raise InvalidQueryError(
                f"no passage is in language {filters.lang!r}; the index's passages are in "
                f"{', '.join(sorted(self.passage_languages))}. A query in any language "
                "finds passages in every language: leave lang out unless you want only "
                "passages written in one"
            )
        return PreparedSearch(query, k, filters, mode, started)

    def read(self, request: PreparedSearch) -> QueryEvidence:
        """What ranking takes from the query's words alone: its language and keyword scores.

        Split from :meth:`rank` because it needs no vector: a server computes it while the
        encoder runs (language detection is most of the ranking work besides the encoder).
        """
        language = self.query_language(request.model_text)
        return QueryEvidence(language, self._keyword.scores(request.query))

    def rank(
        self, request: PreparedSearch, vector: np.ndarray, text: QueryEvidence | None = None
    ) -> SearchResult:
        """Rank passages for a prepared request whose query is already encoded.

        Split from :meth:`search` so a server can encode many queries in one batch, and
        :meth:`read` the query (``text``) while the encoder runs.
        """
        text = text or self.read(request)
        allowed = request.filters.mask(self._columns)
        keyword = text.keyword if allowed is None else np.where(allowed, text.keyword, 0.0)
        wanted = max(self.weights.candidates, 4 * request.k)
        candidates = self._candidates(vector, keyword, allowed, request.mode, wanted)
        hits = self._ranked(candidates, vector, keyword, text.language, request)
        if len(hits) < request.k and self._pool_was_cut(allowed, keyword, request.mode, wanted):
            # Near-duplicates skipped left the pool short of k (a corpus of yearly editions
            # repeats whole passages): every allowed passage is scored, exactly, once.
            everything = self._candidates(vector, keyword, allowed, request.mode, None)
            hits = self._ranked(everything, vector, keyword, text.language, request)
        return SearchResult(
            query=request.query,
            query_lang=text.language,
            mode=request.mode,
            took_ms=(time.perf_counter() - request.started) * 1000,
            hits=hits,
        )

    def _ranked(
        self,
        candidates: np.ndarray,
        vector: np.ndarray,
        keyword: np.ndarray,
        query_lang: str,
        request: PreparedSearch,
    ) -> list[SearchHit]:
        """The best ``request.k`` distinct passages among ``candidates``."""
        vectors = self._vectors_of(candidates)
        # Each candidate's best sentence both scores it and, if it is kept, highlights it.
        best_sentence, rows = self.index.sentences.closest(candidates, vector)
        scores = self._score(
            candidates, vectors @ vector, keyword, query_lang, request.mode, best_sentence
        )
        order = np.argsort(-scores, kind="stable")
        return self._select(
            candidates[order], vectors[order], scores[order], rows[order], request.k, vector
        )

    @staticmethod
    def _pool_was_cut(
        allowed: np.ndarray | None, keyword: np.ndarray, mode: Mode, wanted: int
    ) -> bool:
        """Whether passages beyond the ``wanted`` front-runners could rank: not when there
        are no more allowed passages, nor, in keyword mode, passages matching a keyword."""
        if mode is Mode.KEYWORD:
            return int(np.count_nonzero(keyword > 0)) > wanted
        return (len(keyword) if allowed is None else int(np.count_nonzero(allowed))) > wanted

    def query_language(self, query: str) -> str:
        """Language of the query (:mod:`service.retrieval.query_language`)."""
        return self._query_language.of(query)

    def _candidates(
        self,
        vector: np.ndarray,
        keyword: np.ndarray,
        allowed: np.ndarray | None,
        mode: Mode,
        wanted: int | None,
    ) -> np.ndarray:
        """Passage ids worth scoring: the ``wanted`` dense and keyword front-runners (None:
        every allowed passage, whatever the ANN index would find)."""
        by_keyword = np.argsort(-keyword, kind="stable")[:wanted]
        by_keyword = by_keyword[keyword[by_keyword] > 0]
        if mode is Mode.KEYWORD:
            return by_keyword
        if wanted is None:
            return np.arange(len(keyword)) if allowed is None else np.flatnonzero(allowed)
        by_dense = self._dense_candidates(vector, allowed, wanted)
        if mode is Mode.DENSE:
            return by_dense
        return np.unique(np.concatenate([by_dense, by_keyword]))

    def _dense_candidates(
        self, vector: np.ndarray, allowed: np.ndarray | None, wanted: int
    ) -> np.ndarray:
        """The ``wanted`` nearest passages among the allowed ones.

        A filter is passed to FAISS as an id selector. An approximate index only looks in
        the regions near the query, so a narrow filter can leave it short of results; the
        allowed passages are then scored exactly, which keeps "k results whenever k
        passages match" true for every index type.
        """
        index = self.index.vectors
        fetch = min(wanted, index.ntotal)
        if allowed is None:
            _, ids = index.search(vector[None, :], fetch)
            return ids[0][ids[0] >= 0]
        allowed_ids = np.flatnonzero(allowed).astype(np.int64)
        selector = faiss.IDSelectorBatch(allowed_ids)  # kept alive here for the search
        params = ann.search_params(self.index.manifest.ann_spec(), selector)
        _, ids = index.search(vector[None, :], fetch, params=params)
        found = ids[0][ids[0] >= 0]
        if len(found) >= min(fetch, len(allowed_ids)):
            return found
        exact = self._vectors_of(allowed_ids) @ vector
        return allowed_ids[np.argsort(-exact, kind="stable")[:fetch]]

    def _vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors of passages ``ids`` (FAISS keeps them; no second copy in memory)."""
        return self.index.vectors.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def _score(
        self,
        candidates: np.ndarray,
        dense: np.ndarray,
        keyword: np.ndarray,
        query_lang: str,
        mode: Mode,
        best_sentence: np.ndarray,
    ) -> np.ndarray:
        """Each candidate's score in ``mode``; ``dense`` holds their cosines to the query."""
        if mode is Mode.KEYWORD:
            return np.asarray(keyword[candidates], dtype=np.float32)
        hybrid = mode is Mode.HYBRID and keyword.max() > 0
        return fused_scores(
            self.weights,
            dense=dense,
            best_sentence=best_sentence,
            hubness=self.index.hubness[candidates],
            same_language=self._columns.lang[candidates] == query_lang,
            keyword=keyword[candidates] / keyword.max() if hybrid else None,
        )

    def _highlight(
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
        vectors, spans = self.index.sentences.of(passage_id)
        at = sentence_row - int(self.index.sentences.offsets[passage_id])  # within the passage
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

    def _select(
        self,
        ranked: np.ndarray,
        vectors: np.ndarray,
        scores: np.ndarray,
        sentence_rows: np.ndarray,
        k: int,
        vector: np.ndarray,
    ) -> list[SearchHit]:
        """The top ``k`` of ``ranked`` (passage ``vectors`` in the same order), skipping
        near-duplicates of passages already taken.

        ``sentence_rows`` holds each ranked passage's best sentence, around which its
        highlight is drawn (``vector``, the query's, picks the neighbour that joins it).
        """
        hits: list[SearchHit] = []
        taken = np.empty((0, vectors.shape[1]), dtype=vectors.dtype)
        # Copies are compared a block at a time against the passages taken before the block,
        # so that a run of a passage's copies (a corpus of many editions) costs array work,
        # not a step each; only copies of one taken within the block are met one by one.
        for start in range(0, len(ranked), _DUPLICATE_BLOCK):
            block = slice(start, start + _DUPLICATE_BLOCK)
            fresh = np.ones(len(ranked[block]), dtype=bool)
            if len(taken):
                # Skipped here only when certainly a copy: a product of the whole block can
                # round the last bit otherwise than the one-by-one check below, which decides
                # a cosine at the threshold as it always did.
                nearest = (vectors[block] @ taken.T).max(axis=1)
                fresh = nearest < self.weights.duplicate_cosine + _ROUNDING
            for i in start + np.flatnonzero(fresh):
                own = vectors[i]
                if len(taken) and float((taken @ own).max()) >= self.weights.duplicate_cosine:
                    continue
                passage_id = int(ranked[i])
                passage = self.index.passages[passage_id]
                highlight = self._highlight(passage, passage_id, int(sentence_rows[i]), vector)
                hits.append(SearchHit(len(hits) + 1, float(scores[i]), passage, highlight))
                taken = np.vstack([taken, own])
                if len(hits) == k:
                    return hits
        return hits


# Ranked passages checked for near-duplicates at a time (:meth:`Searcher._select`), and
# more than float32 rounding of a cosine.
_DUPLICATE_BLOCK = 64
_ROUNDING = 1e-5


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


def validate_query(query: str) -> str:
    """The query in canonical form (:func:`indexer.text.canonical`) and stripped, or
    InvalidQueryError when it is blank, too long or holds control characters.

    Form feeds and vertical tabs, which text copied from a PDF carries, are line breaks.
    """
    # The limit applies to what was sent, as the API's schema says: NFC can lengthen some
    # scripts' text, and stripping would make the CLI accept what HTTP refuses.
    # Worded as the HTTP API's schema refuses it, so that every interface says the same.
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidQueryError(f"query: String should have at most {MAX_QUERY_CHARS} characters")
    if LONE_SURROGATE.search(query):
        raise InvalidQueryError(
            "the query is not valid Unicode (it contains an unpaired surrogate)"
        )
    # Checked before stripping, which would drop some of them (U+0085, U+001C-U+001F) at
    # the ends and let them pass.
    text = page_breaks_as_lines(canonical(query))
    if CONTROL_CHARACTERS.search(text):
        raise InvalidQueryError("the query contains control characters")
    stripped = text.strip()
    if not stripped:
        raise InvalidQueryError("the query is empty: type a question or keywords")
    if not any(c.isalnum() for c in stripped):
        raise InvalidQueryError("the query has no letters or digits to search for")
    return stripped


def model_text(query: str) -> str:
    """``query`` lower-cased when it is written in capitals, as typed otherwise.

    The model is cased, and capitals in this kind of report are headings and stat labels
    ("AMPHÉTAMINES"): a question typed in capitals matched those rather than the passage with
    the answer. The 198 evaluation queries typed in capitals fell from hybrid R@5 / MRR@10
    0.990 / 0.905 to 0.899 / 0.785 (dense 0.955 / 0.869 to 0.859 / 0.748); lower-cased, they
    score 0.970 / 0.888. A short word in capitals ("HAECHI") is an acronym and stays as typed,
    and so does a sentence with acronyms in it.
    """
    # All letters count: Arabic or Chinese letters have no case, and a Latin acronym in
    # such a query is not shouting.
    letters = [c for c in query if c.isalpha()]
    capitals = sum(c.isupper() for c in letters)
    if capitals >= _CAPITALS_MIN_LETTERS and capitals >= _CAPITALS_SHARE * len(letters):
        return query.lower()
    return query
