"""Retrieval metrics over a query file (format and definitions: shared eval README).

A passage is relevant when its text contains one of the query's answers, compared with
case, typographic apostrophes and whitespace folded. Beside the shared README's metrics,
``hl@hit`` says how often the highlight of the first relevant passage holds the answer
itself: whether a reader sees at a glance why it matched.

One concern a module: :mod:`.queries` reads and checks the query file, :mod:`.metrics` ranks
each query's results and scores them overall and per language, :mod:`.bootstrap` tells a gain
from noise (intervals, modes compared query by query), and :mod:`.report` prints it all as
Markdown tables or JSON.
"""

from service.evaluation.bootstrap import Comparison, compare, mrr_interval
from service.evaluation.metrics import RESULTS_PER_QUERY, Metrics, evaluate
from service.evaluation.queries import EvalFileError, EvalQuery, load_queries, matching_form
from service.evaluation.report import format_comparisons, format_json, format_table

__all__ = [
    "RESULTS_PER_QUERY",
    "Comparison",
    "EvalFileError",
    "EvalQuery",
    "Metrics",
    "compare",
    "evaluate",
    "format_comparisons",
    "format_json",
    "format_table",
    "load_queries",
    "matching_form",
    "mrr_interval",
]
