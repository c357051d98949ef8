"""The search core: a query in, ranked sourced passages out. No web dependency.

The HTTP API, the CLI, the evaluation and the tests all go through :class:`Searcher`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.artifact import LoadedIndex, load_index
from indexer.embedding.model import resolve_model
from indexer.language import language_of, supported_languages
from indexer.messages import quoted
from indexer.passage import Passage
from indexer.settings import Settings
from indexer.text import canonical
from service.documents import find_document
from service.query_encoder import QueryEncoder, load_query_encoder
from service.retrieval.common_words import common_words, without_common_words
from service.retrieval.distinct import distinct, shares_words
from service.retrieval.filters import PassageColumns, SearchFilters
from service.retrieval.highlight import Highlight, Highlighter
from service.retrieval.keyword import KeywordIndex, words_of
from service.retrieval.nearest import nearest
from service.retrieval.query import MAX_K, InvalidQueryError, model_text, validate_query
from service.retrieval.query_language import QueryLanguage
from service.retrieval.ranking import Mode, RankingWeights, blended, fused_scores
from service.retrieval.report_languages import ReportLanguages

# How many document ids an unknown-document error lists.
_LISTED_DOCUMENTS = 10


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
    # What the encoder reads: the query (:func:`model_text`), then, when it names words most
    # passages have, the query without them (:mod:`service.retrieval.common_words`).
    texts: tuple[str, ...]

    @property
    def model_text(self) -> str:
        """The query as the encoder and language detection read it (:func:`model_text`)."""
        return self.texts[0]

    def cache_key(self) -> tuple[object, ...]:
        """Identity of the request for result caching (everything but the start time)."""
        return (self.query, self.k, self.filters, self.mode)


@dataclass(frozen=True)
class QueryEvidence:
    """What the query's words alone tell ranking (see :meth:`Searcher.read`)."""

    language: str
    keyword: np.ndarray  # BM25 score of every passage


@dataclass(frozen=True)
class _Scoring:
    """What scores one request's candidates besides their vectors: the keyword scores (of
    the passages the filters allow), the query's language, and whether the passages that
    may answer are in one report language (same-language keyword weight) or several; then
    ``language_cosine`` is the query's mean cosine to each report language's passages
    (:meth:`.ReportLanguages.mean_cosines`)."""

    keyword: np.ndarray
    query_lang: str
    language_cosine: np.ndarray | None = None

    @property
    def one_language(self) -> bool:
        return self.language_cosine is None


