"""What a build embeds, and the vectors it derives: the pure half of a build.

Passages are embedded under their document's and section's titles (:func:`embedding_text`),
each passage's sentences on their own (cut and joined to sizes that mean something), and
each passage's *hubness* is computed from the passage vectors. Kept apart from
:mod:`indexer.build`, which orchestrates (locks, the up-to-date check, writing, reporting),
because a change here changes the vectors of every index: :func:`indexer.build.pipeline_version`
fingerprints this module, not the orchestration.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from indexer import ann
from indexer.artifact import IndexVectors, SentenceVectors
from indexer.chunking import SectionChunker
from indexer.corpus import Document
from indexer.embedding.model import ModelIdentity
from indexer.embedding_cache import CachedEmbeddings, embed_with_cache
from indexer.parsing import parse_pages, parse_report
from indexer.passage import Passage
from indexer.text import sentence_spans


def passages_for(documents: list[Document], chunker: SectionChunker | None = None) -> list[Passage]:
    """All passages of the corpus, document by document, in reading order."""
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
    encode: Callable[[list[str]], np.ndarray],
    titles: Mapping[str, str],
) -> tuple[IndexVectors, CachedEmbeddings]:
    """Passage vectors, sentence vectors with their spans, and passage hubness.

    ``titles`` maps document ids to titles (see :func:`embedding_text`). ``encode`` (passage
    prompt applied) gets only the texts missing from the embedding cache of ``index_dir``;
    the second value says how many that was.
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
    texts = [embedding_text(p, titles[p.document]) for p in passages]
    # One encoder call for both keeps one progress bar and full batches.
    embedded = embed_with_cache(index_dir, model, model.passage_prompt, texts + sentences, encode)
    passage_vectors = embedded.vectors[: len(texts)]
    vectors = IndexVectors(
        passages=passage_vectors,
        sentences=SentenceVectors(
            vectors=embedded.vectors[len(texts) :],
            spans=np.array([s for ss in spans for s in ss], dtype=np.int32).reshape(-1, 2),
            offsets=np.cumsum([0, *map(len, spans)]),
        ),
        hubness=hubness(passage_vectors),
    )
    return vectors, embedded


def hubness(vectors: np.ndarray, neighbours: int = 10) -> np.ndarray:
    """Mean cosine of each vector to its nearest others (the CSLS neighbourhood term).

    Cross-lingual retrieval suffers from hubs: a few passages (a foreword, a summary)
    sit close to everything and surface for any vague query. Subtracting part of this
    density at search time, as CSLS does, lets the specific passage win. Neighbours come
    from the same kind of index as search uses, so this stays affordable at scale.
    """
    n = len(vectors)
    if n < 2:
        return np.zeros(n, dtype=np.float32)
    k = min(neighbours, n - 1)
    spec = ann.choose(n)
    index = ann.build(vectors, spec)
    ann.prepare(index, spec)
    scores, ids = index.search(np.ascontiguousarray(vectors, dtype=np.float32), k + 1)
    others = np.where((ids == np.arange(n)[:, None]) | (ids < 0), np.nan, scores)
    # Each row holds itself once (when found); keep the k best of the rest.
    return np.nanmean(_best_k(others, k), axis=1).astype(np.float32)


def _best_k(scores: np.ndarray, k: int) -> np.ndarray:
    """The k largest finite values of each row (NaN marks the vector itself)."""
    filled = np.where(np.isnan(scores), -np.inf, scores)
    best = -np.sort(-filled, axis=1)[:, :k]
    return np.where(np.isinf(best), np.nan, best)
