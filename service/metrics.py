"""Prometheus metrics of the service, exported at ``GET /metrics``.

They live in prometheus-client's default registry, like the process and garbage-collector
metrics it already exports: one set per process. Under ``report-search serve --workers N``
each worker process counts its own requests and a scrape reaches whichever worker accepts it,
so scrape replicas that run one worker each (README, "Running several replicas").

Routes are labelled by their template (``/passages/{passage_id}``), never by the raw path,
so that the number of series stays bounded whatever clients request.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from service.searcher import Searcher

# A "_created" timestamp series beside every counter and histogram doubles the output for
# what the process start time already says.
disable_created_metrics()

# Search work is milliseconds; the upper buckets catch a saturated encoder.
_FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

REQUESTS = Counter(
    "report_search_http_requests",
    "HTTP requests answered, by method, route template ('unmatched': before or without a "
    "route, such as 404s and the security middleware's refusals) and status code.",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "report_search_http_request_duration_seconds",
    "Time from receiving a request to the end of its answer, by method, route and status.",
    ["method", "route", "status"],
)
ENCODE_SECONDS = Histogram(
    "report_search_encode_seconds",
    "Time a query waits for its vector: for a free encoder thread or a batch, then the call.",
    buckets=_FAST_BUCKETS,
)
RANK_SECONDS = Histogram(
    "report_search_rank_seconds",
    "Time from a query's vector to its ranked results, waiting for a thread included.",
    buckets=_FAST_BUCKETS,
)
# A gauge at 1 with labels, as an Info is exported, but with no sample until an index is
# served: an Info exports its unset value, ``report_search_index_info 1.0`` without labels,
# which reads as an index served with an empty version.
INDEX = Gauge(
    "report_search_index_info",
    "The index version being served and its model (1; no sample before the first load).",
    ["version", "model"],
)
PASSAGES = Gauge("report_search_index_passages", "Passages in the index being served.")
RELOAD_OUTCOMES = ("success", "refused", "busy")
RELOADS = Counter(
    "report_search_reloads",
    "Index reloads (POST /admin/reload, SIGHUP) by outcome: success, refused (the new "
    "version cannot be served), busy (another reload or the first load was running).",
    ["outcome"],
)
for _outcome in RELOAD_OUTCOMES:  # every outcome shows, at 0, before it first happens
    RELOADS.labels(_outcome)


def record_served(searcher: Searcher) -> None:
    """Publish which index version and model are now being served."""
    INDEX.clear()  # the version served before is no longer served
    INDEX.labels(searcher.index.version, searcher.encoder.identity.name).set(1)
    PASSAGES.set(len(searcher.index.passages))
