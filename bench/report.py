"""Write BENCHMARKS.md (and the HTTP plot) from the JSON files the benchmarks left.

python -m bench.report
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT
from indexer import ann as ann_choice

COMMAND = "make bench   # = the commands listed in each section, then python -m bench.report"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _ms(stats: dict[str, float]) -> str:
    return f"{stats['p50']:.1f} / {stats['p95']:.1f} / {stats['p99']:.1f}"


def plot_http(http: dict[str, Any], out: Path) -> None:
    """Latency percentiles and throughput against concurrency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = http["closed_loop"]
    levels = [r["concurrency"] for r in runs]
    fig, left = plt.subplots(figsize=(7, 4))
    for key in ("p50", "p95", "p99"):
        left.plot(levels, [r["latency_ms"][key] for r in runs], marker="o", label=f"{key} latency")
    left.set_xscale("log", base=2)
    left.set_xlabel("concurrent clients (closed loop)")
    left.set_ylabel("latency (ms)")
    right = left.twinx()
    right.plot(levels, [r["throughput_rps"] for r in runs], "k--", marker="s", label="throughput")
    right.set_ylabel("requests / s")
    lines = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = left.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    left.legend(lines, labels, loc="upper left")
    left.set_title("GET /search over HTTP, distinct queries")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def section_machine(sources: list[dict[str, Any]]) -> list[str]:
    m = next((s["machine"] for s in sources if s and "machine" in s), None)
    if not m:
        return []
    extensions = m.get("vector_extensions")  # not recorded by runs before it was added
    vector = (
        f" Vector extensions: {', '.join(extensions) or 'none'}." if extensions is not None else ""
    )
    return [
        "## Machine",
        "",
        f"{m['cpu']}, {m['cores']} cores, {m['memory_mib']} MiB RAM, Python {m['python']}, "
        f"{m['platform']}. No GPU.{vector}",
        "",
    ]


def section_inprocess(data: dict[str, Any]) -> list[str]:
    rows = [
        "## In-process search",
        "",
        "`python -m bench.inprocess --index index` — one query at a time, "
        f"{data['runs'][0]['total_ms']['n']} distinct queries, {data['passages']} passages, "
        f"query encoder `{data['encoder']}`; p50 / p95 / p99 in ms.",
        "",
        "| mode | encode | detect query language + rank | total |",
        "|---|---|---|---|",
    ]
    for run in data["runs"]:
        rows.append(
            f"| {run['mode']} | {_ms(run['encode_ms'])} | {_ms(run['rank_ms'])} | "
            f"{_ms(run['total_ms'])} |"
        )
    return [*rows, ""]


