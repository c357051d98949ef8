"""What a build embeds, and the vectors it derives: the pure half of a build.

Passages are embedded under their document's and section's titles (:func:`embedding_text`),
each passage's sentences on their own (cut and joined to sizes that mean something), and
each passage's *hubness* is measured against those sentences embedded as queries. Kept apart from
:mod:`indexer.build`, which orchestrates (locks, the up-to-date check, writing, reporting),
because a change here changes the vectors of every index: :func:`indexer.build.pipeline_version`
fingerprints this module, not the orchestration.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import faiss
import numpy as np

from indexer.artifact import IndexVectors, SentenceVectors
from indexer.chunking import SectionChunker
from indexer.corpus import Document
from indexer.embedding.model import ModelIdentity
from indexer.embedding_cache import CachedEmbeddings, embed_with_cache
from indexer.parsing import parse_pages, parse_report
from indexer.passage import Passage
from indexer.sources import article_urls, headline, order_sources
from indexer.text import sentence_spans


def passages_for(documents: list[Document], chunker: SectionChunker | None = None) -> list[Passage]:
    """All passages of the corpus, document by document, in reading order.

    Each lists its page's source URLs in the report's order: :func:`embed` orders them, as
    that needs the vectors.
    """
    chunker = chunker or SectionChunker()
    passages: list[Passage] = []
    for document in documents:
        title = document.metadata.title
        pages = (
            parse_report(document.text, title)
            if document.pages is None
            else parse_pages(document.pages, title)
        )
        passages.extend(chunker.chunk_document(document.id, pages, document.metadata.language))
    return passages


# Sentence vectors score a passage by its best part and give the highlight. A list of
# countries or a 70-word sentence is too coarse for either: beyond this many words a sentence
# is cut into even pieces. Over 198 queries, 40 raised MRR@10 from 0.883 to 0.891 (25 did no
# better); the 396-word member list now highlights the ~40 words that match.
SENTENCE_MAX_WORDS = 40
# And a sentence of fewer words is joined to its neighbour: a stat block's lines ("9",
# "CANNABIS", "OPÉRATION LIONFISH") and headings made "sentences" too short to mean anything,
# which won as best sentences by chance and became highlights that say nothing. Over 198
# queries, joining below 10 words raised hybrid MRR@10 from 0.900 to 0.910 (dense 0.864 ->
# 0.874; 8 to 12 words alike, 16 worse), the first relevant passage's highlight holds the
# answer for 138 queries instead of 121, and highlights of four words or fewer went from 90
# of the 990 top-5 hits to none.
SENTENCE_MIN_WORDS = 10
_WORDLIKE = re.compile(r"[^\W_]")


def embedding_text(passage: Passage, document_title: str) -> str:
    """What gets embedded: the passage under its document's and its section's titles.

    Passages rarely repeat what every reader of the report knows (whose report it is), while
    queries say it ("how many people work for INTERPOL"): a stat block of bare labels sat
    ~55th for such a question. Both titles as a header put that context back in every
    passage vector. Measured over 138 queries in four languages, 60 of them written blind to
    the system: R@5 0.949 -> 0.964 with the same fusion (EVALUATION.md). Sentence vectors stay
    without a header: with one, they lose what makes them sharper than the passage.
    """
    return f"{document_title}\n{passage.section}\n{passage.body}"


def embed(
    index_dir: Path,
    model: ModelIdentity,
    passages: list[Passage],
    encode: Callable[[list[tuple[str, str]]], np.ndarray],
    titles: Mapping[str, str],
    on_part: Callable[[int, int], None] | None = None,
) -> tuple[list[Passage], IndexVectors, CachedEmbeddings]:
    """The passages with their source URLs ordered (:func:`indexer.sources.order_sources`),
    their vectors, sentence vectors with their spans, and passage hubness.

    ``titles`` maps document ids to titles (see :func:`embedding_text`). ``encode`` gets only
    the (prompt, text) pairs missing from the embedding cache of ``index_dir``, a part at a
    time (``on_part``: :func:`indexer.embedding_cache.embed_with_cache`); the last value says
    how many that was.
    """
    # A "sentence" without a letter or digit (a closing quote left on its own line) says
    # nothing: embedded, it could still be a passage's best match and become its highlight.
    # Sentences of the body: a passage's opening heading is its section title, embedded
    # with the passage already (spans stay offsets into the whole text, for highlights).
    spans = [
        [
            (p.body_start + a, p.body_start + b)
            for a, b in sentence_spans(p.body, SENTENCE_MAX_WORDS, SENTENCE_MIN_WORDS)
            if _WORDLIKE.search(p.body[a:b])
        ]
        for p in passages
    ]
    sentences = [p.text[a:b] for p, ss in zip(passages, spans, strict=True) for a, b in ss]
    owners = np.repeat(np.arange(len(passages)), [len(ss) for ss in spans])
    queries, members = pseudo_queries(sentences, owners)
    texts = [embedding_text(p, titles[p.document]) for p in passages]
    urls = article_urls(passages)
    # One call for all keeps batches full (the cache hands them on a checkpoint at a time).
    embedded = embed_with_cache(
        index_dir,
        model,
        [(model.passage_prompt, text) for text in texts + sentences]
        + [(model.query_prompt, query) for query in queries + [headline(u) for u in urls]],
        encode,
        on_part,
    )
    passage_vectors = embedded.vectors[: len(texts)]
    headline_vectors = dict(
        zip(urls, embedded.vectors[len(embedded.vectors) - len(urls) :], strict=True)
    )
    vectors = IndexVectors(
        passages=passage_vectors,
        sentences=SentenceVectors(
            vectors=embedded.vectors[len(texts) : len(texts) + len(sentences)],
            spans=np.array([s for ss in spans for s in ss], dtype=np.int32).reshape(-1, 2),
            offsets=np.cumsum([0, *map(len, spans)]),
        ),
        hubness=hubness(
            passage_vectors,
            embedded.vectors[len(texts) + len(sentences) : len(embedded.vectors) - len(urls)],
            members,
        ),
    )
    return order_sources(passages, passage_vectors, headline_vectors), vectors, embedded


# Sentences embedded as queries to measure hubness against (see :func:`hubness`). This many
# at most: enough to map where queries fall, while a large corpus's hubness stays one product
# of its passages with a fixed number of vectors (200,000 passages: 11 s on 2 cores).
PSEUDO_QUERIES = 8192
# Over the 318 evaluation queries, 30 to 100 neighbours of this report's 313 pseudo-queries
# scored alike (hybrid MRR@10 0.920-0.925), 20 and 200 less well.
HUBNESS_NEIGHBOURS = 50


def pseudo_queries(sentences: list[str], owners: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The distinct sentences that stand in for queries, and which passages hold each.

    ``owners[i]`` is the passage of ``sentences[i]``. Returns the chosen texts and an array of
    (query, passage) rows. Beyond ``PSEUDO_QUERIES`` distinct sentences, those with the
    smallest SHA-256 are kept: a choice that adding a report barely changes, so the embedding
    cache still spares all but the new report's texts (an even spread over row numbers
    shifted nearly every choice).
    """
    holders: dict[str, list[int]] = {}
    for text, owner in zip(sentences, owners.tolist(), strict=True):
        holders.setdefault(text, []).append(owner)
    chosen = sorted(holders, key=lambda text: hashlib.sha256(text.encode()).digest())
    chosen = chosen[:PSEUDO_QUERIES]
    members = [(query, owner) for query, text in enumerate(chosen) for owner in holders[text]]
    return chosen, np.array(members, dtype=np.int64).reshape(-1, 2)


