"""Build an index from a corpus folder: parse, chunk, embed, write; skip when up to date."""

from __future__ import annotations

import functools
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer import (
    ann,
    chunking,
    corpus,
    embedding_cache,
    language,
    parsing,
    passage_vectors,
    pdf_layout,
    sources,
    text,
)
from indexer import passage as passage_model
from indexer.artifact import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    ArtifactError,
    DocumentEntry,
    Manifest,
    load_index,
    read_manifest,
    read_passages,
    write_index,
)
from indexer.changes import BuildChanges, compare, unchanged
from indexer.corpus import CorpusError, Document, load_corpus, require_folder
from indexer.embedding.encoder import Encoder
from indexer.embedding.model import ResolvedModel, resolve_model
from indexer.embedding.ray_encoder import RayPassageEncoder
from indexer.messages import counted
from indexer.parsing.urls import unreadable_urls
from indexer.passage import Passage
from indexer.passage_vectors import embed, passages_for
from indexer.settings import Settings
from indexer.versions import (
    building,
    check_writable,
    list_versions,
    resolve,
    version_of,
)


def pipeline_version() -> str:
    """Fingerprint of the code that turns text into passages and passages into vectors.

    Derived from the source files rather than bumped by hand, so any change to reading files
    (PDF text), parsing, chunking, where a passage's body starts (sentence spans are saved
    against it), language detection, source ranking or embedding text makes indexes stale.
    Rebuilding is then cheap: texts that came out the same are not embedded again
    (:mod:`indexer.embedding_cache`). The orchestration here is left out, so a change to locking
    or reporting does not. Neither is the encoder's code: the cache keys vectors by model,
    prompt and text, so after changing how vectors are computed for the same model, delete
    ``embedding-cache/`` under the index root.
    """
    digest = hashlib.sha256()
    modules = (
        corpus,
        pdf_layout,
        text,
        parsing,
        chunking,
        passage_model,
        language,
        sources,
        passage_vectors,
    )
    for module in modules:
        path = Path(str(module.__file__))
        # A package (indexer.parsing) is all of its modules, not only its __init__.py.
        for file in sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path]:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class BuildReport:
    """What a build did, for the CLI summary.

    ``embedded`` and ``cached`` count distinct texts embedded by this build and taken from
    the embedding cache: passages and their sentences, the sentences again as queries (a
    text embedded with two prompts counts twice) and the headlines of the URLs they cite.
    """

    index_dir: Path
    version: str
    up_to_date: bool
    documents: int
    passages: int
    seconds: float
    changes: BuildChanges
    embedded: int
    cached: int
    # Versions the build deleted (beyond the ``keep_versions`` newest): an operator must
    # know which versions can no longer be rolled back to.
    pruned: tuple[str, ...] = ()


def why_stale(index_dir: Path, documents: list[Document], model: ResolvedModel) -> str | None:
    """Why ``index_dir`` must be rebuilt for these documents and model; None when it is
    current (built from exactly these documents, pipeline and model, and servable).

    The whole index is read, not just its manifest: a version with a missing, emptied or
    truncated file (a full disk, a copy cut short) keeps its manifest, and a build that
    called it up to date would leave it unservable.
    """
    if not (resolve(index_dir) / MANIFEST_FILE).is_file():
        return "no index yet"
    try:
        manifest = load_index(index_dir).manifest
    except ArtifactError as exc:
        return str(exc)
    if not manifest.model.same_model(model.identity):
        return f"the model or its prompts changed (index built with {manifest.model.name})"
    if manifest.pipeline_version != pipeline_version():
        return "the indexing code changed (parsing, chunking or what is embedded)"
    if {(d.id, d.sha256) for d in manifest.documents} != {(d.id, d.sha256) for d in documents}:
        return "the corpus changed"
    return None


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
    _require_apart(corpus_dir, index_dir)
    if not index_dir.exists():
        # A first build of a corpus that cannot be read (empty, a bad file) creates nothing:
        # removing a root afterwards would race with a build that took its lock meanwhile.
        load_corpus(corpus_dir)
    with building(index_dir):
        return _build(settings, corpus_dir, index_dir, force, show_progress, log)


