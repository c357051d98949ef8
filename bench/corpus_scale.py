"""How do loading and ranking grow with the number of reports in one index?

``bench.ann_scale`` measures FAISS alone on synthetic vectors; this one measures the whole
searcher: what it reads at load (keyword index, query-language vocabulary, filter columns)
and what a request costs beyond FAISS (filters, candidate scoring, near-duplicate skipping),
on an index of many reports. The reports are the real index's passages repeated ``R`` times
as separate documents ("editions"), each copy's vectors nudged by a little noise so that
copies are near-duplicates, as yearly editions of a report often are: the hardest case for
returning ``k`` distinct passages. No model runs at build time, so 1,000 editions (84,000
passages) take minutes, not hours; queries are encoded once with the service's encoder.

Run::

    .venv/bin/python -m bench.corpus_scale --index index --editions 1 10 100 1000
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import time
from pathlib import Path

import numpy as np

from bench.common import RESULTS, machine, percentiles, save_result
from indexer import ann
from indexer.artifact import LoadedIndex, SentenceVectors, load_index
from indexer.embedding.model import resolve_model
from indexer.settings import get_settings
from service.query_encoder import load_query_encoder
from service.retrieval.filters import SearchFilters
from service.searcher import Searcher

QUERIES = Path(__file__).resolve().parents[1] / "tests" / "data" / "queries_extra.jsonl"
# Noise added to each edition's passage vectors (then normalised): a passage's copies stay
# at cosine ~0.985 of each other (measured, in the results), above the 0.97 at which the
# searcher skips near-duplicates, so that each request has to look past copies.
NOISE = 0.006


def editions(base: LoadedIndex, count: int, seed: int = 0) -> LoadedIndex:
    """``base`` repeated ``count`` times as separate documents."""
    rng = np.random.default_rng(seed)
    vectors = base.vectors.reconstruct_n(0, base.vectors.ntotal)
    passages, blocks = [], []
    sentence_count = len(base.sentences.vectors)
    offsets = [base.sentences.offsets[:-1] + c * sentence_count for c in range(count)]
    for c in range(count):
        passages += [
            dataclasses.replace(p, document=f"{p.document}-e{c}", id=f"{p.id}-e{c}")
            for p in base.passages
        ]
        noisy = vectors + rng.normal(0, NOISE, vectors.shape).astype(np.float32)
        blocks.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
    all_vectors = np.concatenate(blocks)
    spec = ann.choose(len(all_vectors))
    index = ann.build(all_vectors, spec)
    ann.prepare(index, spec)
    documents = tuple(
        dataclasses.replace(d, id=f"{d.id}-e{c}")
        for c in range(count)
        for d in base.manifest.documents
    )
    manifest = dataclasses.replace(
        base.manifest,
        documents=documents,
        passage_count=len(passages),
        faiss_index=spec.factory,
        faiss_nprobe=spec.nprobe,
    )
    sentences = SentenceVectors(
        np.concatenate([base.sentences.vectors] * count),
        np.concatenate([base.sentences.spans] * count),
        np.concatenate([*offsets, [count * sentence_count]]),
    )
    return LoadedIndex(manifest, tuple(passages), index, sentences, np.tile(base.hubness, count))


def copy_cosine(vectors: np.ndarray, size: int) -> dict[str, float] | None:
    """Mean and least cosine of each edition's passages to the first edition's copies of
    them (all noisy alike: as close as any two copies)."""
    if len(vectors) <= size:
        return None
    first = np.tile(vectors[:size], (len(vectors) // size - 1, 1))
    cosines = np.sum(first * vectors[size:], axis=1)
    return {"mean": round(float(cosines.mean()), 4), "min": round(float(cosines.min()), 4)}


def measure(searcher: Searcher, queries: list[str]) -> dict[str, object]:
    """Ranking latency (encoder excluded) and the fewest results, per kind of request."""
    last = searcher.index.passages[-1].document
    kinds = {
        "k=10": (10, SearchFilters()),
        "k=50": (50, SearchFilters()),
        "k=10, one report": (10, SearchFilters(document=last)),
        "k=10, one report, pages 5-12": (10, SearchFilters(document=last, page_min=5, page_max=12)),
        "k=10, section 'opération'": (10, SearchFilters(section="opération")),
    }
    # What the encoder reads of a query does not hang on k or the filters: encoded once.
    encoded = {q: searcher.encoder.encode_queries(list(searcher.prepare(q).texts)) for q in queries}
    out: dict[str, object] = {}
    for name, (k, filters) in kinds.items():
        times, fewest = [], k
        for query in queries:
            request = searcher.prepare(query, k, filters)
            vectors = encoded[query]
            started = time.perf_counter()
            result = searcher.rank(request, vectors)
            times.append((time.perf_counter() - started) * 1000)
            fewest = min(fewest, len(result.hits))
        out[name] = {"ms": percentiles(times), "fewest_results": fewest}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--editions", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    settings = get_settings()
    base = load_index(args.index)
    encoder = load_query_encoder(resolve_model(settings), settings.query_backend, 16)
    queries = [json.loads(line)["query"] for line in QUERIES.read_text("utf-8").splitlines()]
    rows = []
    for count in args.editions:
        index = editions(base, count)
        gc.collect()
        started = time.perf_counter()
        searcher = Searcher(index, encoder, query_languages=settings.query_languages)
        load_s = time.perf_counter() - started
        copies = index.vectors.reconstruct_n(0, len(index.passages))
        rows.append(
            {
                "editions": count,
                "passages": len(index.passages),
                "copy_cosine": copy_cosine(copies, len(base.passages)),
                "faiss_index": index.manifest.faiss_index,
                "searcher_load_s": round(load_s, 2),
                "requests": measure(searcher, queries),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        del searcher, index
    save_result(
        args.out / "corpus_scale.json",
        {"machine": machine(), "queries": len(queries), "noise": NOISE, "rows": rows},
    )


if __name__ == "__main__":
    main()