def hubness(
    passages: np.ndarray,
    queries: np.ndarray,
    members: np.ndarray,
    neighbours: int = HUBNESS_NEIGHBOURS,
) -> np.ndarray:
    """Each passage's mean cosine to its ``neighbours`` nearest ``queries`` not its own.

    Cross-lingual retrieval suffers from hubs: a few passages (a foreword, the member-country
    list) sit close to any query and surface for vague ones. CSLS subtracts part of each
    target's mean similarity to its nearest *queries*. Real queries are not known when an
    index is built, so the report's own sentences, embedded with the query prompt, stand in
    for them (``members`` lists (query, passage) pairs of a sentence and the passages that
    hold it, which it is not compared with: a passage is always close to its own sentences).
    Measured against the earlier proxy, the mean cosine to the 10 nearest other *passages*,
    over the 318 evaluation queries: hybrid MRR@10 0.913 -> 0.924 (19 queries up, 7 down),
    dense 0.889 -> 0.903; on the two sets never tuned on 0.889 -> 0.912 and 0.903 -> 0.933,
    the shared dev set 0.983 -> 0.950 (two near ties, EVALUATION.md).
    """
    n = len(passages)
    result = np.zeros(n, dtype=np.float32)
    if n == 0 or len(queries) == 0:
        return result
    index = faiss.IndexFlatIP(queries.shape[1])
    index.add(np.ascontiguousarray(queries, dtype=np.float32))
    # Enough neighbours that ``neighbours`` of them remain once a passage's own are dropped.
    own = np.bincount(members[:, 1], minlength=n)
    wanted = min(len(queries), neighbours + int(own.max()))
    owned = np.sort(members[:, 0] * n + members[:, 1])
    # In blocks, so that a million passages' neighbour lists never sit in memory at once.
    for start in range(0, n, _HUBNESS_BLOCK):
        rows = np.arange(start, min(n, start + _HUBNESS_BLOCK))
        scores, ids = index.search(np.ascontiguousarray(passages[rows], dtype=np.float32), wanted)
        excluded = (ids < 0) | np.isin(ids.astype(np.int64) * n + rows[:, None], owned)
        best = _best_k(np.where(excluded, np.nan, scores), neighbours)
        found = np.isfinite(best).any(axis=1)
        result[rows[found]] = np.nanmean(best[found], axis=1)
    return result


_HUBNESS_BLOCK = 65536


def _best_k(scores: np.ndarray, k: int) -> np.ndarray:
    """The k largest finite values of each row (NaN marks one left out)."""
    filled = np.where(np.isnan(scores), -np.inf, scores)
    best = -np.sort(-filled, axis=1)[:, :k]
    return np.where(np.isinf(best), np.nan, best)