def section_http(data: dict[str, Any]) -> list[str]:
    ref = data["reference_encode_query_ms"]
    ratio = data["ratio_median_http_to_encode_query"]
    single = data["single_client"]["latency_ms"]
    rows = [
        "## Over HTTP",
        "",
        "`python -m bench.http_load --index index` — a `report-search serve` process on "
        "127.0.0.1, closed-loop async clients, every request a distinct query "
        "(`GET /search?q=…&k=5`, hybrid mode).",
        "",
        f"- Single client: p50 **{single['p50']:.1f} ms**, p95 {single['p95']:.1f} ms, "
        f"p99 {single['p99']:.1f} ms.",
        f"- Reference, same run: `SentenceTransformer(model_path).encode_query([q])` p50 "
        f"**{ref['p50']:.1f} ms** (model_path = `/stats` model.path).",
        f"- Ratio median HTTP request / reference: **{ratio:.2f}** (target ≤ 0.5).",
        f"- Server peak RSS: {data['server_peak_rss_mib']:.0f} MiB."
        if data.get("server_peak_rss_mib")
        else "- Server peak RSS: not measured.",
        "",
        "| concurrency | requests | errors | throughput (req/s) | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in data["closed_loop"]:
        lat = run["latency_ms"]
        rows.append(
            f"| {run['concurrency']} | {run['requests']} | {run['errors']} | "
            f"{run['throughput_rps']:.0f} | {lat['p50']:.1f} | {lat['p95']:.1f} | "
            f"{lat['p99']:.1f} |"
        )
    return [*rows, "", "![latency vs concurrency](bench/results/http_concurrency.png)", ""]


def section_build(data: dict[str, Any]) -> list[str]:
    ratio = data["unchanged"]["seconds"] / data["cold"]["seconds"]
    return [
        "## Index build",
        "",
        f"`python -m bench.build_index --corpus corpus` — {data['passages']} passages, each "
        "build its own process.",
        "",
        "| build | seconds | peak RSS (MiB) |",
        "|---|---|---|",
        f"| cold (`--force`) | {data['cold']['seconds']:.1f} | "
        f"{data['cold']['peak_rss_mib']:.0f} |",
        f"| unchanged rebuild | {data['unchanged']['seconds']:.1f} | "
        f"{data['unchanged']['peak_rss_mib']:.0f} |",
        *(
            [
                f"| one short report added ({data['add_one_document']['passages_added']} "
                "passages; only they are embedded) | "
                f"{data['add_one_document']['seconds']:.1f} | "
                f"{data['add_one_document']['peak_rss_mib']:.0f} |"
            ]
            if "add_one_document" in data
            else []
        ),
        "",
        f"Unchanged rebuild / cold build: **{ratio:.2f}** (target ≤ 0.5). Each run is a fresh "
        "`report-index build` process, model loading included.",
        "",
    ]


def section_corpus_scale(data: dict[str, Any]) -> list[str]:
    kinds = list(data["rows"][0]["requests"])
    cosines = [r["copy_cosine"] for r in data["rows"] if r.get("copy_cosine")]
    similar = (
        f"at cosine {min(c['mean'] for c in cosines):.3f} of each other on average, "
        f"{min(c['min'] for c in cosines):.3f} at least"
        if cosines
        else "similarity not measured"
    )
    rows = [
        "## Many reports in one index",
        "",
        "`python -m bench.corpus_scale --index index` — the real index repeated as 1 to 1,000 "
        f'reports ("editions": noise {data["noise"]} per dimension makes each passage\'s '
        f"copies near-duplicates, {similar}; the searcher skips a passage at 0.97 of one it "
        f"has taken), {data['queries']} queries encoded beforehand: what loading costs (the "
        "searcher reads every passage for keywords and filters) and what ranking costs "
        "beyond the encoder, p50 / p95 ms.",
        "",
        "| reports | passages | FAISS | load s | " + " | ".join(kinds) + " |",
        "|---|---|---|---|" + "---|" * len(kinds),
    ]
    short = []
    for row in data["rows"]:
        cells = []
        for kind in kinds:
            measured = row["requests"][kind]
            cells.append(f"{measured['ms']['p50']:.1f} / {measured['ms']['p95']:.1f}")
            if measured["fewest_results"] < int(kind.split(",")[0].removeprefix("k=")):
                short.append(f"{kind} at {row['editions']} reports")
        rows.append(
            f"| {row['editions']:,} | {row['passages']:,} | {row['faiss_index']} | "
            f"{row['searcher_load_s']:.1f} | " + " | ".join(cells) + " |"
        )
    complete = (
        "Every request returned its k distinct passages."
        if not short
        else "Fewer than k passages for: " + "; ".join(short) + "."
    )
    return [*rows, "", complete, ""]


def section_txtai(data: dict[str, Any]) -> list[str]:
    ours, peer = data["ours"], data["txtai"]

    def recall(value: float | None) -> str:
        return f"{value:.3f}" if value is not None else "–"

    return [
        "## A peer side by side: txtai",
        "",
        "`python -m bench.txtai_peer --index index` — txtai `Embeddings` (faiss backend, "
        "`query: `/`passage: ` instructions) over the same passages with the same model folder, "
        "in the same process run. Throughput: ours through the serving engine (two encoder "
        "threads, all queries concurrently), txtai through `batchsearch` in batches of 16.",
        "",
        "| system | query p50 / p95 / p99 (ms) | throughput (q/s) | dev R@5 |",
        "|---|---|---|---|",
        f"| report-search (hybrid) | {_ms(ours['latency_ms'])} | {ours['throughput_qps']:.0f} | "
        f"{recall(ours['dev_recall_at_5'])} |",
        f"| txtai 9 (dense) | {_ms(peer['latency_ms'])} | {peer['throughput_qps']:.0f} | "
        f"{recall(peer['dev_recall_at_5'])} |",
        "",
    ]


def section_verdict(http: dict[str, Any] | None, ann: dict[str, Any] | None) -> list[str]:
    """The performance targets, each against the figure measured for it."""
    rows = ["## Targets", "", "| target | measured | met |", "|---|---|---|"]

    def row(target: str, measured: str, met: bool) -> None:
        rows.append(f"| {target} | {measured} | {'yes' if met else '**no**'} |")

    if http:
        ratio = http["ratio_median_http_to_encode_query"]
        row(
            "median HTTP request ≤ 0.5 × `SentenceTransformer.encode_query`",
            f"{http['single_client']['latency_ms']['p50']:.1f} / "
            f"{http['reference_encode_query_ms']['p50']:.1f} ms = {ratio:.2f}",
            ratio <= 0.5,
        )
        c16 = next(r for r in http["closed_loop"] if r["concurrency"] == 16)
        row(
            "concurrency 16: ≥ 130 req/s, p99 ≤ 100 ms, no errors",
            f"{c16['throughput_rps']:.0f} req/s, p99 {c16['latency_ms']['p99']:.0f} ms, "
            f"{c16['errors']} errors",
            c16["throughput_rps"] >= 130 and c16["latency_ms"]["p99"] <= 100 and not c16["errors"],
        )
    if ann:
        main = [r for r in ann["results"] if r["sweep"] == "main"]
        largest = max(r["n"] for r in main)
        # The configuration the indexer would choose for that size, whether it met the target
        # or not: a failing one must show as "no", not vanish from the table.
        spec = ann_choice.choose(largest)
        nlist = spec.factory.removeprefix("IVF").split(",")[0]
        label = f"IVFFlat nlist={nlist} nprobe={spec.nprobe}" if spec.nprobe else "Flat"
        chosen = next((r for r in main if r["n"] == largest and r["label"] == label), None)
        target = f"{largest:,} passages: p50 search ≤ 5 ms at recall@10 ≥ 0.95 (chosen index)"
        if chosen is None:
            row(target, f"{label}: not measured", False)
        else:
            p50 = chosen["latency_ms"]["1"]["p50"]
            row(
                target,
                f"{spec.factory} nprobe {spec.nprobe}: {p50:.1f} ms, "
                f"recall {chosen['recall_at_10']:.3f}",
                p50 <= 5 and chosen["recall_at_10"] >= 0.95,
            )
    return [*rows, ""]


def section_cpu_budget(data: dict[str, Any]) -> list[str]:
    server, client = data["server_cpu_ms_per_request"], data["client_cpu_ms_per_request"]
    cores = data["machine"]["cores"]
    return [
        "## Where a request's CPU goes (the throughput ceiling)",
        "",
        "`python -m bench.cpu_budget --index index` — CPU time per request at concurrency "
        f"{data['concurrency']} (server process from /proc, load generator from getrusage), and "
        "the int8 query encoder alone with two single-query calls in flight.",
        "",
        f"- Encoder alone, nothing else running: **{data['encoder_alone_qps']:.0f} queries/s** "
        "on both cores.",
        f"- Server: **{server:.1f} ms CPU per request**; load generator: {client:.1f} ms. At "
        f"{cores} cores that bounds throughput near {cores * 1000 / (server + client):.0f} "
        f"requests/s; measured {data['throughput_rps']:.0f} ({data['errors']} errors).",
        "",
    ]


def section_load_soak(data: dict[str, Any]) -> list[str]:
    load, soak = data["load"], data["soak"]
    rows = [
        "## Load and soak",
        "",
        "`python -m bench.load_soak --index index` — a `report-search serve` process, "
        f"{data['concurrency']} closed-loop clients mixing GET /search, POST /search and "
        "POST /context with distinct queries (more than the result cache holds).",
        "",
        "| phase | requests | errors | req/s | p50 / p95 / p99 ms | server RSS |",
        "|---|---|---|---|---|---|",
        f"| load | {load['requests']:,} | {load['errors']} | {load['requests_per_s']:.0f} | "
        f"{_ms(load['latency_ms'])} | – |",
    ]
    if soak:
        rows.append(
            f"| soak {soak['seconds']:.0f} s | {soak['requests']:,} | {soak['errors']} | "
            f"{soak['requests_per_s']:.0f} | {_ms(soak['latency_ms'])} | "
            f"{soak['rss_mib_samples'][0][1]:.0f} → {soak['rss_mib_samples'][-1][1]:.0f} MiB "
            f"(**{soak['rss_growth_percent']:+.2f} %**) |"
        )
    verdict = "PASS" if data["passed"] else "FAIL: " + "; ".join(data["failures"])
    return [*rows, "", f"Bars (zero errors, RSS growth < 5 %): **{verdict}**.", ""]


def main() -> None:
    inprocess, http, build = _load("inprocess.json"), _load("http.json"), _load("build.json")
    peer, extra = _load("txtai.json"), (RESULTS / "sections.md")
    budget, soak, ann = _load("cpu_budget.json"), _load("load_soak.json"), _load("ann_scale.json")
    corpus_scale = _load("corpus_scale.json")
    lines = [
        "# Benchmarks",
        "",
        "Run on demand, never in `make test`. Reproduce everything with:",
        "",
        "```bash",
        COMMAND,
        "```",
        "",
    ]
    lines += section_machine([x for x in (inprocess, http, build, peer) if x])
    lines += section_verdict(http, ann)
    if inprocess:
        lines += section_inprocess(inprocess)
    if http:
        plot_http(http, RESULTS / "http_concurrency.png")
        lines += section_http(http)
    if budget:
        lines += section_cpu_budget(budget)
    if soak:
        lines += section_load_soak(soak)
    if build:
        lines += section_build(build)
    if corpus_scale:
        lines += section_corpus_scale(corpus_scale)
    if peer:
        lines += section_txtai(peer)
    if extra.exists():
        lines += [extra.read_text().strip(), ""]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