def _require_apart(corpus_dir: Path, index_dir: Path) -> None:
    """Raise CorpusError when one folder holds the other: an index root inside the corpus
    listed its own folders as files the build does not read at every build, and a corpus
    inside the index root is in the way of the versions a build writes and deletes."""
    corpus, index = corpus_dir.resolve(), index_dir.resolve()
    if index == corpus or corpus in index.parents:
        where = "the corpus folder" if index == corpus else f"inside the corpus folder {corpus_dir}"
        raise CorpusError(
            f"the index root {index_dir} is {where}: give another folder to --out "
            "(REPORT_INDEX_DIR), beside the corpus"
        )
    if index in corpus.parents:
        raise CorpusError(
            f"the corpus folder {corpus_dir} is inside the index root {index_dir}: keep the "
            "reports in a folder of their own"
        )


def corpus_warnings(documents: list[Document], passages: list[Passage]) -> list[str]:
    """What an operator should know about reports that index but will serve badly: the build
    goes on (one odd report must not hold back the others), and says so."""
    warnings = []
    for document in documents:
        pages_given = enumerate(document.pages or (), start=1)
        blank = [str(n) for n, page in pages_given if not page.strip()]
        if blank:
            warnings.append(
                f"no text on page(s) {', '.join(blank)} of {document.id}: blank, or scanned "
                "images (run OCR on the PDF if they hold text, or nothing there can be found)"
            )
        given = document.metadata.language
        if given != language.UNDETERMINED and given not in language.supported_languages():
            # "zz" or ISO 639-2's "fre" is written as a code, so metadata takes it.
            warnings.append(
                f"the language {given!r} of {document.id} is none of those language detection "
                "knows (a typo, or an ISO 639-2 code such as 'fre' for 'fr'?): its passages "
                f"whose own language cannot be detected are tagged {given!r}, and its words "
                "are not stemmed"
            )
        unreadable = unreadable_urls(document.text)
        if unreadable:
            warnings.append(
                f"URL(s) in {document.id} that cannot be read as addresses (a bracket out of "
                f"place?), so no passage cites them: {', '.join(unreadable)}"
            )
    empty = sorted({d.id for d in documents} - {p.document for p in passages})
    if empty:
        warnings.append(
            f"no passages in {', '.join(empty)} (only URLs or headings?): listed in the index, "
            "but nothing of it can be found"
        )
    with_text = {p.document for p in passages if not _only_headings(p)}
    if titles_only := sorted({p.document for p in passages} - with_text):
        warnings.append(
            f"only headings in {', '.join(titles_only)}: its passages hold no text beyond their "
            "titles (was the text left out of the file?)"
        )
    pages: dict[str, set[int]] = {}
    sourced: set[str] = set()
    for passage in passages:
        pages.setdefault(passage.document, set()).add(passage.page)
        if passage.source_urls:
            sourced.add(passage.document)
    given_pages = {d.id for d in documents if d.pages is not None}
    for unsourced in sorted(pages.keys() - sourced):
        one_page = (
            " and, with neither form feeds nor URL blocks to end its pages, it reads as one page"
            if len(pages[unsourced]) == 1 and unsourced not in given_pages
            else ""
        )
        warnings.append(f"no source URLs in {unsourced}: its passages cite none{one_page}")
    garbled: dict[str, list[Passage]] = {}
    for passage in passages:
        if _share_encoded(passage.text) > _MAX_ENCODED_SHARE:
            garbled.setdefault(passage.document, []).append(passage)
    for document_id, odd in garbled.items():
        warnings.append(
            f"{counted(len(odd), 'passage')} of {document_id} are mostly encoded data (base64 "
            f"or hex pasted into the text, or a broken export?), first on page {odd[0].page}: "
            "they are indexed, but no question will find them"
        )
    return warnings


# A run of 16 or more ASCII letters and digits, both present, with base64's + / = or a hex
# dash: no word of any language (Chinese or Thai, written without spaces, are no ASCII; a
# French or English word holds no digit), but what base64 or a hash looks like.
# Runs are found first and tested for a digit and a letter after: lookaheads for them at
# every position of a run took time in the square of its length (a 1 MB line: hours).
_ENCODED_RUN = re.compile(r"[A-Za-z0-9+/=_-]{16,}")
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[A-Za-z]")
# Share of a passage's characters in such runs above which it is no text a question can
# find: 0 in the 2021 report, 1 for a base64 blob that an export left in a report (381
# passages of it, without a word said).
_MAX_ENCODED_SHARE = 0.5


