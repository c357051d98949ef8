"""Loading the current index version beside the served one, and deciding whether it may
replace it.

A build (`report-index build`) or a rollback only moves the index root's ``current`` pointer;
a running service keeps what it loaded until it is told to reload (``POST /admin/reload`` or
SIGHUP). The new version is loaded and checked while the old one keeps answering, and is
refused, with the reason, unless it loads, fits the encoder already in memory and answers a
search. The encoder is reused: an index swap never loads the model again, and a version built
with another model is refused (changing the model means restarting the service).
"""

from __future__ import annotations

import math
from pathlib import Path

from indexer.artifact import ArtifactError, load_index
from service.searcher import Searcher

# Enough of a passage to make a realistic query of it (queries are capped at 1,000 chars).
_PROBE_CHARS = 200


class ReloadError(RuntimeError):
    """A reload did not happen; the message says why, and the old version is still served."""


class ReloadBusy(ReloadError):
    """Another reload, or the first load, is still running."""


class ReloadRefused(ReloadError):
    """The current version of the index root cannot be served."""


def load_replacement(served: Searcher, root: Path) -> Searcher:
    """A searcher over the current version of ``root`` that can replace ``served``.

    It searches with ``served``'s encoder and ranking weights. Raises ReloadRefused when the
    version is missing, damaged, built with another model, or fails a smoke search.
    """
    try:
        index = load_index(root)
        replacement = Searcher(index, served.encoder, served.weights, served.query_languages)
    except ArtifactError as exc:  # ModelMismatchError included
        raise ReloadRefused(f"the current index of {root} cannot be served: {exc}") from exc
    _smoke_search(replacement)
    return replacement


def _smoke_search(searcher: Searcher) -> None:
    """Search the new index end to end with one of its own passages as the query.

    Loading checks the files' shapes; this catches what only a search shows (vectors that
    do not search, offsets that point nowhere) before any client depends on it. Any
    exception is a refusal: nothing that fails here may be served.
    """
    version = searcher.index.version
    if not searcher.index.passages:
        raise ReloadRefused(f"index version {version} has no passages")
    probe = searcher.index.passages[0].text[:_PROBE_CHARS]
    try:
        hits = searcher.search(probe, k=1).hits
    except Exception as exc:
        raise ReloadRefused(
            f"index version {version} fails a test search ({type(exc).__name__}: {exc})"
        ) from exc
    if not hits or not math.isfinite(hits[0].score):
        raise ReloadRefused(f"index version {version} returns no usable result for a test search")
