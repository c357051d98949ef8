"""Build an index from a corpus folder: parse, chunk, embed, write; skip when up to date."""

from __future__ import annotations

import hashlib
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer import ann, chunking, corpus, language, parsing, sources, text
from indexer.artifact import (
    FORMAT_VERSION,
    ArtifactError,
    DocumentEntry,
    IndexVectors,
    Manifest,
    SentenceVectors,
    load_index,
    read_manifest,
    read_passages,
    write_index,
)
from indexer.changes import BuildChanges, compare, unchanged
from indexer.chunking import SectionChunker
from indexer.corpus import CorpusError, Document, load_corpus, require_folder
from indexer.embedding.encoder import Encoder
from indexer.embedding.model import ModelIdentity, ResolvedModel, resolve_model
from indexer.embedding.ray_encoder import RayPassageEncoder
from indexer.embedding_cache import CachedEmbeddings, embed_with_cache
from indexer.parsing import parse_pages, parse_report
from indexer.passage import Passage
from indexer.settings import Settings
from indexer.text import sentence_spans
from indexer.versions import building, check_writable, current_id, resolve


def pipeline_version() -> str:
    """Fingerprint of the code that turns text into passages and passages into vectors.

    Derived from the source files rather than bumped by hand, so any change to reading files
    (PDF text), parsing, chunking, language detection, source ranking or embedding text makes
    indexes stale. Rebuilding is then cheap: texts that came out the same are not embedded
    again (:mod:`indexer.embedding_cache`).
    """
    digest = hashlib.sha256()
    for module in (corpus, text, parsing, chunking, language, sources, sys.modules[__name__]):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class BuildReport:
    """What a build did, for the CLI summary.

    ``embedded`` and ``cached`` count distinct texts (passages and their sentences) embedded
    by this build and taken from the embedding cache.
    """

    index_dir: Path
    version: str | None
    up_to_date: bool
    documents: int
    passages: int
    seconds: float
    changes: BuildChanges
    embedded: int
    cached: int


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
    return f"{document_title}\n{passage.section}\n{passage.text}"


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
    spans = [
        [
            (a, b)
            for a, b in sentence_spans(p.text, SENTENCE_MAX_WORDS, SENTENCE_MIN_WORDS)
            if _WORDLIKE.search(p.text[a:b])
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


def is_current(index_dir: Path, documents: list[Document], model: ResolvedModel) -> bool:
    """True when ``index_dir`` was built from exactly these documents, pipeline and model,
    and can be served.

    The whole index is read, not just its manifest: a version with a missing, emptied or
    truncated file (a full disk, a copy cut short) keeps its manifest, and a build that
    called it up to date would leave it unservable.
    """
    try:
        manifest = load_index(index_dir).manifest
    except ArtifactError:
        return False
    return (
        manifest.pipeline_version == pipeline_version()
        and manifest.model.same_model(model.identity)
        and {(d.id, d.sha256) for d in manifest.documents} == {(d.id, d.sha256) for d in documents}
    )


def build_index(
    settings: Settings,
    corpus_dir: Path,
    index_dir: Path,
    force: bool = False,
    show_progress: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> BuildReport:
    """Build (or confirm) the index of ``corpus_dir`` in ``index_dir``.

    The model is loaded only if some text is not in the embedding cache yet. The whole build
    holds the root's build lock (:func:`indexer.versions.building`).
    """
    require_folder(corpus_dir)  # before the lock creates ``index_dir`` for a mistyped corpus
    with building(index_dir):
        return _build(settings, corpus_dir, index_dir, force, show_progress, log)


def _build(
    settings: Settings,
    corpus_dir: Path,
    index_dir: Path,
    force: bool,
    show_progress: bool,
    log: Callable[[str], None],
) -> BuildReport:
    started = time.perf_counter()
    documents = load_corpus(corpus_dir)
    model = resolve_model(settings)
    if not force and is_current(index_dir, documents, model):
        manifest = read_manifest(index_dir)
        return BuildReport(
            index_dir=index_dir,
            version=current_id(index_dir),
            up_to_date=True,
            documents=len(documents),
            passages=manifest.passage_count,
            seconds=time.perf_counter() - started,
            changes=unchanged(documents, manifest.passage_count),
            embedded=0,
            cached=0,
        )
    passages = passages_for(documents)
    if not passages:
        raise CorpusError(f"no passages in {corpus_dir}: the documents hold no text to index")
    log(f"{len(documents)} document(s) → {len(passages)} passages")
    empty = sorted({d.id for d in documents} - {p.document for p in passages})
    if empty:
        log(
            f"warning: no passages in {', '.join(empty)} (only URLs or headings?): listed in "
            "the index, but nothing of it can be found"
        )
    check_writable(index_dir)

    def encode(texts: list[str]) -> np.ndarray:
        if settings.ray_address:
            log(f"embedding {len(texts)} new text(s) on Ray ({settings.ray_address})")
            return RayPassageEncoder(
                model, settings.ray_address, settings.embed_workers, settings.batch_size
            ).encode_passages(texts, show_progress)
        log(f"embedding {len(texts)} new text(s); loading {model.location}")
        encoder = Encoder(model, batch_size=settings.batch_size)
        return encoder.encode_passages(texts, show_progress)

    titles = {d.id: d.metadata.title for d in documents}
    vectors, embedded = embed(index_dir, model.identity, passages, encode, titles)
    spec = ann.choose(len(passages))
    counts = {d.id: 0 for d in documents}
    for passage in passages:
        counts[passage.document] += 1
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        pipeline_version=pipeline_version(),
        model=model.identity,
        dimension=vectors.passages.shape[1],
        passage_count=len(passages),
        sentence_count=len(vectors.sentences.spans),
        documents=tuple(_entry(d, counts[d.id]) for d in documents),
        faiss_index=spec.factory,
        faiss_nprobe=spec.nprobe,
    )
    before_documents, before_passages = _current_contents(index_dir)
    version = write_index(index_dir, manifest, passages, vectors, keep=settings.keep_versions)
    return BuildReport(
        index_dir=index_dir,
        version=version,
        up_to_date=False,
        documents=len(documents),
        passages=len(passages),
        seconds=time.perf_counter() - started,
        changes=compare(before_documents, before_passages, documents, passages),
        embedded=embedded.embedded,
        cached=embedded.cached,
    )


def _current_contents(
    index_dir: Path,
) -> tuple[tuple[DocumentEntry, ...], tuple[Passage, ...]]:
    """Documents and passages of the version a build replaces (none if it is unreadable).

    Only the manifest and the passages file are read: the vectors are not needed to count.
    """
    folder = resolve(index_dir)
    try:
        return read_manifest(folder).documents, read_passages(folder)
    except ArtifactError:
        return (), ()


def _entry(document: Document, passages: int) -> DocumentEntry:
    meta = document.metadata
    return DocumentEntry(
        id=document.id,
        file=document.path.name,
        sha256=document.sha256,
        title=meta.title,
        year=meta.year,
        language=meta.language,
        publisher=meta.publisher,
        source_url=meta.source_url,
        passages=passages,
    )
