"""Latency-vs-size and recall-vs-latency plots."""

from __future__ import annotations

from pathlib import Path

from bench.ann_scale.run import Row

_FAMILY_STYLE = {
    "flat": ("black", "-"),
    "hnsw": ("tab:blue", "-"),
    "ivf": ("tab:orange", "--"),
    "ivfpq": ("tab:green", ":"),
}


def plot(rows: list[Row], out: Path, target_recall: float, target_p50_ms: float) -> None:
    """Latency-vs-size (log-log) and recall-vs-latency at the largest size, single thread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    main_sizes = sorted({r.n for r in rows if r.sweep == "main"})
    by_label: dict[str, list[Row]] = {}
    for r in sorted(rows, key=lambda r: r.n):
        by_label.setdefault(r.series, []).append(r)

    fig, ax = plt.subplots(figsize=(11, 7.5))
    for label, series in by_label.items():
        family = series[0].family
        colour, style = _FAMILY_STYLE[family]
        shade = _shade(label, [lab for lab, s in by_label.items() if s[0].family == family])
        recalls = "/".join(f"{r.recall_at_10:.2f}" for r in series if r.n in main_sizes)
        ax.plot(
            [r.n for r in series],
            [r.p50(1) for r in series],
            style,
            marker="o",
            markersize=4,
            color=colour,
            alpha=shade,
            label=f"{label} (R@10 {recalls})",
        )
    ax.axhline(target_p50_ms, color="red", linewidth=0.8, linestyle="--")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="corpus size (vectors)",
        ylabel="p50 single-query latency, 1 thread (ms)",
        title="FAISS p50 latency vs corpus size (k=10; R@10 at "
        + "/".join(f"{n:,}" for n in main_sizes)
        + ")",
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.tight_layout()
    fig.savefig(out / "ann_latency_vs_size.png", dpi=130)
    plt.close(fig)

    largest = main_sizes[-1]
    fig, ax = plt.subplots(figsize=(9, 6.5))
    ax.axhline(target_recall, color="red", linewidth=0.8, linestyle="--")
    ax.axvline(target_p50_ms, color="red", linewidth=0.8, linestyle="--")
    at_largest = [r for r in rows if r.sweep == "main" and r.n == largest]
    for family in _FAMILY_STYLE:
        series = [r for r in at_largest if r.family == family]
        if not series:
            continue
        colour, style = _FAMILY_STYLE[family]
        series.sort(key=lambda r: r.p50(1))
        ax.plot(
            [r.p50(1) for r in series],
            [r.recall_at_10 for r in series],
            style,
            marker="o",
            color=colour,
            label=series[0].index,
        )
        for i, r in enumerate(series):
            ax.annotate(
                r.setting,
                (r.p50(1), r.recall_at_10),
                fontsize=7,
                xytext=(4, -11 if i % 2 else 5),
                textcoords="offset points",
            )
    ax.set(
        xscale="log",
        xlabel="p50 single-query latency, 1 thread (ms)",
        ylabel="recall@10",
        title=f"Recall@10 vs p50 latency at {largest:,} vectors "
        f"(target: ≥{target_recall} within ≤{target_p50_ms} ms)",
    )
    left, _ = ax.get_xlim()
    bottom, top = ax.get_ylim()
    ax.add_patch(
        Rectangle(
            (left, target_recall),
            target_p50_ms - left,
            top - target_recall,
            color="green",
            alpha=0.08,
            label="target region",
        )
    )
    ax.set_ylim(bottom, top)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "ann_recall_vs_latency.png", dpi=130)
    plt.close(fig)


def _shade(label: str, family_labels: list[str]) -> float:
    """Lighter lines for cheaper settings, so a family's sweep reads as a gradient."""
    if len(family_labels) == 1:
        return 1.0
    return 0.35 + 0.65 * family_labels.index(label) / (len(family_labels) - 1)
