"""Build an index from a corpus folder: parse, chunk, embed, write; skip when up to date."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from indexer.artifact import (
    FORMAT_VERSION,
    ArtifactError,
    DocumentEntry,
    Manifest,
    read_manifest,
    write_index,
)
from indexer.chunking import SectionChunker
from indexer.corpus import Document, load_corpus
from indexer.embedding.encoder import Encoder
from indexer.embedding.model import ResolvedModel, resolve_model
from indexer.parsing import parse_report
from indexer.passage import Passage
from indexer.settings import Settings

# Bump when parsing or chunking changes what passages an unchanged corpus yields.
PIPELINE_VERSION = "parse-1/chunk-1"


@dataclass(frozen=True)
class BuildReport:
    """What a build did, for the CLI summary."""

    index_dir: Path
    up_to_date: bool
    documents: int
    passages: int
    seconds: float


def passages_for(documents: list[Document], chunker: SectionChunker | None = None) -> list[Passage]:
    """All passages of the corpus, document by document, in reading order."""
    chunker = chunker or SectionChunker()
    passages: list[Passage] = []
    for document in documents:
        pages = parse_report(document.text, default_title=document.metadata.title)
        passages.extend(chunker.chunk_document(document.id, pages, document.metadata.language))
    return passages


def embedding_text(passage: Passage) -> str:
    """What gets embedded: the section title gives a short passage its topic."""
    return f"{passage.section}\n{passage.text}"


def is_current(index_dir: Path, documents: list[Document], model: ResolvedModel) -> bool:
    """True when ``index_dir`` was built from exactly these documents, pipeline and model."""
    try:
        manifest = read_manifest(index_dir)
    except ArtifactError:
        return False
    return (
        manifest.pipeline_version == PIPELINE_VERSION
        and manifest.model == model.identity
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
    """Build (or confirm) the index of ``corpus_dir`` in ``index_dir``."""
    started = time.perf_counter()
    documents = load_corpus(corpus_dir)
    model = resolve_model(settings)
    if not force and is_current(index_dir, documents, model):
        manifest = read_manifest(index_dir)
        return BuildReport(
            index_dir, True, len(documents), manifest.passage_count, time.perf_counter() - started
        )
    passages = passages_for(documents)
    log(f"{len(documents)} document(s) → {len(passages)} passages; loading {model.location}")
    encoder = Encoder(model, batch_size=settings.batch_size)
    vectors = encoder.encode_passages([embedding_text(p) for p in passages], show_progress)
    counts = {d.id: 0 for d in documents}
    for passage in passages:
        counts[passage.document] += 1
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        pipeline_version=PIPELINE_VERSION,
        model=model.identity,
        dimension=encoder.dimension,
        passage_count=len(passages),
        documents=tuple(_entry(d, counts[d.id]) for d in documents),
        faiss_index="IndexFlatIP",
    )
    write_index(index_dir, manifest, passages, vectors)
    return BuildReport(
        index_dir, False, len(documents), len(passages), time.perf_counter() - started
    )


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
