"""``export.json``: what an ONNX export was made from, and whether it still fits its model.

Why: the export takes a minute and the service checks it at every start, so that check must
be cheap and must never trust a damaged folder. The manifest records the export recipe and tool
versions (decided by ``onnx_export``), the size of each ONNX file, and the source files
(config and weights) by size, mtime and one SHA-256. Matching sizes and mtimes are trusted; when
only the mtimes differ (a copy of the cache), the checksum decides and the new mtimes are
recorded, so the 0.5 GB of weights are hashed once rather than at every start. A manifest that
cannot be read, or lacks what this module writes, makes the export count as outdated: it is
redone, never reported as a fault of the model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from indexer.durable import fsync_file
from indexer.embedding.files import hash_file
from indexer.embedding.onnx_layout import OnnxExportError

logger = logging.getLogger(__name__)

MANIFEST = "export.json"
_WEIGHT_SUFFIXES = (".safetensors", ".bin")

# Size and mtime (ns) of each source file, by name.
SourceStats = dict[str, list[int]]


def is_current(
    folder: Path,
    transformer_dir: Path,
    stats: SourceStats,
    expected: dict[str, Any],
    files: Sequence[str],
) -> bool:
    """Whether ``folder`` holds ``files``, whole, made from these source files, and its manifest
    has the ``expected`` values (recipe, tool versions)."""
    manifest = _read_manifest(folder / MANIFEST)
    if manifest is None:
        return False
    if any(manifest.get(key) != value for key, value in expected.items()):
        return False
    if not all((folder / name).is_file() for name in files):
        return False
    # A file cut short (an interrupted copy of the cache) would fail to load at every start,
    # and the service would quietly fall back to the slower encoder.
    if manifest.get("outputs") != output_sizes(folder):
        return False
    source = manifest["source"]
    # Same sizes and mtimes: trust the recorded checksum rather than re-reading ~0.5 GB.
    if source["files"] == stats:
        return True
    if source["sha256"] != _sha256(transformer_dir, stats):
        return False
    _record_stats(folder / MANIFEST, manifest, stats)
    return True


def source_stats(transformer_dir: Path) -> SourceStats:
    """Size and mtime of the files the graph is made from (config and weights)."""
    weights = sorted(
        path.name for path in transformer_dir.iterdir() if path.suffix in _WEIGHT_SUFFIXES
    )
    if not weights:
        raise OnnxExportError(
            f"{transformer_dir} has no weights (*.safetensors or *.bin). Provision the model "
            "again (delete its folder) or fix REPORT_MODEL."
        )
    stats = {}
    for name in ["config.json", *weights]:
        status = (transformer_dir / name).stat()
        stats[name] = [status.st_size, status.st_mtime_ns]
    return stats


def source_record(transformer_dir: Path, stats: SourceStats) -> dict[str, Any]:
    """The manifest's ``source``: the files' checksum and their ``stats``."""
    return {"sha256": _sha256(transformer_dir, stats), "files": stats}


def output_sizes(folder: Path) -> dict[str, int]:
    """Size of each ONNX file of an export, recorded in its manifest and checked at use."""
    return {path.name: path.stat().st_size for path in sorted(folder.glob("*.onnx"))}


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write ``export.json`` aside and rename it into place: a reader never sees half of it."""
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    partial = Path(name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(manifest, indent=2) + "\n")
        fsync_file(partial)
        partial.chmod(0o644)  # mkstemp's 0600 would hide a shared cache's manifest from others
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)  # only left when something failed before the rename


def _read_manifest(path: Path) -> dict[str, Any] | None:
    """``export.json`` if it has the shape this module writes, else None.

    An empty or cut-short manifest (a full disk, an interrupted copy of the cache) only means
    the export is redone, like a cut-short ONNX file: the folder is ours to replace.
    """
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    source = manifest.get("source") if isinstance(manifest, dict) else None
    if not isinstance(source, dict):
        return None
    if not isinstance(source.get("sha256"), str) or not isinstance(source.get("files"), dict):
        return None
    return manifest


def _record_stats(path: Path, manifest: dict[str, Any], stats: SourceStats) -> None:
    """Record the source files' new sizes and mtimes once their checksum has matched.

    A copy of the model folder that did not keep file times would otherwise hash ~0.5 GB again
    at every start. A folder that cannot be written (a read-only shared cache) keeps working:
    only slower.
    """
    try:
        write_manifest(path, {**manifest, "source": {**manifest["source"], "files": stats}})
    except OSError as exc:
        logger.info("cannot record the model files' new times in %s (%s)", path, exc)


def _sha256(transformer_dir: Path, stats: SourceStats) -> str:
    """One digest over the source files, in name order."""
    digest = hashlib.sha256()
    for name in sorted(stats):
        path = transformer_dir / name
        if not path.is_file():
            return ""
        digest.update(name.encode())
        hash_file(digest, path)
    return digest.hexdigest()
