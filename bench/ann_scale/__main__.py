"""Command line: ``python -m bench.ann_scale`` measures, ``--replot`` only redraws."""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import faiss

from bench import ann_scale
from bench.ann_scale.plot import plot
from bench.ann_scale.progress import log
from bench.ann_scale.run import Plan, Row, machine_description, run_size
from bench.ann_scale.summary import markdown_table, summarise
from bench.ann_scale.synthetic import SyntheticCorpus, SyntheticSpec, data_profile

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def replot(out: Path) -> int:
    """Redraw plots and table from a saved ``ann_scale.json`` without re-measuring."""
    saved = json.loads((out / "ann_scale.json").read_text())
    rows = [Row(**{k: v for k, v in r.items() if k != "label"}) for r in saved["results"]]
    target = saved["summary"]["target"]
    plot(rows, out, target["recall_at_10"], target["p50_ms"])
    table = markdown_table([r for r in rows if r.sweep == "main"], saved["args"]["k"])
    (out / "ann_scale.md").write_text(table + "\n")
    print(table)
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=ann_scale.__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--seed", type=int, default=SyntheticSpec.seed)
    p.add_argument("--hnsw-m", type=int, default=32)
    p.add_argument(
        "--ef-construction",
        type=int,
        default=80,
        help="HNSW efConstruction up to --large-n vectors",
    )
    p.add_argument(
        "--ef-construction-large",
        type=int,
        default=80,
        help="HNSW efConstruction above --large-n (keeps the 1M build affordable)",
    )
    p.add_argument("--large-n", type=int, default=200_000)
    p.add_argument("--ef-search", type=int, nargs="+", default=[16, 32, 64, 128, 256, 512, 1024])
    p.add_argument("--nprobe", type=int, nargs="+", default=[8, 16, 32, 64])
    p.add_argument("--nprobe-pq", type=int, nargs="+", default=[16, 64])
    p.add_argument("--pq-m", type=int, default=48, help="IVF-PQ sub-quantizers (8 dims each)")
    p.add_argument(
        "--families",
        nargs="+",
        choices=["flat", "hnsw", "ivf", "ivfpq"],
        default=["flat", "hnsw", "ivf", "ivfpq"],
        help="index families of the main sweep (Flat is always built: it gives ground truth)",
    )
    p.add_argument(
        "--centres",
        type=int,
        default=SyntheticSpec.n_centres,
        help="cluster centres of the synthetic corpus (data-shape sensitivity)",
    )
    p.add_argument(
        "--ivf-train-per-list", type=int, default=20, help="k-means training points per IVF list"
    )
    p.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, 2],
        help="FAISS thread counts for the single-query latency runs",
    )
    p.add_argument(
        "--build-threads",
        type=int,
        default=2,
        help="FAISS threads for builds, ground truth and recall batches",
    )
    p.add_argument(
        "--latency-budget",
        type=float,
        default=15.0,
        help="seconds per latency run before sampling stops early (min 30 queries)",
    )
    p.add_argument(
        "--service-k",
        type=int,
        default=100,
        help="also time k=service-k at 1 thread (the searcher fetches 100 candidates); 0 disables",
    )
    p.add_argument(
        "--crossover-sizes",
        type=int,
        nargs="*",
        default=[500, 1000, 2000, 5000, 20_000],
        help="extra small sizes with Flat and HNSW only, to locate the size below "
        "which exact search is as fast",
    )
    p.add_argument("--crossover-queries", type=int, default=500)
    p.add_argument(
        "--crossover-repeats",
        type=int,
        default=3,
        help="latency runs per crossover setting, lowest p50 kept (they are cheap, and noise "
        "decides a close race)",
    )
    p.add_argument(
        "--replot", action="store_true", help="only redraw plots/table from --out's JSON"
    )
    p.add_argument("--target-recall", type=float, default=0.95)
    p.add_argument("--target-p50-ms", type=float, default=5.0)
    p.add_argument(
        "--real-index",
        type=Path,
        default=PROJECT_ROOT / "index",
        help="folder with vectors.faiss whose statistics are recorded for comparison, if it exists",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.replot:
        return replot(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    load_start = os.getloadavg()
    spec = SyntheticSpec(seed=args.seed, n_centres=args.centres)
    n_max = max([*args.sizes, *args.crossover_sizes])
    log(f"generating {n_max:,} synthetic {spec.dim}-d vectors")
    corpus = SyntheticCorpus(spec, n_max)
    log("generated")

    families = tuple(args.families)
    rows: list[Row] = []
    profiles: dict[str, dict[str, float]] = {}
    for n in sorted(args.crossover_sizes):
        plan = Plan(
            "crossover",
            ("flat", "hnsw"),
            (1,),
            args.crossover_queries,
            args.service_k,
            args.crossover_repeats,
        )
        rows += run_size(corpus, n, plan, args)[0]
    for n in sorted(args.sizes):
        plan = Plan("main", families, tuple(args.threads), args.queries, args.service_k)
        size_rows, profiles[str(n)] = run_size(corpus, n, plan, args)
        rows += size_rows

    real_file = args.real_index / "vectors.faiss"
    if real_file.exists():
        real = faiss.read_index(str(real_file))
        profiles["real:" + str(real_file)] = data_profile(real.reconstruct_n(0, real.ntotal))

    summary = summarise(rows, args.target_recall, args.target_p50_ms, args.k)
    result = {
        "benchmark": "ann_scale",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "wall_seconds": round(time.time() - started, 1),
        "machine": machine_description(),
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "synthetic_spec": asdict(spec),
        "data_profile": profiles,
        "summary": summary,
        "results": [{**asdict(r), "label": r.label} for r in rows],
    }
    (args.out / "ann_scale.json").write_text(json.dumps(result, indent=2, default=float))
    plot(rows, args.out, args.target_recall, args.target_p50_ms)
    table = markdown_table([r for r in rows if r.sweep == "main"], args.k)
    (args.out / "ann_scale.md").write_text(table + "\n")
    print(table)
    print()
    print(json.dumps(summary, indent=2, default=float))
    log(f"done in {time.time() - started:.0f}s; results in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
