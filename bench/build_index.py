"""Index build benchmark: cold build, unchanged rebuild and add-one-document rebuild, with memory.

Each build runs as its own `report-index build` process, so its peak RSS is its own. The
corpus is copied, so adding a small document leaves the real one alone; that rebuild embeds
only the new document's texts (the rest comes from the embedding cache) but loads the model.

    python -m bench.build_index --corpus corpus
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import RESULTS, machine, save_result
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


# A short report added to the corpus: two pages (URL blocks close them), a few passages.
_ADDED_DOCUMENT = """\
NOTE SUR LA CYBERCRIMINALITÉ

Les pays membres ont signalé une hausse des attaques par rançongiciel contre les hôpitaux.
Les équipes d'INTERPOL ont aidé les enquêteurs à retracer les paiements en cryptomonnaie.
https://www.interpol.int/fr/Actualites/Note-cyber

UNE OPÉRATION CONJOINTE

Une opération menée dans quatre pays a permis l'arrestation de douze suspects et la saisie
de serveurs utilisés pour diffuser des logiciels malveillants.
https://www.interpol.int/fr/Actualites/Operation-conjointe
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--out", type=Path, default=RESULTS / "build.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        corpus, index = Path(folder) / "corpus", Path(folder) / "index"
        shutil.copytree(args.corpus, corpus)
        cold = timed_build(corpus, index, force=True)
        unchanged = timed_build(corpus, index, force=False)
        passages = read_manifest(index).passage_count
        (corpus / "bench-added-note.txt").write_text(_ADDED_DOCUMENT, "utf-8")
        added = timed_build(corpus, index, force=False)
        added["passages_added"] = read_manifest(index).passage_count - passages
    result = {
        "machine": machine(),
        "passages": passages,
        "cold": cold,
        "unchanged": unchanged,
        "add_one_document": added,
    }
    save_result(args.out, result)


if __name__ == "__main__":
    main()
