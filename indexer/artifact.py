"""The index artifact: the one place that defines its files, manifest and validation.

An index folder holds these files:

- ``manifest.json``: format version, pipeline version, model identity and dimension,
  passage and sentence counts, corpus documents with checksums, FAISS index type, build time,
  and the SHA-256 of each file below (``file_sha256``; absent from indexes built before it).
- ``passages.jsonl``: one passage per line (see :class:`indexer.passage.Passage`), in the
  order of the vectors.
- ``vectors.faiss``: L2-normalised passage embeddings in a FAISS index of the type
  :mod:`indexer.ann` chooses by corpus size (exact ``Flat`` for small corpora); the
  manifest records it (``faiss_index``, ``faiss_nprobe``).
- ``sentences.npz``: the embedding of every sentence of every passage (``vectors``), where
  each sentence sits in its passage's text (``spans``: start/end character offsets) and
  which rows belong to passage ``i`` (``offsets[i]:offsets[i + 1]``). They let search see
  a fact buried in a long passage and point at the sentence that matched.
- ``hubness.npy``: per passage, the mean cosine to its nearest pseudo-queries (other
  passages' sentences embedded as queries). Passages close to every query (forewords,
  summaries, lists) otherwise top every vague one.

These files form one version inside an index root (:mod:`indexer.versions`): each build
writes a new version folder and then switches the root's ``current`` pointer, so readers see
either the previous index or the new one, never a half-written mix. Readers accept a root
(they follow ``current``) or a version folder itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from indexer import ann, durable, versions
from indexer.embedding.model import ModelIdentity
from indexer.jsonl import jsonl_lines
from indexer.passage import Passage

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
PASSAGES_FILE = "passages.jsonl"
VECTORS_FILE = "vectors.faiss"
SENTENCES_FILE = "sentences.npz"
HUBNESS_FILE = "hubness.npy"
DATA_FILES = (PASSAGES_FILE, VECTORS_FILE, SENTENCES_FILE, HUBNESS_FILE)
_FAISS_WHERE = re.compile(r"Error in .*? at \S+:\d+: ")


class ArtifactError(RuntimeError):
    """The index folder is missing, incomplete or inconsistent; the message says what to run."""


class ModelMismatchError(ArtifactError):
    """The index was built with another model than the one configured."""


@dataclass(frozen=True)
class DocumentEntry:
    """A corpus document as recorded in the manifest."""

    id: str
    file: str
    sha256: str
    title: str
    year: int | None
    language: str
    publisher: str | None
    source_url: str | None
    passages: int


@dataclass(frozen=True)
class Manifest:
    """Everything needed to tell whether an index is current and fits the served model."""

    format_version: int
    pipeline_version: str
    model: ModelIdentity
    dimension: int
    passage_count: int
    sentence_count: int
    documents: tuple[DocumentEntry, ...]
    faiss_index: str
    faiss_nprobe: int | None
    built_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    # File name -> SHA-256, set when the version is written; empty in older manifests.
    file_sha256: dict[str, str] = field(default_factory=dict)

    def require_model(self, model: ModelIdentity, dimension: int | None = None) -> None:
        """Refuse to serve this index with ``model``: its vectors live in another space.

        ``dimension`` is the encoder's, when it is loaded already (a server checks the
        identity before loading it, to fail before binding its port).
        """
        if self.model.same_model(model) and dimension in (None, self.dimension):
            return
        raise ModelMismatchError(
            f"the index was built with model {self.model.name!r} ({self.model.source}, "
            f"checksum {self.model.checksum}, prompts {self.model.query_prompt!r}/"
            f"{self.model.passage_prompt!r}, dimension {self.dimension}) but the service is "
            f"configured with {model.name!r} ({model.source}, checksum {model.checksum}, "
            f"prompts {model.query_prompt!r}/{model.passage_prompt!r}"
            + (f", dimension {dimension}" if dimension is not None else "")
            + "); build the index with the configured model (`report-index build`), or set "
            "REPORT_MODEL, REPORT_QUERY_PROMPT and REPORT_PASSAGE_PROMPT to the index's"
        )

    def ann_spec(self) -> ann.AnnSpec:
        """The FAISS index type this manifest describes."""
        return ann.AnnSpec(self.faiss_index, self.faiss_nprobe)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["documents"] = [asdict(d) for d in self.documents]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """Inverse of :meth:`to_dict`; raises ArtifactError for a foreign or older format."""
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ArtifactError(
                f"index format version {version!r} is not supported (expected {FORMAT_VERSION}); "
                "rebuild it with `report-index build`"
            )
        try:
            return cls(
                format_version=version,
                pipeline_version=data["pipeline_version"],
                model=ModelIdentity(**data["model"]),
                dimension=int(data["dimension"]),
                passage_count=int(data["passage_count"]),
                sentence_count=int(data["sentence_count"]),
                documents=tuple(DocumentEntry(**d) for d in data["documents"]),
                faiss_index=data["faiss_index"],
                faiss_nprobe=data["faiss_nprobe"],
                built_at=data["built_at"],
                file_sha256=_checksums(data.get("file_sha256", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"index manifest is malformed ({exc}); rebuild the index") from exc


@dataclass(frozen=True)
class SentenceVectors:
    """Sentence embeddings grouped by passage (see the module docstring)."""

    vectors: np.ndarray
    spans: np.ndarray
    offsets: np.ndarray

    def of(self, passage: int) -> tuple[np.ndarray, np.ndarray]:
        """Vectors and character spans of one passage's sentences."""
        rows = slice(int(self.offsets[passage]), int(self.offsets[passage + 1]))
        return self.vectors[rows], self.spans[rows]

    def closest(self, passages: np.ndarray, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per passage, its sentence closest to ``vector``: cosine and row (-1: no sentence).

        One gather and one product for all candidates of a query, rather than a numpy call
        per passage: ranking scores ~100 candidates per request.
        """
        starts = self.offsets[passages]
        counts = self.offsets[passages + 1] - starts
        width = int(counts.max(initial=0))
        cosines = np.full((len(passages), max(width, 1)), -np.inf, dtype=np.float32)
        present = np.arange(width)[None, :] < counts[:, None]
        rows = (starts[:, None] + np.arange(width)[None, :])[present]
        if 4 * len(rows) > len(self.vectors):
            # Most sentences (every passage of a large index scored): one product over all of
            # them, then a gather of cosines, beats gathering their vectors first.
            cosines[:, :width][present] = (self.vectors @ vector)[rows]
        else:
            cosines[:, :width][present] = self.vectors[rows] @ vector
        best = cosines.argmax(axis=1)
        return cosines[np.arange(len(passages)), best], np.where(counts > 0, starts + best, -1)


@dataclass(frozen=True)
class IndexVectors:
    """Everything numeric an index holds, as written by the build."""

    passages: np.ndarray
    sentences: SentenceVectors
    hubness: np.ndarray


@dataclass(frozen=True)
class LoadedIndex:
    """An index read back from disk and checked for consistency."""

    manifest: Manifest
    passages: tuple[Passage, ...]
    vectors: faiss.Index
    sentences: SentenceVectors
    hubness: np.ndarray
    version: str = "unversioned"
    # The folder it was read from (a version of an index root, or a bare index folder).
    folder: Path | None = None


def write_index(
    root: Path, manifest: Manifest, passages: list[Passage], vectors: IndexVectors, keep: int
) -> str:
    """Write a complete index as a new version of ``root``, make it current; return its id.

    Of the versions this index's model can serve, the current one and the ``keep`` newest
    stay and older ones are deleted (:func:`indexer.versions.publish`).
    """
    n, dimension = vectors.passages.shape
    if len(passages) != n or dimension != manifest.dimension or vectors.hubness.shape != (n,):
        raise ValueError("passages, vectors and manifest disagree on size")

    def write(folder: Path) -> None:
        index = ann.build(vectors.passages, manifest.ann_spec())
        faiss.write_index(index, str(folder / VECTORS_FILE))
        with (folder / PASSAGES_FILE).open("w", encoding="utf-8") as handle:
            for passage in passages:
                handle.write(json.dumps(passage.to_dict(), ensure_ascii=False) + "\n")
        np.savez(
            folder / SENTENCES_FILE,
            vectors=vectors.sentences.vectors.astype(np.float32),
            spans=vectors.sentences.spans.astype(np.int32),
            offsets=vectors.sentences.offsets.astype(np.int64),
        )
        np.save(folder / HUBNESS_FILE, vectors.hubness.astype(np.float32))
        for path in folder.iterdir():
            durable.fsync_file(path)
        # The manifest is written last: its presence marks a complete folder.
        checksums = {name: _sha256(folder / name) for name in DATA_FILES}
        _write_json(folder / MANIFEST_FILE, replace(manifest, file_sha256=checksums).to_dict())

    refusal = partial(serving_problem, model=manifest.model, dimension=manifest.dimension)
    return versions.publish(root.resolve(), write, keep, refusal)


def servable_manifest(folder: Path, model: ModelIdentity, dimension: int | None = None) -> Manifest:
    """The manifest of the index in ``folder``, read whole and checked against ``model``;
    ArtifactError says why it cannot be served (damaged, or built with another model)."""
    manifest = load_index(folder).manifest
    manifest.require_model(model, dimension)
    return manifest


def serving_problem(folder: Path, model: ModelIdentity, dimension: int | None = None) -> str | None:
    """Why the index in ``folder`` cannot be served with ``model``, or None when it can:
    what rollback and pruning ask of a version."""
    try:
        servable_manifest(folder, model, dimension)
    except ArtifactError as exc:
        return str(exc)
    return None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_manifest(root: Path) -> Manifest:
    """The manifest of the current index of ``root`` (or of a version folder)."""
    return _manifest_in(versions.resolve(root), root)


def _manifest_in(folder: Path, root: Path) -> Manifest:
    """The manifest in ``folder``, resolved from ``root`` by the caller: resolving ``current``
    once per read keeps a manifest from pairing with another version's files when a build
    or rollback moves ``current`` in between. ``root`` words the advice when it is missing."""
    path = folder / MANIFEST_FILE
    if not path.is_file() and folder != root:
        raise ArtifactError(
            f"the current index version of {root} ({folder}) has no {MANIFEST_FILE}: it was "
            f"deleted or damaged. `report-index rollback --index {root}` serves the one before "
            f"it; `report-index build --out {root} --force` builds a new one"
        )
    if not path.is_file():
        raise ArtifactError(
            f"no index at {root} (neither a current version nor a {MANIFEST_FILE}); "
            f"{versions.build_advice(root)}"
        )
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path} is unreadable ({exc}); rebuild the index") from exc
    if not isinstance(data, dict):
        raise ArtifactError(f"{path} is not a JSON object; rebuild the index")
    return Manifest.from_dict(data)


def read_passages(root: Path) -> tuple[Passage, ...]:
    """The passages of the current index of ``root`` (or a version folder), without vectors."""
    folder = versions.resolve(root)
    path = folder / PASSAGES_FILE
    try:
        lines = jsonl_lines(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"index at {folder} is damaged ({exc}); {_repair(folder)}") from exc
    passages = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            passages.append(Passage.from_dict(json.loads(line)))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ArtifactError(
                f"index at {folder} is damaged: line {number} of {PASSAGES_FILE} is no "
                f"passage ({type(exc).__name__}: {exc}); {_repair(folder)}"
            ) from exc
    return tuple(passages)


def load_index(root: Path) -> LoadedIndex:
    """Read and cross-check the current index of ``root`` (or a version folder)."""
    folder = versions.resolve(root)
    manifest = _manifest_in(folder, root)
    passages = read_passages(folder)
    reading = VECTORS_FILE
    try:
        vectors = faiss.read_index(str(folder / VECTORS_FILE))
        ann.prepare(vectors, manifest.ann_spec())
        reading = SENTENCES_FILE
        with np.load(folder / SENTENCES_FILE) as archive:
            sentences = SentenceVectors(
                vectors=archive["vectors"], spans=archive["spans"], offsets=archive["offsets"]
            )
        reading = HUBNESS_FILE
        hubness = np.load(folder / HUBNESS_FILE)
    # BadZipFile: a truncated .npz (a copy or rsync cut short).
    except (
        OSError,
        RuntimeError,
        ValueError,
        TypeError,
        KeyError,
        EOFError,
        zipfile.BadZipFile,
    ) as exc:
        # FAISS puts its C++ function and source line before the reason, and sometimes a
        # second one after it: the reason alone.
        lines = _FAISS_WHERE.sub("", str(exc)).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        if "pickle" in reason:  # numpy's advice to load it unsafely is no repair
            reason = "it holds Python objects, not an array of numbers"
        raise ArtifactError(
            f"index at {folder} is damaged: {reading} cannot be read ({reason}); {_repair(folder)}"
        ) from exc
    n, m = manifest.passage_count, manifest.sentence_count
    disagreeing = [
        f"{file} holds {what}"
        for file, what, agrees in (
            (PASSAGES_FILE, f"{len(passages)} passages", len(passages) == n),
            (VECTORS_FILE, f"{vectors.ntotal} vectors", vectors.ntotal == n),
            (HUBNESS_FILE, f"values of shape {hubness.shape}", hubness.shape == (n,)),
            (SENTENCES_FILE, _sentences_described(sentences), _sentences_agree(sentences, n, m)),
        )
        if not agrees
    ]
    if disagreeing:
        raise ArtifactError(
            f"index at {folder} is inconsistent: its manifest says {n} passages and {m} "
            f"sentences, but {'; '.join(disagreeing)}; {_repair(folder)}"
        )
    if vectors.d != manifest.dimension or sentences.vectors.shape[1] != manifest.dimension:
        raise ArtifactError(
            f"index at {folder} holds vectors of another size than its manifest's "
            f"{manifest.dimension}; {_repair(folder)}"
        )
    _verify_checksums(folder, manifest)
    version = versions.version_of(folder)
    return LoadedIndex(manifest, passages, vectors, sentences, hubness, version, folder)


def _repair(folder: Path) -> str:
    """What to do about the damaged index in ``folder``."""
    root = versions.root_of_other_version(folder)
    if root is None:
        # A damaged version still has its manifest, so a plain build could take it for current.
        return "rebuild it with `report-index build --force`"
    # Pruning keeps it (it cannot be served, so it does not count), and a build makes a new
    # version of today's corpus rather than repair this one.
    return (
        f"it is not the current version of {root}: roll back to another "
        f"(`report-index list --index {root}` shows which can be served), or delete it with "
        f"`rm -r {folder}` (pruning never deletes a version that cannot be served)"
    )


def _verify_checksums(folder: Path, manifest: Manifest) -> None:
    """Refuse files whose bytes changed since the build (a disk fault, a bad copy, an edit).

    Bytes overwritten in the middle of a file keep its size and its structure, so every
    check above passes while FAISS reads NaN vectors whose passages are never found. Run
    last, so that a file which does not even parse is named with the reason. SHA-256 reads
    at over a gigabyte a second, little beside loading the same bytes.
    """
    for name, expected in manifest.file_sha256.items():
        if _sha256(folder / name) != expected:
            raise ArtifactError(
                f"index at {folder} is damaged: {name} does not match its checksum in the "
                f"manifest (changed since the build: a disk fault, a bad copy?); {_repair(folder)}"
            )


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _checksums(value: object) -> dict[str, str]:
    """A manifest's ``file_sha256``: checksums of the data files only, as strings (a file
    named there that is no data file would be read from anywhere)."""
    if not isinstance(value, dict) or not all(
        name in DATA_FILES and isinstance(digest, str) for name, digest in value.items()
    ):
        raise ValueError(f"file_sha256 is no mapping of {', '.join(DATA_FILES)} to checksums")
    return value


def _sentences_agree(sentences: SentenceVectors, n: int, m: int) -> bool:
    """Whether the sentence arrays have the shapes ``n`` passages and ``m`` sentences give,
    and offsets that cut the ``m`` rows into ``n`` runs: anything else is a damaged file, to
    be named as one rather than fail later as an IndexError in whatever reads it first."""
    offsets = sentences.offsets
    return (
        sentences.vectors.ndim == 2
        and sentences.vectors.shape[0] == m
        and sentences.spans.shape == (m, 2)
        and offsets.shape == (n + 1,)
        and np.issubdtype(offsets.dtype, np.integer)
        and offsets[0] == 0
        and offsets[-1] == m
        and bool(np.all(np.diff(offsets) >= 0))
    )


def _sentences_described(sentences: SentenceVectors) -> str:
    """The sentence arrays' shapes, and where the offsets run, for a damaged index's error."""
    offsets = sentences.offsets
    described = (
        f"sentence vectors of shape {sentences.vectors.shape}, spans of shape "
        f"{sentences.spans.shape} and offsets of shape {offsets.shape}"
    )
    if offsets.ndim == 1 and offsets.size and np.issubdtype(offsets.dtype, np.integer):
        described += f" running from {int(offsets[0])} to {int(offsets[-1])}"
    return described
