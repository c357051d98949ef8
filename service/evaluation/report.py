"""The evaluation as ``report-search eval`` prints it: Markdown tables, or JSON.

Both take the metrics by mode, then by group (:data:`~service.evaluation.queries.OVERALL`
first, then each language), and the comparisons of one mode against each other mode.
"""

from __future__ import annotations

import json

from service.evaluation.bootstrap import Comparison, mrr_interval
from service.evaluation.metrics import Metrics


def format_table(results: dict[str, dict[str, Metrics]]) -> str:
    """A Markdown table comparing modes: one row per (group, mode)."""
    rows = [
        "| group | mode | queries | R@1 | R@5 | MRR@10 | url@hit | hl@hit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups = next(iter(results.values())).keys()
    for group in groups:
        for mode, by_group in results.items():
            m = by_group[group]
            url = f"{m.url_at_hit:.3f} ({m.url_queries})" if m.url_at_hit is not None else "–"
            highlight = f"{m.highlight_at_hit:.3f}" if m.highlight_at_hit is not None else "–"
            rows.append(
                f"| {group} | {mode} | {m.queries} | {m.recall_at_1:.3f} | "
                f"{m.recall_at_5:.3f} | {m.mrr_at_10:.3f} | {url} | {highlight} |"
            )
    return "\n".join(rows)


def format_comparisons(comparisons: dict[str, dict[str, Comparison]], mode: str) -> str:
    """A Markdown table of ``mode`` against each other mode, one row per (group, other)."""
    rows = [
        f"| group | {mode} against | queries | MRR@10 gain | 95 % interval | better / worse |",
        "|---|---|---|---|---|---|",
    ]
    groups = next(iter(comparisons.values())).keys()
    for group in groups:
        for other, by_group in comparisons.items():
            c = by_group[group]
            interval = "too few" if c.low is None else f"{c.low:+.3f} to {c.high:+.3f}"
            rows.append(
                f"| {group} | {other} | {c.queries} | {c.mrr_gain:+.3f} | {interval} | "
                f"{c.better} / {c.worse} |"
            )
    return "\n".join(rows)


def format_json(
    results: dict[str, dict[str, Metrics]], comparisons: dict[str, dict[str, Comparison]], mode: str
) -> str:
    """The metrics (each with its MRR@10 interval) and ``mode`` against each other mode."""
    report = {
        "modes": {
            m: {g: vars(x) | {"mrr_at_10_interval": mrr_interval(x)} for g, x in groups.items()}
            for m, groups in results.items()
        },
        f"{mode}_against": {
            m: {g: vars(c) for g, c in by_group.items()} for m, by_group in comparisons.items()
        },
    }
    return json.dumps(report, indent=2)
