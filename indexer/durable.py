"""Crash-safe file operations shared by everything that writes into an index root.

A version folder, the ``current`` pointer and the embedding cache are each written aside,
synced, then renamed into place, under a lock so two builds of one root never interleave.
The sync and lock steps are the same for all three; they live here once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


def fsync_file(path: Path) -> None:
    """Flush a written file's data to disk (before it is renamed into place or referenced)."""
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(folder: Path) -> None:
    """Flush ``folder``'s entries, so a rename inside it survives a crash."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def exclusive_lock(path: Path, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) while inside.

    Without ``wait``, a lock held elsewhere raises BlockingIOError at once. The lock dies
    with its process, so a killed writer never leaves a root locked.
    """
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
