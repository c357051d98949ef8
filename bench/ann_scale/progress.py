"""Progress messages for a run that takes tens of minutes."""

from __future__ import annotations

import sys
import time


def log(message: str) -> None:
    """Progress on stderr with elapsed time, so a long run can be watched and timed."""
    print(f"[{time.perf_counter() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


_T0 = time.perf_counter()
