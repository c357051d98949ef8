"""Embeddings kept between builds, keyed by what determines them, so a build embeds only new text.

Embedding is nearly all of a build's time. A text's vector depends only on the model, the
prompt and the exact text, so its key is the sha256 of those three: adding a report embeds
only its passages and sentences, an edited report only its changed texts, and a rebuild
after a pipeline change that leaves the texts as they were embeds nothing (and does not even
load the model).

Layout: ``<index root>/embedding-cache/vectors.npz`` beside ``versions/``, so pruning versions
keeps it. It holds ``format``, ``keys`` (hex digests) and ``vectors`` (float32, one row per
key), and ``built``, how many texts the last completed build used: its keys come first.
Each build replaces the file with the vectors that build used, then those the previous
build used: the cache holds the texts of the last two builds. Texts no longer in the corpus
(and another model's) drop out a build later, so that a build of the wrong corpus folder,
or a report removed and added back, does not embed everything again (a review measured
371 s for 3,319 texts). While it embeds,
a build saves what it has so far every :data:`CHECKPOINT_TEXTS` texts, so that a build
stopped midway (Ctrl-C, a full disk, a lost Ray cluster) does not lose that work.

The file is written under a lock to a temporary name, synced and renamed over the old one,
so a build killed at any moment leaves the previous cache whole. A file that cannot be read
or does not have this layout is ignored with a warning (its texts are embedded again) and
replaced by the next build; it never fails a build.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer import durable
from indexer.embedding.model import LOCAL_FOLDER, ModelIdentity

CACHE_DIR = "embedding-cache"
CACHE_FILE = "vectors.npz"
CACHE_FORMAT = 1
_PARTIAL_FILE = "vectors.npz.partial"
_LOCK_FILE = ".lock"
_KEY_DTYPE = np.dtype("S64")
# Texts embedded between two saves of the cache, at least (a minute or so on 2 cores; more
# once the cache is large, see embed_with_cache): what an interrupted build loses at most.
CHECKPOINT_TEXTS = 1024
# And at most this many times that (some six minutes on 2 cores), however large the cache.
_MAX_PART_CHECKPOINTS = 8

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedEmbeddings:
    """Vectors for a build's texts, and how many were embedded now or taken from the cache.

    Both counts are of distinct (prompt, text) pairs: a sentence that occurs twice is embedded
    once with each prompt it is asked with.
    """

    vectors: np.ndarray
    embedded: int
    cached: int


def text_key(model: ModelIdentity, prompt: str, text: str) -> str:
    """The cache key of ``text`` embedded by ``model`` with ``prompt``.

    The prompts in the identity are left out: the one applied is ``prompt``, and changing
    the query prompt must not invalidate passage vectors. So is a local folder's name, as
    in :meth:`ModelIdentity.same_model`: its checksum says which weights it holds, and its
    name only how the path was spelled ("m", "./m", a copy elsewhere).
    """
    name = "" if model.source == LOCAL_FOLDER else model.name
    material = json.dumps([name, model.source, model.checksum, prompt, text])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def embed_with_cache(
    root: Path,
    model: ModelIdentity,
    texts: list[tuple[str, str]],
    encode: Callable[[list[tuple[str, str]]], np.ndarray],
    on_part: Callable[[int, int], None] | None = None,
) -> CachedEmbeddings:
    """One vector per (prompt, text) pair (rows in the order of ``texts``), embedding only new ones.

    ``encode`` gets the distinct pairs the cache lacks, in parts of :data:`CHECKPOINT_TEXTS`
    or more, and is not called when there are none; the cache is saved after each part. It
    then holds these pairs' vectors, and those the previous build used.
    ``on_part(done, total)`` is told before each part how many of the ``total`` new pairs are
    embedded already: only this function knows the total, and an operator embedding a large
    corpus wants to know how far along it is.
    """
    keys = [text_key(model, prompt, text) for prompt, text in texts]
    known, built = _read(root)
    missing = {key: pair for key, pair in zip(keys, texts, strict=True) if key not in known}
    found: dict[str, np.ndarray] = {key: known[key] for key in keys if key in known}
    pending = list(missing.items())
    saved = len(known)
    while pending:
        # A part is at least half as large as the cache last written, so that writing the
        # cache (all of it, each time) stays a small cost beside embedding a part; but not
        # so large that an interrupted build loses hours (half a cache of 100,000 texts was
        # 40 minutes of embedding; writing 1,000,000 texts takes some seconds).
        largest = _MAX_PART_CHECKPOINTS * CHECKPOINT_TEXTS
        size = max(CHECKPOINT_TEXTS, min(saved // 2, largest))
        part, pending = pending[:size], pending[size:]
        if on_part:
            on_part(len(missing) - len(pending) - len(part), len(missing))
        found.update(zip([key for key, _ in part], encode([pair for _, pair in part]), strict=True))
        if pending:
            # What is embedded so far, with the cache as it was: a build stopped later (Ctrl-C,
            # a full disk) embeds only the rest next time.
            progress = known | found
            write_cache(root, progress, built)
            saved = len(progress)
    # Dicts keep insertion order: this build's texts first, then the previous build's (the
    # first ``built`` keys of the file, checkpoints having added theirs after them).
    previous = {key: known[key] for key in itertools.islice(known, built) if key not in found}
    write_cache(root, found | previous, len(found))
    return CachedEmbeddings(
        vectors=np.stack([found[key] for key in keys]).astype(np.float32, copy=False),
        embedded=len(missing),
        cached=len(found) - len(missing),
    )


class CacheWriteError(RuntimeError):
    """The embedding cache of an index root cannot be written; the message says why."""


def check_writable(root: Path) -> None:
    """Raise CacheWriteError unless the cache under index root ``root`` can be written: its
    folder and its lock. Called before a build embeds anything: a read-only cache failed the
    build only when it saved, after every text had been embedded, with a bare errno."""
    folder = root / CACHE_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with durable.exclusive_lock(folder / _LOCK_FILE), tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        cause = exc.strerror or exc
        raise CacheWriteError(f"cannot write the embedding cache {folder}: {cause}") from exc


def read_cache(root: Path) -> dict[str, np.ndarray]:
    """The cached vectors of index root ``root`` by key; empty if absent or unusable."""
    return _read(root)[0]


def _read(root: Path) -> tuple[dict[str, np.ndarray], int]:
    """The cached vectors by key, and how many of them the last completed build used (all of
    them in a cache from before that was saved)."""
    path = root / CACHE_DIR / CACHE_FILE
    if not path.exists():
        return {}, 0
    try:
        with np.load(path, allow_pickle=False) as archive:
            version, keys, vectors = archive["format"], archive["keys"], archive["vectors"]
            built = int(archive["built"]) if "built" in archive.files else len(keys)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        logger.warning("ignoring unreadable embedding cache %s (%s); embedding again", path, exc)
        return {}, 0
    problem = _layout_problem(version, keys, vectors)
    if problem:
        logger.warning("ignoring embedding cache %s: %s; embedding again", path, problem)
        return {}, 0
    return dict(zip(keys.astype(str), vectors, strict=True)), built


def _layout_problem(version: np.ndarray, keys: np.ndarray, vectors: np.ndarray) -> str | None:
    if version.shape != () or version.item() != CACHE_FORMAT:
        return f"format {version.tolist()!r}, expected {CACHE_FORMAT}"
    if keys.dtype != _KEY_DTYPE or keys.ndim != 1:
        return f"keys of type {keys.dtype} and shape {keys.shape}"
    if vectors.dtype != np.float32 or vectors.ndim != 2 or len(vectors) != len(keys):
        return f"vectors of type {vectors.dtype} and shape {vectors.shape} for {len(keys)} keys"
    if not np.isfinite(vectors).all():
        return "vectors that are not finite"
    return None


def write_cache(root: Path, vectors: dict[str, np.ndarray], built: int | None = None) -> None:
    """Replace the cache of index root ``root`` with ``vectors`` (atomically, see above);
    ``built``: how many of them the last completed build used (default: all)."""
    folder = root / CACHE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / _PARTIAL_FILE
    # One writer at a time: two builds of one root would otherwise share the partial file.
    with durable.exclusive_lock(folder / _LOCK_FILE):
        # Under the lock, a leftover partial file is a killed build's: overwritten here.
        try:
            with partial.open("wb") as handle:
                np.savez(
                    handle,
                    format=np.array(CACHE_FORMAT),
                    keys=np.array(list(vectors), dtype=_KEY_DTYPE),
                    vectors=np.stack(list(vectors.values())).astype(np.float32, copy=False),
                    built=np.array(len(vectors) if built is None else built),
                )
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            # A full disk: the partial file would only take more of it, and the error, raised
            # deep in numpy, would not say which file.
            partial.unlink(missing_ok=True)
            raise OSError(exc.errno, f"cannot write {partial}: {exc.strerror or exc}") from exc
        os.replace(partial, folder / CACHE_FILE)
        durable.fsync_dir(folder)
