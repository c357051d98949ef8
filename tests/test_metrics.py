"""Observability: Prometheus metrics at /metrics, request ids, and the JSON access log."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.api.app import create_app
from service.logging_setup import LogFormat, RequestIdFilter, log_config


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, by name and labels."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def requests_total(samples: dict, route: str, status: str = "200", method: str = "GET") -> float:
    labels = (("method", method), ("route", route), ("status", status))
    return samples.get(("report_search_http_requests_total", labels), 0.0)


def test_a_head_is_counted_under_its_route(app_client, searcher):
    """HEAD runs as a GET (:class:`.HeadAsGet`), on a copy of the request: the route that
    answered it was not seen, and a monitor's probes were counted as "unmatched"."""
    passage = searcher.index.passages[3].id
    before = scrape(app_client)
    assert app_client.head("/healthz").status_code == 200
    assert app_client.head(f"/passages/{passage}").status_code == 200
    after = scrape(app_client)
    for route in ("/healthz", "/passages/{passage_id}"):
        counted = requests_total(after, route, method="HEAD")
        assert counted == requests_total(before, route, method="HEAD") + 1, route
    assert requests_total(after, "unmatched", method="HEAD") == requests_total(
        before, "unmatched", method="HEAD"
    )


@pytest.fixture
def app_client(settings, searcher) -> Iterator[TestClient]:
    """An app of its own: the served-index metrics are the last served app's."""
    with TestClient(create_app(settings, searcher)) as client:
        yield client


def test_metrics_count_requests_by_route_template(app_client, searcher):
    passage = searcher.index.passages[3].id
    before = scrape(app_client)
    assert app_client.get("/search", params={"q": "trafic de faux médicaments"}).status_code == 200
    assert app_client.get(f"/passages/{passage}").status_code == 200
    assert app_client.get("/no/such/page").status_code == 404
    after = scrape(app_client)

    assert requests_total(after, "/search") == requests_total(before, "/search") + 1
    template = "/passages/{passage_id}"
    assert requests_total(after, template) == requests_total(before, template) + 1
    unmatched = ("unmatched", "404")
    assert requests_total(after, *unmatched) == requests_total(before, *unmatched) + 1
    routes = {dict(labels).get("route") for _, labels in after}
    assert not any(passage in str(route) for route in routes)  # no raw paths as labels
    for histogram in ("report_search_encode_seconds", "report_search_rank_seconds"):
        count = (f"{histogram}_count", ())
        assert after[count] >= before.get(count, 0) + 1
    served = [dict(labels) for name, labels in after if name == "report_search_index_info"]
    assert [info["version"] for info in served] == [searcher.index.version]
    assert after[("report_search_index_passages", ())] == len(searcher.index.passages)
    assert {"success", "refused", "busy"} <= {
        dict(labels)["outcome"] for name, labels in after if name == "report_search_reloads_total"
    }


def test_request_id_is_echoed_when_safe_and_made_otherwise(app_client):
    given = app_client.get("/healthz", headers={"X-Request-ID": "edge-7f3a:01"})
    assert given.headers["x-request-id"] == "edge-7f3a:01"
    for unsafe in ("has spaces", "x" * 65, "<script>", ""):
        made = app_client.get("/healthz", headers={"X-Request-ID": unsafe})
        assert made.headers["x-request-id"] != unsafe
        assert len(made.headers["x-request-id"]) == 32
    refused = app_client.get("/search", params={"q": "a", "k": "x"})  # a 422 gets one too
    assert refused.status_code == 422 and len(refused.headers["x-request-id"]) == 32


@contextmanager
def access_log_in(log_format: LogFormat) -> Iterator[io.StringIO]:
    """The access log lines written meanwhile, formatted as the service would."""
    config = log_config(log_format)
    formatter = logging.config.DictConfigurator(config).configure_formatter(
        config["formatters"][log_format]
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    access = logging.getLogger("service.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        access.removeHandler(handler)


@pytest.mark.parametrize("log_query_text", [False, True])
def test_access_log_is_one_json_object_per_request(settings, searcher, log_query_text):
    app = create_app(settings.model_copy(update={"log_query_text": log_query_text}), searcher)
    with access_log_in("json") as stream, TestClient(app) as client:
        answer = client.get(
            "/search", params={"q": "quokkasecret", "k": 2}, headers={"X-Request-ID": "r-1"}
        )
    assert answer.status_code == 200
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["request_id"] == "r-1"
    assert (line["level"], line["logger"]) == ("INFO", "service.access")
    assert (line["method"], line["route"], line["status"]) == ("GET", "/search", 200)
    assert line["latency_ms"] > 0 and line["timestamp"]
    assert ("quokkasecret" in stream.getvalue()) is log_query_text


def test_a_path_cannot_forge_a_text_log_line_nor_a_method_a_metric_label(settings, searcher):
    """The path is logged percent-decoded: "%0A" would start a line of its own. The method is
    the client's to choose: as a label it would let a client grow /metrics without bound."""
    forged = "/nope%0A2026-01-01 00:00:00,000 INFO service.access [x] POST /admin/reload 200"
    with access_log_in("text") as stream, TestClient(create_app(settings, searcher)) as client:
        assert client.get(forged).status_code == 404
        client.request("PROPFIND", "/search")
        exported = client.get("/metrics").text
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # the 404, the PROPFIND and /metrics: one line each
    assert "/nope\\x0a2026-01-01" in lines[0]
    assert 'method="other"' in exported and "PROPFIND" not in exported
