"""Query-encoder speed: sentence-transformers (torch fp32) against ONNX Runtime fp32 and int8.

Prints a Markdown table: single-query latency p50/p95 and CPU time (all threads), throughput for
batches of 8 and 16, cosine to the torch vectors, and the load time and peak RSS of a fresh
process that only loads that encoder and embeds one query. With ``--export`` it also times a
fresh export (into a hard-linked copy of the model folder, so the cached export is untouched).

    .venv/bin/python bench/encoder_speed.py [--queries ../shared/eval/dev.jsonl] [--rounds 20]

Encoders are measured in turns within each round, so load from other processes spreads evenly;
the share of CPU other processes used meanwhile is printed, since on two cores it changes the
figures several-fold (multi-threaded torch collapses when a core is busy).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.embedding.model import ResolvedModel, resolve_model  # noqa: E402
from indexer.embedding.onnx_export import ONNX_DIR, export_onnx  # noqa: E402
from indexer.settings import Settings  # noqa: E402

FALLBACK_QUERIES = [
    "Qui a été élu Président d'INTERPOL en 2021 ?",
    "How many member countries does INTERPOL have?",
    "¿Qué es la aplicación ID-Art para obras de arte robadas?",
    "Welche Operationen gab es gegen Cyberkriminalität?",
]
# name -> (backend, quantized, threads); threads None = the encoder's default.
ENCODERS: dict[str, tuple[str, bool, int | None]] = {
    "sentence-transformers, torch fp32": ("torch", False, None),
    "ORT fp32, 1 thread": ("onnx", False, 1),
    "ORT fp32, 2 threads": ("onnx", False, 2),
    "ORT int8, 1 thread": ("onnx", True, 1),
    "ORT int8, 2 threads": ("onnx", True, 2),
}
# Run in a fresh interpreter, so load time and peak RSS are those of a process doing only this:
# "export DIR", or "load MODEL BACKEND QUANTIZED THREADS" and embed one query.
_PROBE = """
import sys, time
from pathlib import Path
started = time.perf_counter()
if sys.argv[1] == "export":
    from indexer.embedding.onnx_export import export_onnx
    export_onnx(Path(sys.argv[2]))
else:
    from indexer.embedding.model import resolve_model
    from indexer.settings import Settings
    model = resolve_model(Settings(model=sys.argv[2]))
    if sys.argv[3] == "torch":
        from indexer.embedding.encoder import Encoder
        encoder = Encoder(model)
    else:
        from indexer.embedding.onnx_encoder import OnnxQueryEncoder
        encoder = OnnxQueryEncoder(model, quantized=sys.argv[4] == "1", threads=int(sys.argv[5]))
    encoder.encode_queries(["query"])
# VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec.
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(time.perf_counter() - started, peak.split()[1])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=Path, default=ROOT.parent / "shared/eval/dev.jsonl")
    parser.add_argument("--rounds", type=int, default=20, help="passes over the queries")
    parser.add_argument("--model", default="", help="REPORT_MODEL value (empty: default model)")
    parser.add_argument("--export", action="store_true", help="also time a fresh export")
    args = parser.parse_args()

    model = resolve_model(Settings(model=args.model))
    if model.local_path is None:
        parser.error("the ONNX encoders need a local model folder")
    queries = _read_queries(args.queries)
    print(f"{len(queries)} queries, {args.rounds} rounds, load average {_load()}\n")
    if args.export:
        _report_export(model.local_path)
    else:
        export_onnx(model.local_path)  # make sure the measured encoders do not export

    encoders = {name: _make(model, *spec) for name, spec in ENCODERS.items()}
    samples: dict[str, dict[str, list[float]]] = {
        name: {"single": [], "cpu": [], "8": [], "16": []} for name in encoders
    }
    before = _cpu_ticks()
    for _ in range(args.rounds):
        for name, encoder in encoders.items():
            for query in queries:
                cpu = time.process_time()
                samples[name]["single"].append(_timed(encoder, [query]))
                samples[name]["cpu"].append(time.process_time() - cpu)
            for size in (8, 16):
                for start in range(0, len(queries) - size + 1, size):
                    seconds = _timed(encoder, queries[start : start + size])
                    samples[name][str(size)].append(size / seconds)

    others = _others_share(before, _cpu_ticks())
    print(f"Other processes used {others:.0%} of the CPUs while timing (0 % = a quiet machine).\n")
    reference = encoders["sentence-transformers, torch fp32"](queries)
    print(
        "| encoder | 1 query p50 | p95 | CPU per query | batch 8 | batch 16 "
        "| cosine to torch mean / min | load (fresh process) | peak RSS |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, encoder in encoders.items():
        single = np.array(samples[name]["single"]) * 1000
        cosines = (encoder(queries).astype(np.float64) * reference).sum(axis=1)
        backend, quantized, threads = ENCODERS[name]
        load, rss = _probe("load", args.model, backend, str(int(quantized)), str(threads or 1))
        print(
            f"| {name} | {np.median(single):.1f} ms | {np.percentile(single, 95):.1f} ms "
            f"| {np.mean(samples[name]['cpu']) * 1000:.1f} ms "
            f"| {np.median(samples[name]['8']):.0f} q/s | {np.median(samples[name]['16']):.0f} q/s "
            f"| {cosines.mean():.4f} / {cosines.min():.4f} | {load:.1f} s | {rss / 1024:.0f} MB |"
        )


def _make(
    model: ResolvedModel, backend: str, quantized: bool, threads: int | None
) -> Callable[[list[str]], np.ndarray]:
    if backend == "torch":
        from indexer.embedding.encoder import Encoder

        return Encoder(model).encode_queries
    from indexer.embedding.onnx_encoder import OnnxQueryEncoder

    return OnnxQueryEncoder(model, quantized=quantized, threads=threads).encode_queries


def _timed(encode: Callable[[list[str]], np.ndarray], queries: list[str]) -> float:
    started = time.perf_counter()
    encode(queries)
    return time.perf_counter() - started


def _probe(*args: str) -> tuple[float, float]:
    """Seconds and peak RSS (KiB) of a fresh process running ``_PROBE`` with ``args``."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    seconds, rss = result.stdout.split()[-2:]
    return float(seconds), float(rss)


def _report_export(model_dir: Path) -> None:
    """Time a fresh export in a fresh process, on a hard-linked copy of the model folder."""
    with tempfile.TemporaryDirectory(dir=model_dir.parent, prefix=".bench-") as scratch:
        copy = Path(scratch) / model_dir.name
        shutil.copytree(
            model_dir, copy, ignore=shutil.ignore_patterns("*onnx*"), copy_function=os.link
        )
        seconds, rss = _probe("export", str(copy))
        manifest = json.loads((copy / ONNX_DIR / "export.json").read_text(encoding="utf-8"))
        sizes = {
            path.name: path.stat().st_size / 1e6 for path in sorted((copy / ONNX_DIR).iterdir())
        }
    weights = sum(path.stat().st_size for path in model_dir.glob("*.safetensors")) / 1e6
    print(
        f"Export + quantisation: {seconds:.1f} s wall (torch import included), peak RSS "
        f"{rss / 1024:.0f} MB; verification cosine {manifest['verification']}\n"
    )
    print("| file | size |\n|---|---|")
    print(f"| model.safetensors (source) | {weights:.0f} MB |")
    for name, size in sizes.items():
        print(
            f"| onnx/{name} | {size:.1f} MB |" if size < 1 else f"| onnx/{name} | {size:.0f} MB |"
        )
    print()


def _read_queries(path: Path) -> list[str]:
    if not path.is_file():
        print(f"{path} not found: using {len(FALLBACK_QUERIES)} built-in queries")
        return FALLBACK_QUERIES
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["query"] for line in lines if line.strip()]


def _cpu_ticks() -> tuple[int, int, int]:
    """Machine-wide total and busy CPU ticks, and this process's own (all threads)."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    own = int(fields[11]) + int(fields[12])  # utime + stime
    return sum(values), sum(values) - values[3] - values[4], own  # minus idle and iowait


def _others_share(before: tuple[int, int, int], after: tuple[int, int, int]) -> float:
    """Share of all CPUs that other processes used between two ``_cpu_ticks`` readings."""
    total, busy, own = (end - start for start, end in zip(before, after, strict=True))
    return max(busy - own, 0) / max(total, 1)


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
