"""Index build benchmark: a cold build and an unchanged rebuild, with peak memory.

Each build runs as its own `report-index build` process, so its peak RSS is its own.

    python -m bench.build_index --corpus corpus
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import RESULTS, machine
from indexer.artifact import read_manifest

# Runs the CLI in a child that reports its own peak RSS (RUSAGE_CHILDREN would mix builds).
_CHILD = """
import resource, sys
from indexer.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def timed_build(corpus: Path, out: Path, force: bool) -> dict[str, float]:
    """Seconds and peak RSS (MiB) of one build process."""
    command = [sys.executable, "-c", _CHILD, "build", "--corpus", str(corpus), "--out", str(out)]
    command += ["--force"] if force else []
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return {"seconds": seconds, "peak_rss_mib": peak_kib / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--out", type=Path, default=RESULTS / "build.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        index = Path(folder) / "index"
        cold = timed_build(args.corpus, index, force=True)
        unchanged = timed_build(args.corpus, index, force=False)
        passages = read_manifest(index).passage_count
    result = {"machine": machine(), "passages": passages, "cold": cold, "unchanged": unchanged}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