def _only_headings(passage: Passage) -> bool:
    titles = {passage.section, *passage.sections, *passage.chapters}
    return all(line in titles for line in passage.text.split("\n"))


def _share_encoded(body: str) -> float:
    characters = sum(not c.isspace() for c in body)
    encoded = sum(
        len(run) for run in _ENCODED_RUN.findall(body) if _DIGIT.search(run) and _LETTER.search(run)
    )
    return encoded / max(1, characters)


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
    reason = "--force" if force else why_stale(index_dir, documents, model)
    if reason is None:
        manifest = read_manifest(index_dir)
        return BuildReport(
            index_dir=index_dir,
            version=version_of(resolve(index_dir)),
            up_to_date=True,
            documents=len(documents),
            passages=manifest.passage_count,
            seconds=time.perf_counter() - started,
            changes=unchanged(documents, manifest.passage_count),
            embedded=0,
            cached=0,
        )
    log(f"building: {reason}")
    passages = passages_for(documents)
    if not passages:
        raise CorpusError(f"no passages in {corpus_dir}: the documents hold no text to index")
    log(f"{len(documents)} document(s) → {len(passages)} passages")
    for warning in corpus_warnings(documents, passages):
        log(f"warning: {warning}")
    check_writable(index_dir)
    embedding_cache.check_writable(index_dir)

    # Made at the first part of new texts and kept for the others (the cache hands them on a
    # part at a time), so the model is loaded once; a Ray cluster starts its actors for each
    # part, and parts grow with the cache, so there are few.
    @functools.cache
    def encoder() -> Encoder | RayPassageEncoder:
        if settings.ray_address:
            log(f"embedding new texts on Ray ({settings.ray_address})")
            return RayPassageEncoder(
                model, settings.ray_address, settings.embed_workers, settings.batch_size
            )
        log(f"embedding new texts; loading {model.location}")
        return Encoder(model, batch_size=settings.batch_size)

    def encode(texts: list[tuple[str, str]]) -> np.ndarray:
        return encoder().encode_prompted(texts, show_progress)

    def on_part(done: int, total: int) -> None:
        log(f"embedding new texts: {done:,} of {total:,} done")

    titles = {d.id: d.metadata.title for d in documents}
    passages, vectors, embedded = embed(
        index_dir, model.identity, passages, encode, titles, on_part
    )
    spec = ann.choose(len(passages))
    languages: dict[str, list[str]] = {d.id: [] for d in documents}
    for passage in passages:
        languages[passage.document].append(passage.lang)
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        pipeline_version=pipeline_version(),
        model=model.identity,
        dimension=vectors.passages.shape[1],
        passage_count=len(passages),
        sentence_count=len(vectors.sentences.spans),
        documents=tuple(_entry(d, languages[d.id]) for d in documents),
        faiss_index=spec.factory,
        faiss_nprobe=spec.nprobe,
    )
    before_documents, before_passages = _current_contents(index_dir)
    before_versions = {v.id for v in list_versions(index_dir)}
    version = write_index(index_dir, manifest, passages, vectors, keep=settings.keep_versions)
    pruned = before_versions - {v.id for v in list_versions(index_dir)}
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
        pruned=tuple(sorted(pruned)),
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


def _entry(document: Document, passage_languages: list[str]) -> DocumentEntry:
    """The manifest's record of ``document``. Without a language in its metadata, the one
    most of its passages are detected in: "und" showed in /stats and tool descriptions for
    a report whose every passage was detected as German."""
    meta = document.metadata
    detected = [lang for lang in passage_languages if lang != language.UNDETERMINED]
    lang = meta.language
    if lang == language.UNDETERMINED and detected:
        lang = max(sorted(set(detected)), key=detected.count)
    return DocumentEntry(
        id=document.id,
        file=document.path.name,
        sha256=document.sha256,
        title=meta.title,
        year=meta.year,
        language=lang,
        publisher=meta.publisher,
        source_url=meta.source_url,
        passages=len(passage_languages),
    )
