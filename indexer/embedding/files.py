"""File chores shared by model provisioning and the ONNX export: hashing large files, and
removing what crashed runs left behind. Both write big folders (hundreds of MB to 1.5 GB) by
staging them next to their final place."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

# A staging folder older than this belongs to a run that died (a live one is minutes old).
STALE_SECONDS = 3600.0


def hash_file(digest: Any, path: Path) -> None:
    """Feed ``path`` to ``digest`` (a hashlib object) in chunks: weights never sit in memory."""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)


def remove_stale_folders(parent: Path, pattern: str) -> None:
    """Delete the folders of ``parent`` matching ``pattern`` untouched for an hour."""
    cutoff = time.time() - STALE_SECONDS
    for path in parent.glob(pattern):
        try:
            if path.is_dir() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue
