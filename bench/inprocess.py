"""In-process benchmark: query encoding, ranking and total search time, one query at a time.

python -m bench.inprocess --index index --queries 300
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import RESULTS, distinct_queries, machine, percentiles, save_result
from indexer.settings import Settings
from indexer.versions import resolve
from service.retrieval.ranking import Mode
from service.searcher import Searcher


def measure(searcher: Searcher, queries: list[str], mode: Mode) -> dict[str, object]:
    """Encode, rank and total milliseconds per query."""
    encode, rank, total = [], [], []
    for query in queries:
        started = time.perf_counter()
        request = searcher.prepare(query, 5, None, mode)
        vectors = searcher.encoder.encode_queries(list(request.texts))
        encoded = time.perf_counter()
        searcher.rank(request, vectors)
        done = time.perf_counter()
        encode.append((encoded - started) * 1000)
        rank.append((done - encoded) * 1000)
        total.append((done - started) * 1000)
    return {
        "mode": mode.value,
        "encode_ms": percentiles(encode),
        "rank_ms": percentiles(rank),
        "total_ms": percentiles(total),
    }


def _fresh(searcher: Searcher) -> Searcher:
    return Searcher(searcher.index, searcher.encoder, searcher.weights, searcher.query_languages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", type=Path, default=RESULTS / "inprocess.json")
    args = parser.parse_args()
    started = time.perf_counter()
    searcher = Searcher.open(Settings(), args.index)
    load_s = time.perf_counter() - started
    queries = distinct_queries(resolve(args.index) / "passages.jsonl", args.queries)
    for query in queries[:10]:  # warm-up
        searcher.search(query)
    result = {
        "machine": machine(),
        "encoder": type(searcher.encoder).__name__,
        "load_seconds": load_s,
        "passages": len(searcher.index.passages),
        # Each mode gets a searcher of its own over the same index and encoder: the keyword
        # scorer caches what each unknown word stands for, and the first mode would fill that
        # cache for the others.
        "runs": [measure(_fresh(searcher), queries, mode) for mode in Mode],
    }
    save_result(args.out, result)


if __name__ == "__main__":
    main()