@dataclass(frozen=True)
class SearchResult:
    """The answer to one query."""

    query: str
    query_lang: str
    mode: Mode
    took_ms: float
    hits: list[SearchHit] = field(default_factory=list)
    filters: SearchFilters = field(default_factory=SearchFilters)
    # Whether any passage passes the filters: an empty keyword search under filters that
    # match passages is keyword mode's need for a shared word, not the filters' doing.
    filters_match: bool = True
    # The index version that ranked the hits: a reload between two requests changes it,
    # and a client comparing their results, or an operator a reported answer, must know.
    index_version: str = ""

    @property
    def notice(self) -> str | None:
        """Why there are no hits (None when there are): an empty list alone reads as the
        reports being silent on the question, when filters, or keyword mode's need for a
        shared word, may be what left nothing."""
        if self.hits:
            return None
        if self.mode is Mode.KEYWORD and self.filters_match:
            among = "" if self.filters.is_empty() else f" with {self.filters.describe()}"
            return (
                f"No passage{among} shares a word with {self.query!r} (words as common as "
                '"the" or "de" are not searched): keyword mode finds only passages that do; '
                "hybrid or dense mode finds them by meaning."
            )
        if not self.filters.is_empty():
            return (
                f"No passage matches {self.query!r} with {self.filters.describe()}: loosen or "
                "leave out a filter to search more of the reports."
            )
        return f"No passage matches {self.query!r}."


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
        self._languages = ReportLanguages(index.manifest.documents, passages, index.vectors)
        read = [words_of(f"{p.section}\n{p.body}") for p in passages]
        self._keyword = KeywordIndex(read, self._languages.of_passages)
        self._common_words = common_words(read, [p.document for p in passages])
        # As configured, so that a reload onto another report derives its own set from it.
        self.query_languages = frozenset(query_languages)
        # Detection chooses among those and the report's own languages (all when empty).
        self.detection_languages = self.query_languages | (
            self.passage_languages & supported_languages() if query_languages else set()
        )
        self._query_language = QueryLanguage(
            read, self._columns.lang.tolist(), self.detection_languages
        )
        self._highlighter = Highlighter(index.sentences)

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
        return self.rank(request, self.encoder.encode_queries(list(request.texts)))

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
            raise InvalidQueryError(f"k must be between 1 and {MAX_K}, got {k}", field="k")
        filters = filters or SearchFilters()
        problem = filters.problem()
        if problem is not None:
            raise problem
        documents = self.index.manifest.documents
        if filters.document is not None and find_document(documents, filters.document) is None:
            ids = sorted(d.id for d in documents)
            listed = ", ".join(ids[:_LISTED_DOCUMENTS])
            more = len(ids) - _LISTED_DOCUMENTS
            raise InvalidQueryError(
                f"no document {quoted(canonical(filters.document or ''))} in the index; "
                f"it has {listed}" + (f" and {more} more" if more > 0 else ""),
                field="document",
            )
        if filters.lang is not None:
            filters = self._with_language_of_passages(filters, filters.lang)
        if filters.lang is not None and filters.lang.lower() not in self.passage_languages:
            # Else a chat assistant that passes the user's language ("en") gets nothing back
            # and concludes that the report does not cover the question.
            raise InvalidQueryError(
                f"no passage is in language {filters.lang!r}; the index's passages are in "
                f"{', '.join(sorted(self.passage_languages))}. A query in any language "
                "finds passages in every language: leave lang out unless you want only "
                "passages written in one",
                field="lang",
            )
        texts = [model_text(query)]
        # Keyword mode ranks no vector; a weight of 0 would blend the second one away.
        reads_rest = mode is not Mode.KEYWORD and self.weights.without_common_words > 0
        rest = without_common_words(query, self._common_words) if reads_rest else None
        if rest is not None:
            texts.append(model_text(rest))
        return PreparedSearch(query, k, filters, mode, started, tuple(texts))

    def _with_language_of_passages(self, filters: SearchFilters, lang: str) -> SearchFilters:
        """``filters`` with a locale ``lang`` ("fr-FR", "en-GB", which browsers and chat
        clients send) read as its language when passages carry it, as reports' metadata
        reads one (:func:`indexer.language.language_of`); otherwise as given."""
        language = language_of(lang)
        if language == lang.lower() or language not in self.passage_languages:
            return filters
        return dataclasses.replace(filters, lang=language)

    def read(self, request: PreparedSearch) -> QueryEvidence:
        """What ranking takes from the query's words alone: its language and keyword scores.

        Split from :meth:`rank` because it needs no vector: a server computes it while the
        encoder runs (language detection is most of the ranking work besides the encoder).
        """
        language = self.query_language(request.model_text)
        return QueryEvidence(language, self._keyword.scores(request.query))

    def rank(
        self, request: PreparedSearch, vectors: np.ndarray, text: QueryEvidence | None = None
    ) -> SearchResult:
        """Rank passages for a prepared request whose query is already encoded: ``vectors``
        holds a row for each of ``request.texts``, the query's own first.

        Split from :meth:`search` so a server can encode many queries in one batch, and
        :meth:`read` the query (``text``) while the encoder runs.
        """
        if len(vectors) != len(request.texts):
            raise ValueError(f"{len(request.texts)} query vectors expected, not {len(vectors)}")
        text = text or self.read(request)
        allowed = request.filters.mask(self._columns)
        keyword = text.keyword if allowed is None else np.where(allowed, text.keyword, 0.0)
        wanted = max(self.weights.candidates, 4 * request.k)
        candidates = self._candidates(vectors, keyword, allowed, request.mode, wanted)
        centre = self._languages.mean_cosines(vectors, allowed)
        centre = None if centre is None else blended(self.weights, centre)
        scoring = _Scoring(keyword, text.language, centre)
        hits, examined = self._ranked(candidates, vectors, scoring, request)
        short = len(hits) < request.k or examined > len(hits)
        if short and self._pool_was_cut(allowed, keyword, request.mode, wanted):
            # Near-duplicates were skipped (a corpus of yearly editions repeats whole
            # passages): the pool grows until it holds ``wanted`` distinct passages, as it
            # would without the copies, so that those that belong in the top k are scored.
            candidates = self._distinct_pool(candidates, vectors, keyword, allowed, request, wanted)
            hits, _ = self._ranked(candidates, vectors, scoring, request)
            if len(hits) < request.k:
                # An approximate index finds no more however wide the pool (it looks in the
                # regions near the query only): every allowed passage is scored, once.
                everything = self._candidates(vectors, keyword, allowed, request.mode, None)
                hits, _ = self._ranked(everything, vectors, scoring, request)
        return SearchResult(
            query=request.query,
            query_lang=text.language,
            mode=request.mode,
            took_ms=(time.perf_counter() - request.started) * 1000,
            hits=hits,
            filters=request.filters,
            filters_match=allowed is None or bool(allowed.any()),
            index_version=self.index.version,
        )

    def _ranked(
        self,
        candidates: np.ndarray,
        queries: np.ndarray,
        scoring: _Scoring,
        request: PreparedSearch,
    ) -> tuple[list[SearchHit], int]:
        """The best ``request.k`` distinct passages among ``candidates``, and how many of the
        ranked candidates were looked at to find them (more than the hits: copies skipped).

        Candidates are taken in id order, so that of a passage's identical copies, which
        score alike, every mode returns the same one (ANN and keyword front-runners come in
        different orders): the passage id and sources a client cites do not hang on the mode.
        Copies in different reports do not score alike in dense evidence, which reads each
        under its report's title (:func:`indexer.passage_vectors.embedding_text`): there the
        report that fits the query better wins (README, "Near-duplicate passages").
        """
        candidates = np.sort(candidates)
        vectors = self._vectors_of(candidates)
        # Each candidate's best sentence for each query text scores it.
        sentences = self.index.sentences
        closest = [sentences.closest(candidates, query) for query in queries]
        dense = blended(self.weights, vectors @ queries.T)
        best_sentence = blended(self.weights, np.stack([best for best, _ in closest], axis=1))
        scores = self._score(candidates, dense, scoring, request.mode, best_sentence)
        # The highlight is drawn around the sentence closest to both texts as they weigh: a
        # cosine is linear in the query vector, so to their blend.
        both = blended(self.weights, queries.T)
        _, rows = closest[0] if len(queries) == 1 else sentences.closest(candidates, both)
        # Scores within a millionth tie, and ties keep id order: identical copies' products
        # can differ in the last bit with their rows' place in the matrix.
        order = np.argsort(-np.round(scores, 6), kind="stable")
        return self._select(
            candidates[order], vectors[order], scores[order], rows[order], request.k, both
        )

    def _distinct_pool(
        self,
        pool: np.ndarray,
        vectors: np.ndarray,
        keyword: np.ndarray,
        allowed: np.ndarray | None,
        request: PreparedSearch,
        wanted: int,
    ) -> np.ndarray:
        """Front-runners (``pool`` first) widened until ``wanted`` of them are distinct or no
        allowed passage is left out; by the share of copies found, at least twice as many
        each time."""
        size = wanted
        while True:
            found = sum(1 for _ in self._distinct(pool, self._vectors_of(pool)))
            if found >= wanted or not self._pool_was_cut(allowed, keyword, request.mode, size):
                return pool
            size = max(2 * size, -(-size * wanted // max(found, 1)))
            pool = np.sort(self._candidates(vectors, keyword, allowed, request.mode, size))

    def _distinct(self, ranked: np.ndarray, vectors: np.ndarray) -> Iterator[int]:
        """Positions in ``ranked`` (passage ids, ``vectors`` theirs) of passages that are not
        copies of one before them (:mod:`service.retrieval.distinct`)."""
        passages = self.index.passages

        def same_words(i: int, j: int) -> bool:
            return shares_words(passages[int(ranked[i])].text, passages[int(ranked[j])].text)

        return distinct(vectors, self.weights.duplicate_cosine, same_words)

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
        vectors: np.ndarray,
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
        by_dense = self._dense_candidates(vectors, allowed, wanted)
        if mode is Mode.DENSE:
            return by_dense
        return np.unique(np.concatenate([by_dense, by_keyword]))

    def _dense_candidates(
        self, vectors: np.ndarray, allowed: np.ndarray | None, wanted: int
    ) -> np.ndarray:
        """The ``wanted`` nearest passages among the allowed ones to each query vector (a
        passage near the query without its common words only would not be scored), of each
        report language when they are in several: centring on languages (``fused_scores``)
        can raise a language's passages above others nearer the query.

        A language is searched as any filtered search is (:func:`.nearest`): the regions an
        IVF index looks in may hold none of a small report's passages, which then got no
        candidate at all.
        """
        masks = (
            [allowed]
            if self._languages.one_among(allowed)
            else list(self._languages.masks(allowed))
        )
        pools = [nearest(self.index, v, mask, wanted) for v in vectors for mask in masks]
        return np.unique(np.concatenate(pools))

    def _vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors of passages ``ids`` (FAISS keeps them; no second copy in memory)."""
        return self.index.vectors.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def _score(
        self,
        candidates: np.ndarray,
        dense: np.ndarray,
        scoring: _Scoring,
        mode: Mode,
        best_sentence: np.ndarray,
    ) -> np.ndarray:
        """Each candidate's score in ``mode``; ``dense`` holds their cosines to the query."""
        keyword = scoring.keyword
        if mode is Mode.KEYWORD:
            return np.asarray(keyword[candidates], dtype=np.float32)
        hybrid = mode is Mode.HYBRID and keyword.max() > 0
        # Among reports in several languages, the query's own language weighing more would
        # favour the report written in it: an English question about a French report lost
        # its answer to an English report's passages sharing its common words (EVALUATION.md,
        # "Reports in several languages").
        same_language = self._columns.lang[candidates] == scoring.query_lang
        centre = scoring.language_cosine
        return fused_scores(
            self.weights,
            dense=dense,
            best_sentence=best_sentence,
            hubness=self.index.hubness[candidates],
            same_language=same_language & scoring.one_language,
            keyword=keyword[candidates] / keyword.max() if hybrid else None,
            language_mean=None if centre is None else centre[self._languages.codes_of(candidates)],
        )

    def _select(
        self,
        ranked: np.ndarray,
        vectors: np.ndarray,
        scores: np.ndarray,
        sentence_rows: np.ndarray,
        k: int,
        vector: np.ndarray,
    ) -> tuple[list[SearchHit], int]:
        """The top ``k`` of ``ranked`` (passage ``vectors`` in the same order), skipping
        near-duplicates of passages already taken, and the number of rows looked at.

        ``sentence_rows`` holds each ranked passage's best sentence, around which its
        highlight is drawn (``vector``, the query's, picks the neighbour that joins it).
        """
        hits: list[SearchHit] = []
        examined = 0
        for i in self._distinct(ranked, vectors):
            examined = i + 1
            passage_id = int(ranked[i])
            passage = self.index.passages[passage_id]
            highlight = self._highlighter.highlight(
                passage, passage_id, int(sentence_rows[i]), vector
            )
            hits.append(SearchHit(len(hits) + 1, float(scores[i]), passage, highlight))
            if len(hits) == k:
                break
        return hits, examined
