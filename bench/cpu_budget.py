"""Where the CPU of a request goes, and the most the encoder alone could serve on this machine.

Throughput on 2 cores is bounded by CPU time per request, not by waiting. This measures:

1. the encoder's own ceiling: the ONNX int8 query encoder with nothing else running, one query
   per call, two calls in flight (as the service runs it), on the benchmark's distinct queries;
2. a closed loop of 16 clients against `report-search serve`: CPU seconds the server process
   and the load generator spend per request (from /proc and getrusage), and the throughput.

    python -m bench.cpu_budget --index index
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import RESULTS, distinct_queries, machine, save_result
from bench.http_load import closed_loop, free_port, running_server
from indexer.embedding.model import resolve_model
from indexer.embedding.onnx_encoder import OnnxQueryEncoder
from indexer.settings import Settings
from indexer.versions import resolve


def encoder_ceiling(queries: list[str], workers: int = 2) -> float:
    """Queries per second of the int8 encoder alone, ``workers`` single-query calls in flight."""
    encoder = OnnxQueryEncoder(resolve_model(Settings()), quantized=True)
    for query in queries[:10]:
        encoder.encode_queries([query])
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda q: encoder.encode_queries([q]), queries))
    return len(queries) / (time.perf_counter() - started)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, default=RESULTS / "cpu_budget.json")
    args = parser.parse_args()
    queries = distinct_queries(resolve(args.index) / "passages.jsonl", args.requests + 400)
    ceiling = encoder_ceiling(queries[-400:])
    port = free_port()
    with running_server(args.index, port) as (base, pid):
        asyncio.run(closed_loop(base, queries[:50], 4))  # warm-up
        server_before, client_before = process_cpu_seconds(pid), own_cpu_seconds()
        run = asyncio.run(closed_loop(base, queries[50 : 50 + args.requests], args.concurrency))
        server_after, client_after = process_cpu_seconds(pid), own_cpu_seconds()
    count = int(run["requests"])  # type: ignore[call-overload]
    result = {
        "machine": machine(),
        "encoder_alone_qps": ceiling,
        "concurrency": args.concurrency,
        "throughput_rps": run["throughput_rps"],
        "errors": run["errors"],
        "server_cpu_ms_per_request": (server_after - server_before) * 1000 / count,
        "client_cpu_ms_per_request": (client_after - client_before) * 1000 / count,
    }
    save_result(args.out, result)


if __name__ == "__main__":
    main()
