"""File chores shared by model provisioning and the ONNX export: hashing large files, and
removing what crashed runs left behind. Both write big folders (hundreds of MB to 1.5 GB) by
staging them next to their final place."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
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


def replace_folder(
    staging: Path, target: Path, is_current: Callable[[], bool], ours: Callable[[], bool]
) -> bool:
    """Rename ``staging`` to ``target``; False if that keeps failing.

    A ``target`` already there that ``is_current`` accepts was put there by a concurrent run
    (it won the race with an equivalent folder). One that is ``ours`` but outdated is moved
    aside and deleted (readers holding its files keep them until closed); anything else
    there is not ours to delete, and its OSError is raised.
    """
    for _ in range(2):
        try:
            os.replace(staging, target)
            return True
        except OSError:
            if is_current():
                return True
            if not ours():
                raise
            # Named like the run's staging folders, so remove_stale_folders finds it too.
            aside = Path(
                tempfile.mkdtemp(prefix=f".{target.name}-", suffix=".old", dir=target.parent)
            )
            with suppress(FileNotFoundError):  # a concurrent run moved it first
                os.replace(target, aside / "stale")
            shutil.rmtree(aside, ignore_errors=True)
    return False
