"""A peer side by side: txtai with the same model folder and the same passages.

Both systems search the passages of our index with the model `/stats` reports, in one
process, one after the other: query latency (one query at a time), throughput (the best
each offers: our serving engine, all queries at once, vs txtai's `batchsearch`), and dev-set R@5.

    python -m bench.txtai_peer --index index
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.common import RESULTS, distinct_queries, eval_queries, machine, percentiles, save_result
from indexer.artifact import read_passages
from indexer.passage import Passage
from indexer.settings import Settings
from indexer.versions import resolve
from service.engine import SearchEngine
from service.evaluation import EvalQuery, evaluate
from service.retrieval.filters import SearchFilters
from service.retrieval.ranking import Mode
from service.searcher import Searcher


def latency(search: Callable[[str], object], queries: list[str]) -> dict[str, float]:
    samples = []
    for query in queries:
        started = time.perf_counter()
        search(query)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def recall_at_5(retrieve: Callable[[str], Sequence[Passage]]) -> float | None:
    queries = [EvalQuery.model_validate(q) for q in eval_queries() if str(q["id"]).startswith("d")]
    if not queries:
        return None
    return evaluate(queries, retrieve)["all"].recall_at_5


def ours(index: Path, queries: list[str]) -> dict[str, object]:
    searcher = Searcher.open(Settings(), index)
    for query in queries[:10]:
        searcher.search(query)
    engine = SearchEngine.configured(searcher, Settings(cache_size=0))

    async def concurrent() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(engine.search(q, 5, SearchFilters(), Mode.HYBRID) for q in queries))
        return len(queries) / (time.perf_counter() - started)

    return {
        "model_path": str(searcher.encoder.path),
        "latency_ms": latency(lambda q: searcher.search(q, k=5), queries),
        "throughput_qps": asyncio.run(concurrent()),
        "dev_recall_at_5": recall_at_5(
            lambda q: [h.passage for h in searcher.search(q, k=10).hits]
        ),
    }


def txtai(model_path: str, passages: list[Passage], queries: list[str]) -> dict[str, object]:
    from txtai import Embeddings

    started = time.perf_counter()
    embeddings = Embeddings(
        path=model_path,
        content=True,
        backend="faiss",
        instructions={"query": "query: ", "data": "passage: "},
    )
    embeddings.index([(p.id, f"{p.section}\n{p.text}", None) for p in passages])
    index_seconds = time.perf_counter() - started
    by_id = {p.id: p for p in passages}
    for query in queries[:10]:
        embeddings.search(query, 5)
    started = time.perf_counter()
    for offset in range(0, len(queries), 16):
        embeddings.batchsearch(queries[offset : offset + 16], 5)
    throughput = len(queries) / (time.perf_counter() - started)
    return {
        "index_seconds": index_seconds,
        "latency_ms": latency(lambda q: embeddings.search(q, 5), queries),
        "throughput_qps": throughput,
        "dev_recall_at_5": recall_at_5(
            lambda q: [by_id[r["id"]] for r in embeddings.search(q, 10)]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS / "txtai.json")
    args = parser.parse_args()
    passages = list(read_passages(resolve(args.index)))
    queries = distinct_queries(resolve(args.index) / "passages.jsonl", args.queries, seed=1)
    result_ours = ours(args.index, queries)
    result = {
        "machine": machine(),
        "ours": result_ours,
        "txtai": txtai(str(result_ours["model_path"]), passages, queries),
    }
    save_result(args.out, result)


if __name__ == "__main__":
    main()
